import { existsSync } from "node:fs";
import { join } from "node:path";
import { envValue, type Env } from "../core/env.js";
import { packageRoot } from "../core/paths.js";

/**
 * The safe-pip command that generated shell code and PATH shims call, fixed when they are
 * generated: SAFE_PIP_BIN when set (a path, or a command line such as `node /opt/safe-pip/dist/cli.js`,
 * read the way the R hook reads it), else this very installation: the absolute node binary and
 * dist/cli.js. Absolute paths work in shells, IDEs and CI jobs whose PATH has no safe-pip (or no
 * node), and a `safe-pip` earlier on some PATH cannot stand in for it.
 */
export function safePipCommand(env: Env): string[] {
  const bin = envValue(env, "BIN")?.trim();
  if (bin) return existsSync(bin) ? [bin] : bin.split(/\s+/).filter(Boolean);
  return [process.execPath, join(packageRoot(), "dist", "cli.js")];
}

/** POSIX sh (bash, zsh, dash) quoting: bare when safe, else single quotes. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** fish quoting: inside single quotes, fish still reads \\ and \'. */
export function fishQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** PowerShell single-quoted string. */
export function psQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
