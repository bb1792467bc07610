import { SafePipError, describeError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import type { HttpClient } from "../core/http.js";
import { nameMatchesPattern, normalizeName } from "../core/names.js";
import { cacheDir } from "../core/paths.js";
import type { Policy } from "../policy/schema.js";
import type { Printer } from "../report/printer.js";
import { activeEntries, checkAllow, checkDeny } from "./allowdeny.js";
import { evaluateAdvisories } from "./osv/evaluate.js";
import { createOsvSource, type OsvSource } from "./osv/source.js";
import type { OsvRecord } from "./osv/types.js";
import type { Ecosystem, ReleaseChecker, ReleaseInfo } from "./release.js";
import { detectTyposquat, loadPopularList } from "./typosquat.js";
import type { Reason } from "./types.js";

export interface CheckerOptions {
  policy: Policy;
  http: HttpClient;
  env: Env;
  printer?: Printer | undefined;
  now?: Date | undefined;
  /** A ready OSV source (tests, benchmarks); by default the policy's. */
  osv?: OsvSource | undefined;
}

/**
 * The policy's release checks behind one ReleaseChecker, shared by the PyPI index, the CRAN
 * repository and `explain`: allow/deny lists, typosquats (PyPI names), OSV vulnerabilities and
 * malware. Age is the index's business (it depends on per-file upload times); licences are read
 * from metadata where it is at hand (pip's report, CRAN's License field).
 */
export function createChecker(opts: CheckerOptions): ReleaseChecker {
  const { policy } = opts;
  const now = opts.now ?? new Date();
  const allow = policy.allow ? activeEntries(policy.allow, now) : undefined;
  const deny = activeEntries(policy.deny, now);
  const allowNames = new Set((allow ?? []).map((e) => normalizeName(e.name)));
  const internalPatterns = policy.internal.flatMap((i) => i.packages);
  const osv = opts.osv ?? createOsvSource(policy.osv, opts.http, `${cacheDir(opts.env)}`);
  const pending = new Map<string, Promise<OsvRecord[]>>();
  let warned = false;

  const advisories = (ecosystem: Ecosystem, name: string): Promise<OsvRecord[]> => {
    const key = `${ecosystem}:${name}`;
    let p = pending.get(key);
    if (!p) {
      p = osv!.advisories(ecosystem, name);
      p.catch(() => undefined);
      pending.set(key, p);
    }
    return p;
  };

  const typosquat = (ecosystem: Ecosystem, name: string, source: "internal" | "public"): Reason[] => {
    if (policy.typosquat === "off" || ecosystem !== "PyPI" || source === "internal") return [];
    const match = detectTyposquat(name, loadPopularList(), {
      exempt: (n) => allowNames.has(n) || internalPatterns.some((p) => nameMatchesPattern(n, p)),
    });
    if (!match) return [];
    return [
      {
        check: "typosquat",
        verdict: policy.typosquat === "block" ? "block" : "warn",
        message: `"${name}" looks like "${match.imitates}" (#${match.imitatedRank} on PyPI; ${match.technique}); did you mean ${match.imitates}?`,
      },
    ];
  };

  return {
    checkName(ecosystem, name, source) {
      return [...checkAllow(ecosystem, name, undefined, allow), ...checkDeny(ecosystem, name, undefined, deny), ...typosquat(ecosystem, name, source)];
    },

    prepare() {
      // Builds the typosquat indexes (~0.1 s, once per process) with a name no rule exempts.
      typosquat("PyPI", "safe-pip-warm-up", "public");
    },

    warm(ecosystem, name) {
      if (osv) void advisories(ecosystem, name).catch(() => undefined);
    },

    warmMany(ecosystem, names) {
      const source = osv;
      if (!source) return;
      const fresh = [...new Set(names)].filter((n) => !pending.has(`${ecosystem}:${n}`));
      if (fresh.length === 0) return;
      if (!source.prefetch) {
        for (const n of fresh) void advisories(ecosystem, n).catch(() => undefined);
        return;
      }
      // Each project's lookup waits for the batch and is then answered from memory; if the batch
      // failed, the lookup makes its own request and reports its own error.
      const batch = source.prefetch(ecosystem, fresh).catch(() => undefined);
      for (const n of fresh) {
        const p = batch.then(() => source.advisories(ecosystem, n));
        p.catch(() => undefined);
        pending.set(`${ecosystem}:${n}`, p);
      }
    },

    async checkReleases(releases: ReleaseInfo[]) {
      const out = new Map<string, Reason[]>();
      for (const r of releases) out.set(r.version, [...checkAllow(r.ecosystem, r.name, r.version, allow), ...checkDeny(r.ecosystem, r.name, r.version, deny)]);
      if (!osv) return out;
      // One lookup per project: every version is matched locally against the same records.
      const projects = new Map<string, ReleaseInfo[]>();
      for (const r of releases) projects.set(`${r.ecosystem}:${r.name}`, [...(projects.get(`${r.ecosystem}:${r.name}`) ?? []), r]);
      for (const group of projects.values()) {
        const first = group[0]!;
        let records: OsvRecord[];
        try {
          records = await advisories(first.ecosystem, first.name);
        } catch (err) {
          const message = `OSV (${osv.describe()}) could not be checked: ${describeError(err)}`;
          if (policy.osv.onError === "block") throw err instanceof SafePipError ? err : new SafePipError("UNAVAILABLE", message);
          if (!warned) opts.printer?.warn(`${message}; continuing because osv.onError is "warn"`);
          warned = true;
          for (const r of group) out.get(r.version)!.push({ check: "osv", verdict: "warn", message: "not checked against OSV (source unavailable)" });
          continue;
        }
        for (const r of group) out.get(r.version)!.push(...evaluateAdvisories(records, r.ecosystem, r.name, r.version, policy.osv.ignore));
      }
      return out;
    },
  };
}
