#!/usr/bin/env node
// One-off generator for the typosquat check's data. It reads the workplace's PyPI name list
// (tab-separated: name, version, month, rank_among_15000_most_downloaded, summary) and writes:
//
//   data/pypi-popular.tsv                    rank<TAB>name for every ranked project, by rank.
//                                            Shipped: the detector reads it at run time.
//   test/fixtures/pypi-unranked-sample.txt   a fixed pseudo-random sample of unranked names.
//                                            Not shipped: bench/typosquat-eval.ts uses it to
//                                            measure how often ordinary obscure names are flagged.
//
// The source list is NOT available at run time or in CI, which is why its output is committed.
// Re-run by hand when the list is refreshed:  node scripts/build-popular-list.mjs [path/to/pypi.tsv]
import { createReadStream, mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = process.argv[2] ?? "/work/.library/env/packages/pypi.tsv";
const SAMPLE_SIZE = 5000;

// PEP 503, duplicated from src/core/names.ts because this script runs without a build.
const normalize = (name) => name.toLowerCase().replace(/[-_.]+/g, "-");

// Deterministic sample: keep the SAMPLE_SIZE names with the smallest FNV-1a hash, so the sample
// does not depend on row order and is stable across re-runs of an unchanged list.
function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const ranked = new Map(); // name -> rank
const unranked = []; // [hash, name], pruned as it grows
let header = true;
let rankCol = -1;
const rl = createInterface({ input: createReadStream(source, "utf8"), crlfDelay: Infinity });
for await (const line of rl) {
  const cols = line.split("\t");
  if (header) {
    header = false;
    rankCol = cols.indexOf("rank_among_15000_most_downloaded");
    if (rankCol < 0) throw new Error(`${source}: no rank_among_15000_most_downloaded column`);
    continue;
  }
  const name = normalize(cols[0] ?? "");
  if (!name) continue;
  const rankText = (cols[rankCol] ?? "").trim();
  if (rankText) {
    const rank = Number(rankText);
    if (!Number.isInteger(rank) || rank < 1) throw new Error(`bad rank ${rankText} for ${name}`);
    const prev = ranked.get(name);
    if (prev === undefined || rank < prev) ranked.set(name, rank);
  } else {
    unranked.push([fnv1a(name), name]);
    if (unranked.length > SAMPLE_SIZE * 4) {
      unranked.sort((a, b) => a[0] - b[0]);
      unranked.length = SAMPLE_SIZE * 2;
    }
  }
}

const popular = [...ranked].sort((a, b) => a[1] - b[1]);
mkdirSync(join(root, "data"), { recursive: true });
writeFileSync(join(root, "data", "pypi-popular.tsv"), popular.map(([n, r]) => `${r}\t${n}\n`).join(""));

const sample = [...new Set(unranked.sort((a, b) => a[0] - b[0]).map((e) => e[1]))]
  .filter((n) => !ranked.has(n))
  .slice(0, SAMPLE_SIZE)
  .sort();
mkdirSync(join(root, "test", "fixtures"), { recursive: true });
writeFileSync(
  join(root, "test", "fixtures", "pypi-unranked-sample.txt"),
  `# ${sample.length} PyPI project names outside the top 15,000, a fixed hash-ordered sample made by\n` +
    `# scripts/build-popular-list.mjs. Used by bench/typosquat-eval.ts only.\n` +
    sample.join("\n") +
    "\n",
);
console.log(`popular: ${popular.length} names (ranks ${popular[0]?.[1]}..${popular.at(-1)?.[1]}); sample: ${sample.length}`);
