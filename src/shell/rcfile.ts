import { basename, join } from "node:path";
import { usageError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import { fishQuote, psQuote, shQuote } from "./command.js";
import { SHELLS, type Shell } from "./init.js";

/** The rc-file line that loads the functions ends with this, so `--undo` finds exactly that line. */
export const SHELL_MARKER = "# safe-pip shell-init";
/** The rc-file line that puts the PATH shims first. */
export const PATH_MARKER = "# safe-pip PATH shims";

/** The shell to set up: the one named, else the one in $SHELL (`pwsh` counts as powershell). */
export function pickShell(name: string | undefined, env: Env): Shell {
  const chosen = name ?? basename(env.SHELL ?? "");
  const shell = chosen === "pwsh" || chosen === "pwsh.exe" || chosen === "powershell.exe" ? "powershell" : chosen;
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw usageError(
      name === undefined ? `can't tell the shell from $SHELL (${env.SHELL || "not set"})` : `unknown shell "${name}"`,
      `name one of: ${SHELLS.join(", ")}`,
    );
  }
  return shell as Shell;
}

function home(env: Env): string {
  return env.HOME || env.USERPROFILE || "/";
}

/**
 * The file each shell reads at interactive startup: ~/.bashrc; ${ZDOTDIR:-~}/.zshrc;
 * fish's ~/.config/fish/conf.d/safe-pip.fish (a file of our own, read before config.fish);
 * PowerShell's $PROFILE for the current user and host.
 */
export function rcFile(shell: Shell, env: Env, platform: NodeJS.Platform = process.platform): string {
  const h = home(env);
  const xdgConfig = env.XDG_CONFIG_HOME || join(h, ".config");
  switch (shell) {
    case "bash":
      return join(h, ".bashrc");
    case "zsh":
      return join(env.ZDOTDIR || h, ".zshrc");
    case "fish":
      return join(xdgConfig, "fish", "conf.d", "safe-pip.fish");
    case "powershell":
      return platform === "win32"
        ? join(h, "Documents", "PowerShell", "Microsoft.PowerShell_profile.ps1")
        : join(xdgConfig, "powershell", "Microsoft.PowerShell_profile.ps1");
  }
}

/**
 * The rc line that loads the functions. It runs `safe-pip shell-init` at every shell start, so the
 * functions always match the installed safe-pip. fish reads conf.d in every fish, scripts
 * included, so the fish line only loads in interactive sessions, like ~/.bashrc.
 */
export function initLine(shell: Shell, cmd: string[]): string {
  switch (shell) {
    case "bash":
    case "zsh":
      return `eval "$(${cmd.map(shQuote).join(" ")} shell-init ${shell})" ${SHELL_MARKER}: \`safe-pip setup shell --undo\` removes it`;
    case "fish":
      return `status is-interactive; and ${cmd.map(fishQuote).join(" ")} shell-init fish | source ${SHELL_MARKER}: \`safe-pip setup shell --undo\` removes it`;
    case "powershell":
      return `(& ${cmd.map(psQuote).join(" ")} shell-init powershell) -join [Environment]::NewLine | Invoke-Expression ${SHELL_MARKER}: \`safe-pip setup shell --undo\` removes it`;
  }
}

/** The rc line that puts the shim directory first on PATH (every time, even when already there). */
export function pathLine(shell: Shell | "sh", dir: string): string {
  switch (shell) {
    case "fish":
      return `fish_add_path --global --path --prepend --move ${fishQuote(dir)} ${PATH_MARKER}`;
    case "powershell":
      return `$env:PATH = ${psQuote(dir)} + [IO.Path]::PathSeparator + $env:PATH ${PATH_MARKER}`;
    default:
      return `export PATH=${shQuote(dir)}:"$PATH" ${PATH_MARKER}`;
  }
}

export { removeMarkedLine, setMarkedLine, type LineChange } from "../core/marked-line.js";
