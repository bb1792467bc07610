import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Env } from "../core/env.js";
import { packageRoot } from "../core/paths.js";
import { SHIM_MARKER } from "../pip/locate.js";
import { shQuote } from "./command.js";
import { pythonForPipSnippet } from "./init.js";

/** The first line after the #! of every shim safe-pip writes; `--undo` removes only such files. */
const SHIM_HEADER = "# safe-pip PATH shim for ";

/** `~/.local/share/safe-pip/shims` (or under $XDG_DATA_HOME). */
export function defaultShimDir(env: Env): string {
  return join(env.XDG_DATA_HOME || join(env.HOME || "/", ".local", "share"), "safe-pip", "shims");
}

/**
 * pip, pip3, and pip3.X for every python3.X on PATH (shim directories left out), so `pip3.11`
 * is covered wherever python3.11 exists.
 */
export function shimNames(env: Env): string[] {
  const versioned = new Set<string>();
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir || existsSync(join(dir, SHIM_MARKER))) continue;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^python(3\.\d+)$/.exec(e);
      if (m) versioned.add(`pip${m[1]}`);
    }
  }
  const sorted = [...versioned].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return ["pip", "pip3", ...sorted];
}

/**
 * A PATH shim: a small POSIX sh script (shims/sh/pip-shim.sh) named like pip. It drops shim
 * directories from PATH, finds the interpreter the real command of that name would have run, and
 * hands over to safe-pip with it. As a real executable it works where shell functions don't:
 * non-interactive shells, Makefiles, CI jobs, IDEs.
 */
export function shimScript(name: string, cmd: string[]): string {
  if (!/^pip(3(\.\d+)?)?$/.test(name)) throw new Error(`not a pip command name: ${name}`);
  const template = readFileSync(join(packageRoot(), "shims", "sh", "pip-shim.sh"), "utf8");
  return template
    .replace("@PYTHON_FOR_PIP@\n", pythonForPipSnippet())
    .replaceAll("@SAFE_PIP@", cmd.map(shQuote).join(" "))
    .replaceAll("@NAME@", name);
}

/** Writes the shims and the marker file that makes safe-pip (and the shims) skip the directory. */
export function writeShims(dir: string, names: string[], cmd: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, SHIM_MARKER), "safe-pip's PATH shims live here; safe-pip never looks for pip or Python in this directory.\n");
  return names.map((name) => {
    const file = join(dir, name);
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    // Write-then-rename: a shim that some shell is running right now is never half-written.
    writeFileSync(tmp, shimScript(name, cmd), { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, file);
    return file;
  });
}

function isOurShim(file: string): boolean {
  try {
    return readFileSync(file, "utf8").split("\n", 2)[1]?.startsWith(SHIM_HEADER) ?? false;
  } catch {
    return false;
  }
}

/**
 * Removes the shims safe-pip wrote (recognised by their header, anything else is left alone), the
 * marker, and the directory when nothing else is left in it. Returns the names removed.
 */
export function removeShims(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const e of readdirSync(dir)) {
    if (e !== SHIM_MARKER && isOurShim(join(dir, e))) {
      rmSync(join(dir, e), { force: true });
      removed.push(e);
    }
  }
  if (readdirSync(dir).every((e) => e === SHIM_MARKER)) {
    rmSync(join(dir, SHIM_MARKER), { force: true });
    try {
      rmdirSync(dir);
    } catch {
      /* not empty after all, or not ours to remove */
    }
  }
  return removed.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}
