import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SafePipError, blockedError, describeError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { redactText, redactUrl } from "../core/redact.js";
import { normalizeName } from "../core/names.js";
import { createChecker } from "../checks/checker.js";
import type { ProjectDecision } from "../index/project.js";
import { startUnifiedIndex, type UnifiedIndex } from "../index/server.js";
import { hasOption, optionValues, type ParsedPipArgs } from "../pip/argv.js";
import { buildPipEnv } from "../pip/env.js";
import { directReferences, isNamedLocalProject, prepareInvocation, renderOptions, type PipInvocation } from "../pip/invocation.js";
import { findPython, pipHasCommand, probePip, requirePipFeatures, type RealPip } from "../pip/locate.js";
import { readInstallReport, type ReportItem } from "../pip/report.js";
import { runPip, type PipRun } from "../pip/run.js";
import { formatSourceNote } from "../pip/sources.js";
import { loadPolicy } from "../policy/load.js";
import type { Policy, PolicyLayer } from "../policy/schema.js";
import { attributeFailure } from "../report/failure.js";
import { Printer } from "../report/printer.js";
import { heldBack, renderPlan, type HeldBack, type PlannedPackage } from "../report/summary.js";
import type { CommandContext } from "./context.js";
import { appendAudit, writeReport, type RunRecord } from "../report/record.js";
import { packageVersion, stateDir } from "../core/paths.js";
import { envValue } from "../core/env.js";
import { registerCleanup } from "./cleanup.js";
import { writeInstallOutputs, type InstallOutputs } from "../report/outputs.js";

export interface PipCommandFlags {
  policyOverrides: PolicyLayer;
  /** The command line as typed, for the report and audit log (redacted when written). */
  argv: string[];
  /** --sbom / --lock (install only). */
  outputs?: InstallOutputs | undefined;
  /** `--plan`: resolve first, show the plan, then install exactly that set (two pip passes). */
  plan?: boolean | undefined;
}

/** Runs a pip command that does not fetch packages exactly as typed, with the user's environment. */
export async function passThrough(argv: string[], ctx: CommandContext): Promise<number> {
  const python = findPython(ctx.env);
  const env = Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined));
  const run = await runPip(python, ["-m", "pip", ...argv], env, { stdout: ctx.stdout, stderr: ctx.stderr, cwd: ctx.cwd });
  return run.exitCode;
}

interface Session {
  record: RunRecord;
  ctx: CommandContext;
  out: Printer;
  policy: Policy;
  pip: RealPip;
  inv: PipInvocation;
  index: UnifiedIndex;
  tmp: string;
  env: Record<string, string>;
  outputs: InstallOutputs;
  plan: boolean;
}

/**
 * A fetching pip command (install, download, wheel, index, lock, list --outdated) through the
 * unified index: every source removed, the index started, pip run against it alone.
 */
