/**
 * Rows 1 and 2: plain pip against the upstream vs safe-pip through the unified index, as
 * subprocesses, same interpreter, same warm pip cache, fresh target and HOME per run. Runs are
 * interleaved (the order rotates every round) so drift on a noisy machine hits every variant.
 *
 * Analysis variants ride in the same rounds, so they share the baseline's conditions:
 *  - `pip→index`: one plain `pip install --target` through a fresh unified index started in this
 *    process (the index's cost without any of safe-pip's process overhead);
 *  - `pip→index+env`: the same with the environment safe-pip gives pip on top (the guard on
 *    PYTHONPATH, every proxy variable pointing at the index): what that environment costs pip;
 *  - `pip resolve pass` / `pip install pass`: safe-pip's two pip passes replayed with plain pip
 *    against the upstream (`--dry-run --report`, then `--no-deps --require-hashes -r pinned`);
 *  - `pip install pass, local files`: the second pass from the wheels on disk (`--no-index`), as if
 *    the index had kept what the first pass fetched.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createChecker } from "../../src/checks/checker.js";
import { HttpClient } from "../../src/core/http.js";
import { normalizeName } from "../../src/core/names.js";
import { packageRoot } from "../../src/core/paths.js";
import { startUnifiedIndex } from "../../src/index/server.js";
import { buildPipEnv } from "../../src/pip/env.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import type { PolicyLayer } from "../../src/policy/schema.js";
import { isolatedEnv, tempDir } from "../../test/helpers/env.js";
import { run, type ProcResult } from "./proc.js";

export type Variant =
  | "pip"
  | "safe-pip"
  | "safe-pip+osv"
  | "pip→index"
  | "pip→index+env"
  | "pip resolve pass"
  | "pip install pass"
  | "pip install pass, local files";
export type Mode = "install" | "dry-run";

/**
 * In the rounds of row 1 with the profile. The replayed two-pass variants ("pip resolve pass" and
 * the rest) measured the old two-pass design; install has run in one pip pass since, so they are
 * no longer in the rounds (preparePinned and the variants stay for a --plan comparison).
 */
export const ANALYSIS_VARIANTS: Variant[] = ["pip→index", "pip→index+env"];

export interface Setup {
  /** The real interpreter (not a pyenv shim), used by both sides. */
  python: string;
  upstreamUrl: string;
  packages: string[];
  /** Shared PIP_CACHE_DIR. */
  pipCache: string;
  /** OSV API stand-in URL, for the safe-pip+osv variant. */
  osvUrl?: string | undefined;
  /** Extra policy keys (e.g. unknownAge for an --index DIR without upload times). */
  policyExtra?: Record<string, unknown>;
  /** Pinned requirement files for the replayed second pass (see preparePinned). */
  pinned?: { upstream: string; local: string };
  /**
   * A pip-probe cache directory copied into each safe-pip run's fresh XDG cache, as a user's
   * second and later runs have it (the OSV cache stays cold).
   */
  probeCache?: string | undefined;
}

export interface RunRecord {
  variant: Variant;
  mode: Mode;
  round: number;
  code: number;
  wallMs: number;
  /** CPU of the whole process tree. */
  cpuMs: number;
  /** CPU of the top process alone (for safe-pip: Node, without the pips it runs). */
  selfCpuMs: number;
  treeMaxRssKb: number;
  hwmKb: number;
  /** normalized name → version: what got installed (install) or would be (dry-run). */
  result: Record<string, string>;
  stderrTail?: string;
  /** Requests the upstream and the OSV stand-in served during the run (filled in by the caller). */
  upstreamRequests?: { pages: number; metadata: number; files: number };
  osvRequests?: number;
}

export const CLI = join(packageRoot(), "dist", "cli.js");

export function policyFile(setup: Setup, osv: boolean): string {
  const file = join(tempDir("safe-pip-bench-policy-"), "policy.json");
  const policy = {
    index: setup.upstreamUrl,
    osv: osv && setup.osvUrl ? { source: "api", url: setup.osvUrl } : { source: "off" },
    ...setup.policyExtra,
  };
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return file;
}

