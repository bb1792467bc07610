import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SafePipError, describeError } from "./errors.js";

/**
 * One line that safe-pip owns inside a user's file (~/.Rprofile, ~/.bashrc, …), found again by a
 * marker comment so `--undo` removes exactly that line and nothing else.
 */
export type LineChange = "added" | "updated" | "unchanged" | "removed" | "absent";

interface Parsed {
  /** Each line with its own terminator ("\n", "\r\n" or "" for an unterminated last line). */
  lines: Array<{ text: string; eol: string }>;
  eol: string;
}

function parse(text: string): Parsed {
  const lines: Parsed["lines"] = [];
  const re = /([^\r\n]*)(\r\n|\n|\r(?!\n)|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === "") break;
    lines.push({ text: m[1]!, eol: m[2]! });
  }
  return { lines, eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

/**
 * Adds (or refreshes in place) the one line carrying `marker`. Every other byte of the file stays
 * as it was; a file that did not end with a newline gets one before our line. The file's own line
 * ending (LF or CRLF) is used for our line.
 */
export function setMarkedLine(file: string, line: string, marker: string): LineChange {
  const text = read(file);
  if (text === undefined) {
    write(file, `${line}\n`);
    return "added";
  }
  const { lines, eol } = parse(text);
  const ours = lines.filter((l) => l.text.includes(marker));
  if (ours.length === 1 && ours[0]!.text === line) return "unchanged";
  if (ours.length > 0) {
    let placed = false;
    const out: string[] = [];
    for (const l of lines) {
      if (!l.text.includes(marker)) out.push(l.text + l.eol);
      else if (!placed) {
        out.push(line + (l.eol || ""));
        placed = true;
      }
    }
    write(file, out.join(""));
    return "updated";
  }
  const sep = text === "" || text.endsWith("\n") || text.endsWith("\r") ? "" : eol;
  write(file, `${text}${sep}${line}${eol}`);
  return "added";
}

/** Removes every line carrying `marker`, with its line ending; a file left empty is removed. */
export function removeMarkedLine(file: string, marker: string): LineChange {
  const text = read(file);
  if (text === undefined || !text.includes(marker)) return "absent";
  const kept = parse(text)
    .lines.filter((l) => !l.text.includes(marker))
    .map((l) => l.text + l.eol)
    .join("");
  if (kept.trim() === "") rmSync(file, { force: true });
  else write(file, kept);
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
 * Write-then-rename, so a starting shell never reads half a file. A symlinked rc file (dotfile
 * managers) is written through to its target, and the file keeps its mode.
 */
function write(path: string, text: string): void {
  const file = existsSync(path) ? realpathSync(path) : path;
  const mode = existsSync(file) ? statSync(file).mode & 0o7777 : 0o644;
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.safe-pip.tmp`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SafePipError("CONFIG", `cannot write ${file}: ${describeError(err)}`);
  }
}

export function fileHasMarker(file: string, marker: string): boolean {
  return read(file)?.includes(marker) ?? false;
}
