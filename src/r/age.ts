import type { Policy } from "../policy/schema.js";
import type { Reason } from "../checks/types.js";
import { formatAge, formatDuration } from "../core/duration.js";
import { ageCutoff as indexAgeCutoff } from "../index/project.js";

/**
 * CRAN writes `Date/Publication` when it accepts a package, in UTC (`2023-01-15 10:20:03 UTC`;
 * very old packages have no zone, and a few have only a date). `Packaged` and `Date` are set by the
 * author and never used. Returns undefined for anything else.
 */
export function parsePublication(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?\s*(UTC|GMT|Z)?$/i.exec(text.trim());
  if (!m) return undefined;
  const d = new Date(`${m[1]}T${m[2] ?? "00:00:00"}${m[2]?.length === 5 ? ":00" : ""}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The newest instant a release may have been published at and still be offered (the pip index's rule). */
export function ageCutoff(policy: Pick<Policy, "minAgeMs" | "snapshot">, now: number): Date {
  return indexAgeCutoff(policy as Policy, new Date(now)) ?? new Date(now);
}

/**
 * The public repository URL for a date-snapshot template (Posit Package Manager's
 * `https://packagemanager.posit.co/cran/{date}`). A snapshot named D may hold releases from any
 * time on day D, so the newest usable snapshot is the last day that ended before the cutoff.
 */
export function snapshotRepo(template: string, cutoff: Date): { url: string; date: string } {
  const endOfDay = Math.floor(cutoff.getTime() / 86400e3) * 86400e3;
  const date = new Date(endOfDay - 86400e3).toISOString().slice(0, 10);
  return { url: template.replaceAll("{date}", date), date };
}

/**
 * The age rule for one release: block when published after the cutoff, and follow `unknownAge`
 * when there is no trustworthy date.
 */
export function ageReasons(
  published: Date | undefined,
  policy: Pick<Policy, "minAgeMs" | "snapshot" | "unknownAge">,
  now: number,
): Reason[] {
  if (policy.minAgeMs <= 0 && !policy.snapshot) return [];
  if (!published) {
    return [
      policy.unknownAge === "allow"
        ? { check: "age", verdict: "warn", message: "publication date unknown (allowed by unknownAge)" }
        : { check: "age", verdict: "block", message: "publication date unknown, so its age cannot be checked (unknownAge: block)" },
    ];
  }
  const cutoff = ageCutoff(policy, now);
  if (published.getTime() < cutoff.getTime()) return [];
  const why =
    policy.snapshot && cutoff.getTime() === policy.snapshot.getTime()
      ? `published ${published.toISOString().slice(0, 10)}, after the snapshot cutoff ${policy.snapshot.toISOString().slice(0, 16).replace("T", " ")} UTC`
      : `published ${formatAge(now - published.getTime())} ago (minimum age ${formatDuration(policy.minAgeMs)})`;
  return [{ check: "age", verdict: "block", message: why }];
}
