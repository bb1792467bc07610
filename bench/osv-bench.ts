/**
 * OSV benchmark: 1,000 name/version checks (lookup + evaluateAdvisories) against
 *  - an offline database (zip and directory) of a few thousand synthetic records plus the fixtures,
 *  - the OSV API stand-in on 127.0.0.1: cold with prefetch (querybatch), cold one /v1/query per
 *    project, and a warm on-disk cache.
 * Target: 1,000 offline checks < 200 ms (index load reported separately: it happens once per run).
 *
 * Run: `node build-test/bench/osv-bench.js` (or import runOsvBench from a bench runner).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { HttpClient } from "../src/core/http.js";
import { DEFAULT_POLICY, type OsvPolicy } from "../src/policy/schema.js";
import type { Ecosystem } from "../src/checks/release.js";
import { OsvApiSource } from "../src/checks/osv/api.js";
import { OsvOfflineSource } from "../src/checks/osv/offline.js";
import { evaluateAdvisories } from "../src/checks/osv/evaluate.js";
import type { OsvSource } from "../src/checks/osv/source.js";
import type { OsvRecord } from "../src/checks/osv/types.js";
import { buildZip, loadFixtureRecords, startOsvServer } from "../test/helpers/osv-server.js";

export interface BenchLine {
  name: string;
  /** Wall-clock time. */
  ms: number;
  /** CPU time of this process (user + system): steadier than wall time on a busy machine. */
  cpuMs?: number;
  note?: string;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Deterministic PRNG (mulberry32) so every run checks the same things. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `records` synthetic advisories over `projects` PyPI projects, shaped like real PYSEC records. */
function syntheticRecords(records: number, projects: number): OsvRecord[] {
  const rand = rng(42);
  const out: OsvRecord[] = [];
  for (let i = 0; i < records; i++) {
    const project = `bench-project-${i % projects}`;
    const major = Math.floor(rand() * 5);
    const pairs = 1 + Math.floor(rand() * 3);
    const events: Array<{ introduced: string } | { fixed: string }> = [];
    const versions: string[] = [];
    for (let p = 0; p < pairs; p++) {
      const minor = p * 3;
      events.push({ introduced: p === 0 && rand() < 0.3 ? "0" : `${major}.${minor}` }, { fixed: `${major}.${minor + 1}.${Math.floor(rand() * 5)}` });
      for (let patch = 0; patch < 8; patch++) versions.push(`${major}.${minor}.${patch}`);
    }
    out.push({
      id: `BENCH-${i}`,
      modified: "2024-01-01T00:00:00Z",
      aliases: [`CVE-2099-${i}`],
      summary: `Synthetic benchmark advisory ${i}`,
      affected: [{ package: { ecosystem: "PyPI", name: project }, ranges: [{ type: "ECOSYSTEM", events }], versions }],
    });
  }
  return out;
}

/** 1,000 (name, version) pairs: 70 % projects with advisories, 30 % clean ones. */
function checks(projects: number, n = 1000): Array<[Ecosystem, string, string]> {
  const rand = rng(7);
  const out: Array<[Ecosystem, string, string]> = [];
  for (let i = 0; i < n; i++) {
    const name = rand() < 0.7 ? `Bench_Project.${Math.floor(rand() * projects)}` : `clean-project-${Math.floor(rand() * 500)}`;
    out.push(["PyPI", name, `${Math.floor(rand() * 5)}.${Math.floor(rand() * 9)}.${Math.floor(rand() * 8)}`]);
  }
  out.push(["PyPI", "requests", "2.30.0"], ["CRAN", "png", "0.1-7"]);
  return out.slice(0, n);
}

async function runChecks(src: OsvSource, list: Array<[Ecosystem, string, string]>): Promise<{ ms: number; cpuMs: number; blocked: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let blocked = 0;
  for (const [eco, name, version] of list) {
    const reasons = evaluateAdvisories(await src.advisories(eco, name), eco, name, version, []);
    if (reasons.some((r) => r.verdict === "block")) blocked++;
  }
  return { ms: performance.now() - t0, cpuMs: cpuMs(c0), blocked };
}

