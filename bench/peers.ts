/**
 * safe-pip next to what a user would pick instead, on the same local graph in the same run:
 *
 *   npm run bench:peers [-- --runs N]
 *
 * - pip 26 with `--uploaded-prior-to` (pip's own age gate),
 * - uv with `--exclude-newer` (uv's age gate; uv's default index strategy is "first index that
 *   has the name", its answer to dependency confusion),
 * - safe-pip (in front of the same pip 26).
 *
 * pip 26 and uv are installed from PyPI into a cache dir at bench time (reused when present), so
 * the bench needs PyPI once; everything after that runs against indexes on 127.0.0.1.
 *
 * Each tool gets the set-up a careful user would give it: the internal index and the public one,
 * and a cutoff of 7 days. Measured: the median time of `install --target` of a 21-package closure
 * (warm caches), and what each lets through:
 *   - a project whose only file has no upload time,
 *   - an internal name also published publicly with a higher version,
 *   - a release with a known OSV advisory,
 *   - a release younger than 7 days (the one thing all three gate).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify, parseArgs } from "node:util";
import { packageRoot } from "../src/core/paths.js";
import { cleanupAll, isolatedEnv, tempDir } from "../test/helpers/env.js";
import { daysAgo, installedVersions, writePolicy } from "../test/helpers/cli.js";
import { startFakeIndex, isoUploadTime, type FakeIndex, type FakeRelease } from "../test/helpers/pypi-server.js";
import { realPython } from "../test/helpers/python.js";
import { summarize, table } from "./overhead/stats.js";

const exec = promisify(execFile);
const { values: opts } = parseArgs({ options: { runs: { type: "string", default: "3" }, cache: { type: "string" } } });
const RUNS = Math.max(1, Number(opts.runs));
const CACHE = opts.cache ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/tmp", ".cache"), "safe-pip-bench-peers");
const CLI = join(packageRoot(), "dist", "cli.js");
const TIMEOUT = 300_000;

interface Tools {
  pipVersion: string;
  python: string;
  uv: string;
  uvVersion: string;
}

/** pip 26 in a venv and uv in a --target dir, from PyPI with the machine's own pip (and its config). */
async function ensureTools(): Promise<Tools> {
  mkdirSync(CACHE, { recursive: true });
  const venv = join(CACHE, "pip26");
  const python = join(venv, "bin", "python");
  const uvDir = join(CACHE, "uv");
  const uv = join(uvDir, "bin", "uv");
  const env = { ...process.env } as Record<string, string>;
  if (!existsSync(python)) {
    await exec(realPython(), ["-m", "venv", venv]);
    await exec(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "pip>=26,<27"], { env, timeout: TIMEOUT });
  }
  if (!existsSync(uv)) await exec(realPython(), ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", uvDir, "uv"], { env, timeout: TIMEOUT });
  const pipVersion = /^pip (\S+)/.exec((await exec(python, ["-m", "pip", "--version"])).stdout)?.[1] ?? "?";
  const uvVersion = (await exec(uv, ["--version"])).stdout.trim();
  return { pipVersion, python, uv, uvVersion };
}

const old = (version: string, requires: string[] = []): FakeRelease => ({ version, uploadTime: daysAgo(100), requires });
const FILLER = Array.from({ length: 19 }, (_, i) => `lib-${String(i + 1).padStart(2, "0")}`);

interface Graph {
  publicIdx: FakeIndex;
  internalIdx: FakeIndex;
  osvDir: string;
}

async function startGraph(): Promise<Graph> {
  const projects: Record<string, FakeRelease[]> = {
    app: [old("1.0", [...FILLER, "young"])],
    young: [
      { version: "1.0", uploadTime: daysAgo(30) },
      { version: "2.0", uploadTime: daysAgo(1) },
    ],
    undated: [{ version: "1.0", uploadTime: null }],
    "acme-lib": [{ version: "99.0", uploadTime: daysAgo(60) }],
    vuln: [old("1.0")],
  };
  for (const name of FILLER) projects[name] = [old("1.0")];
  const publicIdx = await startFakeIndex({ projects });
  const internalIdx = await startFakeIndex({ projects: { "acme-lib": [{ version: "1.0", uploadTime: daysAgo(60) }] } });
  // An OSV record for vuln 1.0, in the offline-database layout safe-pip reads.
  const osvDir = tempDir("safe-pip-peers-osv-");
  mkdirSync(join(osvDir, "pypi"));
  writeFileSync(
    join(osvDir, "pypi", "BENCH-1.json"),
    JSON.stringify({
      id: "BENCH-1",
      modified: "2026-01-01T00:00:00Z",
      summary: "synthetic advisory for the peer bench",
      affected: [{ package: { ecosystem: "PyPI", name: "vuln" }, versions: ["1.0"] }],
    }),
  );
  return { publicIdx, internalIdx, osvDir };
}

type Tool = "pip 26 --uploaded-prior-to" | "uv --exclude-newer" | "safe-pip";
const TOOLS: Tool[] = ["pip 26 --uploaded-prior-to", "uv --exclude-newer", "safe-pip"];

interface Outcome {
  ms: number;
  code: number;
  installed: Record<string, string>;
  stderr: string;
}

