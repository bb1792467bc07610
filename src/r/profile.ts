import { existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { homedir } from "node:os";
import { SafePipError, describeError } from "../core/errors.js";
import type { Env } from "../core/env.js";

/** Every line safe-pip adds ends with this, so `--undo` finds it again and nothing else. */
export const HOOK_MARKER = "# safe-pip R hook";

/** An R string literal (forward slashes: R accepts them on Windows too). */
function rString(text: string): string {
  return `"${text.replace(/\\/g, "/").replace(/"/g, '\\"')}"`;
}

/**
 * The one line that loads the hook. It checks the file exists and wraps the load in `try`, so a
 * moved or broken safe-pip never stops R from starting (an install then fails closed instead:
 * the hook is what replaces the machine's CRAN mirror).
 */
export function hookLine(hookFile: string): string {
  const f = rString(hookFile);
  return `if (file.exists(${f})) try(source(${f}), silent = TRUE) ${HOOK_MARKER}: \`safe-pip setup r --undo\` removes it`;
}

/**
 * The profile R reads for this user: R_PROFILE_USER when set (R reads it instead of ~/.Rprofile),
 * else ~/.Rprofile. A project's own ./.Rprofile still shadows it; setup says so.
 */
export function userProfilePath(env: Env): string {
  const explicit = env.R_PROFILE_USER;
  if (explicit) return explicit;
  return join(env.HOME || homedir(), ".Rprofile");
}

export type ProfileChange = "added" | "updated" | "unchanged" | "removed" | "absent";

/** Adds (or refreshes) the hook line, keeping every other line of the file as it was. */
export function installHook(file: string, hookFile: string): ProfileChange {
  const line = hookLine(hookFile);
  const text = read(file);
  const lines = text === undefined ? [] : text.split(/\r?\n/);
  const ours = lines.findIndex((l) => l.includes(HOOK_MARKER));
  if (ours !== -1 && lines[ours] === line && lines.filter((l) => l.includes(HOOK_MARKER)).length === 1) return "unchanged";
  if (ours !== -1) {
    const kept = lines.filter((l, i) => i === ours || !l.includes(HOOK_MARKER));
    kept[kept.findIndex((l) => l.includes(HOOK_MARKER))] = line;
    write(file, kept.join("\n"));
    return "updated";
  }
  const body = text === undefined || text === "" ? "" : text.endsWith("\n") ? text : `${text}\n`;
  write(file, `${body}${line}\n`);
  return "added";
}

/** Removes the hook line; a file that held nothing else is removed too. */
export function removeHook(file: string): ProfileChange {
  const text = read(file);
  if (text === undefined || !text.includes(HOOK_MARKER)) return "absent";
  const kept = text.split(/\r?\n/).filter((l) => !l.includes(HOOK_MARKER)).join("\n");
  const rest = kept.endsWith("\n") ? kept : `${kept}\n`;
  if (rest.trim() === "") rmSync(file, { force: true });
  else write(file, rest);
  return "removed";
}

function read(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new SafePipError("CONFIG", `cannot read ${file}: ${describeError(err)}`);
  }
}

/**
 * Write-then-rename, so R never reads a half-written profile. A symlinked profile (dotfile
 * managers) is written through to its target, and the file keeps its mode.
 */
function write(path: string, text: string): void {
  const file = existsSync(path) ? realpathSync(path) : path;
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  const tmp = join(dirname(file), `.${process.pid}.safe-pip.tmp`);
  try {
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SafePipError("CONFIG", `cannot write ${file}: ${describeError(err)}`);
  }
}