export async function runOsvBench(opts: { records?: number; projects?: number } = {}): Promise<BenchLine[]> {
  const nRecords = opts.records ?? 4000;
  const nProjects = opts.projects ?? 400;
  const records = [...syntheticRecords(nRecords, nProjects), ...loadFixtureRecords()];
  const list = checks(nProjects);
  const lines: BenchLine[] = [];
  const root = await mkdtemp(join(tmpdir(), "safe-pip-osv-bench-"));
  const policy = (over: Partial<OsvPolicy>): OsvPolicy => ({ ...DEFAULT_POLICY.osv, ...over });
  try {
    // Offline: zip
    const zipFile = join(root, "all.zip");
    await writeFile(zipFile, buildZip(records.map((r) => ({ name: `${r.id}.json`, data: JSON.stringify(r) }))));
    const zipSrc = new OsvOfflineSource(policy({ source: "offline", database: zipFile }));
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    await zipSrc.prefetch();
    lines.push({ name: `offline zip: load + index ${records.length} records`, ms: performance.now() - t0, cpuMs: cpuMs(c0) });
    const zipRun = await runChecks(zipSrc, list);
    lines.push({ name: "offline zip: 1,000 checks (first pass, cold JIT)", ms: zipRun.ms, cpuMs: zipRun.cpuMs, note: `${zipRun.blocked} blocked; target < 200 ms` });

    // Offline: directory
    const dir = join(root, "dir", "PyPI");
    await mkdir(dir, { recursive: true });
    for (const r of records) await writeFile(join(dir, `${r.id}.json`), JSON.stringify(r));
    const dirSrc = new OsvOfflineSource(policy({ source: "offline", database: join(root, "dir") }));
    c0 = process.cpuUsage();
    t0 = performance.now();
    await dirSrc.prefetch();
    lines.push({ name: `offline dir: load + index ${records.length} files`, ms: performance.now() - t0, cpuMs: cpuMs(c0) });
    const dirRun = await runChecks(dirSrc, list);
    lines.push({ name: "offline dir: 1,000 checks (warm JIT)", ms: dirRun.ms, cpuMs: dirRun.cpuMs, note: `${dirRun.blocked} blocked` });

    // API stand-in
    const server = await startOsvServer(records);
    const http = new HttpClient({ timeoutMs: 30_000, maxBytes: 32 * 1024 * 1024 });
    try {
      const names = [...new Set(list.map(([, n]) => n))];
      const cold = new OsvApiSource(policy({ url: server.url }), http, join(root, "cache-batch"));
      t0 = performance.now();
      await cold.prefetch("PyPI", names);
      const batchRun = await runChecks(cold, list);
      lines.push({
        name: `api cold, prefetch (querybatch): ${names.length} projects, 1,000 checks`,
        ms: performance.now() - t0,
        note: `${server.requests.length} requests`,
      });

      server.requests.length = 0;
      const single = new OsvApiSource(policy({ url: server.url }), http, join(root, "cache-single"));
      const singleRun = await runChecks(single, list);
      lines.push({ name: "api cold, one /v1/query per project: 1,000 checks", ms: singleRun.ms, note: `${server.requests.length} requests` });

      server.requests.length = 0;
      const warm = new OsvApiSource(policy({ url: server.url }), http, join(root, "cache-batch"));
      t0 = performance.now();
      await warm.prefetch("PyPI", names);
      const warmRun = await runChecks(warm, list);
      lines.push({ name: "api warm disk cache: 1,000 checks", ms: performance.now() - t0, note: `${server.requests.length} requests` });
      if (batchRun.blocked !== zipRun.blocked || singleRun.blocked !== zipRun.blocked || warmRun.blocked !== zipRun.blocked)
        throw new Error(`sources disagree: offline ${zipRun.blocked}, batch ${batchRun.blocked}, single ${singleRun.blocked}, warm ${warmRun.blocked}`);
    } finally {
      await http.close();
      await server.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const lines = await runOsvBench();
  for (const l of lines) {
    const cpu = l.cpuMs === undefined ? "" : ` (cpu ${l.cpuMs.toFixed(0)})`;
    console.log(`${l.ms.toFixed(1).padStart(9)} ms${cpu.padEnd(11)}  ${l.name}${l.note ? `  [${l.note}]` : ""}`);
  }
}
