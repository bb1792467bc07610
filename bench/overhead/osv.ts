/**
 * Row 4: bench/osv-bench.ts (runOsvBench), each run in a fresh Node process. In one long-lived
 * process later runs would profit from a warm JIT and from the version-key memos of
 * src/checks/osv/match.ts, which a real safe-pip run (one process per install) never has.
 */
import { fileURLToPath } from "node:url";
import { isolatedEnv } from "../../test/helpers/env.js";
import type { BenchLine } from "../osv-bench.js";
import { run } from "./proc.js";
import { summarize, type Summary } from "./stats.js";

export interface OsvLine {
  name: string;
  wall: Summary;
  cpu: Summary;
  note?: string | undefined;
}

const OSV_BENCH = fileURLToPath(new URL("../osv-bench.js", import.meta.url));

export async function osvBenchFresh(runs: number, onRun: (i: number, lines: BenchLine[]) => void): Promise<OsvLine[]> {
  const all: BenchLine[][] = [];
  const { env, cleanup } = isolatedEnv();
  try {
    for (let i = 0; i < runs; i++) {
      const code = `const { runOsvBench } = await import(${JSON.stringify(OSV_BENCH)}); process.stdout.write(JSON.stringify(await runOsvBench()));`;
      const r = await run(process.execPath, ["--input-type=module", "-e", code], { env });
      if (r.code !== 0) throw new Error(`runOsvBench failed: ${r.stderr.slice(-500)}`);
      const lines = JSON.parse(r.stdout) as BenchLine[];
      all.push(lines);
      onRun(i, lines);
    }
  } finally {
    cleanup();
  }
  return (all[0] ?? []).map((l, k) => ({
    name: l.name,
    wall: summarize(all.map((ls) => ls[k]?.ms ?? NaN)),
    cpu: summarize(all.map((ls) => ls[k]?.cpuMs ?? NaN)),
    note: l.note,
  }));
}
