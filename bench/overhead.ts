/**
 * safe-pip overhead benchmark: what does going through safe-pip cost over plain pip?
 *
 *   npm run build && npx tsc -p tsconfig.test.json && node build-test/bench/overhead.js [options]
 *
 * 1. `pip install --target` of a 50-package set straight from the upstream vs `safe-pip install
 *    --target` through the unified index (OSV off, and OSV against the API stand-in), same
 *    interpreter, same warm pip cache, interleaved rounds;
 * 2. resolution alone (`--dry-run --report`) both ways;
 * 3. the unified index's added latency per project page (in-process, cold and warm);
 * 4. 1,000 OSV checks (offline database and API stand-in, runOsvBench) and safe-pip's peak RSS.
 * 5. Where the time goes: fixed costs, module loading, traced runs with a CPU profile, the two-pass
 *    split replayed with plain pip and one pip pass through the index (inside the rounds of 1),
 *    and what pip's HTTP cache does with and without safe-pip.
 *
 * Results: tables on stdout and `.bench-out/results.json`. `--help` lists the options.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/core/paths.js";
import { loadFixtureRecords, startOsvServer } from "../test/helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../test/helpers/env.js";
import { generate } from "./overhead/graph.js";
import { writeIndexDir } from "./overhead/static-index.js";
import { ANALYSIS_VARIANTS, diffSets, installedSet, invocation, runRounds, sameSet, type RunRecord, type Setup, type Variant } from "./overhead/installs.js";
import { directLatency, measurePageLatency, type Pct } from "./overhead/latency.js";
import { osvBenchFresh } from "./overhead/osv.js";
import { makeProbeCache, measureStartup } from "./overhead/startup.js";
import { startLatencyProxy } from "../test/helpers/latency-proxy.js";
import { fixedCosts, moduleCosts, traceSafePip, type Trace } from "./overhead/profile.js";
import { run } from "./overhead/proc.js";
import { fmtMs, fmtSummary, summarize, table, type Summary } from "./overhead/stats.js";
import { externalUpstream, syntheticAdvisories, syntheticUpstream, type Upstream } from "./overhead/upstream.js";

const HELP = `safe-pip overhead benchmark

  node build-test/bench/overhead.js [options]

  --runs N               timed runs per variant, after one warm-up each (default 5)
  --index DIR|URL        benchmark against an existing PEP 503 index directory (served here) or URL
                         instead of the synthetic one; needs --packages
  --packages a,b,c       the set to install (default: the synthetic 50-package set)
  --seed N               seed of the synthetic index (default 20240601)
  --projects N           projects in the synthetic index (default 300)
  --upstream fake|static server for the synthetic index: test/helpers startFakeIndex (default) or a
                         pre-rendered static one
  --latency-samples N    cold page samples for the latency row (default 900)
  --slow-ms N            added latency per upstream/OSV request in the slow scenario (default 50)
  --slow-runs N          timed runs per variant in the slow scenario (default: --runs)
  --osv-runs N           runs of the OSV benchmark, each in a fresh process (default 2)
  --traces N             traced safe-pip installs for the time split (default 2, one more profiled)
  --python PATH          interpreter for both sides (default: the real one behind python3 on PATH)
  --skip-profile         skip section 5 ("where the time goes") and its variants in the rounds
  --skip-cache-test      skip the HTTP-cache experiment
  --write-index DIR      write the synthetic index as a PEP 503 directory and exit
  --out DIR              output directory (default .bench-out)
`;

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    index: { type: "string" },
    packages: { type: "string" },
    seed: { type: "string", default: "20240601" },
    projects: { type: "string", default: "300" },
    upstream: { type: "string", default: "fake" },
    "latency-samples": { type: "string", default: "900" },
    "osv-runs": { type: "string", default: "2" },
    "slow-ms": { type: "string", default: "50" },
    "slow-runs": { type: "string" },
    traces: { type: "string", default: "2" },
    python: { type: "string" },
    "skip-profile": { type: "boolean", default: false },
    "skip-cache-test": { type: "boolean", default: false },
    "write-index": { type: "string" },
    out: { type: "string", default: ".bench-out" },
    help: { type: "boolean", default: false },
  },
});
if (opt.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
function usage(msg: string): never {
  process.stderr.write(`${msg}\n\n${HELP}`);
  process.exit(2);
}
const int = (name: string, v: string | undefined, min = 1): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) usage(`--${name}: expected an integer >= ${min}, got ${v}`);
  return n;
};
const RUNS = int("runs", opt.runs);
const SEED = int("seed", opt.seed, 0);
const PROJECTS = int("projects", opt.projects, 90);
const LAT_SAMPLES = int("latency-samples", opt["latency-samples"], 10);
const OSV_RUNS = int("osv-runs", opt["osv-runs"], 0);
const SLOW_MS = int("slow-ms", opt["slow-ms"], 0);
const SLOW_RUNS = int("slow-runs", opt["slow-runs"] ?? opt.runs);
const TRACES = int("traces", opt.traces, 0);
const PROFILE = !opt["skip-profile"];
if (opt.upstream !== "fake" && opt.upstream !== "static") usage("--upstream: fake or static");
if (opt.index && !opt.packages) usage("--index needs --packages a,b,c");
const OUT = resolve(packageRoot(), opt.out!);
const log = (s = "") => process.stdout.write(s + "\n");
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

/**
 * Both sides use the real interpreter. A pyenv shim on PATH adds a bash start-up to every Python
 * invocation (safe-pip makes three per install); that cost is measured separately.
 */
