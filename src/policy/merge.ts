import { DEFAULT_POLICY, type AllowDenyEntry, type OsvPolicy, type Policy, type PolicyLayer } from "./schema.js";
import { normalizeName } from "../core/names.js";
import { AGE_DEFAULTS, mergeAgeKeys } from "./age-keys.js";

const rank = <T extends string>(order: readonly T[], v: T | undefined) => (v === undefined ? -1 : order.indexOf(v));

/** The stricter of two enumerated settings; `order` goes from loosest to strictest. */
function stricter<T extends string>(order: readonly T[], floor: T | undefined, user: T | undefined): T | undefined {
  return rank(order, user) > rank(order, floor) ? user : floor;
}

/** `expires` of a combined entry: the earlier one, since an expired floor entry stops allowing. */
function earlier(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Date(a) < new Date(b) ? a : b;
}

/**
 * Curated mode, narrowed: a name stays allowed only when both lists allow it, and then only the
 * versions both allow. Each pair of entries for one name becomes one entry whose specifiers are
 * joined with "," (PEP 440 and the R constraint syntax both read that as "and").
 */
function intersectAllow(a: AllowDenyEntry[] | undefined, b: AllowDenyEntry[] | undefined): AllowDenyEntry[] | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: AllowDenyEntry[] = [];
  for (const f of a)
    for (const u of b) {
      if (normalizeName(f.name) !== normalizeName(u.name) && f.name !== u.name) continue;
      const versions = [f.versions, u.versions].map((v) => v.trim()).filter(Boolean).join(", ");
      const entry: AllowDenyEntry = { name: f.name, versions };
      const reason = f.reason ?? u.reason;
      if (reason !== undefined) entry.reason = reason;
      const expires = earlier(f.expires, u.expires);
      if (expires !== undefined) entry.expires = expires;
      out.push(entry);
    }
  return out;
}

const globToRe = (p: string) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$", "i");

/**
 * Licence allow lists, narrowed: an item of one list stays when the other list accepts it as
 * written (`BSD-3-Clause` under `BSD-*`, or `BSD-*` under `B*`), so the result accepts only
 * licences both accept. It may accept fewer than both would (fail closed), never more.
 */
function intersectLicenses(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!a) return b;
  if (!b) return a;
  const keep = (xs: string[], ys: string[]) => xs.filter((x) => ys.some((y) => globToRe(y).test(x)));
  return [...new Set([...keep(a, b), ...keep(b, a)])];
}

/** "0" means "no limit" for maxStaleness, so it is the loosest value, not the smallest. */
const noLimitIsLoosest = (v: number) => (v === 0 ? Infinity : v);

/**
 * Keys a lower layer's internal routes or index would let it bypass: once the floor sets any of
 * them, only the floor chooses where packages come from. An internal route exempts its names from
 * the public index, the age rule and the typosquat check, and an index the user picks supplies the
 * upload times the age rule trusts.
 */
const PIP_SOURCE_GUARDS = ["index", "internal", "minAgeMs", "snapshot", "unknownAge", "internalAge", "typosquat"] as const;
const CRAN_SOURCE_GUARDS = ["minAgeMs", "snapshot", "unknownAge", "internalAge"] as const;
/** OSV keys that choose where advisories come from: the floor's, once it sets any `osv` key. */
const OSV_ENDPOINTS = ["source", "url", "database", "exportUrl"] as const;

type Ctx = { floor: PolicyLayer; user: PolicyLayer; out: PolicyLayer; warn: (m: string) => void };
type Rule = (c: Ctx) => void;

const set = <K extends keyof PolicyLayer>(out: PolicyLayer, key: K, value: PolicyLayer[K] | undefined) => {
  if (value === undefined) delete out[key];
  else out[key] = value;
};

const enumRule =
  <K extends "unknownAge" | "internalAge" | "directReferences" | "unknownLicense" | "typosquat">(key: K, order: readonly NonNullable<PolicyLayer[K]>[]): Rule =>
  ({ floor, user, out, warn }) => {
    const v = stricter(order, floor[key], user[key]);
    if (user[key] !== undefined && v !== user[key]) warn(`"${key}": "${String(user[key])}" is looser than the system policy's "${String(floor[key])}"; the system value is kept`);
    set(out, key, v as PolicyLayer[K]);
  };

function pipSourcesFixed(floor: PolicyLayer): boolean {
  return PIP_SOURCE_GUARDS.some((k) => floor[k] !== undefined);
}

