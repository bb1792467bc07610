/**
 * Where safe-pip's time goes, measured without touching src/:
 *
 *  - fixed costs: Python and pip startup, safe-pip's pip probe, the pyenv shim (when `python3` on
 *    PATH is one), Node startup and loading dist/cli.js, and the import cost of each dependency;
 *  - traced `safe-pip install` and `--dry-run` runs: a hook loaded into Node (--import) logs when
 *    every child process starts and ends, and Node's own CPU; one more run has --cpu-prof. A run
 *    splits into node-before-pip, probe (when not cached), the pip pass, node-after;
 *  (pip through a bare unified index, with and without safe-pip's pip environment, runs inside
 *  the install rounds: see installs.ts).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { packageRoot } from "../../src/core/paths.js";
import { isolatedEnv, tempDir } from "../../test/helpers/env.js";
import { CLI, installedSet, invocation, reportSet, type Mode, type Setup } from "./installs.js";
import { run } from "./proc.js";
import { summarize, type Summary } from "./stats.js";

export interface Fixed {
  name: string;
  command: string;
  wall: Summary;
  /** CPU time (user + system) of the process tree: steadier than wall time on a busy machine. */
  cpu: Summary;
}

async function repeat(name: string, cmd: string, args: string[], env: Record<string, string>, n: number, cwd?: string): Promise<Fixed> {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await run(cmd, args, { env, ...(cwd && { cwd }) });
    if (r.code !== 0) throw new Error(`${name} failed (${r.code}): ${r.stderr.slice(-500)}`);
    times.push(r.wallMs);
    cpu.push(r.cpuMs);
  }
  return { name, command: [cmd, ...args].join(" "), wall: summarize(times), cpu: summarize(cpu) };
}

export const PROBE = "import sys, pip; print(pip.__version__); print(sys.prefix)";

export async function fixedCosts(python: string, shim: string | undefined, n: number): Promise<Fixed[]> {
  const { env, cleanup } = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  try {
    const out: Fixed[] = [];
    out.push(await repeat("python startup (python -c pass)", python, ["-c", "pass"], env, n));
    out.push(await repeat("safe-pip's pip probe (src/pip/locate.ts)", python, ["-c", PROBE], env, n));
    out.push(await repeat("pip startup (python -m pip --version)", python, ["-m", "pip", "--version"], env, n));
    // safe-pip puts its guard (shims/python/sitecustomize.py) on every pip's PYTHONPATH.
    const guarded = { ...env, PYTHONPATH: join(packageRoot(), "shims", "python"), SAFE_PIP_GUARD: "block" };
    out.push(await repeat("python startup with safe-pip's guard on PYTHONPATH", python, ["-c", "pass"], guarded, n));
    out.push(await repeat("pip startup with safe-pip's guard on PYTHONPATH", python, ["-m", "pip", "--version"], guarded, n));
    if (shim) out.push(await repeat(`pip startup through ${shim} (pyenv shim)`, shim, ["-m", "pip", "--version"], env, n));
    out.push(await repeat("node startup (node -e 0)", process.execPath, ["-e", "0"], env, n));
    // `safe-pip --version` also runs `pip --version`; --help is start-up and module loading alone.
    out.push(await repeat("node + load dist/cli.js (--help)", process.execPath, [CLI, "--help"], env, n));
    return out;
  } finally {
    cleanup();
  }
}

export interface ModuleCost {
  what: string;
  ms: Summary;
}

/**
 * Load cost of dist/cli.js's module graph and of its parts, timed inside a fresh Node process
 * (performance.now() around `await import(...)`, so process start-up noise is not in it), plus the
 * first use of the typosquat detector (it builds its index of the popular list on first call).
 */
