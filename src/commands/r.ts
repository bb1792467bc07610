import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createChecker } from "../checks/checker.js";
import type { ReleaseChecker } from "../checks/release.js";
import type { Env } from "../core/env.js";
import { SafePipError, describeError, usageError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { packageRoot, stateDir } from "../core/paths.js";
import { loadPolicy } from "../policy/load.js";
import type { Policy } from "../policy/schema.js";
import { Printer } from "../report/printer.js";
import { dependencyMode } from "../r/deps.js";
import { hookLine, installHook, removeHook, userProfilePath } from "../r/profile.js";
import { resolutionJson } from "../r/report.js";
import { UnifiedRepository } from "../r/repository.js";
import { startServer } from "../r/server.js";
import { registerCleanup } from "./cleanup.js";
import type { CommandContext } from "./context.js";

export interface RDeps {
  /** The release checks (allow/deny, licences, OSV); the policy's real checker unless a test swaps it. */
  createChecker?: (policy: Policy, http: HttpClient, env: Env) => ReleaseChecker;
  now?: () => number;
}

const USAGE = `usage:
  safe-pip setup r [--undo] [--site]
  safe-pip r serve [--port-file FILE] [--idle-timeout SECONDS] [--parent-pid PID] [--port N]
  safe-pip r check [--dependencies NA|TRUE|FALSE|Depends,Imports,...] [--update] PKG...`;

/** The R hook file shipped in the package (shims/r/safe-pip.R). */
export function rHookFile(): string {
  return join(packageRoot(), "shims", "r", "safe-pip.R");
}

/**
 * `safe-pip setup r …` and `safe-pip r …`. `args` is everything after `safe-pip`
 * (`["setup", "r", "--undo"]`, `["r", "serve", "--port-file", "/tmp/x"]`).
 */
export async function runR(args: string[], ctx: CommandContext, deps: RDeps = {}): Promise<number> {
  if (args[0] === "setup" && args[1] === "r") return setupR(args.slice(2), ctx);
  if (args[0] !== "r") throw usageError(`safe-pip r: unexpected command ${args[0] ?? "(none)"}`, USAGE);
  const [sub, ...rest] = args.slice(1);
  switch (sub) {
    case "serve":
      return serveR(rest, ctx, deps);
    case "check":
      return checkR(rest, ctx, deps);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      ctx.stdout.write(`${USAGE}\n`);
      return sub === undefined ? 64 : 0;
    default:
      throw usageError(`safe-pip r: unknown command "${sub}"`, USAGE);
  }
}

/** `--flag value` / `--flag=value` options, and the rest as positional arguments. */
function parseFlags(args: string[], valued: string[], bools: string[], command: string): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq === -1 ? a : a.slice(0, eq);
    if (bools.includes(name) && eq === -1) flags.set(name, "true");
    else if (valued.includes(name)) {
      const value = eq === -1 ? args[++i] : a.slice(eq + 1);
      if (value === undefined || value === "") throw usageError(`${command}: ${name} needs a value`, USAGE);
      flags.set(name, value);
    } else throw usageError(`${command}: unknown option ${a}`, USAGE);
  }
  return { flags, positional };
}

function wholeNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw usageError(`safe-pip r serve: ${flag} must be a whole number, got "${text}"`);
  return Number(text);
}

interface Session {
  policy: Policy;
  http: HttpClient;
  checker: ReleaseChecker;
  repository: UnifiedRepository;
}

function openSession(ctx: CommandContext, deps: RDeps, out: Printer): Session {
  const loaded = loadPolicy(ctx.env);
  for (const w of loaded.warnings) out.warn(w);
  const policy = loaded.policy;
  const http = new HttpClient({ timeoutMs: policy.timeoutMs, maxBytes: policy.maxPageBytes });
  const checker = (deps.createChecker ?? ((p, h, env) => createChecker({ policy: p, http: h, env, printer: out })))(policy, http, ctx.env);
  const repository = new UnifiedRepository({ policy, checker, http, now: deps.now, stateDir: stateDir(ctx.env) });
  return { policy, http, checker, repository };
}

/**
 * Writes the port file the R hook waits for: `URL:` and `Token:` (DCF, so base R's read.dcf
 * reads it), or `Error:` when the repository could not start, so the hook can say why at once
 * instead of waiting for a timeout. Write-then-rename: the hook never sees half a file.
 */