/**
 * One rule per policy key: how a lower layer (the user's policy, command-line flags) combines with
 * the floor (the system policy). Every rule may tighten and never loosen.
 *
 * Extension point: a key added to PolicyLayer gets its rule here. A key with no rule keeps the
 * floor's value, and a lower layer's value for it is ignored with a warning (see mergeLayers):
 * a new key is treated as able to loosen until someone decides otherwise.
 */
export const FLOOR_RULES: Partial<Record<keyof PolicyLayer, Rule>> = {
  index({ floor, user, out, warn }) {
    if (user.index === undefined || user.index === floor.index) return;
    if (pipSourcesFixed(floor)) warn(`the system policy chooses the package sources; the user's "index" is ignored`);
    else out.index = user.index;
  },
  internal({ floor, user, out, warn }) {
    if (!user.internal?.length) return;
    if (pipSourcesFixed(floor)) warn(`the system policy chooses the package sources; the user's "internal" routes are ignored`);
    else out.internal = user.internal;
  },
  minAgeMs({ floor, user, out, warn }) {
    if (user.minAgeMs === undefined) return;
    if (floor.minAgeMs !== undefined && user.minAgeMs < floor.minAgeMs) warn(`"minAge" cannot be lowered below the system policy's; the system value is kept`);
    out.minAgeMs = Math.max(user.minAgeMs, floor.minAgeMs ?? 0);
  },
  unknownAge: enumRule("unknownAge", ["allow", "block"]),
  internalAge: enumRule("internalAge", ["exempt", "enforce"]),
  directReferences: enumRule("directReferences", ["allow", "block"]),
  unknownLicense: enumRule("unknownLicense", ["allow", "block"]),
  typosquat: enumRule("typosquat", ["off", "warn", "block"]),
  snapshot({ floor, user, out }) {
    // An earlier cutoff is stricter; a user snapshot can only add a cutoff (ageCutoff takes the earlier).
    if (user.snapshot !== undefined) out.snapshot = floor.snapshot && floor.snapshot < user.snapshot ? floor.snapshot : user.snapshot;
  },
  timeoutMs({ floor, user, out, warn }) {
    // A short timeout turns checks into outages; with "onError": "warn" that would skip OSV.
    if (user.timeoutMs === undefined) return;
    if (floor.timeoutMs !== undefined && user.timeoutMs < floor.timeoutMs) warn(`"timeout" cannot be lowered below the system policy's; the system value is kept`);
    out.timeoutMs = Math.max(user.timeoutMs, floor.timeoutMs ?? 0);
  },
  maxPageBytes({ floor, user, out }) {
    if (user.maxPageBytes !== undefined) out.maxPageBytes = Math.min(user.maxPageBytes, floor.maxPageBytes ?? Infinity);
  },
  allow({ floor, user, out }) {
    if (user.allow !== undefined || floor.allow !== undefined) set(out, "allow", intersectAllow(floor.allow, user.allow));
  },
  deny({ floor, user, out }) {
    if (user.deny) out.deny = [...(floor.deny ?? []), ...user.deny];
  },
  licenses({ floor, user, out }) {
    if (!user.licenses) return;
    const allow = intersectLicenses(floor.licenses?.allow, user.licenses.allow);
    out.licenses = { deny: [...(floor.licenses?.deny ?? []), ...(user.licenses.deny ?? [])], ...(allow ? { allow } : {}) };
  },
  osv({ floor, user, out, warn }) {
    if (!user.osv) return;
    const f = floor.osv;
    const u = user.osv;
    const osv: Partial<OsvPolicy> = { ...f };
    if (f === undefined) Object.assign(osv, u);
    else {
      // The system says something about OSV: it alone chooses where advisories come from.
      const moved = OSV_ENDPOINTS.filter((k) => u[k] !== undefined && u[k] !== f[k]);
      if (moved.length) warn(`the system policy sets "osv"; the user's ${moved.map((k) => `"osv.${k}"`).join(", ")} ignored`);
      if (u.cacheTtlMs !== undefined) osv.cacheTtlMs = Math.min(u.cacheTtlMs, f.cacheTtlMs ?? DEFAULT_POLICY.osv.cacheTtlMs);
      if (u.maxStalenessMs !== undefined) {
        const limit = f.maxStalenessMs ?? DEFAULT_POLICY.osv.maxStalenessMs;
        osv.maxStalenessMs = noLimitIsLoosest(u.maxStalenessMs) < noLimitIsLoosest(limit) ? u.maxStalenessMs : limit;
      }
      const onError = stricter(["warn", "block"] as const, f.onError ?? DEFAULT_POLICY.osv.onError, u.onError);
      if (onError !== undefined) osv.onError = onError;
      if (u.ignore?.length) warn(`the system policy sets "osv"; the user's "osv.ignore" entries are ignored`);
    }
    out.osv = osv;
  },
  cran({ floor, user, out, warn }) {
    if (!user.cran) return;
    const f = floor.cran ?? {};
    const fixed = f.repo !== undefined || f.internal !== undefined || f.snapshot !== undefined || CRAN_SOURCE_GUARDS.some((k) => floor[k] !== undefined);
    const u = user.cran;
    const moved = (["repo", "internal", "snapshot"] as const).filter((k) => u[k] !== undefined && JSON.stringify(u[k]) !== JSON.stringify(f[k]));
    if (fixed && moved.length) warn(`the system policy chooses the CRAN sources; the user's ${moved.map((k) => `"cran.${k}"`).join(", ")} ignored`);
    out.cran = fixed ? { ...f } : { ...f, ...u };
  },
  // Age exemptions loosen the age rule, so a user's entries stand only while the system says
  // nothing about age; "block" of the security-fix exemption wins (src/policy/age-keys.ts).
  minAgeExclude({ floor, user, out, warn }) {
    const merged = mergeAgeKeys(floor, { minAgeExclude: user.minAgeExclude }, []);
    if (user.minAgeExclude?.length && merged.minAgeExclude !== user.minAgeExclude) warn(`the system policy sets "minAge"; the user's "minAgeExclude" entries are ignored`);
    set(out, "minAgeExclude", merged.minAgeExclude);
  },
  ageSecurityFixes({ floor, user, out }) {
    set(out, "ageSecurityFixes", mergeAgeKeys(floor, { ageSecurityFixes: user.ageSecurityFixes }, []).ageSecurityFixes);
  },
};