export async function runThroughIndex(parsed: ParsedPipArgs, ctx: CommandContext, flags: PipCommandFlags): Promise<number> {
  const out = new Printer(ctx);
  const loaded = loadPolicy(ctx.env, flags.policyOverrides);
  for (const w of loaded.warnings) out.warn(w);
  const policy = loaded.policy;
  const python = findPython(ctx.env);
  const pip = await probePip(python, ctx.env);
  if (parsed.command === "install") requirePipFeatures(pip);
  if (!pipHasCommand(pip, parsed.command!))
    throw new SafePipError("USAGE", `pip ${pip.version} has no "${parsed.command}" command`);

  const { invocation: inv, http } = await prepareInvocation(parsed, {
    env: ctx.env,
    cwd: ctx.cwd,
    pip,
    makeHttp: (proxy, caFile) => new HttpClient({ timeoutMs: policy.timeoutMs, maxBytes: policy.maxPageBytes, proxy, caFile }),
  });
  const tmp = mkdtempSync(join(tmpdir(), "safe-pip-"));
  let index: UnifiedIndex | undefined;
  const unregister = registerCleanup(async () => {
    await index?.close();
    await http.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  const record: RunRecord = {
    time: new Date().toISOString(),
    safePipVersion: packageVersion(),
    command: [...flags.argv],
    cwd: ctx.cwd,
    exitCode: 0,
    outcome: "resolved",
    sourcesRemoved: inv.notes.map(formatSourceNote),
    install: [],
    heldBack: [],
    projects: [],
    incidents: [],
  };
  try {
    const code = await runSession();
    record.exitCode = code;
    if (code !== 0) record.outcome = "failed";
    return code;
  } catch (err) {
    if (err instanceof SafePipError) {
      record.exitCode = err.exitCode;
      record.outcome = err.code === "BLOCKED" ? "blocked" : err.code === "UNAVAILABLE" ? "unavailable" : "failed";
      record.error = { message: err.message, detail: err.detail };
    } else {
      record.exitCode = 70;
      record.outcome = "failed";
    }
    throw err;
  } finally {
    if (index) {
      record.projects = await index.decisions();
      record.incidents = [...index.incidents];
    }
    saveRecord(record, ctx);
    await unregister();
  }

  async function runSession(): Promise<number> {
    for (const n of inv.notes) out.info(formatSourceNote(n));
    const direct = directReferences(inv);
    if (direct.length && policy.directReferences === "block") {
      throw blockedError(
        `blocked: ${direct.map((d) => `"${redactUrl(d.req.text)}" (${d.req.kind === "direct" ? d.req.why : "direct"}, from ${d.origin})`).join(", ")} would bypass the index`,
        'direct references are blocked by policy ("directReferences": "block"); publish the package to an internal index instead',
      );
    }
    const checker = createChecker({ policy, http, env: ctx.env, printer: out });
    index = await startUnifiedIndex({ policy, http, checker });
    const env = buildPipEnv({
      base: ctx.env,
      settings: inv.settings,
      indexUrl: index.url,
      indexOrigin: index.origin,
      allowDirect: policy.directReferences === "allow",
    });
    const session: Session = { record, ctx, out, policy, pip, inv, index, tmp, env, outputs: flags.outputs ?? {}, plan: flags.plan === true };
    if (inv.command !== "install") return await single(session);
    return session.plan ? await installPlanned(session) : await install(session);
  }
}

/** The report (when asked for) and the audit line (always; a failure to write it is only a warning). */
function saveRecord(record: RunRecord, ctx: CommandContext): void {
  const reportFile = envValue(ctx.env, "REPORT");
  try {
    if (reportFile) writeReport(isAbsolute(reportFile) ? reportFile : join(ctx.cwd, reportFile), record);
  } catch (err) {
    ctx.stderr.write(`safe-pip: warning: cannot write the report ${reportFile}: ${describeError(err)}\n`);
  }
  try {
    appendAudit(stateDir(ctx.env), record);
  } catch (err) {
    ctx.stderr.write(`safe-pip: warning: cannot append to the audit log in ${stateDir(ctx.env)}: ${describeError(err)}\n`);
  }
}

function writeInputs(s: Session): string[] {
  const { inputs } = s.inv;
  const args: string[] = [];
  if (inputs.requirementLines.length || inputs.optionLines.length) {
    const file = join(s.tmp, "requirements.txt");
    writeFileSync(file, [...inputs.optionLines, ...inputs.requirementLines].join("\n") + "\n");
    args.push("-r", file);
  }
  if (inputs.constraintLines.length) {
    const file = join(s.tmp, "constraints.txt");
    writeFileSync(file, inputs.constraintLines.join("\n") + "\n");
    args.push("-c", file);
  }
  return args;
}

async function decisionMap(index: UnifiedIndex): Promise<Map<string, ProjectDecision>> {
  return new Map((await index.decisions()).map((d) => [d.name, d]));
}

async function failureOf(s: Session, stderr: string, exitCode: number): Promise<number> {
  const err = attributeFailure(stderr, await decisionMap(s.index), s.index.incidents);
  if (err) throw err;
  return exitCode;
}

/** download, wheel, index, lock, list --outdated: one pip run; the index already hides what policy forbids. */
async function single(s: Session): Promise<number> {
  const args = ["-m", "pip", ...renderOptions(s.inv.general), s.inv.command, ...renderOptions(s.inv.options), `--index-url=${s.index.url}`];
  if (s.inv.command === "index") args.push(...s.inv.args);
  else if (s.inv.command !== "list") args.push(...writeInputs(s));
  const run = await runPasses(s, args);
  if (run.exitCode !== 0) return failureOf(s, run.stderr, run.exitCode);
  return 0;
}

/** At most this many extra pip passes after releases were hidden only when their files arrived. */
const MAX_EXTRA_PASSES = 3;

/**
 * Runs pip, and again when it broke off only because the index hid a release on seeing its file
 * (a wheel without PEP 658 metadata, an sdist's PKG-INFO): the index has learnt the verdict, so
 * the next pass's pages no longer offer that release and pip settles on another. pip resolves
 * and downloads everything before it installs anything, so a broken-off pass installed nothing.
 * Releases condemned by their `.metadata` need no second pass: pip discards them as it resolves.
 */
async function runPasses(s: Session, args: string[]): Promise<PipRun> {
  for (let pass = 0; ; pass++) {
    const before = s.index.incidents.length;
    const run = await runPip(s.pip.python, args, s.env, { stdout: s.ctx.stdout, stderr: s.ctx.stderr, cwd: s.ctx.cwd });
    const fresh = s.index.incidents.slice(before);
    const onlyHidden = fresh.length > 0 && fresh.every((i) => i.kind === "hidden");
    if (run.exitCode === 0 || !onlyHidden || pass >= MAX_EXTRA_PASSES) return run;
    for (const i of fresh) s.out.info(`${i.message}; running pip again without it`);
    // The incidents explained this pass; the next one starts from a clean slate.
    s.index.incidents.splice(before);
  }
}

/**
 * install: one pip pass. Every verdict is made in the index as pip asks for pages, metadata and
 * files, so pip only ever sees what the policy allows and picks the newest allowed version itself;
 * pip resolves fully before it installs anything, so a refusal anywhere means nothing is installed.
 * pip writes its installation report to a temporary file, and the summary is printed from it after.
 */
async function install(s: Session): Promise<number> {
  const { inv, out } = s;
  const reportFile = join(s.tmp, "report.json");
  const dryRun = hasOption(inv.options, "dry-run");
  const args = [
    "-m",
    "pip",
    ...renderOptions(inv.general),
    "install",
    ...renderOptions(inv.options, ["report"]),
    `--report=${reportFile}`,
    `--index-url=${s.index.url}`,
    ...writeInputs(s),
  ];
  const run = await runPasses(s, args);
  if (run.exitCode !== 0) return failureOf(s, run.stderr, run.exitCode);
  const items = readInstallReport(reportFile);
  // A direct reference the index could not see: one produced by building an sdist (its generated
  // metadata never passes through the index). The guard inside pip (shims/python) refuses these
  // while pip resolves, so this is the backstop for a pip whose internals the guard doesn't know.
  // Too late to stop: said loudly, and the run fails so a script or CI job can't miss it.
  const late = items.filter((item) => item.isDirect && !isNamedLocalProject(inv, item) && s.policy.directReferences === "block");
  for (const item of late) {
    out.error(`${item.name} ${item.version} came from a direct reference (${redactUrl(item.url)}) that only a build revealed; review it`);
    s.index.incidents.push({ kind: "direct-access", project: item.name, message: `${item.name} ${item.version} came from ${redactUrl(item.url)}, named in metadata generated by a build` });
  }
  const { planned, held } = await summarise(items, s);
  out.lines(renderPlan(planned, held, out.style, dryRun ? "would install" : "installed"));
  s.record.outcome = dryRun ? "resolved" : "installed";
  const userReport = optionValues(inv.options, "report").pop();
  if (userReport) copyReport(reportFile, userReport, s);
  await saveOutputs(s, items, !dryRun);
  if (late.length) {
    throw blockedError(
      `blocked: ${late.map((i) => `${i.name} ${i.version}`).join(", ")} ${dryRun ? "would come" : "came"} from a direct reference that only a build revealed`,
      dryRun ? 'direct references are blocked by policy ("directReferences": "block")' : `uninstall ${late.length === 1 ? "it" : "them"} (pip uninstall ${late.map((i) => i.name).join(" ")}) unless you trust the source`,
    );
  }
  return 0;
}

/** What pip's report says was (or will be) installed, with each package's source, and what policy held back. */
async function summarise(items: ReportItem[], s: Session): Promise<{ planned: PlannedPackage[]; held: HeldBack[] }> {
  const decisions = await decisionMap(s.index);
  const planned: PlannedPackage[] = [];
  const held: HeldBack[] = [];
  for (const item of items) {
    const d = decisions.get(item.name);
    const source: PlannedPackage["source"] = item.localDir ? "local" : item.isDirect ? "direct" : (d?.source ?? "public");
    const warnings = d?.versions.find((v) => v.version === item.version)?.reasons.filter((r) => r.verdict === "warn") ?? [];
    planned.push({ name: item.name, version: item.version, source, requested: item.requested, warnings: [...(d?.nameReasons.filter((r) => r.verdict === "warn") ?? []), ...warnings] });
    if (d) held.push(...heldBack(d, item.version));
  }
  // Requested projects that are already installed are not in the report, yet a newer release the
  // policy held back is exactly what a user running `install --upgrade` wants explained.
  for (const input of s.inv.inputs.inputs) {
    if (input.constraint || input.req.kind !== "index") continue;
    const d = decisions.get(normalizeName(input.req.name));
    if (!d || items.some((i) => i.name === d.name)) continue;
    const newest = d.versions.filter((v) => v.served).map((v) => v.version).pop();
    if (newest) held.push(...heldBack(d, newest).map((h) => ({ ...h, using: `${newest} (the newest allowed; already satisfied)` })));
  }
  s.record.install = planned;
  s.record.heldBack = held;
  return { planned, held };
}

/**
 * install --plan: resolve first (pip's own resolver, dry run, through the index), show the plan
 * and what policy held back, then install exactly that set with --no-deps (and hashes when every
 * file has one), so what gets installed is what was shown.
 */
async function installPlanned(s: Session): Promise<number> {
  const { inv, out } = s;
  const reportFile = join(s.tmp, "report.json");
  const verbose = hasOption([...inv.general, ...inv.options], "verbose");
  const resolveArgs = [
    "-m",
    "pip",
    ...renderOptions(inv.general),
    ...(verbose ? [] : ["--quiet"]),
    "install",
    ...renderOptions(inv.options, ["report", "dry-run"]),
    "--dry-run",
    `--report=${reportFile}`,
    `--index-url=${s.index.url}`,
    ...writeInputs(s),
  ];
  const spinner = out.spin("resolving through the unified index…");
  const resolved = await runPasses(s, resolveArgs).finally(() => spinner.stop());
  if (resolved.exitCode !== 0) return failureOf(s, resolved.stderr, resolved.exitCode);

  const items = readInstallReport(reportFile);
  for (const item of items) {
    if (item.isDirect && !isNamedLocalProject(inv, item) && s.policy.directReferences === "block") {
      throw blockedError(`blocked: ${item.name} ${item.version} comes from a direct reference (${redactUrl(item.url)})`);
    }
  }
  const { planned, held } = await summarise(items, s);
  out.lines(renderPlan(planned, held, out.style));

  const userReport = optionValues(inv.options, "report").pop();
  if (hasOption(inv.options, "dry-run") || items.length === 0) {
    if (userReport) copyReport(reportFile, userReport, s);
    await saveOutputs(s, items, !hasOption(inv.options, "dry-run"));
    return 0;
  }

  const pinned = join(s.tmp, "pinned.txt");
  const hashed = items.every((i) => !i.isDirect && i.sha256);
  writeFileSync(pinned, items.map((i) => pinLine(i, hashed)).join("\n") + "\n");
  const installArgs = [
    "-m",
    "pip",
    ...renderOptions(inv.general),
    "install",
    ...renderOptions(inv.options, ["report", "dry-run", "no-deps", "require-hashes", "pre", "prefer-binary", "only-binary", "no-binary"]),
    "--no-deps",
    ...(hashed ? ["--require-hashes"] : []),
    `--index-url=${s.index.url}`,
    "-r",
    pinned,
  ];
  const run = await runPasses(s, installArgs);
  if (run.exitCode !== 0) return failureOf(s, run.stderr, run.exitCode);
  s.record.outcome = "installed";
  if (userReport) copyReport(reportFile, userReport, s);
  await saveOutputs(s, items, true);
  return 0;
}

/** --sbom and --lock, from the same report items that were shown and installed. */
async function saveOutputs(s: Session, items: ReportItem[], installed: boolean): Promise<void> {
  if (!s.outputs.sbom && !s.outputs.lock) return;
  s.record.outputs = await writeInstallOutputs(s.outputs, items, {
    cwd: s.ctx.cwd,
    installed,
    decisions: await decisionMap(s.index),
    coreMetadata: (name, version) => s.index.coreMetadata(name, version),
    command: s.record.command,
    version: packageVersion(),
    info: (line) => s.out.info(line),
    upstreamFile: (name, filename) => s.index.project(name).then((p) => p.files.find((f) => f.filename === filename)),
  });
}

function pinLine(item: ReportItem, hashed: boolean): string {
  if (item.localDir) {
    const path = fileURLToPath(item.url);
    return item.editable ? `-e ${path}` : path;
  }
  if (item.isDirect) return `${item.name} @ ${item.url}`;
  return hashed ? `${item.name}==${item.version} --hash=sha256:${item.sha256}` : `${item.name}==${item.version}`;
}

/**
 * pip's own --report, honoured with the report of the resolve pass ("-" is stdout, as in pip),
 * plus a "safe_pip" key with safe-pip's decisions (consumers of pip's format ignore unknown keys).
 */
function copyReport(from: string, to: string, s: Session): void {
  const report = JSON.parse(readFileSync(from, "utf8")) as Record<string, unknown>;
  report.safe_pip = { sources_removed: s.record.sourcesRemoved, install: s.record.install, held_back: s.record.heldBack };
  const text = redactText(JSON.stringify(report, null, 2)) + "\n";
  if (to === "-") s.ctx.stdout.write(text);
  else writeFileSync(isAbsolute(to) ? to : join(s.ctx.cwd, to), text);
}
