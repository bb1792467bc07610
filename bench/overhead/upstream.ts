/**
 * The upstream index the benchmark installs from: the synthetic universe served by the fake index
 * helper (default) or the pre-rendered static server, an existing PEP 503 directory, or a URL.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { toOsvRecord, type OsvRecord } from "../../src/checks/osv/types.js";
import { startFakeIndex, type FakeIndex } from "../../test/helpers/pypi-server.js";
import type { Synthetic } from "./graph.js";
import { serveDirectory, startStaticIndex, type StaticIndex } from "./static-index.js";

export interface Upstream {
  url: string;
  kind: string;
  startupMs: number;
  /** Requests served so far (NaN for an external URL). */
  counts(): { pages: number; metadata: number; files: number };
  close(): Promise<void>;
}

function fakeUpstream(idx: FakeIndex, startupMs: number): Upstream {
  return {
    url: idx.url,
    kind: "startFakeIndex (test/helpers/pypi-server.ts)",
    startupMs,
    counts: () => {
      const c = { pages: 0, metadata: 0, files: 0 };
      for (const r of idx.requests) {
        if (r.path.startsWith("/files/")) r.path.endsWith(".metadata") ? c.metadata++ : c.files++;
        else c.pages++;
      }
      return c;
    },
    close: () => idx.close(),
  };
}

function staticUpstream(idx: StaticIndex, kind: string, startupMs: number): Upstream {
  return { url: idx.url, kind, startupMs, counts: () => ({ ...idx.counts }), close: () => idx.close() };
}

/** The synthetic universe, served by the fake index helper or the static server. */
export async function syntheticUpstream(syn: Synthetic, kind: "fake" | "static", pypiCacheHeaders = false): Promise<Upstream> {
  const t0 = performance.now();
  if (kind === "fake") return fakeUpstream(await startFakeIndex({ projects: syn.projects }), performance.now() - t0);
  const idx = await startStaticIndex(syn.projects, { pypiCacheHeaders });
  return staticUpstream(idx, `static${pypiCacheHeaders ? " (PyPI cache headers)" : ""}`, performance.now() - t0);
}

/** `--index DIR_OR_URL`: a directory is served here, a URL is used as it is. */
export async function externalUpstream(where: string): Promise<Upstream> {
  if (/^https?:\/\//.test(where)) {
    const url = where.endsWith("/") ? where : `${where}/`;
    return { url, kind: "external URL", startupMs: 0, counts: () => ({ pages: NaN, metadata: NaN, files: NaN }), close: async () => undefined };
  }
  if (!existsSync(where) || !statSync(where).isDirectory()) throw new Error(`--index ${where}: not a URL or a directory`);
  const t0 = performance.now();
  return staticUpstream(await serveDirectory(where), `directory ${resolve(where)}`, performance.now() - t0);
}

/**
 * Advisories for the OSV stand-in on every third synthetic project, hitting only its oldest
 * release: the index has real matching to do, and neither pip would have picked those releases.
 */
export function syntheticAdvisories(syn: Synthetic): OsvRecord[] {
  const out: OsvRecord[] = [];
  syn.names.forEach((name, i) => {
    if (i % 3 !== 0) return;
    const versions = syn.projects[name]!.map((r) => r.version);
    if (versions.length < 2) return;
    out.push(
      toOsvRecord({
        id: `BENCH-OVH-${i}`,
        modified: "2024-01-01T00:00:00Z",
        aliases: [`CVE-2099-${10000 + i}`],
        summary: `synthetic advisory on ${name} ${versions[0]}`,
        affected: [{ package: { ecosystem: "PyPI", name }, ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: versions[1]! }] }], versions: [versions[0]!] }],
      }),
    );
  });
  return out;
}