/**
 * Combines an authoritative layer (`floor`: the system policy) with a layer below it (the user's
 * policy, or command-line flags). The lower layer may tighten any setting and never loosen one;
 * FLOOR_RULES says what "tighter" means per key.
 */
export function mergeLayers(floor: PolicyLayer, user: PolicyLayer, warnings: string[]): PolicyLayer {
  const out: PolicyLayer = { ...floor };
  const ctx: Ctx = { floor, user, out, warn: (m) => warnings.push(m) };
  for (const key of Object.keys(user) as Array<keyof PolicyLayer>) {
    if (user[key] === undefined) continue;
    const rule = FLOOR_RULES[key];
    if (rule) rule(ctx);
    else warnings.push(`"${String(key)}" has no floor rule yet, so only the system policy may set it; the user value is ignored`);
  }
  return out;
}

/** Fills every unset setting with its default. */
export function resolvePolicy(layer: PolicyLayer): Policy {
  const d = DEFAULT_POLICY;
  return {
    index: layer.index ?? d.index,
    internal: layer.internal ?? d.internal,
    minAgeMs: layer.minAgeMs ?? d.minAgeMs,
    unknownAge: layer.unknownAge ?? d.unknownAge,
    internalAge: layer.internalAge ?? d.internalAge,
    snapshot: layer.snapshot,
    directReferences: layer.directReferences ?? d.directReferences,
    timeoutMs: layer.timeoutMs ?? d.timeoutMs,
    maxPageBytes: layer.maxPageBytes ?? d.maxPageBytes,
    osv: { ...d.osv, ...layer.osv },
    allow: layer.allow,
    deny: layer.deny ?? d.deny,
    licenses: { deny: layer.licenses?.deny ?? [], ...(layer.licenses?.allow ? { allow: layer.licenses.allow } : {}) },
    unknownLicense: layer.unknownLicense ?? d.unknownLicense,
    typosquat: layer.typosquat ?? d.typosquat,
    cran: { ...d.cran, ...layer.cran, internal: layer.cran?.internal ?? d.cran.internal },
    minAgeExclude: layer.minAgeExclude ?? AGE_DEFAULTS.minAgeExclude,
    ageSecurityFixes: layer.ageSecurityFixes ?? AGE_DEFAULTS.ageSecurityFixes,
  };
}