function writePortFile(file: string, fields: Record<string, string>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Object.entries(fields).map(([k, v]) => `${k}: ${v.replace(/[\r\n]+/g, " ")}\n`).join(""), { mode: 0o600 });
  renameSync(tmp, file);
}

async function serveR(args: string[], ctx: CommandContext, deps: RDeps): Promise<number> {
  const { flags, positional } = parseFlags(args, ["--port-file", "--idle-timeout", "--parent-pid", "--port"], [], "safe-pip r serve");
  if (positional.length) throw usageError(`safe-pip r serve: unexpected argument ${positional[0]}`, USAGE);
  const portFile = flags.get("--port-file");
  const idle = wholeNumber(flags.get("--idle-timeout"), "--idle-timeout");
  const parentPid = wholeNumber(flags.get("--parent-pid"), "--parent-pid");
  const port = wholeNumber(flags.get("--port"), "--port");
  const out = new Printer(ctx);

  let session: Session;
  let server;
  try {
    session = openSession(ctx, deps, out);
    server = await startServer({
      repository: session.repository,
      policy: session.policy,
      checker: session.checker,
      http: session.http,
      port,
      idleTimeoutMs: (idle ?? 0) * 1000,
      parentPid,
      log: (line) => out.info(line),
    });
  } catch (err) {
    if (portFile) writePortFile(portFile, { Error: err instanceof SafePipError ? err.message : describeError(err) });
    throw err;
  }
  const stop = registerCleanup(async () => {
    await server.close();
    await session.http.close();
    if (portFile) rmSync(portFile, { force: true });
  });
  if (portFile) writePortFile(portFile, { URL: server.url, Token: server.token });
  ctx.stdout.write(`${server.url}\n`);
  if (session.repository.snapshotDate) out.info(`public packages from the snapshot of ${session.repository.snapshotDate}`);
  out.info(`R repository running at ${server.url}`);
  await server.closed;
  await stop();
  return 0;
}

async function checkR(args: string[], ctx: CommandContext, deps: RDeps): Promise<number> {
  const { flags, positional } = parseFlags(args, ["--dependencies"], ["--update"], "safe-pip r check");
  if (!positional.length) throw usageError("safe-pip r check: name at least one package", USAGE);
  let mode;
  try {
    mode = dependencyMode(flags.get("--dependencies"));
  } catch (err) {
    throw usageError(`safe-pip r check: ${describeError(err)}`, USAGE);
  }
  const out = new Printer(ctx);
  const session = openSession(ctx, deps, out);
  try {
    const entry = await session.repository.resolve({ pkgs: positional, dependencies: mode, strict: !flags.has("--update") });
    ctx.stdout.write(`${JSON.stringify(resolutionJson(entry, undefined), null, 2)}\n`);
    return entry.resolution.blocked ? 65 : 0;
  } finally {
    await session.http.close();
  }
}

function setupR(args: string[], ctx: CommandContext): number {
  const { flags, positional } = parseFlags(args, [], ["--undo", "--site"], "safe-pip setup r");
  if (positional.length) throw usageError(`safe-pip setup r: unexpected argument ${positional[0]}`, USAGE);
  const hook = rHookFile();
  const out = new Printer(ctx);
  if (flags.has("--site")) {
    // Site-wide installs are an administrator's change to R itself: print it, don't make it.
    ctx.stdout.write(
      flags.has("--undo")
        ? `Remove the line containing "safe-pip R hook" from R_HOME/etc/Rprofile.site (R.home("etc") in R).\n`
        : [
            `Append this line to R_HOME/etc/Rprofile.site (file.path(R.home("etc"), "Rprofile.site") in R),`,
            `once for every installed R version; keep what the file already holds:`,
            ``,
            hookLine(hook),
            ``,
            `Every R session except --vanilla/--no-site-file then installs through safe-pip.`,
            ``,
          ].join("\n"),
    );
    return 0;
  }
  const profile = userProfilePath(ctx.env);
  if (flags.has("--undo")) {
    const change = removeHook(profile);
    out.info(change === "removed" ? `removed the safe-pip hook from ${profile}` : `no safe-pip hook in ${profile}; nothing to do`);
    return 0;
  }
  const change = installHook(profile, hook);
  out.info(
    change === "unchanged"
      ? `${profile} already loads the safe-pip hook`
      : `${change === "added" ? "added" : "updated"} the safe-pip hook in ${profile}; new R sessions install through safe-pip`,
  );
  out.info("a project's own .Rprofile replaces this one: add the same line there (safe-pip setup r --site prints it)");
  return 0;
}