export async function moduleCosts(n: number): Promise<ModuleCost[]> {
  const { env, cleanup } = isolatedEnv();
  const root = packageRoot();
  // Each snippet prints {label: ms}; imports inside one snippet share a process, so later ones are
  // marginal costs (what they add on top of what is already loaded).
  const timed = (pairs: Array<[string, string]>) =>
    `const o={}; for (const [k,m] of ${JSON.stringify(pairs)}) { const t=performance.now(); await import(m); o[k]=performance.now()-t; } process.stdout.write(JSON.stringify(o));`;
  const snippets = [
    timed([
      ["import dist/cli/main.js (what dist/cli.js loads up front)", "./dist/cli/main.js"],
      ["  + dist/commands/pip.js on top (loaded for install)", "./dist/commands/pip.js"],
    ]),
    // The install path's load, split: undici and the small version libraries first (needed), then
    // what the install path could do without, each on top of what is loaded before it.
    timed([
      ["install path: undici (core/http.ts)", "undici"],
      ["install path: + semver, @renovatebot/pep440, ini", "semver"],
      ["install path: + semver, @renovatebot/pep440, ini", "@renovatebot/pep440"],
      ["install path: + semver, @renovatebot/pep440, ini", "ini"],
      ["install path: + conf (policy/load.ts)", "conf"],
      ["install path: + ora (report/printer.ts)", "ora"],
      ["install path: + execa (pip/locate.ts, pip/run.ts)", "execa"],
      ["install path: + dist/cli/main.js and dist/commands/pip.js (safe-pip's own modules)", "./dist/cli/main.js"],
      ["install path: + dist/cli/main.js and dist/commands/pip.js (safe-pip's own modules)", "./dist/commands/pip.js"],
    ]),
    `const t=performance.now(); new Intl.Collator("en", { numeric: true, sensitivity: "base" }); process.stdout.write(JSON.stringify({"new Intl.Collator (module scope of checks/osv/match.ts)": performance.now()-t}));`,
    `const m=await import("./dist/checks/typosquat.js"); let t=performance.now(); const l=m.loadPopularList(); const a=performance.now()-t; t=performance.now(); m.detectTyposquat("zzkapax", l); const b=performance.now()-t; t=performance.now(); for (let i=0;i<50;i++) m.detectTyposquat("zzname"+i, l); process.stdout.write(JSON.stringify({"typosquat: loadPopularList()": a, "typosquat: first detectTyposquat() (builds its index)": b, "typosquat: 50 more detectTyposquat() calls": performance.now()-t}));`,
  ];
  try {
    const acc = new Map<string, number[]>();
    for (const code of snippets) {
      for (let i = 0; i < n; i++) {
        const r = await run(process.execPath, ["--input-type=module", "-e", code], { env, cwd: root });
        if (r.code !== 0) throw new Error(`module cost snippet failed: ${r.stderr.slice(-300)}`);
        const o = JSON.parse(r.stdout) as Record<string, number>;
        // Labels that repeat inside one snippet add up (semver + pep440).
        const once = new Map<string, number>();
        for (const [k, v] of Object.entries(o)) once.set(k, (once.get(k) ?? 0) + v);
        for (const [k, v] of once) acc.set(k, [...(acc.get(k) ?? []), v]);
      }
    }
    return [...acc].map(([what, v]) => ({ what, ms: summarize(v) }));
  } finally {
    cleanup();
  }
}

export interface TraceStep {
  kind: "probe" | "pip" | "other";
  startMs: number;
  ms: number;
  args: string;
}

export interface Trace {
  mode: Mode;
  totalMs: number;
  steps: TraceStep[];
  pythonInvocations: number;
  /** Node's own time around the Python invocations (wall). */
  nodeBeforeFirstPythonMs: number;
  nodeBetweenMs: number;
  nodeAfterLastPythonMs: number;
  /** CPU (user + system) of the Node process itself, from process.cpuUsage() at exit. */
  nodeCpuMs: number;
  cpuProfile: {
    file: string;
    durationMs: number;
    idleMs: number;
    gcMs: number;
    moduleLoadingMs: number;
    topFiles: Array<{ file: string; ms: number }>;
    topFunctions: Array<{ fn: string; ms: number }>;
  } | undefined;
  ok: boolean;
}

/**
 * A hook loaded into safe-pip's Node with --import: logs when each child process starts and ends
 * (wall clock, ms) and Node's own CPU at exit. A wrapper script as SAFE_PIP_PYTHON would miss pip
 * itself: the probe reports the real interpreter, and pip is started with that.
 */
const TRACE_HOOK = `import cp from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import { appendFileSync } from "node:fs";
const log = (m) => appendFileSync(process.env.SAFE_PIP_BENCH_TRACE, (performance.timeOrigin + performance.now()).toFixed(3) + " " + m + "\\n");
log("start " + performance.timeOrigin.toFixed(3));
for (const name of ["spawn", "execFile"]) {
  const orig = cp[name];
  cp[name] = function (...a) {
    const child = orig.apply(this, a);
    const id = child.pid ?? 0;
    log("spawn " + id + " " + [a[0], ...(Array.isArray(a[1]) ? a[1] : [])].join(" ").slice(0, 300));
    child.once("exit", () => log("exit " + id));
    return child;
  };
}
syncBuiltinESMExports();
process.once("exit", () => { const u = process.cpuUsage(); log("cpu " + ((u.user + u.system) / 1000).toFixed(1)); });
`;