/** What `pip install --target` put in a directory: from its *.dist-info names. */
export function installedSet(target: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(target)) return out;
  for (const entry of readdirSync(target)) {
    const m = /^(.+)-([^-]+)\.dist-info$/.exec(entry);
    if (m) out[normalizeName(m[1]!)] = m[2]!;
  }
  return out;
}

interface Report {
  install?: Array<{ metadata?: { name?: string; version?: string }; download_info?: { archive_info?: { hashes?: { sha256?: string } } } }>;
}

/** What a `--report` says would be installed. */
export function reportSet(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  const report = JSON.parse(readFileSync(file, "utf8")) as Report;
  for (const item of report.install ?? []) if (item.metadata?.name) out[normalizeName(item.metadata.name)] = item.metadata.version ?? "";
  return out;
}

export function sameSet(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export function diffSets(a: Record<string, string>, b: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[k] !== b[k]) out.push(`${k}: ${a[k] ?? "-"} vs ${b[k] ?? "-"}`);
  return out.sort();
}

export interface Invocation {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  target: string;
  report: string;
  cleanup(): void;
}

/** The command line and environment of one variant (also used by the profiling pass). */
export function invocation(
  setup: Setup,
  variant: Variant,
  mode: Mode,
  /** `python: null`: leave SAFE_PIP_PYTHON unset, so safe-pip picks python3 from PATH itself. */
  over: { python?: string | null; extraEnv?: Record<string, string>; nodeArgs?: string[]; pipArgs?: string[] } = {},
): Invocation {
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null", PIP_CACHE_DIR: setup.pipCache, ...over.extraEnv });
  const work = tempDir("safe-pip-bench-run-");
  const target = join(work, "target");
  const report = join(work, "report.json");
  mkdirSync(target);
  const modeArgs = mode === "install" ? ["--target", target] : ["--dry-run", `--report=${report}`];
  const cleanup = () => {
    iso.cleanup();
    rmSync(work, { recursive: true, force: true });
  };
  const pip = (args: string[]): Invocation => ({ cmd: setup.python, args: ["-m", "pip", ...args], env: iso.env, target, report, cleanup });
  switch (variant) {
    case "pip":
    case "pip→index":
    case "pip→index+env":
      return pip(["install", ...modeArgs, `--index-url=${setup.upstreamUrl}`, ...(over.pipArgs ?? []), ...setup.packages]);
    case "pip resolve pass":
      // What safe-pip runs first (src/commands/pip.ts), against the upstream.
      return pip(["--quiet", "install", "--dry-run", `--report=${report}`, `--index-url=${setup.upstreamUrl}`, ...setup.packages]);
    case "pip install pass":
      return pip(["install", "--target", target, "--no-deps", "--require-hashes", `--index-url=${setup.upstreamUrl}`, "-r", setup.pinned!.upstream]);
    case "pip install pass, local files":
      return pip(["install", "--target", target, "--no-deps", "--no-index", "--require-hashes", "-r", setup.pinned!.local]);
    case "safe-pip":
    case "safe-pip+osv": {
      const env: Record<string, string> = { ...iso.env, SAFE_PIP_CONFIG: policyFile(setup, variant === "safe-pip+osv") };
      if (setup.probeCache) cpSync(setup.probeCache, join(iso.env.XDG_CACHE_HOME!, "safe-pip", "pip-probe"), { recursive: true });
      if (over.python !== null) env.SAFE_PIP_PYTHON = over.python ?? setup.python;
      return { cmd: process.execPath, args: [...(over.nodeArgs ?? []), CLI, "install", ...modeArgs, ...setup.packages], env, target, report, cleanup };
    }
  }
}

/**
 * Writes the pinned files the replayed second pass installs from: `name==version --hash=…` as
 * safe-pip writes them, and the same wheels downloaded once to a directory (local paths).
 */
