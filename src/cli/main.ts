import { SafePipError, describeError } from "../core/errors.js";
import { packageVersion } from "../core/paths.js";
import { hasOption, parsePipArgs } from "../pip/argv.js";
import { FETCHING_COMMANDS } from "../pip/options.js";
import { parseSnapshot, PolicyFormatError, type PolicyLayer } from "../policy/schema.js";
import type { CommandContext } from "../commands/context.js";
import type { InstallOutputs } from "../report/outputs.js";
import { OWN_COMMANDS } from "./own-commands.js";
import { HELP } from "./help.js";

/** safe-pip's own flags inside a pip command line; pip never sees them. */
function extractOwnFlags(argv: string[]): { rest: string[]; overrides: PolicyLayer; outputs: InstallOutputs; plan: boolean } {
  const rest: string[] = [];
  const overrides: PolicyLayer = {};
  const outputs: InstallOutputs = {};
  let plan = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === "--snapshot" || a.startsWith("--snapshot=")) {
      const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!value) throw new SafePipError("USAGE", "--snapshot needs a date (YYYY-MM-DD or an ISO 8601 timestamp)");
      try {
        overrides.snapshot = parseSnapshot(value, "--snapshot");
      } catch (err) {
        if (err instanceof PolicyFormatError) throw new SafePipError("USAGE", `--snapshot: ${err.message}`);
        throw err;
      }
      continue;
    }
    const own = /^--(sbom|lock)(=|$)/.exec(a);
    if (own) {
      const value = own[2] ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!value) throw new SafePipError("USAGE", `--${own[1]} needs a file name`);
      outputs[own[1] as keyof InstallOutputs] = value;
      continue;
    }
    if (a === "--plan") {
      plan = true;
      continue;
    }
    rest.push(a);
  }
  return { rest, overrides, outputs, plan };
}

async function dispatch(argv: string[], ctx: CommandContext): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h") {
    ctx.stdout.write(HELP);
    return first === undefined ? 64 : 0;
  }
  if ((first === "--version" || first === "-V") && argv.length === 1) {
    // pip's own line first, exactly as pip prints it (scripts parse `pip --version`), then ours.
    // The line comes from the probe (cached per interpreter), so this needs no Python start and
    // none of the install path's modules; pip itself answers only when the probe cannot.
    let code = 0;
    let line: string | undefined;
    try {
      const { findPython, probePip } = await import("../pip/locate.js");
      line = (await probePip(findPython(ctx.env), ctx.env, ctx.cwd)).versionLine;
    } catch {
      line = undefined;
    }
    if (line) ctx.stdout.write(`${line}\n`);
    else {
      try {
        code = await (await import("../commands/pip.js")).passThrough(["--version"], ctx);
      } catch {
        code = 0;
      }
    }
    ctx.stdout.write(`safe-pip ${packageVersion()}\n`);
    return code;
  }
  const own = OWN_COMMANDS[first];
  if (own) return (await own())(argv, ctx);
  const { passThrough, runThroughIndex } = await import("../commands/pip.js");

  const { rest, overrides, outputs, plan } = extractOwnFlags(argv);
  const parsed = parsePipArgs(rest);
  const all = [...parsed.general, ...parsed.options];
  const quiet = hasOption(all, "quiet");
  const c: CommandContext = { ...ctx, quiet: ctx.quiet || quiet };
  const command = parsed.command;
  const fetching =
    command !== undefined &&
    (FETCHING_COMMANDS.has(command) || (command === "list" && (hasOption(parsed.options, "outdated") || hasOption(parsed.options, "uptodate"))));
  if ((outputs.sbom || outputs.lock) && command !== "install")
    throw new SafePipError("USAGE", `--${outputs.sbom ? "sbom" : "lock"} applies only to "install"`);
  if (!fetching || hasOption(all, "help")) return passThrough(rest, c);
  return runThroughIndex(parsed, c, { policyOverrides: overrides, argv, outputs, plan });
}

/** Runs safe-pip; returns the exit code. Errors become one line (plus detail and a hint), never a stack. */
export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  try {
    return await dispatch(argv, ctx);
  } catch (err) {
    if (err instanceof SafePipError) {
      ctx.stderr.write(`safe-pip: ${err.message}\n`);
      for (const d of err.detail) ctx.stderr.write(`  ${d}\n`);
      if (err.code === "BLOCKED") ctx.stderr.write("safe-pip: nothing was installed\n");
      if (err.hint) ctx.stderr.write(`safe-pip: hint: ${err.hint}\n`);
      if (ctx.env.SAFE_PIP_DEBUG && err.cause) ctx.stderr.write(`safe-pip: cause: ${describeError(err.cause)}\n`);
      return err.exitCode;
    }
    ctx.stderr.write(`safe-pip: internal error: ${describeError(err)}\n`);
    if (ctx.env.SAFE_PIP_DEBUG === "stack" && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
    else ctx.stderr.write("safe-pip: set SAFE_PIP_DEBUG=stack to see where\n");
    return 70;
  }
}
