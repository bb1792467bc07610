import { DEFAULT_POLICY, type AllowDenyEntry, type Policy, type PolicyLayer } from "./schema.js";
import { normalizeName } from "../core/names.js";
import { AGE_DEFAULTS, mergeAgeKeys } from "./age-keys.js";

const rank = <T extends string>(order: readonly T[], v: T | undefined) => (v === undefined ? -1 : order.indexOf(v));

/** The stricter of two enumerated settings; `order` goes from loosest to strictest. */
function stricter<T extends string>(order: readonly T[], floor: T | undefined, user: T | undefined): T | undefined {
  return rank(order, user) > rank(order, floor) ? user : floor;
}

function intersectAllow(a: AllowDenyEntry[] | undefined, b: AllowDenyEntry[] | undefined): AllowDenyEntry[] | undefined {
  if (!a) return b;
  if (!b) return a;
  const names = new Set(b.map((e) => normalizeName(e.name)));
  return a.filter((e) => names.has(normalizeName(e.name)));
}

/**
 * Combines an authoritative layer (`floor`: the system policy) with a layer below it (the user's
 * policy, or command-line flags). The lower layer may tighten any setting and never loosen one:
 * larger minAge, earlier snapshot, "block" over "allow", deny lists united, allow lists intersected.
 * Settings that choose a source (index, CRAN repo) belong to the floor when it sets them.
 */
export function mergeLayers(floor: PolicyLayer, user: PolicyLayer, warnings: string[]): PolicyLayer {
  const out: PolicyLayer = { ...floor, ...mergeAgeKeys(floor, user, warnings) };
  const pick = <K extends keyof PolicyLayer>(key: K, value: PolicyLayer[K] | undefined) => {
    if (value === undefined) delete out[key];
    else out[key] = value;
  };

  if (user.index !== undefined) {
    if (floor.index !== undefined && floor.index !== user.index)
      warnings.push(`the system policy fixes "index"; the user value is ignored`);
    else out.index = user.index;
  }
  if (user.internal) out.internal = [...(floor.internal ?? []), ...user.internal];
  if (user.minAgeMs !== undefined) {
    if (floor.minAgeMs !== undefined && user.minAgeMs < floor.minAgeMs)
      warnings.push(`"minAge" cannot be lowered below the system policy's; the system value is kept`);
    out.minAgeMs = Math.max(user.minAgeMs, floor.minAgeMs ?? 0);
  }
  pick("unknownAge", stricter(["allow", "block"] as const, floor.unknownAge, user.unknownAge));
  pick("internalAge", stricter(["exempt", "enforce"] as const, floor.internalAge, user.internalAge));
  pick("directReferences", stricter(["allow", "block"] as const, floor.directReferences, user.directReferences));
  pick("unknownLicense", stricter(["allow", "block"] as const, floor.unknownLicense, user.unknownLicense));
  pick("typosquat", stricter(["off", "warn", "block"] as const, floor.typosquat, user.typosquat));
  if (user.snapshot !== undefined)
    out.snapshot = floor.snapshot && floor.snapshot < user.snapshot ? floor.snapshot : user.snapshot;
  if (user.timeoutMs !== undefined) out.timeoutMs = user.timeoutMs;
  if (user.maxPageBytes !== undefined) out.maxPageBytes = Math.min(user.maxPageBytes, floor.maxPageBytes ?? Infinity);
  if (user.allow !== undefined || floor.allow !== undefined) pick("allow", intersectAllow(floor.allow, user.allow));
  if (user.deny) out.deny = [...(floor.deny ?? []), ...user.deny];
  if (user.licenses) {
    const allow = intersectList(floor.licenses?.allow, user.licenses.allow);
    out.licenses = { deny: [...(floor.licenses?.deny ?? []), ...(user.licenses.deny ?? [])], ...(allow ? { allow } : {}) };
  }
  if (user.osv) {
    const f = floor.osv ?? {};
    const u = user.osv;
    const osv = { ...f };
    if (u.source !== undefined) {
      if (f.source !== undefined && f.source !== "off" && u.source === "off")
        warnings.push(`the system policy requires OSV checks; "osv.source": "off" is ignored`);
      else osv.source = u.source;
    }
    for (const k of ["url", "database", "exportUrl", "cacheTtlMs", "maxStalenessMs"] as const) {
      if (u[k] !== undefined && (f[k] === undefined || k === "cacheTtlMs")) (osv as Record<string, unknown>)[k] = u[k];
    }
    if (u.maxStalenessMs !== undefined && f.maxStalenessMs !== undefined)
      osv.maxStalenessMs = Math.min(u.maxStalenessMs, f.maxStalenessMs);
    osv.onError = stricter(["warn", "block"] as const, f.onError, u.onError);
    if (osv.onError === undefined) delete osv.onError;
    if (u.ignore?.length) {
      if (floor.osv !== undefined) warnings.push(`the system policy sets "osv"; the user's "osv.ignore" entries are ignored`);
      else osv.ignore = [...(f.ignore ?? []), ...u.ignore];
    }
    out.osv = osv;
  }
  if (user.cran) {
    const f = floor.cran ?? {};
    out.cran = {
      ...f,
      ...(f.repo === undefined && user.cran.repo !== undefined ? { repo: user.cran.repo } : {}),
      ...(f.snapshot === undefined && user.cran.snapshot !== undefined ? { snapshot: user.cran.snapshot } : {}),
      ...(user.cran.internal ? { internal: [...(f.internal ?? []), ...user.cran.internal] } : {}),
    };
  }
  return out;
}

function intersectList(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.filter((x) => b.includes(x));
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
