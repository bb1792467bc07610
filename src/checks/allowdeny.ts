import { satisfies, validRange } from "@renovatebot/pep440";
import { normalizeName } from "../core/names.js";
import type { AllowDenyEntry } from "../policy/schema.js";
import type { Ecosystem } from "./release.js";
import type { Reason } from "./types.js";
import { satisfies as rSatisfies, type ConstraintOp } from "../r/versions.js";

/** An entry whose `expires` date has passed no longer applies (exceptions expire, like osv-scanner's). */
export function activeEntries(entries: AllowDenyEntry[], now: Date): AllowDenyEntry[] {
  return entries.filter((e) => !e.expires || new Date(e.expires) > now);
}

function sameName(ecosystem: Ecosystem, a: string, b: string): boolean {
  // CRAN names are case-sensitive; PyPI names compare after PEP 503 normalisation.
  return ecosystem === "PyPI" ? normalizeName(a) === normalizeName(b) : a === b;
}

/** Whether a version matches an entry's specifier; an empty specifier matches every version. */
export function versionMatches(ecosystem: Ecosystem, version: string | undefined, spec: string): boolean {
  if (!spec.trim()) return true;
  if (version === undefined) return false;
  if (ecosystem === "PyPI") return validRange(spec) ? satisfies(version, spec, { prereleases: true }) : false;
  return rVersionSatisfies(version, spec);
}

/** R-style constraints in a policy entry: ">= 1.2", "< 2.0, != 1.5-1"; a bare version means "==". */
function rVersionSatisfies(version: string, spec: string): boolean {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .every((clause) => {
      const m = /^(>=|<=|==|!=|>|<)?\s*(\S+)$/.exec(clause);
      return m !== null && rSatisfies(version, { op: (m[1] ?? "==") as ConstraintOp, version: m[2]! });
    });
}

function label(e: AllowDenyEntry): string {
  return `${e.name}${e.versions ? ` ${e.versions}` : ""}`;
}

/**
 * Curated mode: when an allow list exists, only names on it may be installed (dependencies too);
 * a listed name with a specifier allows only those versions. Internal packages are checked too.
 */
export function checkAllow(ecosystem: Ecosystem, name: string, version: string | undefined, allow: AllowDenyEntry[] | undefined): Reason[] {
  if (!allow) return [];
  const entries = allow.filter((e) => sameName(ecosystem, e.name, name));
  if (!entries.length) return [{ check: "allow", verdict: "block", message: `${name} is not on the policy's allow list (curated mode)` }];
  if (version === undefined) return [];
  if (entries.some((e) => versionMatches(ecosystem, version, e.versions))) return [];
  return [{ check: "allow", verdict: "block", message: `the allow list permits only ${entries.map(label).join(", ")}` }];
}

export function checkDeny(ecosystem: Ecosystem, name: string, version: string | undefined, deny: AllowDenyEntry[]): Reason[] {
  return deny
    .filter((e) => sameName(ecosystem, e.name, name))
    .filter((e) => (version === undefined ? !e.versions.trim() : versionMatches(ecosystem, version, e.versions)))
    .map((e) => ({ check: "deny" as const, verdict: "block" as const, message: `denied by policy (${label(e)})${e.reason ? `: ${e.reason}` : ""}` }));
}
