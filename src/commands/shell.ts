import { usageError } from "../core/errors.js";
import { safePipCommand } from "../shell/command.js";
import { shellInit, SHELLS } from "../shell/init.js";
import { defaultShimDir, removeShims, shimNames, writeShims } from "../shell/pathshims.js";
import { initLine, PATH_MARKER, pathLine, pickShell, rcFile, removeMarkedLine, SHELL_MARKER, setMarkedLine } from "../shell/rcfile.js";
import type { CommandContext } from "./context.js";

// The Printer (and its spinner library) loads only for the setup commands: `shell-init` runs at
// every interactive shell start and should load as little as possible.
const printer = async (ctx: CommandContext) => new (await import("../report/printer.js")).Printer(ctx);

const USAGE = `usage:
  safe-pip shell-init [${SHELLS.join("|")}]
  safe-pip setup shell [${SHELLS.join("|")}] [--undo]
  safe-pip setup path [bash|zsh|fish] [--dir DIR] [--rc] [--undo]`;

/** `safe-pip shell-init [SHELL]`: the code to eval in that shell's rc file (default: $SHELL's). */
export async function shellInitCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const args = argv.slice(1);
  if (args[0] === "--help" || args[0] === "-h") return help(ctx);
  if (args.length > 1 || args[0]?.startsWith("-")) throw usageError(`safe-pip shell-init: unexpected ${args[args[0]?.startsWith("-") ? 0 : 1]}`, USAGE);
  ctx.stdout.write(shellInit(pickShell(args[0], ctx.env), safePipCommand(ctx.env)));
  return 0;
}

interface Flags {
  undo: boolean;
  rc: boolean;
  dir: string | undefined;
  shell: string | undefined;
  help: boolean;
}

function help(ctx: CommandContext): number {
  ctx.stdout.write(`${USAGE}\n`);
  return 0;
}

function parseFlags(args: string[], command: string, allowed: Array<"--dir" | "--rc">): Flags {
  const f: Flags = { undo: false, rc: false, dir: undefined, shell: undefined, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") f.help = true;
    else if (a === "--undo") f.undo = true;
    else if (a === "--rc" && allowed.includes("--rc")) f.rc = true;
    else if ((a === "--dir" || a.startsWith("--dir=")) && allowed.includes("--dir")) {
      f.dir = a === "--dir" ? args[++i] : a.slice("--dir=".length);
      if (!f.dir) throw usageError(`${command}: --dir needs a directory`, USAGE);
    } else if (a.startsWith("-")) throw usageError(`${command}: unknown option ${a}`, USAGE);
    else if (f.shell === undefined) f.shell = a;
    else throw usageError(`${command}: unexpected argument ${a}`, USAGE);
  }
  return f;
}

/** `safe-pip setup shell [SHELL] [--undo]`: the init line in that shell's rc file, idempotently. */
export async function setupShell(args: string[], ctx: CommandContext): Promise<number> {
  const f = parseFlags(args, "safe-pip setup shell", []);
  if (f.help) return help(ctx);
  const shell = pickShell(f.shell, ctx.env);
  const file = rcFile(shell, ctx.env);
  const out = await printer(ctx);
  if (f.undo) {
    const change = removeMarkedLine(file, SHELL_MARKER);
    out.info(change === "removed" ? `removed the safe-pip line from ${file}; new ${shell} sessions run pip directly` : `no safe-pip line in ${file}; nothing to do`);
    return 0;
  }
  const change = setMarkedLine(file, initLine(shell, safePipCommand(ctx.env)), SHELL_MARKER);
  out.info(
    change === "unchanged"
      ? `${file} already loads safe-pip's ${shell} functions`
      : `${change} the safe-pip line in ${file}; new ${shell} sessions run pip, pip3 and python -m pip through safe-pip`,
  );
  if (shell === "bash" && process.platform === "darwin") out.info("macOS terminals start login shells, which read ~/.bash_profile: make sure it sources ~/.bashrc");
  out.info("scripts, Makefiles, CI jobs and IDEs don't read it: `safe-pip setup path` covers those");
  return 0;
}

/**
 * `safe-pip setup path [SHELL] [--dir DIR] [--rc] [--undo]`: pip/pip3/pip3.X executables in DIR,
 * and the line that puts DIR first on PATH: printed, or with --rc written to the shell's rc file.
 */
export async function setupPath(args: string[], ctx: CommandContext): Promise<number> {
  const f = parseFlags(args, "safe-pip setup path", ["--dir", "--rc"]);
  if (f.help) return help(ctx);
  if (process.platform === "win32") throw usageError("safe-pip setup path: PATH shims are POSIX sh scripts; on Windows use `safe-pip setup shell powershell`");
  const out = await printer(ctx);
  const dir = f.dir ?? defaultShimDir(ctx.env);
  // The shell matters only for the rc line; without --rc an unknown $SHELL just means sh syntax.
  const shell = f.shell !== undefined || f.rc ? pickShell(f.shell, ctx.env) : tryShell(ctx);
  if (f.shell === "powershell") throw usageError("safe-pip setup path: PATH shims are POSIX sh scripts; name bash, zsh or fish");
  if (f.undo) {
    const removed = removeShims(dir);
    out.info(removed.length ? `removed ${removed.join(", ")} from ${dir}` : `no safe-pip shims in ${dir}`);
    if (shell && shell !== "powershell") {
      const file = rcFile(shell, ctx.env);
      if (removeMarkedLine(file, PATH_MARKER) === "removed") out.info(`removed the PATH line from ${file}`);
    }
    return 0;
  }
  const written = writeShims(dir, shimNames(ctx.env), safePipCommand(ctx.env));
  out.info(`wrote ${written.length} shims to ${dir}: ${written.map((w) => w.slice(dir.length + 1)).join(", ")}`);
  const line = pathLine(shell === "fish" ? "fish" : "sh", dir);
  if (f.rc && shell) {
    const file = rcFile(shell, ctx.env);
    const change = setMarkedLine(file, line, PATH_MARKER);
    out.info(change === "unchanged" ? `${file} already puts ${dir} first on PATH` : `${change} the PATH line in ${file}`);
  } else {
    out.info(`put ${dir} first on PATH, e.g. with this line in your shell's startup file (or run again with --rc):`);
    ctx.stdout.write(`${line}\n`);
  }
  out.info(`programs that don't start from your shell (IDEs, CI jobs, cron) need ${dir} first on their own PATH`);
  out.info("an activated virtualenv or conda env puts its own bin/ in front: activate first, then prepend the shims");
  return 0;
}

function tryShell(ctx: CommandContext) {
  try {
    return pickShell(undefined, ctx.env);
  } catch {
    return undefined;
  }
}
