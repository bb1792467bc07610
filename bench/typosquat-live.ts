/**
 * The typosquat false-positive rate once the upstream is reachable: the history rule
 * (src/checks/history.ts) applied to real PyPI pages.
 *
 *   npx tsc -p tsconfig.test.json && node build-test/bench/typosquat-live.js [--verbose]
 *
 * The offline bench (typosquat-eval.ts, line (e)) flags a share of 3,000 older legitimate PyPI
 * names by name alone. Here every name it flags is looked up on https://pypi.org/simple/ through
 * the same code the index uses (fetchProjectPage with PEP 691 JSON, then softenByHistory), and the
 * names still blocked afterwards are the false-positive rate a user with a reachable upstream sees.
 * The squats of the recall lists are looked up too: a squat that the history rule would soften
 * is a recall loss, reported as such (most of them were removed from PyPI, so their pages 404 and
 * nothing is softened).
 *
 * Needs the internet (pypi.org); not part of any test run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../src/core/paths.js";
import { HttpClient } from "../src/core/http.js";
import { softenByHistory } from "../src/checks/history.js";
import { detectTyposquat, loadPopularList, type TyposquatMatch } from "../src/checks/typosquat.js";
import { fetchProjectPage } from "../src/index/upstream/simple.js";
import { versionFromFilename } from "../src/index/model.js";
import { normalizeName } from "../src/core/names.js";
import type { Reason } from "../src/checks/types.js";

const INDEX = "https://pypi.org/simple/";
const verbose = process.argv.includes("--verbose");
const root = packageRoot();
const now = new Date();
const pct = (n: number, d: number): string => `${((100 * n) / Math.max(d, 1)).toFixed(2)}%`;

function readNames(rel: string): string[] {
  return readFileSync(join(root, rel), "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[0]!);
}

type Outcome = "blocked" | "warned" | "gone" | "error";

async function verdict(http: HttpClient, match: TyposquatMatch): Promise<{ outcome: Outcome; detail: string }> {
  const name = normalizeName(match.name);
  const reason: Reason = { check: "typosquat", verdict: "block", message: `looks like ${match.imitates}` };
  try {
    const page = await fetchProjectPage(http, INDEX, name);
    if (!page) return { outcome: "gone", detail: "not on PyPI (404)" };
    const files = page.files.map((f) => ({ version: versionFromFilename(f.filename, name), uploadTime: f.uploadTime }));
    const [after] = softenByHistory([reason], files, now);
    const releases = new Set(files.map((f) => f.version).filter(Boolean)).size;
    return after!.verdict === "warn"
      ? { outcome: "warned", detail: after!.message.replace(/^.*Warned, not blocked: /, "") }
      : { outcome: "blocked", detail: `${releases} releases on the page` };
  } catch (e) {
    return { outcome: "error", detail: e instanceof Error ? e.message : String(e) };
  }
}

async function evaluate(http: HttpClient, label: string, matches: TyposquatMatch[]): Promise<Map<Outcome, TyposquatMatch[]>> {
  const by = new Map<Outcome, TyposquatMatch[]>([["blocked", []], ["warned", []], ["gone", []], ["error", []]]);
  // A few at a time: polite to PyPI, and the whole run stays within a minute.
  const queue = [...matches];
  const worker = async (): Promise<void> => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      const v = await verdict(http, m);
      by.get(v.outcome)!.push(m);
      if (verbose) console.log(`  ${label} ${m.name} -> ${m.imitates}: ${v.outcome} (${v.detail})`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return by;
}

const list = loadPopularList();
const http = new HttpClient({ timeoutMs: 30_000, maxBytes: 64 * 1024 * 1024 });
const flag = (names: string[]): TyposquatMatch[] => names.map((n) => detectTyposquat(n, list)).filter((m): m is TyposquatMatch => m !== undefined);

const older = readNames("test/fixtures/pypi-older-sample.txt");
const olderFlags = flag(older);
const o = await evaluate(http, "older", olderFlags);
const blocked = o.get("blocked")!.length + o.get("error")!.length;
console.log("typosquat with the history rule, against https://pypi.org/simple/ (" + now.toISOString().slice(0, 10) + ")");
console.log(`(e) ${older.length} older legitimate names: flagged by name ${pct(olderFlags.length, older.length)} (${olderFlags.length}); ` +
  `still blocked after the history rule ${pct(blocked, older.length)} (${blocked}), warned ${o.get("warned")!.length}, ` +
  `gone from PyPI ${o.get("gone")!.length}, lookup errors (counted as blocked) ${o.get("error")!.length}`);
console.log(`    still blocked: ${o.get("blocked")!.map((m) => `${m.name} -> ${m.imitates}`).join(", ") || "none"}`);

const squats = [...readNames("test/fixtures/typosquats-known.txt"), ...readNames("test/fixtures/typosquats-heldout.txt")];
const squatFlags = flag(squats);
const s = await evaluate(http, "squat", squatFlags);
const softened = s.get("warned")!;
console.log(`(a) ${squats.length} known squats: flagged by name ${pct(squatFlags.length, squats.length)} (${squatFlags.length}); ` +
  `softened to a warning by their history ${softened.length} (${pct(softened.length, squats.length)} recall lost), ` +
  `still on PyPI and blocked ${s.get("blocked")!.length}, gone ${s.get("gone")!.length}, errors ${s.get("error")!.length}`);
if (softened.length) console.log(`    softened: ${softened.map((m) => `${m.name} -> ${m.imitates}`).join(", ")}`);
await http.close();
