/**
 * The age rules on top of the plain minimum age: per-name exemptions (`minAgeExclude`) and the
 * security-fix exemption. Pure functions; project.ts calls them while it filters a page.
 */
import { formatAge, formatDuration } from "../core/duration.js";
import { nameMatchesPattern } from "../core/names.js";
import type { Reason } from "../checks/types.js";
import type { MinAgeExclusion } from "../policy/age-keys.js";
import type { Policy } from "../policy/schema.js";
import type { DistFile } from "./model.js";
// A cycle with project.ts, harmless: compareVersions is only called, never read at load time.
import { compareVersions } from "./project.js";

/** The first exemption that names this project and has not expired (policy order decides). */
export function activeExclusion(entries: readonly MinAgeExclusion[], name: string, now: Date): MinAgeExclusion | undefined {
  return entries.find((e) => new Date(e.expires) > now && nameMatchesPattern(name, e.name));
}

export function describeExclusion(e: MinAgeExclusion): string {
  const age = e.minAgeMs ? `minimum age ${formatDuration(e.minAgeMs)}` : "exempt";
  return `minAgeExclude "${e.name}" (${age} until ${e.expires}: ${e.reason})`;
}

/**
 * The policy as it applies to one project: an active exemption replaces `minAge` by its own
 * (shorter) one, or by none. Nothing else changes: the snapshot, `unknownAge` and `internalAge`
 * stay, because a snapshot is an explicit "as of that date" and must reproduce.
 */
export function agePolicyFor(policy: Policy, name: string, now: Date): { policy: Policy; exclusion?: MinAgeExclusion } {
  const exclusion = activeExclusion(policy.minAgeExclude, name, now);
  if (!exclusion) return { policy };
  const minAgeMs = Math.min(policy.minAgeMs, exclusion.minAgeMs ?? 0);
  return { policy: { ...policy, minAgeMs }, exclusion };
}

/** Whether the file is younger than the plain `minAge` (and dated, and inside any snapshot). */
export function tooYoungOnly(file: DistFile, policy: Pick<Policy, "minAgeMs" | "snapshot">, now: Date): boolean {
  if (!file.uploadTime || policy.minAgeMs <= 0) return false;
  const uploaded = new Date(file.uploadTime);
  if (policy.snapshot && uploaded >= policy.snapshot) return false;
  return uploaded.getTime() > now.getTime() - policy.minAgeMs;
}

/**
 * Adds the exemption to an age reason: a block under a shortened minimum says which entry
 * shortened it; a file the exemption let through gets a warning, so the plan and the report show
 * that a young file was installed and on whose say-so.
 */
export function exclusionReason(file: DistFile, base: Policy, exclusion: MinAgeExclusion, blocked: Reason | undefined, now: Date): Reason | undefined {
  if (blocked) return { ...blocked, message: `${blocked.message}, under ${describeExclusion(exclusion)}` };
  if (!tooYoungOnly(file, base, now)) return undefined;
  const age = formatAge(now.getTime() - new Date(file.uploadTime!).getTime());
  return { check: "age", verdict: "warn", message: `uploaded ${age} ago, younger than minAge ${formatDuration(base.minAgeMs)}: allowed by ${describeExclusion(exclusion)}` };
}

/** What security-fix detection needs to know about one version of a project. */
export interface FixCandidate {
  version: string;
  yanked: boolean;
  /** Every file is held back by minAge alone (dated, inside any snapshot), and there is one. */
  youngOnly: boolean;
  /** Whether some file is offered already. */
  served: boolean;
  /** Release checks (OSV, deny, licence…) for this version. */
  checks: Reason[];
  /** Earliest upload time, for the message. */
  uploadTime?: string | undefined;
}

/** Advisories that could be "fixed" by a newer release: real vulnerabilities, never malware. */
function fixableIds(checks: readonly Reason[]): string[] {
  return checks.filter((r) => r.check === "osv" && r.verdict === "block" && r.id && !r.id.startsWith("MAL-")).map((r) => r.id!);
}