function realPython(): { python: string; shim: string | undefined; pipVersion: string } {
  const env = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  try {
    const python = execFileSync(opt.python ?? "python3", ["-c", "import sys; print(sys.executable)"], { env: env.env, encoding: "utf8" }).trim();
    const pipVersion = execFileSync(python, ["-c", "import pip; print(pip.__version__)"], { env: env.env, encoding: "utf8" }).trim();
    let shim: string | undefined;
    if (!opt.python) {
      const found = (process.env.PATH ?? "").split(":").map((d) => join(d, "python3")).find((p) => existsSync(p));
      if (found && realpathSync(found) !== realpathSync(python) && readFileSync(found).subarray(0, 2).toString() === "#!") shim = found;
    }
    return { python, shim, pipVersion };
  } finally {
    env.cleanup();
  }
}

interface Row {
  label: string;
  wall: Summary;
  cpu: Summary;
  /** Median / baseline median, and best / baseline best (the least disturbed runs). */
  ratio?: number;
  ratioMin?: number;
  ratioCpu?: number;
  verified: string;
}

const okRuns = (rs: RunRecord[]) => rs.filter((r) => r.code === 0 && r.round > 0);
const med = (rs: RunRecord[], f: (r: RunRecord) => number = (r) => r.wallMs) => summarize(okRuns(rs).map(f)).median;

function rowOf(label: string, records: RunRecord[], baseline: RunRecord[] | undefined, verified: string): Row {
  const ok = okRuns(records);
  const wall = summarize(ok.map((r) => r.wallMs));
  const cpu = summarize(ok.map((r) => r.cpuMs));
  const row: Row = { label, wall, cpu, verified };
  if (baseline) {
    const b = okRuns(baseline);
    const bw = summarize(b.map((r) => r.wallMs));
    row.ratio = wall.median / bw.median;
    row.ratioMin = wall.min / bw.min;
    row.ratioCpu = cpu.median / summarize(b.map((r) => r.cpuMs)).median;
  }
  return row;
}

function verify(records: RunRecord[], reference: (r: RunRecord) => Record<string, string> | undefined): string {
  const timed = records.filter((r) => r.round > 0);
  const bad: string[] = [];
  for (const r of timed) {
    const ref = reference(r);
    if (r.code !== 0) bad.push(`round ${r.round}: exit ${r.code}`);
    else if (ref && !sameSet(ref, r.result)) bad.push(`round ${r.round}: ${diffSets(ref, r.result).slice(0, 3).join("; ")}`);
  }
  const n = timed[0] ? Object.keys(timed[0].result).length : 0;
  return bad.length ? `MISMATCH in ${bad.length}/${timed.length} (${bad.slice(0, 2).join(" | ")})` : `same ${n} packages, ${timed.length}/${timed.length} runs`;
}

