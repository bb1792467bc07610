import { join } from "node:path";
import { homedir } from "node:os";
import type { Env } from "../core/env.js";
import { removeMarkedLine, setMarkedLine, type LineChange } from "../core/marked-line.js";

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

export type { LineChange as ProfileChange } from "../core/marked-line.js";

/** Adds (or refreshes) the hook line, keeping every other line of the file as it was. */
export function installHook(file: string, hookFile: string): LineChange {
  return setMarkedLine(file, hookLine(hookFile), HOOK_MARKER);
}

/** Removes the hook line; a file that held nothing else is removed too. */
export function removeHook(file: string): LineChange {
  return removeMarkedLine(file, HOOK_MARKER);
}