/**
 * The security-fix exemption: a release held back only by minAge is offered anyway when every
 * older release is blocked by an OSV advisory that this release is not affected by, i.e. it is
 * the fix and without it nothing safe could be installed. Only the oldest such release
 * qualifies (a newer one has an unaffected release below it), the release itself must pass every
 * other check, and malware records never count. Returns the warning to attach, per version.
 */
export function securityFixes(candidates: readonly FixCandidate[], minAgeMs: number, now: Date): Map<string, Reason> {
  const out = new Map<string, Reason>();
  const live = candidates.filter((c) => !c.yanked).sort((a, b) => compareVersions(a.version, b.version));
  for (let i = 0; i < live.length; i++) {
    const c = live[i]!;
    if (!c.youngOnly || c.served) continue;
    if (c.checks.some((r) => r.verdict === "block")) continue;
    const older = live.slice(0, i);
    if (older.length === 0) continue;
    const own = new Set(c.checks.map((r) => r.id).filter((x) => x !== undefined));
    const perOlder = older.map((o) => fixableIds(o.checks).filter((id) => !own.has(id)));
    if (perOlder.some((ids) => ids.length === 0)) continue;
    const everywhere = perOlder.reduce((acc, ids) => acc.filter((id) => ids.includes(id)));
    const all = [...new Set(perOlder.flat())].sort();
    const age = c.uploadTime ? `uploaded ${formatAge(now.getTime() - new Date(c.uploadTime).getTime())} ago` : "too young";
    const what =
      everywhere.length > 0
        ? `fixes ${everywhere.join(", ")} which affects every older release`
        : `fixes ${all.join(", ")}; every older release has one of them`;
    out.set(c.version, {
      check: "age",
      verdict: "warn",
      id: everywhere[0] ?? all[0],
      message: `using ${c.version} although ${age} (minimum age ${formatDuration(minAgeMs)}): ${what}`,
    });
  }
  return out;
}

/** One version while project.ts filters a page: offered files, files held back, reasons so far. */
export interface AgeEntry {
  files: DistFile[];
  /** Files held back by the age rules, kept so an exemption can still offer them. */
  held: DistFile[];
  reasons: Reason[];
  upload?: string | undefined;
  yanked: boolean;
}

function youngOnly(e: AgeEntry, policy: Policy, now: Date): boolean {
  return e.files.length === 0 && e.held.length > 0 && e.held.every((f) => tooYoungOnly(f, policy, now));
}

/**
 * Versions the security-fix exemption might offer, so their release checks can run too. Asked
 * after the offered versions were checked, and only when every older one is already blocked by an
 * advisory, so a project with young releases costs no extra OSV lookups in the usual case.
 */
export function fixCandidateVersions(byVersion: ReadonlyMap<string, AgeEntry>, checked: ReadonlyMap<string, Reason[]>, policy: Policy, now: Date): string[] {
  if (policy.ageSecurityFixes !== "allow") return [];
  const live = [...byVersion].filter(([, e]) => !e.yanked).sort(([a], [b]) => compareVersions(a, b));
  const out: string[] = [];
  for (let i = 0; i < live.length; i++) {
    const [version, e] = live[i]!;
    if (!youngOnly(e, policy, now)) continue;
    const older = live.slice(0, i).filter(([, o]) => !youngOnly(o, policy, now));
    if (older.length > 0 && older.every(([v]) => fixableIds(checked.get(v) ?? []).length > 0)) out.push(version);
  }
  return out;
}

/** Offers the held files of each version that `securityFixes` picks, with its warning. */
export function applySecurityFixes(byVersion: Map<string, AgeEntry>, checked: ReadonlyMap<string, Reason[]>, policy: Policy, now: Date): void {
  if (policy.ageSecurityFixes !== "allow") return;
  const candidates: FixCandidate[] = [...byVersion].map(([version, e]) => ({
    version,
    yanked: e.yanked,
    youngOnly: youngOnly(e, policy, now),
    served: e.files.length > 0,
    checks: checked.get(version) ?? [],
    uploadTime: e.upload,
  }));
  for (const [version, reason] of securityFixes(candidates, policy.minAgeMs, now)) {
    const e = byVersion.get(version)!;
    e.files = e.held;
    e.held = [];
    e.reasons = [...e.reasons.filter((r) => !(r.check === "age" && r.verdict === "block")), reason];
  }
}