const pass = (ok: boolean) => (ok ? "PASS" : "MISS");
const pctStr = (p: Pct) => `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)} ms`;
const pctOver = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(0)}%`;

interface CacheRun {
  wallMs: number;
  ok: boolean;
  pages: number;
  metadata: number;
  wheels: number;
}

async function main(): Promise<void> {
  if (opt["write-index"]) {
    const syn = generate({ seed: SEED, projects: PROJECTS });
    writeIndexDir(syn.projects, opt["write-index"]);
    log(`wrote ${syn.describe.projects} projects (${syn.describe.releases} releases) to ${resolve(opt["write-index"])}`);
    log(`install set: --packages ${syn.requested.join(",")}`);
    return;
  }
  mkdirSync(OUT, { recursive: true });
  const { python, shim, pipVersion } = realPython();
  const syn = opt.index ? undefined : generate({ seed: SEED, projects: PROJECTS });
  const upstream: Upstream = syn ? await syntheticUpstream(syn, opt.upstream as "fake" | "static") : await externalUpstream(opt.index!);
  const records = [...loadFixtureRecords(), ...(syn ? syntheticAdvisories(syn) : [])];
  const osv = await startOsvServer(records);
  const packages = opt.packages ? opt.packages.split(",").map((s) => s.trim()).filter(Boolean) : syn!.requested;
  const setup: Setup = {
    python,
    upstreamUrl: upstream.url,
    packages,
    pipCache: tempDir("safe-pip-bench-pipcache-"),
    osvUrl: osv.url,
    // A PEP 503 directory or another index may carry no upload times: let those files through
    // (minAge still applies wherever times are known).
    ...(opt.index ? { policyExtra: { unknownAge: "allow" } } : {}),
    probeCache: await makeProbeCache(python),
  };
  const command = `node build-test/bench/overhead.js ${process.argv.slice(2).join(" ")}`.trim();
  log(`safe-pip overhead benchmark — ${new Date().toISOString()}`);
  log(`node ${process.version}, ${python} (pip ${pipVersion}), ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  log(`upstream: ${upstream.kind} at ${upstream.url} (started in ${fmtMs(upstream.startupMs)})`);
  if (syn) {
    const d = syn.describe;
    log(
      `synthetic index (seed ${d.seed}): ${d.projects} projects, ${d.releases} releases (${d.youngReleases} younger than 7 days; ${d.projectsWithYoungNewest} projects whose newest release is too young, ${d.projectsAllYoung} with only young ones), ${d.yanked} yanked, ${d.edges} dependency edges, longest chain ${d.longestChain}, widest fan-out ${d.widestFanOut}`,
    );
    log(`install set: ${d.requested} requested → closure of ${d.installClosure} projects, every release older than 7 days`);
  }
  log(`packages: ${packages.join(" ")}`);
  log(`OSV stand-in: ${osv.url} (${records.length} records)`);
  log(`runs: ${RUNS} per variant after one warm-up each; the order rotates every round`);
  log("");

  const results: Record<string, unknown> = {
    meta: {
      date: new Date().toISOString(),
      command,
      node: process.version,
      python,
      pipVersion,
      pyenvShim: shim ?? null,
      cpus: cpus().length,
      loadavgAtStart: loadavg(),
      runs: RUNS,
      upstream: { kind: upstream.kind, url: upstream.url, startupMs: upstream.startupMs },
      packages,
      synthetic: syn?.describe ?? null,
    },
  };

  // --- rows 1 and 2 ---------------------------------------------------------------------------
  let lastUp = upstream.counts();
  let lastOsv = osv.requests.length;
  const progress = (r: RunRecord) => {
    const up = upstream.counts();
    r.upstreamRequests = { pages: up.pages - lastUp.pages, metadata: up.metadata - lastUp.metadata, files: up.files - lastUp.files };
    r.osvRequests = osv.requests.length - lastOsv;
    lastUp = up;
    lastOsv = osv.requests.length;
    const node = r.variant.startsWith("safe-pip") ? ` (node ${(r.hwmKb / 1024).toFixed(0)} MB, cpu ${(r.selfCpuMs / 1000).toFixed(2)} s)` : "";
    const u = r.upstreamRequests;
    log(
      `  [${elapsed()}] ${r.mode} ${r.round === 0 ? "warm-up" : `round ${r.round}`} ${r.variant.padEnd(30)} ${(r.wallMs / 1000).toFixed(2)} s  cpu ${(r.cpuMs / 1000).toFixed(2)} s  rss ${(r.treeMaxRssKb / 1024).toFixed(0)} MB${node}  ${r.code === 0 ? `${Object.keys(r.result).length} pkgs` : `EXIT ${r.code}`}  upstream ${u.pages}p/${u.metadata}m/${u.files}f${r.osvRequests ? `  osv ${r.osvRequests} req` : ""}`,
    );
    showFailure(r);
  };
  let failuresShown = 0;
  const showFailure = (r: RunRecord) => {
    if (r.code === 0 || !r.stderrTail || failuresShown++ >= 3) return;
    log(`  (${r.variant} ${r.mode} failed with exit ${r.code}; a failed run is left out of the figures)\n${r.stderrTail.replace(/^/gm, "    | ")}`);
  };
  const by = (rs: RunRecord[], v: Variant) => rs.filter((r) => r.variant === v);

  log(`1. install --target (${packages.length} requested)${PROFILE ? `, with the analysis variants of section 5 in the same rounds` : ""}`);
  const variants: Variant[] = ["pip", "safe-pip", "safe-pip+osv", ...(PROFILE ? ANALYSIS_VARIANTS : [])];
  const inst = await runRounds(setup, variants, "install", RUNS, progress, { noWarmUp: ANALYSIS_VARIANTS });
  const pipInst = by(inst, "pip");
  const refOf = (base: RunRecord[]) => (r: RunRecord) => syn?.expected ?? base.find((p) => p.round === r.round && p.code === 0)?.result;
  const vPipInst = verify(pipInst, refOf(pipInst));
  const vSafeInst = verify(by(inst, "safe-pip"), refOf(pipInst));
  const vOsvInst = verify(by(inst, "safe-pip+osv"), refOf(pipInst));
  const shown = okRuns(pipInst)[0]?.result ?? {};
  log(`  installed by plain pip: ${Object.entries(shown).sort().map(([k, v]) => `${k}==${v}`).join(" ")}`);
  log(`  plain pip ${syn ? "vs the expected set" : "(reference)"}: ${vPipInst}; safe-pip vs plain pip: ${vSafeInst}; safe-pip+osv vs plain pip: ${vOsvInst}`);
  const analysisChecks = PROFILE ? ANALYSIS_VARIANTS.map((v) => `${v}: ${verify(by(inst, v), refOf(pipInst))}`) : [];
  if (analysisChecks.length) log(`  analysis variants vs plain pip: ${analysisChecks.join("; ")}`);

  log("");
  log(`2. resolution only (--dry-run --report)`);
  const dry = await runRounds(setup, ["pip", "safe-pip"], "dry-run", RUNS, progress);
  const pipDry = by(dry, "pip");
  const vPipDry = verify(pipDry, refOf(pipDry));
  const vSafeDry = verify(by(dry, "safe-pip"), refOf(pipDry));
  log(`  pip --dry-run: ${vPipDry}; safe-pip --dry-run vs pip --dry-run: ${vSafeDry}`);
  const rows = {
    pip: rowOf("pip install --target (upstream directly)", pipInst, undefined, vPipInst),
    safe: rowOf("safe-pip install --target (OSV off)", by(inst, "safe-pip"), pipInst, vSafeInst),
    safeOsv: rowOf("safe-pip install --target (OSV API stand-in, cold cache)", by(inst, "safe-pip+osv"), pipInst, vOsvInst),
    pipDry: rowOf("pip install --dry-run --report", pipDry, undefined, vPipDry),
    safeDry: rowOf("safe-pip install --dry-run --report (OSV off)", by(dry, "safe-pip"), pipDry, vSafeDry),
  };
  // --- 2b. slow upstream: the same delay on every upstream and OSV request, for both sides ------
  log("");
  log(`2b. install --target with ${SLOW_MS} ms added to every upstream and OSV request (plain pip pays it too)`);
  const slow = await startLatencyProxy(new URL(upstream.url).origin + "/", SLOW_MS);
  const slowSetup: Setup = { ...setup, upstreamUrl: new URL(new URL(upstream.url).pathname, slow.root).href };
  osv.options.fault = "slow";
  osv.options.delayMs = SLOW_MS;
  let slowRuns: RunRecord[];
  try {
    slowRuns = await runRounds(slowSetup, ["pip", "safe-pip+osv"], "install", SLOW_RUNS, progress);
  } finally {
    osv.options.fault = undefined;
    await slow.close();
  }
  const pipSlow = by(slowRuns, "pip");
  const vSlow = verify(by(slowRuns, "safe-pip+osv"), refOf(pipInst));
  log(`  safe-pip+osv vs plain pip (slow): ${vSlow}`);
  const slowRow = rowOf(`safe-pip install --target, OSV on, ${SLOW_MS} ms upstream/OSV latency`, by(slowRuns, "safe-pip+osv"), pipSlow, vSlow);
  Object.assign(rows, {
    pipSlow: rowOf(`pip install --target, ${SLOW_MS} ms upstream latency`, pipSlow, undefined, verify(pipSlow, refOf(pipInst))),
    safeSlow: slowRow,
  });

  // --- 2c. start-up -------------------------------------------------------------------------------
  log("");
  log(`2c. start-up: --version and a no-op install (install pip, already satisfied), ${RUNS} runs after one warm-up`);
  const startup = await measureStartup(setup, RUNS);
  log(`  safe-pip --version ${fmtSummary(startup.version)} (pip --version ${fmtSummary(startup.pipVersion)}); no-op install ${fmtSummary(startup.noop)} (pip ${fmtSummary(startup.pipNoop)})`);
  results.startup = startup;
  results.rows = rows;
  results.installedSet = shown;
  results.runs = [...inst, ...dry].map(({ result, stderrTail, ...r }) => ({ ...r, packages: Object.keys(result).length }));

  // --- row 3 ----------------------------------------------------------------------------------
  log("");
  log(`3. page latency (in-process unified index, ${LAT_SAMPLES} cold samples)`);
  const latencyNames = syn ? syn.names : Object.keys(okRuns(pipDry)[0]?.result ?? {});
  const latency = await measurePageLatency(upstream.url, latencyNames, { samples: LAT_SAMPLES, seed: SEED });
  log(`  direct ${pctStr(latency.direct)}, cold ${pctStr(latency.cold)}, warm ${pctStr(latency.warm)} (p50 / p99)`);
  results.latency = latency;
  if (syn) {
    // Is the fake index helper a bottleneck? Its direct page latency against the static server's.
    const other = await syntheticUpstream(syn, opt.upstream === "fake" ? "static" : "fake");
    try {
      const mine = await directLatency(upstream.url, syn.names, 600);
      const theirs = await directLatency(other.url, syn.names, 600);
      results.upstreamCheck = { [upstream.kind]: { ...mine, startupMs: upstream.startupMs }, [other.kind]: { ...theirs, startupMs: other.startupMs } };
      log(`  upstream servers, page p50 / p99: ${upstream.kind} ${pctStr(mine)} (start ${fmtMs(upstream.startupMs)}); ${other.kind} ${pctStr(theirs)} (start ${fmtMs(other.startupMs)})`);
    } finally {
      await other.close();
    }
  }

  // --- row 4 ----------------------------------------------------------------------------------
  log("");
  log(`4. OSV checks (runOsvBench, ${OSV_RUNS} fresh processes) and peak memory`);
  const osvLines = await osvBenchFresh(OSV_RUNS, (i, lines) => log(`  [${elapsed()}] osv run ${i + 1}: ${lines.map((l) => l.ms.toFixed(0)).join(" / ")} ms`));
  results.osv = osvLines;
  const offline = osvLines.find((l) => l.name.startsWith("offline zip: 1,000 checks"));
  const apiCold = osvLines.find((l) => l.name.startsWith("api cold, prefetch"));
  const safeRuns = okRuns(inst.filter((r) => r.variant.startsWith("safe-pip")));
  const hwm = summarize(safeRuns.map((r) => r.hwmKb / 1024));
  const tree = summarize(safeRuns.map((r) => r.treeMaxRssKb / 1024));
  const pipTree = summarize(okRuns(pipInst).map((r) => r.treeMaxRssKb / 1024));
  results.memory = { safePipNodeVmHwmMB: hwm, safePipTreeMaxRssMB: tree, pipMaxRssMB: pipTree };

  const targets = [
    { what: "install overhead, OSV off (wall, medians)", figure: `${pctOver(rows.safe.ratio!)} (×${rows.safe.ratio!.toFixed(2)}; best runs ×${rows.safe.ratioMin!.toFixed(2)})`, target: "≤ 10%", ok: rows.safe.ratio! <= 1.1 },
    { what: "install overhead, OSV API stand-in (wall, medians)", figure: `${pctOver(rows.safeOsv.ratio!)} (×${rows.safeOsv.ratio!.toFixed(2)}; best runs ×${rows.safeOsv.ratioMin!.toFixed(2)})`, target: "≤ 10%", ok: rows.safeOsv.ratio! <= 1.1 },
    { what: "resolution overhead (wall, medians)", figure: `${pctOver(rows.safeDry.ratio!)} (×${rows.safeDry.ratio!.toFixed(2)}; best runs ×${rows.safeDry.ratioMin!.toFixed(2)})`, target: "≤ 20%", ok: rows.safeDry.ratio! <= 1.2 },
    { what: `install with ${SLOW_MS} ms upstream/OSV latency, OSV on (wall, medians)`, figure: `×${slowRow.ratio!.toFixed(2)} (best runs ×${slowRow.ratioMin!.toFixed(2)})`, target: "≤ ×0.70", ok: slowRow.ratio! <= 0.7 },
    { what: "safe-pip --version (wall, median)", figure: fmtMs(startup.version.median), target: "≤ 150 ms", ok: startup.version.median <= 150 },
    { what: "no-op install (install pip, satisfied; wall, median)", figure: `${fmtMs(startup.noop.median)} (pip ${fmtMs(startup.pipNoop.median)}, ×${(startup.noop.median / startup.pipNoop.median).toFixed(2)})`, target: "", ok: true },
    { what: "added page latency, cold, p50 (paired)", figure: `${fmtMs(latency.addedCold.p50)} (p99 ${fmtMs(latency.addedCold.p99)})`, target: "< 2 ms", ok: latency.addedCold.p50 < 2 },
    { what: "1,000 offline OSV checks (fresh process)", figure: offline ? fmtMs(offline.wall.median) : "n/a", target: "< 200 ms", ok: offline ? offline.wall.median < 200 : false },
    { what: "peak memory of the safe-pip process (VmHWM, max)", figure: `${hwm.max.toFixed(0)} MB`, target: "< 150 MB", ok: hwm.max < 150 },
  ];
  results.targets = targets;

  // --- 5. where the time goes ---------------------------------------------------------------------
  let fixed: Awaited<ReturnType<typeof fixedCosts>> = [];
  let modules: Awaited<ReturnType<typeof moduleCosts>> = [];
  const traces: Trace[] = [];
  const dryTraces: Trace[] = [];
  let profiled: Trace | undefined;
  let profiledDry: Trace | undefined;
  let cacheTest: { pip: CacheRun[]; "safe-pip": CacheRun[] } | undefined;
  let shimTest: Record<string, number[]> | undefined;
  if (PROFILE) {
    log("");
    log(`5. where the time goes`);
    fixed = await fixedCosts(python, shim, 3);
    for (const f of fixed) log(`  [${elapsed()}] ${f.name}: ${fmtSummary(f.wall)} (cpu ${fmtSummary(f.cpu)})`);
    modules = await moduleCosts(3);
    log(`  [${elapsed()}] module loading measured (${modules.length} items)`);
    for (let i = 0; i < TRACES; i++) {
      traces.push(await traceSafePip(setup, OUT, false, "install"));
      dryTraces.push(await traceSafePip(setup, OUT, false, "dry-run"));
    }
    profiledDry = await traceSafePip(setup, join(OUT, "dry-run"), true, "dry-run");
    profiled = await traceSafePip(setup, OUT, true, "install");
    log(`  [${elapsed()}] ${traces.length} traced safe-pip installs and dry runs, + 1 of each CPU-profiled (${join(OUT, "cpu-profile")}, ${join(OUT, "dry-run", "cpu-profile")})`);
    if (shim) {
      // safe-pip left to find python3 on PATH picks the pyenv shim, and then pays the shim for
      // every Python it starts (probe, resolve pass, install pass); plain `python3 -m pip` pays it once.
      shimTest = { "safe-pip, SAFE_PIP_PYTHON unset (python3 from PATH: the shim)": [], "safe-pip, SAFE_PIP_PYTHON = real interpreter": [], "pip via the shim (python3 -m pip)": [] };
      for (let i = 0; i < 1; i++) {
        for (const [label, inv] of [
          ["safe-pip, SAFE_PIP_PYTHON unset (python3 from PATH: the shim)", invocation(setup, "safe-pip", "install", { python: null })],
          ["safe-pip, SAFE_PIP_PYTHON = real interpreter", invocation(setup, "safe-pip", "install")],
          ["pip via the shim (python3 -m pip)", { ...invocation(setup, "pip", "install") }],
        ] as const) {
          const args = label.startsWith("pip via") ? ["-m", "pip", ...inv.args.slice(2)] : inv.args;
          const r = await run(label.startsWith("pip via") ? shim : inv.cmd, args, { env: inv.env });
          const ok = r.code === 0 && Object.keys(installedSet(inv.target)).length === Object.keys(shown).length;
          inv.cleanup();
          shimTest[label]!.push(ok ? r.wallMs : NaN);
        }
      }
      log(`  [${elapsed()}] pyenv-shim experiment done`);
    }
    if (syn && !opt["skip-cache-test"]) {
      // Over HTTPS (PyPI) pip keeps wheels and metadata in its HTTP cache. It caches over http://
      // only for --trusted-host hosts, so plain pip gets --trusted-host 127.0.0.1 to stand for
      // PyPI; safe-pip's index is plain http://127.0.0.1 on a new port every run.
      const cached = await syntheticUpstream(syn, "static", true);
      try {
        const s2: Setup = { ...setup, upstreamUrl: cached.url, pipCache: tempDir("safe-pip-bench-pipcache2-") };
        const one = async (v: Variant): Promise<CacheRun> => {
          const before = cached.counts();
          const inv = invocation(s2, v, "install", v === "pip" ? { pipArgs: ["--trusted-host", "127.0.0.1"] } : {});
          const r = await run(inv.cmd, inv.args, { env: inv.env });
          const ok = r.code === 0 && sameSet(installedSet(inv.target), syn.expected);
          inv.cleanup();
          const after = cached.counts();
          return { wallMs: r.wallMs, ok, pages: after.pages - before.pages, metadata: after.metadata - before.metadata, wheels: after.files - before.files };
        };
        await one("pip");
        await one("safe-pip");
        cacheTest = { pip: [await one("pip")], "safe-pip": [await one("safe-pip")] };
        log(`  [${elapsed()}] HTTP-cache experiment done`);
      } finally {
        await cached.close();
      }
    }
  }

  // --- report -----------------------------------------------------------------------------------
  log("");
  log("=".repeat(110));
  log(`RESULTS — ${RUNS} runs per variant after a warm-up; median [min–max]; ratio = median / plain pip median (best = min / min)`);
  log("");
  log(
    table([
      ["", "wall", "ratio", "best", "cpu (process tree)", "cpu ratio", "installed / resolved set"],
      ...Object.values(rows).map((r) => [
        r.label,
        fmtSummary(r.wall, "s"),
        r.ratio ? `×${r.ratio.toFixed(2)}` : "—",
        r.ratioMin ? `×${r.ratioMin.toFixed(2)}` : "—",
        fmtSummary(r.cpu, "s"),
        r.ratioCpu ? `×${r.ratioCpu.toFixed(2)}` : "—",
        r.verified,
      ]),
    ]),
  );
  log("");
  log(
    table([
      [`page latency (${latency.samples} pages, ${latency.indexes - 1} fresh indexes)`, "p50", "p99"],
      ["upstream page, direct", fmtMs(latency.direct.p50), fmtMs(latency.direct.p99)],
      ["through the index, cold (fetch + filter + render)", fmtMs(latency.cold.p50), fmtMs(latency.cold.p99)],
      ["through the index, warm (project cached for the run)", fmtMs(latency.warm.p50), fmtMs(latency.warm.p99)],
      ["added, cold (paired differences)", fmtMs(latency.addedCold.p50), fmtMs(latency.addedCold.p99)],
      ["added, warm (paired differences)", fmtMs(latency.addedWarm.p50), fmtMs(latency.addedWarm.p99)],
      ["added, cold (difference of percentiles)", fmtMs(latency.addedColdPctDiff.p50), fmtMs(latency.addedColdPctDiff.p99)],
    ]),
  );
  if (latency.non200) log(`(${latency.non200} cold pages were not 200: projects with no release old enough)`);
  log("");
  if (osvLines.length)
    log(table([["OSV (runOsvBench, fresh process per run)", "wall", "cpu", "note"], ...osvLines.map((l) => [l.name, fmtSummary(l.wall), l.cpu.n ? fmtSummary(l.cpu) : "—", l.note ?? ""])]));
  log("");
  log(
    table([
      ["peak memory (install rows)", "median [min–max]"],
      ["safe-pip's node process (VmHWM)", fmtSummary(hwm, "MB")],
      ["safe-pip's process tree, largest process (GNU time %M)", fmtSummary(tree, "MB")],
      ["plain pip (GNU time %M)", fmtSummary(pipTree, "MB")],
    ]),
  );
  log("");
  log(table([["target", "figure", "target", ""], ...targets.map((t) => [t.what, t.figure, t.target, pass(t.ok)])]));
  if (apiCold) log(`(OSV API stand-in, cold cache, 1,000 checks with querybatch prefetch: ${fmtSummary(apiCold.wall)})`);

  let analysis: Record<string, unknown> | undefined;
  if (PROFILE) {
    log("");
    log("WHERE THE TIME GOES");
    log(table([["fixed cost (3 runs)", "wall", "cpu"], ...fixed.map((f) => [f.name, fmtSummary(f.wall), fmtSummary(f.cpu)])]));
    log("");
    log(table([["module loading, timed inside a fresh node (3 runs)", "median [min–max]"], ...modules.map((m) => [m.what, fmtSummary(m.ms)])]));

    // Time split of safe-pip install and dry run from the traced runs (medians per segment).
    const splitOf = (ts: Trace[]) => {
      const seg = (f: (t: Trace) => number) => summarize(ts.filter((t) => t.ok).map(f));
      const step = (kind: string) => seg((t) => t.steps.filter((s) => s.kind === kind).reduce((a, s) => a + s.ms, 0));
      return {
        total: seg((t) => t.totalMs),
        nodeBefore: seg((t) => t.nodeBeforeFirstPythonMs),
        probe: step("probe"),
        pip: step("pip"),
        nodeBetween: seg((t) => t.nodeBetweenMs),
        nodeAfter: seg((t) => t.nodeAfterLastPythonMs),
        nodeCpu: seg((t) => t.nodeCpuMs),
        invocations: ts[0]?.pythonInvocations ?? 0,
        runs: ts.filter((t) => t.ok).length,
      };
    };
    const split = splitOf(traces);
    const splitDry = splitOf(dryTraces);
    if (traces.length) {
      log("");
      log(`safe-pip, traced (${split.runs} installs, ${splitDry.runs} dry runs; ${split.invocations} child processes per install)`);
      log(
        table([
          ["segment (wall)", "install", "--dry-run --report"],
          ["node before pip starts (start-up, module loading, policy, argv, index start)", fmtSummary(split.nodeBefore), fmtSummary(splitDry.nodeBefore)],
          ["python: probe (only when not cached)", fmtSummary(split.probe), fmtSummary(splitDry.probe)],
          ["python: the pip pass through the index", fmtSummary(split.pip), fmtSummary(splitDry.pip)],
          ["node between child processes", fmtSummary(split.nodeBetween), fmtSummary(splitDry.nodeBetween)],
          ["node after pip (summary, report, audit log, clean-up)", fmtSummary(split.nodeAfter), fmtSummary(splitDry.nodeAfter)],
          ["total", fmtSummary(split.total), fmtSummary(splitDry.total)],
          ["node's own CPU over the whole run (runs while pip does: 2 cores)", fmtSummary(split.nodeCpu), fmtSummary(splitDry.nodeCpu)],
        ]),
      );
    }
    for (const [what, cp] of [
      ["install", profiled?.cpuProfile],
      ["--dry-run", profiledDry?.cpuProfile],
    ] as const) {
      if (!cp) continue;
      log("");
      log(`node CPU profile of one safe-pip ${what} (${cp.file}): ${fmtMs(cp.durationMs)} profiled, ${fmtMs(cp.durationMs - cp.idleMs)} busy; module loading ${fmtMs(cp.moduleLoadingMs)}, GC ${fmtMs(cp.gcMs)}`);
      log(table([["top self time by file", "ms"], ...cp.topFiles.slice(0, 10).map((f) => [f.file, f.ms.toFixed(0)])]));
      log(table([["top self time by function", "ms"], ...cp.topFunctions.slice(0, 8).map((f) => [f.fn, f.ms.toFixed(0)])]));
    }

    // The analysis variants, from the same rounds as row 1.
    const P = med(pipInst);
    const S = med(by(inst, "safe-pip"));
    const I = med(by(inst, "pip→index"));
    const E = med(by(inst, "pip→index+env"));
    const cpu = (v: Variant) => med(by(inst, v), (r) => r.cpuMs);
    const nodeCpu = med(by(inst, "safe-pip"), (r) => r.selfCpuMs);
    log("");
    log(
      table([
        ["in the rounds of row 1", "wall", "cpu (tree)"],
        ["pip install (upstream directly)", fmtMs(P), fmtMs(cpu("pip"))],
        ["pip install through a fresh unified index started in the bench's own (warm) Node", fmtMs(I), fmtMs(cpu("pip→index"))],
        ["the same, with safe-pip's pip environment (guard on PYTHONPATH, proxy variables)", fmtMs(E), fmtMs(cpu("pip→index+env"))],
        ["safe-pip install (OSV off)", fmtMs(S), `${fmtMs(cpu("safe-pip"))}, of which node ${fmtMs(nodeCpu)}`],
      ]),
    );
    const parts = {
      index: I - P,
      env: E - I,
      node: split.nodeBefore.median + split.nodeBetween.median + split.nodeAfter.median,
      probe: split.probe.median,
    };
    const explained = parts.index + parts.env + parts.node + parts.probe;
    log("");
    log(
      table([
        [`safe-pip − pip = ${fmtMs(S - P)} (wall medians), roughly`, "ms", "of plain pip"],
        ["the index in the path, warm process (pip→index − pip)", parts.index.toFixed(0), `${((parts.index / P) * 100).toFixed(0)}%`],
        ["safe-pip's environment for pip (pip→index+env − pip→index)", parts.env.toFixed(0), `${((parts.env / P) * 100).toFixed(0)}%`],
        ["node before and after pip (traced)", parts.node.toFixed(0), `${((parts.node / P) * 100).toFixed(0)}%`],
        ["the pip probe (traced; 0 when cached)", parts.probe.toFixed(0), `${((parts.probe / P) * 100).toFixed(0)}%`],
        ["the rest: a fresh Node's one-off work while pip runs (undici, typosquat indexes), CPU shared with pip, noise", (S - P - explained).toFixed(0), `${(((S - P - explained) / P) * 100).toFixed(0)}%`],
      ]),
    );
    const firstRound = (v: Variant) => inst.find((r) => r.variant === v && r.round === 1)?.upstreamRequests;
    const counts = Object.fromEntries(["pip", "safe-pip", "safe-pip+osv", "pip→index"].map((v) => [v, firstRound(v as Variant)]));
    log("");
    log(`upstream requests per run (pages / PEP 658 metadata / wheels): ${Object.entries(counts).map(([k, u]) => `${k} ${u ? `${u.pages}/${u.metadata}/${u.files}` : "n/a"}`).join(", ")}`);
    if (cacheTest) {
      const fmt = (rs: CacheRun[]) => rs.map((r) => `${(r.wallMs / 1000).toFixed(2)} s, upstream ${r.pages}/${r.metadata}/${r.wheels}${r.ok ? "" : " FAILED"}`).join("; ");
      log(`upstream with PyPI's cache headers, warm pip cache (pages / metadata / wheels fetched):`);
      log(`  pip --trusted-host 127.0.0.1 (caches as it does over HTTPS): ${fmt(cacheTest.pip)}`);
      log(`  safe-pip (index on http://127.0.0.1, cache-control: no-store): ${fmt(cacheTest["safe-pip"])}`);
    }

    if (shimTest) {
      log("");
      log(table([[`with the pyenv shim (${shim}) on PATH, one run each`, "wall"], ...Object.entries(shimTest).map(([k, v]) => [k, fmtSummary(summarize(v), "s")])]));
    }
    analysis = { split, splitDry, parts, rounds: { P, S, I, E, nodeCpu }, upstreamRequests: counts, cacheTest, shimTest };
  }
  results.profile = { fixed, modules, traces, dryTraces, profiled, profiledDry, analysis };

  writeFileSync(join(OUT, "results.json"), JSON.stringify(results, null, 2) + "\n");
  log("");
  log(`wrote ${join(OUT, "results.json")} (${elapsed()} total)`);
  await osv.close();
  await upstream.close();
}

try {
  await main();
} finally {
  cleanupAll();
}
