import type { Env } from "../core/env.js";
import type { HttpClient } from "../core/http.js";
import type { Policy } from "../policy/schema.js";
import type { Printer } from "../report/printer.js";
import { activeEntries, checkAllow, checkDeny } from "./allowdeny.js";
import type { Ecosystem, ReleaseChecker, ReleaseInfo } from "./release.js";
import type { Reason } from "./types.js";

export interface CheckerOptions {
  policy: Policy;
  http: HttpClient;
  env: Env;
  printer?: Printer | undefined;
  now?: Date | undefined;
}

/** The policy's release checks behind one ReleaseChecker, shared by the PyPI index and the CRAN repository. */
export function createChecker(opts: CheckerOptions): ReleaseChecker {
  const now = opts.now ?? new Date();
  const allow = opts.policy.allow ? activeEntries(opts.policy.allow, now) : undefined;
  const deny = activeEntries(opts.policy.deny, now);
  return {
    checkName(ecosystem: Ecosystem, name: string): Reason[] {
      return [...checkAllow(ecosystem, name, undefined, allow), ...checkDeny(ecosystem, name, undefined, deny)];
    },
    async checkReleases(releases: ReleaseInfo[]): Promise<Map<string, Reason[]>> {
      const out = new Map<string, Reason[]>();
      for (const r of releases) {
        out.set(r.version, [...checkAllow(r.ecosystem, r.name, r.version, allow), ...checkDeny(r.ecosystem, r.name, r.version, deny)]);
      }
      return out;
    },
  };
}
