/**
 * A project's own history as evidence against a name-only typosquat match.
 *
 * The name check (typosquat.ts) sees only the name, so an old, legitimate project whose name
 * happens to sit one typo away from a popular one (`matpack` → msgpack, one key away) is
 * blocked like a fresh squat. Once the upstream page is read, its files carry PEP 700 upload times,
 * and those are the one thing a squatter can't fake: PyPI stamps them on upload, so nobody can
 * backdate a release. Squats are typically reported and removed within days or weeks, so a name
 * that has been publishing for years is very unlikely to be one.
 *
 * The rule (both must hold), and why:
 * - the first upload is at least HISTORY_MIN_AGE_DAYS (a year) old: a squatter would have to
 *   register the name a year ahead and survive PyPI's malware reports for that long;
 * - at least HISTORY_MIN_RELEASES (5) releases are each at least HISTORY_SETTLED_DAYS (30) old: a
 *   name registered long ago and left with one placeholder release (a dormant squat) doesn't count,
 *   and a burst of releases pushed just before striking doesn't count either.
 * Then a typosquat block becomes a warning whose message says why; nothing else changes, and the
 * minimum-age, OSV and other checks still apply to every release. Without upload times (an
 * HTML-only upstream) nothing is softened: no evidence, no exception.
 */
import type { Reason } from "./types.js";

export const HISTORY_MIN_AGE_DAYS = 365;
export const HISTORY_MIN_RELEASES = 5;
export const HISTORY_SETTLED_DAYS = 30;

const DAY_MS = 86_400_000;

/** One file of the project page: the release it belongs to and its upload time, as served. */
export interface HistoryFile {
  version: string | undefined;
  uploadTime?: string | undefined;
}

export interface ProjectHistory {
  firstUpload: Date | undefined;
  /** Releases whose first file is at least HISTORY_SETTLED_DAYS old. */
  settledReleases: number;
}

// RFC 3339 only (what PEP 700 specifies). Date.parse alone would take "1" or "2024" as an old
// date, and an upstream could then make a fresh name look years old.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parseTime(s: string | undefined): number | undefined {
  if (!s || !RFC3339.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

/** The project's history from its page: first upload, and how many releases have settled. */
export function projectHistory(files: readonly HistoryFile[], now: Date): ProjectHistory {
  const firstOf = new Map<string, number>();
  let first: number | undefined;
  for (const f of files) {
    const t = parseTime(f.uploadTime);
    // A time in the future is no evidence of anything.
    if (t === undefined || t > now.getTime() || !f.version) continue;
    if (first === undefined || t < first) first = t;
    const prev = firstOf.get(f.version);
    if (prev === undefined || t < prev) firstOf.set(f.version, t);
  }
  const settledBefore = now.getTime() - HISTORY_SETTLED_DAYS * DAY_MS;
  const settledReleases = [...firstOf.values()].filter((t) => t <= settledBefore).length;
  return { firstUpload: first === undefined ? undefined : new Date(first), settledReleases };
}

/** Whether the history is long enough to outweigh a name-only match. */
export function historyOutweighsName(h: ProjectHistory, now: Date): boolean {
  if (!h.firstUpload) return false;
  const ageDays = (now.getTime() - h.firstUpload.getTime()) / DAY_MS;
  return ageDays >= HISTORY_MIN_AGE_DAYS && h.settledReleases >= HISTORY_MIN_RELEASES;
}

function years(ms: number): string {
  const y = Math.floor(ms / (365.25 * DAY_MS));
  return y === 1 ? "1 year" : `${y} years`;
}

/**
 * Turns typosquat blocks into warnings when the project's own history outweighs its name (see
 * above); every other reason is returned as it is.
 */
export function softenByHistory(reasons: Reason[], files: readonly HistoryFile[], now: Date): Reason[] {
  if (!reasons.some((r) => r.check === "typosquat" && r.verdict === "block")) return reasons;
  const h = projectHistory(files, now);
  if (!historyOutweighsName(h, now)) return reasons;
  const since = `${h.firstUpload!.toISOString().slice(0, 10)}, ${years(now.getTime() - h.firstUpload!.getTime())} ago`;
  return reasons.map((r) =>
    r.check === "typosquat" && r.verdict === "block"
      ? { ...r, verdict: "warn", message: `${r.message} Warned, not blocked: the project's own history (first upload ${since}; ${h.settledReleases} releases) outweighs the name.` }
      : r,
  );
}