export async function preparePinned(setup: Setup): Promise<{ upstream: string; local: string }> {
  const dir = tempDir("safe-pip-bench-pinned-");
  const inv = invocation(setup, "pip resolve pass", "install");
  try {
    const r = await run(inv.cmd, inv.args, { env: inv.env });
    if (r.code !== 0) throw new Error(`resolve pass failed: ${r.stderr.slice(-400)}`);
    const items = (JSON.parse(readFileSync(inv.report, "utf8")) as Report).install ?? [];
    const lines = items.map((it) => ({ name: normalizeName(it.metadata!.name!), version: it.metadata!.version!, sha: it.download_info?.archive_info?.hashes?.sha256 ?? "" }));
    const upstream = join(dir, "pinned.txt");
    writeFileSync(upstream, lines.map((l) => `${l.name}==${l.version} --hash=sha256:${l.sha}`).join("\n") + "\n");
    const wheels = join(dir, "wheels");
    const dl = await run(setup.python, ["-m", "pip", "download", "--no-deps", "--require-hashes", "-d", wheels, `--index-url=${setup.upstreamUrl}`, "-r", upstream], { env: inv.env });
    if (dl.code !== 0) throw new Error(`pip download failed: ${dl.stderr.slice(-400)}`);
    const files = new Map(readdirSync(wheels).map((f) => [`${normalizeName(f.split("-")[0]!)}==${f.split("-")[1]}`, f]));
    const local = join(dir, "pinned-local.txt");
    writeFileSync(local, lines.map((l) => `${join(wheels, files.get(`${l.name}==${l.version}`) ?? "missing")} --hash=sha256:${l.sha}`).join("\n") + "\n");
    return { upstream, local };
  } finally {
    inv.cleanup();
  }
}

export async function runOnce(setup: Setup, variant: Variant, mode: Mode, round: number): Promise<RunRecord> {
  let closeIndex: (() => Promise<void>) | undefined;
  let s = setup;
  let extraEnv: Record<string, string> | undefined;
  if (variant === "pip→index" || variant === "pip→index+env") {
    // A fresh (cold) unified index per run, as every safe-pip run starts one.
    const policy = resolvePolicy({ index: setup.upstreamUrl, osv: { source: "off" }, ...(setup.policyExtra as PolicyLayer | undefined) });
    const http = new HttpClient({ timeoutMs: policy.timeoutMs, maxBytes: policy.maxPageBytes });
    const iso = isolatedEnv();
    const index = await startUnifiedIndex({ policy, http, checker: createChecker({ policy, http, env: iso.env }) });
    s = { ...setup, upstreamUrl: index.url };
    if (variant === "pip→index+env") {
      const full = buildPipEnv({ base: {}, settings: { keep: new Map(), inputs: [], notes: [], files: [] }, indexUrl: index.url, indexOrigin: index.origin, allowDirect: false });
      extraEnv = Object.fromEntries(Object.entries(full).filter(([k]) => /proxy$/i.test(k) || k === "PYTHONPATH" || k === "SAFE_PIP_GUARD"));
    }
    closeIndex = async () => {
      await index.close();
      await http.close();
      iso.cleanup();
    };
  }
  const inv = invocation(s, variant, mode, extraEnv ? { extraEnv } : {});
  let r: ProcResult;
  try {
    r = await run(inv.cmd, inv.args, { env: inv.env });
    const result = mode === "install" && variant !== "pip resolve pass" ? installedSet(inv.target) : reportSet(inv.report);
    return {
      variant,
      mode,
      round,
      code: r.code,
      wallMs: r.wallMs,
      cpuMs: r.cpuMs,
      selfCpuMs: r.selfCpuMs,
      treeMaxRssKb: r.treeMaxRssKb,
      hwmKb: r.hwmKb,
      result,
      ...(r.code !== 0 && { stderrTail: r.stderr.split("\n").slice(-15).join("\n") }),
    };
  } finally {
    inv.cleanup();
    await closeIndex?.();
  }
}

/**
 * Runs every variant of `mode` once as a warm-up (but those in `noWarmUp`), then `runs` rounds,
 * rotating the order each round. `onRun` sees every record (warm-ups have round 0).
 */
export async function runRounds(
  setup: Setup,
  variants: Variant[],
  mode: Mode,
  runs: number,
  onRun: (r: RunRecord) => void,
  opts: { noWarmUp?: Variant[] } = {},
): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const v of variants) if (!opts.noWarmUp?.includes(v)) onRun(await runOnce(setup, v, mode, 0));
  for (let round = 1; round <= runs; round++) {
    const order = variants.map((_, i) => variants[(i + round - 1) % variants.length]!);
    for (const v of order) {
      const r = await runOnce(setup, v, mode, round);
      out.push(r);
      onRun(r);
    }
  }
  return out;
}