async function installWith(tool: Tool, tools: Tools, g: Graph, reqs: string[], caches: Record<Tool, string>): Promise<Outcome> {
  const target = tempDir("safe-pip-peers-target-");
  const cutoff = isoUploadTime(daysAgo(7));
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  let cmd: string;
  let args: string[];
  let env = iso.env;
  if (tool === "pip 26 --uploaded-prior-to") {
    // How pip users add an internal index: one --index-url, the other --extra-index-url.
    cmd = tools.python;
    args = ["-m", "pip", "install", "-q", "--target", target, "--cache-dir", caches[tool], "--index-url", g.internalIdx.url, "--extra-index-url", g.publicIdx.url, "--uploaded-prior-to", cutoff, ...reqs];
  } else if (tool === "uv --exclude-newer") {
    // uv's recommended set-up: the internal index first (`--index`), PyPI as the default.
    cmd = tools.uv;
    args = ["pip", "install", "-q", "--no-config", "--python", tools.python, "--target", target, "--cache-dir", caches[tool], "--index", g.internalIdx.url, "--default-index", g.publicIdx.url, "--exclude-newer", cutoff, ...reqs];
  } else {
    cmd = process.execPath;
    args = [CLI, "install", "-q", "--target", target, "--cache-dir", caches[tool], ...reqs];
    const policy = writePolicy({
      index: g.publicIdx.url,
      internal: [{ url: g.internalIdx.url, packages: ["acme-*"] }],
      minAge: "7d",
      osv: { source: "offline", database: g.osvDir, maxStaleness: "36500d" },
    });
    env = { ...iso.env, SAFE_PIP_CONFIG: policy, SAFE_PIP_PYTHON: tools.python };
    delete env.PIP_CONFIG_FILE;
  }
  const t0 = performance.now();
  const r = await exec(cmd, args, { env, timeout: TIMEOUT }).then(
    (x) => ({ code: 0, stderr: x.stderr }),
    (e: { code?: number; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : -1, stderr: String(e.stderr ?? "") }),
  );
  const ms = performance.now() - t0;
  return { ms, code: r.code, stderr: r.stderr, installed: installedVersions(target) };
}

/** Why a tool stopped, in a few words, from its own message. */
const REASONS: Array<[RegExp, string]> = [
  [/does not provide upload-time metadata/, "whole install fails: no upload-time"],
  [/filtered by `exclude-newer`/, "hidden by exclude-newer"],
  [/upload time unknown/, "blocked: upload time unknown"],
  [/BENCH-1/, "blocked: advisory BENCH-1"],
];

function verdict(o: Outcome, name: string, bad: string): string {
  const v = o.installed[name.replace(/-/g, "_")];
  if (o.code !== 0) {
    const why = REASONS.find(([re]) => re.test(o.stderr))?.[1] ?? o.stderr.trim().split("\n")[0]?.slice(0, 60) ?? "";
    return `${why} (exit ${o.code})`;
  }
  if (v === undefined) return "nothing installed";
  return v === bad ? `**let through ${v}**` : `${v}`;
}

async function main(): Promise<void> {
  let tools: Tools;
  try {
    tools = await ensureTools();
  } catch (err) {
    console.log(`bench:peers skipped: could not install pip 26 and uv from PyPI into ${CACHE} (${(err as Error).message.split("\n")[0]})`);
    return;
  }
  const g = await startGraph();
  const caches = Object.fromEntries(TOOLS.map((t) => [t, tempDir("safe-pip-peers-cache-")])) as Record<Tool, string>;
  try {
    console.log(`pip ${tools.pipVersion}, ${tools.uvVersion}, safe-pip in front of pip ${tools.pipVersion}; ${RUNS} timed runs each after one warm-up`);
    // Timing: the same 21-package closure, rounds interleaved so load on a shared machine hits all alike.
    const times: Record<Tool, number[]> = { "pip 26 --uploaded-prior-to": [], "uv --exclude-newer": [], "safe-pip": [] };
    const appSets: Record<string, string> = {};
    for (let round = 0; round <= RUNS; round++) {
      for (const tool of TOOLS) {
        const o = await installWith(tool, tools, g, ["app"], caches);
        if (o.code !== 0) throw new Error(`${tool} failed to install app: ${o.stderr.trim().split("\n").pop()}`);
        if (round > 0) times[tool].push(o.ms);
        appSets[tool] = `${Object.keys(o.installed).length} packages, young ${o.installed.young}`;
      }
    }
    const traps: Array<[string, string, string]> = [
      ["undated", "undated", "1.0"],
      ["acme-lib", "acme-lib", "99.0"],
      ["vuln", "vuln", "1.0"],
      ["young", "young", "2.0"],
    ];
    const rows: string[][] = [["", ...TOOLS]];
    rows.push(["install app (21 packages), median", ...TOOLS.map((t) => `${(summarize(times[t]).median / 1000).toFixed(2)} s`)]);
    rows.push(["what app got", ...TOOLS.map((t) => appSets[t] ?? "")]);
    const labels: Record<string, string> = {
      undated: "file with no upload time (`undated`)",
      "acme-lib": "internal name, public 99.0 vs internal 1.0",
      vuln: "release with an OSV advisory (`vuln 1.0`)",
      young: "release 1 day old (`young 2.0`)",
    };
    const json: Record<string, Record<string, string>> = {};
    for (const [req, name, bad] of traps) {
      const cells: string[] = [];
      for (const tool of TOOLS) {
        const o = await installWith(tool, tools, g, [req], caches);
        const v = verdict(o, name, bad);
        cells.push(v);
        (json[req] ??= {})[tool] = v;
        if (process.env.PEERS_DEBUG) console.log(`--- ${tool} ${req}\n${o.stderr}`);
      }
      rows.push([labels[req]!, ...cells]);
    }
    console.log(table(rows));
    const out = join(packageRoot(), ".bench-out");
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "peers.json"),
      JSON.stringify({ pip: tools.pipVersion, uv: tools.uvVersion, runs: RUNS, ms: times, traps: json }, null, 2) + "\n",
    );
    console.log(`results: ${join(out, "peers.json")}`);
  } finally {
    await Promise.all([g.publicIdx.close(), g.internalIdx.close()]);
    cleanupAll();
  }
}


await main();
