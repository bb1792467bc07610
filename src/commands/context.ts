import type { Writable } from "node:stream";
import type { Env } from "../core/env.js";

/**
 * What every command gets instead of reaching for globals: the environment, the working
 * directory and the two output streams. Tests run commands in-process with their own.
 */
export interface CommandContext {
  env: Env;
  cwd: string;
  stdout: Writable;
  stderr: Writable;
  /** Whether stderr is an interactive terminal (spinner, colour). */
  isTTY: boolean;
  /** Set by -q/--quiet: safe-pip prints only errors. */
  quiet: boolean;
}
