/**
 * Row 3: the unified index's added latency per project page, in-process. The index is started with
 * the real policy machinery (resolvePolicy, createChecker, startUnifiedIndex; OSV off, default
 * minimum age and typosquat checks on), and project pages are fetched with undici over keep-alive
 * connections, as pip would ask for them (its Accept header), one request at a time:
 *
 *  - direct: the upstream page itself;
 *  - cold: the first request for the page through a fresh index (it fetches, filters and renders);
 *  - warm: a repeat request (the project is cached for the run).
 *
 * Direct and index requests alternate order sample by sample. "Added" is reported both as the
 * percentile of the paired differences and as the difference of the percentiles.
 */
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { createChecker } from "../../src/checks/checker.js";
import { HttpClient } from "../../src/core/http.js";
import { normalizeName } from "../../src/core/names.js";
import { startUnifiedIndex } from "../../src/index/server.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import { isolatedEnv } from "../../test/helpers/env.js";
import { percentile, rng, shuffle } from "./stats.js";

/** What pip 22.2+ sends for index pages. */
export const PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

export interface Pct {
  p50: number;
  p99: number;
}

export interface LatencyResult {
  samples: number;
  indexes: number;
  direct: Pct;
  cold: Pct;
  warm: Pct;
  /** Percentiles of the paired differences (index − direct). */
  addedCold: Pct;
  addedWarm: Pct;
  /** Differences of the percentiles. */
  addedColdPctDiff: Pct;
  addedWarmPctDiff: Pct;
  /** Pages the index answered with something other than 200 (e.g. every release too young). */
  non200: number;
}

const pct = (v: number[]): Pct => ({ p50: percentile(v, 50), p99: percentile(v, 99) });

async function timedGet(agent: Agent, url: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await request(url, { headers: { accept: PIP_ACCEPT }, dispatcher: agent });
  await res.body.text();
  return { ms: performance.now() - t0, status: res.statusCode };
}

/** p50/p99 of plain GETs of project pages (to compare upstream servers). */
export async function directLatency(indexUrl: string, names: string[], samples: number): Promise<Pct> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 2 });
  try {
    const times: number[] = [];
    for (let i = 0; i < samples + 50; i++) {
      const r = await timedGet(agent, `${indexUrl}${normalizeName(names[i % names.length]!)}/`);
      if (i >= 50) times.push(r.ms);
    }
    return pct(times);
  } finally {
    await agent.close();
  }
}

export async function measurePageLatency(upstreamUrl: string, names: string[], opts: { samples: number; seed: number }): Promise<LatencyResult> {
  const rand = rng(opts.seed);
  const policy = resolvePolicy({ index: upstreamUrl, osv: { source: "off" } });
  const iso = isolatedEnv();
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 2 });
  const direct: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  const dCold: number[] = [];
  const dWarm: number[] = [];
  let non200 = 0;
  const keys = names.map(normalizeName);
  const rounds = Math.max(1, Math.ceil(opts.samples / keys.length));
  let indexes = 0;
  try {
    // Round 0 warms the JIT, the popular-names list and the connections; it is not recorded.
    for (let round = 0; round <= rounds; round++) {
      const http = new HttpClient({ timeoutMs: policy.timeoutMs, maxBytes: policy.maxPageBytes });
      const checker = createChecker({ policy, http, env: iso.env });
      const index = await startUnifiedIndex({ policy, http, checker });
      indexes++;
      const record = round > 0;
      const order = shuffle(keys, rand).slice(0, record ? Math.min(keys.length, opts.samples - cold.length) : 60);
      try {
        let i = 0;
        for (const key of order) {
          const up = `${upstreamUrl}${key}/`;
          const via = `${index.url}${key}/`;
          const first = i++ % 2 === 0;
          const a = first ? await timedGet(agent, up) : undefined;
          const b = await timedGet(agent, via);
          const c = first ? undefined : await timedGet(agent, up);
          const d = (a ?? c)!;
          if (record) {
            if (b.status !== 200) non200++;
            direct.push(d.ms);
            cold.push(b.ms);
            dCold.push(b.ms - d.ms);
          }
        }
        for (const key of order) {
          const up = `${upstreamUrl}${key}/`;
          const via = `${index.url}${key}/`;
          const first = i++ % 2 === 0;
          const a = first ? await timedGet(agent, up) : undefined;
          const b = await timedGet(agent, via);
          const c = first ? undefined : await timedGet(agent, up);
          const d = (a ?? c)!;
          if (record) {
            direct.push(d.ms);
            warm.push(b.ms);
            dWarm.push(b.ms - d.ms);
          }
        }
      } finally {
        await index.close();
        await http.close();
      }
      if (cold.length >= opts.samples) break;
    }
  } finally {
    await agent.close();
    iso.cleanup();
  }
  const D = pct(direct);
  const C = pct(cold);
  const W = pct(warm);
  return {
    samples: cold.length,
    indexes,
    direct: D,
    cold: C,
    warm: W,
    addedCold: pct(dCold),
    addedWarm: pct(dWarm),
    addedColdPctDiff: { p50: C.p50 - D.p50, p99: C.p99 - D.p99 },
    addedWarmPctDiff: { p50: W.p50 - D.p50, p99: W.p99 - D.p99 },
    non200,
  };
}
