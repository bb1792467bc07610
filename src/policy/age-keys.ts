/**
 * The age-rule policy keys (`minAgeExclude`, `ageSecurityFixes`) and the per-run snapshot from the
 * environment: parsing, the floor rule and defaults, kept apart from schema.ts/merge.ts so those
 * files only call in here.
 */
import { parseDuration } from "../core/duration.js";
import { envValue, type Env } from "../core/env.js";
import { SafePipError } from "../core/errors.js";

/** One exemption from the minimum age: a name or `*` pattern, until a date, for a stated reason. */
export interface MinAgeExclusion {
  name: string;
  /** ISO date; from that instant on the entry no longer applies (like deny entries' `expires`). */
  expires: string;
  reason: string;
  /** A shorter minimum age for these names instead of none at all. */
  minAgeMs?: number | undefined;
}

export interface AgeKeys {
  minAgeExclude?: MinAgeExclusion[];
  ageSecurityFixes?: "allow" | "block";
}

export const AGE_KEY_NAMES = ["minAgeExclude", "ageSecurityFixes"] as const;

export const AGE_DEFAULTS: Required<AgeKeys> = { minAgeExclude: [], ageSecurityFixes: "allow" };

type Fail = (key: string, message: string) => never;

/**
 * Reads the age keys of one policy layer. Both `expires` and `reason` are required: an exemption
 * from a security rule that never ends, or that nobody can explain later, is what audits flag.
 */
export function parseAgeKeys(o: Record<string, unknown>, fail: Fail): AgeKeys {
  const out: AgeKeys = {};
  if (o.minAgeExclude !== undefined) {
    const v = o.minAgeExclude;
    if (!Array.isArray(v)) fail("minAgeExclude", 'must be a list of {"name", "expires", "reason", "minAge"}');
    out.minAgeExclude = v.map((item: unknown, i) => {
      const k = `minAgeExclude[${i}]`;
      if (typeof item !== "object" || item === null || Array.isArray(item)) fail(k, 'must be {"name", "expires", "reason"}');
      const e = item as Record<string, unknown>;
      for (const extra of Object.keys(e)) if (!["name", "expires", "reason", "minAge"].includes(extra)) fail(`${k}.${extra}`, "is not a known key");
      const text = (key: string): string => {
        const s = e[key];
        if (typeof s !== "string" || s.trim() === "") fail(`${k}.${key}`, "must be a non-empty string");
        return s;
      };
      const name = text("name");
      if (!/^[A-Za-z0-9*][A-Za-z0-9._*-]*$/.test(name)) fail(`${k}.name`, `"${name}" is not a package name or * pattern`);
      const expires = text("expires");
      if (Number.isNaN(new Date(expires).getTime())) fail(`${k}.expires`, `"${expires}" is not a date`);
      const entry: MinAgeExclusion = { name, expires, reason: text("reason") };
      if (e.minAge !== undefined) {
        const ms = typeof e.minAge === "string" || typeof e.minAge === "number" ? parseDuration(e.minAge) : undefined;
        if (ms === undefined) fail(`${k}.minAge`, `"${String(e.minAge)}" is not a duration (use 0, 36h, 7d, 2w or ISO 8601 such as P7D)`);
        entry.minAgeMs = ms;
      }
      return entry;
    });
  }
  if (o.ageSecurityFixes !== undefined) {
    if (o.ageSecurityFixes !== "allow" && o.ageSecurityFixes !== "block") fail("ageSecurityFixes", 'must be one of "allow", "block"');
    out.ageSecurityFixes = o.ageSecurityFixes;
  }
  return out;
}

/**
 * The floor rule. A system policy that sets `minAge` or `minAgeExclude` owns the exemptions: the
 * user's entries would lower the system's minimum age for those names, so they are ignored (with a
 * warning), like `osv.ignore` under a system `osv`. `ageSecurityFixes`: "block" wins.
 */
export function mergeAgeKeys(floor: AgeKeys & { minAgeMs?: number }, user: AgeKeys, warnings: string[]): AgeKeys {
  const out: AgeKeys = {};
  if (floor.minAgeExclude !== undefined) out.minAgeExclude = floor.minAgeExclude;
  if (user.minAgeExclude?.length) {
    if (floor.minAgeExclude !== undefined || floor.minAgeMs !== undefined)
      warnings.push(`the system policy sets "minAge"; the user's "minAgeExclude" entries are ignored`);
    else out.minAgeExclude = user.minAgeExclude;
  } else if (user.minAgeExclude !== undefined && out.minAgeExclude === undefined) out.minAgeExclude = [];
  const fixes = floor.ageSecurityFixes === "block" || user.ageSecurityFixes === "block" ? "block" : (user.ageSecurityFixes ?? floor.ageSecurityFixes);
  if (fixes !== undefined) out.ageSecurityFixes = fixes;
  return out;
}

/** One warning per expired exemption, so a stale entry is noticed and removed. */
export function expiredExclusionWarnings(entries: readonly MinAgeExclusion[], now: Date): string[] {
  return entries
    .filter((e) => new Date(e.expires) <= now)
    .map((e) => `minAgeExclude entry "${e.name}" expired on ${e.expires} and no longer applies`);
}

/**
 * `SAFE_PIP_SNAPSHOT=DATE` pins a CI job to a date without editing the policy. It is merged like
 * `--snapshot`, as one more lower layer, so it can only make the cutoff earlier.
 */
export function snapshotFromEnv(env: Env, parse: (v: string, key: string) => Date): Date | undefined {
  const value = envValue(env, "SNAPSHOT");
  if (value === undefined) return undefined;
  try {
    return parse(value.trim(), "SAFE_PIP_SNAPSHOT");
  } catch (err) {
    throw new SafePipError("CONFIG", `SAFE_PIP_SNAPSHOT: ${(err as Error).message}`);
  }
}
