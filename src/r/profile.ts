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

/** Where options(repos) points when the hook cannot be loaded: a closed local port, never a mirror. */
export const MISSING_HOOK_REPO = "http://127.0.0.1:1/safe-pip-hook-missing";

/**
 * The one line that loads the hook. A moved or broken safe-pip (npm upgrade, nvm switch,
 * uninstall) never stops R from starting, but it must not leave R installing from the machine's
 * CRAN mirror either: the line itself then points `repos` at a closed local port and says, at every
 * start, how to repair it.
 */
export function hookLine(hookFile: string): string {
  const f = rString(hookFile);
  const repair = `safe-pip: the R hook ${hookFile.replace(/\\/g, "/").replace(/"/g, "'")} is missing or broken, so install.packages() is switched off; run \`safe-pip setup r\` to repair (or \`safe-pip setup r --undo\` to remove this line)`;
  return (
    `local({ if (!file.exists(${f}) || inherits(try(source(${f}), silent = TRUE), "try-error")) ` +
    `{ options(repos = c(CRAN = ${rString(MISSING_HOOK_REPO)})); message(${JSON.stringify(repair)}) } }) ` +
    `${HOOK_MARKER}: \`safe-pip setup r --undo\` removes it`
  );
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
