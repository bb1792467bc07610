/**
 * Where safe-pip's time goes, measured without touching src/:
 *
 *  - fixed costs: Python and pip startup, safe-pip's pip probe, the pyenv shim (when `python3` on
 *    PATH is one), Node startup and loading dist/cli.js, and the import cost of each dependency;
 *  - one traced `safe-pip install`: SAFE_PIP_PYTHON points at a wrapper that logs every Python
 *    invocation with timestamps, and Node runs with --cpu-prof, so the run splits into
 *    node-before-pip, probe, resolve pass, node-between, install pass, node-after;
 *  (the two-pass replay and the single pass through the index run inside the install rounds:
 *  see installs.ts).
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { packageRoot } from "../../src/core/paths.js";
import { isolatedEnv, tempDir } from "../../test/helpers/env.js";
import { CLI, installedSet, invocation, type Setup } from "./installs.js";
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
  kind: "probe" | "resolve" | "install" | "other";
  startMs: number;
  ms: number;
  args: string;
}

export interface Trace {
  totalMs: number;
  steps: TraceStep[];
  pythonInvocations: number;
  /** Node's own time around the Python invocations. */
  nodeBeforeFirstPythonMs: number;
  nodeBetweenMs: number;
  nodeAfterLastPythonMs: number;
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

/** One `safe-pip install` with every Python invocation timed and Node CPU-profiled. */
export async function traceSafePip(setup: Setup, outDir: string, cpuProfile: boolean): Promise<Trace> {
  const dir = tempDir("safe-pip-bench-trace-");
  const log = join(dir, "python.log");
  const wrapper = join(dir, "python");
  // bash's EPOCHREALTIME needs no fork; the wrapper adds one bash start per invocation (it is
  // subtracted: the logged times are the Python child's own).
  writeFileSync(
    wrapper,
    `#!/bin/bash\nS=$EPOCHREALTIME\n${JSON.stringify(setup.python)} "$@"\nrc=$?\nprintf '%s %s %s\\n' "$S" "$EPOCHREALTIME" "$*" >> ${JSON.stringify(log)}\nexit $rc\n`,
  );
  chmodSync(wrapper, 0o755);
  const profDir = join(outDir, "cpu-profile");
  mkdirSync(profDir, { recursive: true });
  if (cpuProfile) for (const f of readdirSync(profDir)) if (f.endsWith(".cpuprofile")) rmSync(join(profDir, f)); // stale
  const inv = invocation(setup, "safe-pip", "install", { python: wrapper, nodeArgs: cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [] });
  const t0 = performance.timeOrigin + performance.now();
  const r = await run(inv.cmd, inv.args, { env: inv.env });
  const totalMs = performance.timeOrigin + performance.now() - t0;
  const ok = r.code === 0 && Object.keys(installedSet(inv.target)).length > 0;
  inv.cleanup();
  let lines: string[] = [];
  try {
    lines = readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    /* no python ran */
  }
  const steps: TraceStep[] = lines
    .map((l) => {
      const [s, e, ...rest] = l.split(" ");
      const args = rest.join(" ");
      const kind: TraceStep["kind"] = args.startsWith("-c ") ? "probe" : /\binstall\b.*--dry-run/.test(args) ? "resolve" : /\binstall\b.*--no-deps/.test(args) ? "install" : "other";
      return { kind, startMs: Number(s) * 1000 - t0, ms: (Number(e) - Number(s)) * 1000, args: args.length > 160 ? args.slice(0, 157) + "..." : args };
    })
    .sort((a, b) => a.startMs - b.startMs);
  const first = steps[0];
  const last = steps[steps.length - 1];
  const inPython = steps.reduce((a, s) => a + s.ms, 0);
  const before = first ? first.startMs : totalMs;
  const after = last ? totalMs - (last.startMs + last.ms) : 0;
  const prof = cpuProfile ? readdirSync(profDir).find((f) => f.endsWith(".cpuprofile") && readFileSync(join(profDir, f), "utf8").length > 0) : undefined;
  return {
    totalMs,
    steps,
    pythonInvocations: steps.length,
    nodeBeforeFirstPythonMs: before,
    nodeBetweenMs: totalMs - inPython - before - after,
    nodeAfterLastPythonMs: after,
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