/** One `safe-pip install` (or dry run) with every child process timed, optionally CPU-profiled. */
export async function traceSafePip(setup: Setup, outDir: string, cpuProfile: boolean, mode: Mode = "install"): Promise<Trace> {
  const dir = tempDir("safe-pip-bench-trace-");
  const log = join(dir, "trace.log");
  const hook = join(dir, "hook.mjs");
  writeFileSync(hook, TRACE_HOOK);
  const profDir = join(outDir, "cpu-profile");
  mkdirSync(profDir, { recursive: true });
  if (cpuProfile) for (const f of readdirSync(profDir)) if (f.endsWith(".cpuprofile")) rmSync(join(profDir, f)); // stale
  const inv = invocation(setup, "safe-pip", mode, {
    extraEnv: { SAFE_PIP_BENCH_TRACE: log },
    nodeArgs: ["--import", pathToFileURL(hook).href, ...(cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])],
  });
  const t0 = performance.timeOrigin + performance.now();
  const r = await run(inv.cmd, inv.args, { env: inv.env });
  const totalMs = performance.timeOrigin + performance.now() - t0;
  const ok = r.code === 0 && (mode === "dry-run" ? Object.keys(reportSet(inv.report)).length > 0 : Object.keys(installedSet(inv.target)).length > 0);
  inv.cleanup();
  let lines: string[] = [];
  try {
    lines = readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    /* the hook did not run */
  }
  const started = new Map<string, { at: number; args: string }>();
  const steps: TraceStep[] = [];
  let nodeCpuMs = NaN;
  for (const l of lines) {
    const [at, what, id = "", ...rest] = l.split(" ");
    const t = Number(at) - t0;
    if (what === "spawn") started.set(id, { at: t, args: rest.join(" ") });
    else if (what === "exit" && started.has(id)) {
      const s = started.get(id)!;
      const kind: TraceStep["kind"] = / -c /.test(` ${s.args} `) ? "probe" : / -m pip /.test(` ${s.args} `) ? "pip" : "other";
      steps.push({ kind, startMs: s.at, ms: t - s.at, args: s.args.length > 160 ? s.args.slice(0, 157) + "..." : s.args });
    } else if (what === "cpu") nodeCpuMs = Number(id);
  }
  steps.sort((a, b) => a.startMs - b.startMs);
  const first = steps[0];
  const last = steps[steps.length - 1];
  const inPython = steps.reduce((a, s) => a + s.ms, 0);
  const before = first ? first.startMs : totalMs;
  const after = last ? totalMs - (last.startMs + last.ms) : 0;
  const prof = cpuProfile ? readdirSync(profDir).find((f) => f.endsWith(".cpuprofile") && readFileSync(join(profDir, f), "utf8").length > 0) : undefined;
  return {
    mode,
    totalMs,
    steps,
    pythonInvocations: steps.length,
    nodeBeforeFirstPythonMs: before,
    nodeBetweenMs: totalMs - inPython - before - after,
    nodeAfterLastPythonMs: after,
    nodeCpuMs,
    cpuProfile: prof ? summarizeProfile(join(profDir, prof)) : undefined,
    ok,
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export function summarizeProfile(file: string): NonNullable<Trace["cpuProfile"]> {
  const p = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const files = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let loading = 0;
  const short = (url: string) => url.replace(/^file:\/\//, "").replace(/.*\/node_modules\//, "node_modules/").replace(/.*\/dist\//, "dist/");
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    if (functionName === "(garbage collector)") gc += us;
    if (/node:internal\/modules\//.test(url) || ["(openFileHandle)", "(internalModuleStat)", "(internalModuleReadJSON)", "(fstat)", "(lstat)", "(realpath)"].includes(functionName)) loading += us;
    const f = url ? short(url) : functionName;
    files.set(f, (files.get(f) ?? 0) + us);
    const fn = `${functionName || "(anonymous)"} ${url ? `${short(url)}:${lineNumber + 1}` : ""}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: us / 1000 }));
  return {
    file,
    durationMs: (p.endTime - p.startTime) / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    moduleLoadingMs: loading / 1000,
    topFiles: top(files, 12).map((x) => ({ file: x.name, ms: x.ms })),
    topFunctions: top(fns, 12).map((x) => ({ fn: x.name, ms: x.ms })),
  };
}
