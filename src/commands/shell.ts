import { usageError } from "../core/errors.js";
import { removeMarkedLine, setMarkedLine } from "../core/marked-line.js";
import { safePipCommand } from "../shell/command.js";
import { shellInit, SHELLS } from "../shell/init.js";
import { DEFAULT_SHIM_DIR, PATH_MARKER, SHELL_MARKER, initLine, pathLine, pickShell, rcFile, removeShims, versionedPips, writeShims } from "../shell/setup.js";
import type { CommandContext } from "./context.js";

/** `safe-pip shell-init SHELL`: the code to eval in that shell's rc file. */
export async function shellInitCommand(argv: string[], ctx: CommandContext): Promise<number> {
  if (argv.length !== 2) throw usageError(`usage: safe-pip shell-init ${SHELLS.join("|")}`);
  ctx.stdout.write(shellInit(pickShell(argv[1], ctx.env), safePipCommand(ctx.env)));
  return 0;
}

function flags(args: string[]): { undo: boolean; dir?: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let undo = false;
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--undo") undo = true;
    else if (a === "--dir") dir = args[++i];
    else if (a.startsWith("--dir=")) dir = a.slice(6);
    else if (a.startsWith("-")) throw usageError(`unknown option ${a}`);
    else rest.push(a);
  }
  return { undo, dir, rest };
}

/** `safe-pip setup shell [SHELL] [--undo]`: the init line in the shell's rc file, idempotently. */
export async function setupShell(args: string[], ctx: CommandContext): Promise<number> {
  const { undo, rest } = flags(args);
  if (rest.length > 1) throw usageError("usage: safe-pip setup shell [bash|zsh|fish|powershell] [--undo]");
  const shell = pickShell(rest[0], ctx.env);
  const file = rcFile(shell, ctx.env);
  const change = undo ? removeMarkedLine(file, SHELL_MARKER) : setMarkedLine(file, initLine(shell, safePipCommand(ctx.env)), SHELL_MARKER);
  ctx.stdout.write(`${file}: ${change === "absent" ? "no safe-pip line to remove" : `safe-pip line ${change}`}\n`);
  if (!undo) ctx.stdout.write(`open a new ${shell} (or source ${file}) to route pip, pip3 and python -m pip through safe-pip\n`);
  return 0;
}

/**
 * `safe-pip setup path [SHELL] [--dir DIR] [--undo]`: pip/pip3/pip3.X executables in a directory,
 * and the line that puts it first on PATH in the shell's rc file. Covers what shell functions
 * cannot: non-interactive shells, Makefiles, CI jobs and IDEs.
 */
export async function setupPath(args: string[], ctx: CommandContext): Promise<number> {
  const { undo, dir, rest } = flags(args);
  const shell = pickShell(rest[0], ctx.env);
  const target = dir ?? DEFAULT_SHIM_DIR(ctx.env);
  const file = rcFile(shell, ctx.env);
  if (undo) {
    const n = removeShims(target);
    const change = removeMarkedLine(file, PATH_MARKER);
    ctx.stdout.write(`${target}: ${n} shim${n === 1 ? "" : "s"} removed\n${file}: ${change === "absent" ? "no PATH line to remove" : "PATH line removed"}\n`);
    return 0;
  }
  const written = writeShims(target, ["pip", "pip3", ...versionedPips(ctx.env)], safePipCommand(ctx.env));
  const change = setMarkedLine(file, pathLine(shell, target), PATH_MARKER);
  ctx.stdout.write(`${written.length} shims in ${target}\n${file}: PATH line ${change}\n`);
  ctx.stdout.write(`for programs not started from ${shell} (IDEs, CI), put ${target} first on their PATH\n`);
  return 0;
}
