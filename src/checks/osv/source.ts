/**
 * Where OSV records come from. Checks ask for *all* records of a project (never "is version V
 * affected?"): matching happens locally (match.ts), so every version on an index page is judged
 * from one lookup, and the API and the offline export give identical answers.
 */
import { configError } from "../../core/errors.js";
import type { HttpClient } from "../../core/http.js";
import type { OsvPolicy } from "../../policy/schema.js";
import type { Ecosystem } from "../release.js";
import { OsvApiSource } from "./api.js";
import { OsvOfflineSource } from "./offline.js";
import type { OsvRecord } from "./types.js";

export interface OsvSource {
  /**
   * Every record naming the project (withdrawn ones included; the matcher skips them). Throws
   * SafePipError("UNAVAILABLE") with a one-line message naming the source when it can't answer.
   */
  advisories(ecosystem: Ecosystem, name: string): Promise<OsvRecord[]>;
  /** Optional warm-up for many projects at once (one batched API call instead of N). */
  prefetch?(ecosystem: Ecosystem, names: string[]): Promise<void>;
  /** One line for reports and `safe-pip doctor`: which source, where. */
  describe(): string;
}

/** The source the policy asks for; undefined when `osv.source` is "off". */
export function createOsvSource(policy: OsvPolicy, http: HttpClient, cacheDir: string): OsvSource | undefined {
  switch (policy.source) {
    case "off":
      return undefined;
    case "api":
      return new OsvApiSource(policy, http, cacheDir);
    case "offline":
      if (!policy.database) throw configError('osv.database is required when osv.source is "offline"', "run `safe-pip osv update` after setting it");
      return new OsvOfflineSource(policy);
  }
}
