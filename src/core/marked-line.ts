import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SafePipError, describeError } from "./errors.js";

/**
 * One line that safe-pip owns inside a user's file (~/.Rprofile, ~/.bashrc, …), found again by a
 * marker comment so `--undo` removes exactly that line and nothing else.
 */
export type LineChange = "added" | "updated" | "unchanged" | "removed" | "absent";

/** Adds (or refreshes) the marked line, keeping every other line of the file as it was. */
export function setMarkedLine(file: string, line: string, marker: string): LineChange {
  const text = read(file);
  const lines = text === undefined ? [] : text.split(/\r?\n/);
  const ours = lines.findIndex((l) => l.includes(marker));
  if (ours !== -1 && lines[ours] === line && lines.filter((l) => l.includes(marker)).length === 1) return "unchanged";
  if (ours !== -1) {
    const kept = lines.filter((l, i) => i === ours || !l.includes(marker));
    kept[kept.findIndex((l) => l.includes(marker))] = line;
    write(file, kept.join("\n"));
    return "updated";
  }
  const body = text === undefined || text === "" ? "" : text.endsWith("\n") ? text : `${text}\n`;
  write(file, `${body}${line}\n`);
  return "added";
}

/** Removes the marked line; a file that held nothing else is removed too. */
export function removeMarkedLine(file: string, marker: string): LineChange {
  const text = read(file);
  if (text === undefined || !text.includes(marker)) return "absent";
  const kept = text.split(/\r?\n/).filter((l) => !l.includes(marker)).join("\n");
  const rest = kept.endsWith("\n") ? kept : `${kept}\n`;
  if (rest.trim() === "") rmSync(file, { force: true });
  else write(file, rest);
  return "removed";
}

export function fileHasMarker(file: string, marker: string): boolean {
  return read(file)?.includes(marker) ?? false;
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
 * Write-then-rename, so a shell or R never reads a half-written file. A symlinked file (dotfile
 * managers) is written through to its target, and the file keeps its mode.
 */
function write(path: string, text: string): void {
  const file = existsSync(path) ? realpathSync(path) : path;
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  const tmp = join(dirname(file), `.${process.pid}.safe-pip.tmp`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SafePipError("CONFIG", `cannot write ${file}: ${describeError(err)}`);
  }
}
