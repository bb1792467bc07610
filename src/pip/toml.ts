import { readFileSync } from "node:fs";
import { usageError } from "../core/errors.js";

/** A TOML table as safe-pip reads it: only plain values, no class instances but dates. */
export type TomlTable = { [key: string]: unknown };

export function isTable(v: unknown): v is TomlTable {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Parses TOML text. smol-toml is loaded only here, so a run without a TOML input (almost every
 * run) never pays for it at start-up. A file that doesn't parse is a usage error naming it
 * (exit 64): pip would refuse it too, and guessing at its meaning could let a source through.
 */
export async function parseToml(text: string, file: string): Promise<TomlTable> {
  const { parse, TomlError } = await import("smol-toml");
  try {
    return parse(text) as TomlTable;
  } catch (err) {
    if (err instanceof TomlError) {
      const where = err.line ? ` (line ${err.line}, column ${err.column})` : "";
      throw usageError(`${file} is not valid TOML${where}: ${err.message.split("\n")[0]}`);
    }
    throw usageError(`${file} is not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
}

export async function readTomlFile(file: string, origin: string): Promise<TomlTable> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(`cannot read ${file} (from ${origin}): ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (err as Error).message}`);
  }
  return parseToml(text, file);
}

/** A TOML value that must be an array of strings (requirements); absent is empty. */
export function stringList(v: unknown, file: string, key: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === "string")) throw usageError(`${file}: ${key} must be a list of strings`);
  return v;
}
