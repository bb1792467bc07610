import { formatDuration } from "../core/duration.js";
import { redactText } from "../core/redact.js";
import { mergeLayers, resolvePolicy } from "./merge.js";
import type { Policy, PolicyLayer } from "./schema.js";
import type { LoadedPolicy } from "./load.js";

export type PolicyOrigin = "system" | "user" | "system+user" | "command line" | "default";

export interface PolicyValue {
  /** The policy key as written in the file (`minAge`, `osv.url`, `cran.repo`). */
  key: string;
  /** The effective value, in the file's terms (durations as `7d`). */
  value: unknown;
  from: PolicyOrigin;
}

/** Effective-policy fields and the file keys they come from; osv and cran are listed per sub-key. */
const FIELDS: Array<[string, (p: Policy) => unknown, (l: PolicyLayer) => unknown]> = [
  ["index", (p) => p.index, (l) => l.index],
  ["internal", (p) => p.internal, (l) => l.internal],
  ["minAge", (p) => p.minAgeMs, (l) => l.minAgeMs],
  ["unknownAge", (p) => p.unknownAge, (l) => l.unknownAge],
  ["internalAge", (p) => p.internalAge, (l) => l.internalAge],
  ["snapshot", (p) => p.snapshot?.toISOString(), (l) => l.snapshot],
  ["directReferences", (p) => p.directReferences, (l) => l.directReferences],
  ["timeout", (p) => p.timeoutMs, (l) => l.timeoutMs],
  ["maxPageBytes", (p) => p.maxPageBytes, (l) => l.maxPageBytes],
  ...(["source", "url", "database", "exportUrl", "cacheTtlMs", "maxStalenessMs", "ignore", "onError"] as const).map(
    (k): [string, (p: Policy) => unknown, (l: PolicyLayer) => unknown] => [`osv.${k.replace(/Ms$/, "")}`, (p) => p.osv[k], (l) => l.osv?.[k]],
  ),
  ["allow", (p) => p.allow, (l) => l.allow],
  ["deny", (p) => p.deny, (l) => l.deny],
  ["licenses", (p) => p.licenses, (l) => l.licenses],
  ["unknownLicense", (p) => p.unknownLicense, (l) => l.unknownLicense],
  ["typosquat", (p) => p.typosquat, (l) => l.typosquat],
  ...(["repo", "internal", "snapshot"] as const).map(
    (k): [string, (p: Policy) => unknown, (l: PolicyLayer) => unknown] => [`cran.${k}`, (p) => p.cran[k], (l) => l.cran?.[k]],
  ),
];

/** Keys whose value combines both layers' lists rather than picking one. */
const COMBINED = new Set(["allow", "deny", "licenses"]);
const DURATIONS = new Set(["minAge", "timeout", "osv.cacheTtl", "osv.maxStaleness"]);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Which layer set each effective value: the policy is rebuilt one layer at a time (system, then
 * user, then command-line flags) and each value is credited to the layer that changed it. A value
 * two layers combined (deny lists united, allow lists narrowed) is "system+user".
 */
export function policyProvenance(loaded: LoadedPolicy): PolicyValue[] {
  const { system, user, overrides } = loaded.layers;
  const ignore: string[] = [];
  const sys = resolvePolicy(system ?? {});
  const withUser = resolvePolicy(system ? mergeLayers(system, user, ignore) : user);
  const final = loaded.policy;
  const userOnly = resolvePolicy(user);
  return FIELDS.map(([key, get, raw]) => {
    const value = get(final);
    let from: PolicyOrigin;
    if (!same(value, get(withUser))) from = "command line";
    else if (!same(get(withUser), get(sys))) from = system && raw(system) !== undefined && COMBINED.has(key) ? "system+user" : "user";
    else if (system && raw(system) !== undefined) from = "system";
    // The user wrote the value the default already had: still the user's choice.
    else from = raw(user) !== undefined && same(value, get(userOnly)) ? "user" : "default";
    return { key, value: DURATIONS.has(key) && typeof value === "number" ? formatDuration(value) : value, from };
  });
}

/**
 * `doctor`'s findings for the effective policy: one per key, saying which layer set it. URLs in
 * values (internal indexes may carry tokens) are redacted here, since `--json` prints them as is.
 */
export function provenanceFindings(loaded: LoadedPolicy): Array<{ status: "ok"; area: string; finding: string; key: string; value: unknown; from: PolicyOrigin }> {
  return policyProvenance(loaded).map((v) => {
    const value: unknown = v.value === undefined ? null : JSON.parse(redactText(JSON.stringify(v.value)));
    return { status: "ok", area: "policy value", finding: `${v.key} = ${v.value === undefined ? "(none)" : JSON.stringify(value)} (${v.from})`, key: v.key, value, from: v.from };
  });
}
