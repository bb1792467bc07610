import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SafePipError, describeError, usageError } from "../core/errors.js";
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
