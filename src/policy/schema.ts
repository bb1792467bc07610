import { parseDuration } from "../core/duration.js";
import { AGE_DEFAULTS, AGE_KEY_NAMES, parseAgeKeys, type AgeKeys, type MinAgeExclusion } from "./age-keys.js";

/** An internal index (pip) or repository (CRAN) and the names it owns. */
export interface InternalSource {
  url: string;
  /** Reserved name patterns (`acme-*`): never answered from the public upstream. */
  packages: string[];
  /** CRAN only: an index listing fewer names than before is accepted (those names stay reserved). */
  allowShrink?: boolean | undefined;
}

export type AllowDenyEntry = {
  name: string;
  /** PEP 440 specifier (pip) or R version constraint; empty means every version. */
  versions: string;
  reason?: string | undefined;
  /** ISO date after which the entry no longer applies. */
  expires?: string | undefined;
};

export interface OsvPolicy {
  source: "api" | "offline" | "off";
  url: string;
  database?: string | undefined;
  exportUrl?: string | undefined;
  cacheTtlMs: number;
  maxStalenessMs: number;
  ignore: Array<{ id: string; reason: string }>;
  onError: "block" | "warn";
}

export interface CranPolicy {
  repo: string;
  internal: InternalSource[];
  snapshot?: string | undefined;
}

/** The policy after loading, validation and merging: every field has its final value. */
export interface Policy {
  index: string;
  internal: InternalSource[];
  minAgeMs: number;
  unknownAge: "block" | "allow";
  internalAge: "exempt" | "enforce";
  /** Absolute cutoff: files uploaded at or after this instant are not offered. */
  snapshot?: Date | undefined;
  directReferences: "block" | "allow";
  timeoutMs: number;
  maxPageBytes: number;
  osv: OsvPolicy;
  allow?: AllowDenyEntry[] | undefined;
  deny: AllowDenyEntry[];
  licenses: { allow?: string[] | undefined; deny: string[] };
  unknownLicense: "allow" | "block";
  typosquat: "block" | "warn" | "off";
  cran: CranPolicy;
  /** Exemptions from minAge (age-keys.ts). */
  minAgeExclude: MinAgeExclusion[];
  /** Whether a too-young release that fixes an advisory affecting every older one is offered. */
  ageSecurityFixes: "allow" | "block";
}

export const DEFAULT_POLICY: Policy = {
  index: "https://pypi.org/simple/",
  internal: [],
  minAgeMs: 7 * 86400e3,
  unknownAge: "block",
  internalAge: "exempt",
  directReferences: "block",
  timeoutMs: 30_000,
  maxPageBytes: 32 * 1024 * 1024,
  osv: {
    source: "api",
    url: "https://api.osv.dev",
    cacheTtlMs: 6 * 3600e3,
    maxStalenessMs: 7 * 86400e3,
    ignore: [],
    onError: "block",
  },
  deny: [],
  licenses: { deny: [] },
  unknownLicense: "allow",
  typosquat: "block",
  cran: { repo: "https://cloud.r-project.org", internal: [] },
  ...AGE_DEFAULTS,
};

/** What one policy file may say; every key optional. */
export interface PolicyLayer extends AgeKeys {
  index?: string;
  internal?: InternalSource[];
  minAgeMs?: number;
  unknownAge?: "block" | "allow";
  internalAge?: "exempt" | "enforce";
  snapshot?: Date;
  directReferences?: "block" | "allow";
  timeoutMs?: number;
  maxPageBytes?: number;
  osv?: Partial<OsvPolicy>;
  allow?: AllowDenyEntry[];
  deny?: AllowDenyEntry[];
  licenses?: { allow?: string[]; deny?: string[] };
  unknownLicense?: "allow" | "block";
  typosquat?: "block" | "warn" | "off";
  cran?: Partial<CranPolicy>;
}

export const KNOWN_KEYS = [
  "$schema",
  "index",
  "internal",
  "minAge",
  "unknownAge",
  "internalAge",
  "snapshot",
  "directReferences",
  "timeout",
  "maxPageBytes",
  "osv",
  "allow",
  "deny",
  "licenses",
  "unknownLicense",
  "typosquat",
  "cran",
  ...AGE_KEY_NAMES,
] as const;

export class PolicyFormatError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

type Json = unknown;

function fail(key: string, message: string): never {
  throw new PolicyFormatError(key, message);
}

function str(v: Json, key: string): string {
  if (typeof v !== "string" || v.trim() === "") fail(key, "must be a non-empty string");
  return v;
}

function oneOf<T extends string>(v: Json, key: string, options: readonly T[]): T {
  if (typeof v !== "string" || !(options as readonly string[]).includes(v))
    fail(key, `must be one of ${options.map((o) => `"${o}"`).join(", ")}`);
  return v as T;
}

function url(v: Json, key: string): string {
  const s = str(v, key);
  try {
    const u = new URL(s);
    if (!["http:", "https:", "file:"].includes(u.protocol)) fail(key, `must be an http(s) URL, got ${u.protocol}`);
  } catch (err) {
    if (err instanceof PolicyFormatError) throw err;
    fail(key, "must be a URL");
  }
  return s;
}

function duration(v: Json, key: string): number {
  if (typeof v !== "string" && typeof v !== "number") fail(key, 'must be a duration such as "7d", "36h", "2w" or "P7D"');
  const ms = parseDuration(v);
  if (ms === undefined) fail(key, `"${String(v)}" is not a duration (use 0, 36h, 7d, 2w or ISO 8601 such as P7D)`);
  return ms;
}

export function parseSnapshot(v: string, key = "snapshot"): Date {
  // A bare date means "the index as it was at the end of that day (UTC)".
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const d = new Date(`${v}T00:00:00Z`);
    if (Number.isNaN(d.getTime())) fail(key, `"${v}" is not a date`);
    return new Date(d.getTime() + 86400e3);
  }
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(d.getTime()))
    fail(key, `"${v}" is not a date (use YYYY-MM-DD or an ISO 8601 timestamp)`);
  return d;
}

function stringList(v: Json, key: string): string[] {
  if (!Array.isArray(v)) fail(key, "must be a list of strings");
  return v.map((x, i) => str(x, `${key}[${i}]`));
}

function internalList(v: Json, key: string, cran = false): InternalSource[] {
  if (!Array.isArray(v)) fail(key, 'must be a list of {"url": ..., "packages": [...]}');
  return v.map((item, i) => {
    const k = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) fail(k, 'must be {"url": ..., "packages": [...]}');
    const o = item as Record<string, Json>;
    const known = cran ? ["url", "packages", "allowShrink"] : ["url", "packages"];
    for (const extra of Object.keys(o)) if (!known.includes(extra)) fail(`${k}.${extra}`, "is not a known key");
    const source: InternalSource = { url: url(o.url, `${k}.url`), packages: o.packages === undefined ? [] : stringList(o.packages, `${k}.packages`) };
    if (o.allowShrink !== undefined) {
      if (typeof o.allowShrink !== "boolean") fail(`${k}.allowShrink`, "must be true or false");
      source.allowShrink = o.allowShrink;
    }
    return source;
  });
}

const ENTRY = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$/;

function allowDenyList(v: Json, key: string): AllowDenyEntry[] {
  if (!Array.isArray(v)) fail(key, 'must be a list of names ("jinja2<3") or {"name", "versions", "reason", "expires"}');
  return v.map((item, i) => {
    const k = `${key}[${i}]`;
    if (typeof item === "string") {
      const m = ENTRY.exec(item);
      if (!m) fail(k, `"${item}" is not a package name with an optional version specifier`);
      return { name: m[1]!, versions: m[2]!.trim() };
    }
    if (typeof item !== "object" || item === null || Array.isArray(item)) fail(k, "must be a string or an object");
    const o = item as Record<string, Json>;
    for (const extra of Object.keys(o))
      if (!["name", "versions", "reason", "expires"].includes(extra)) fail(`${k}.${extra}`, "is not a known key");
    const entry: AllowDenyEntry = { name: str(o.name, `${k}.name`), versions: o.versions === undefined ? "" : String(o.versions) };
    if (o.reason !== undefined) entry.reason = str(o.reason, `${k}.reason`);
    if (o.expires !== undefined) {
      const e = str(o.expires, `${k}.expires`);
      if (Number.isNaN(new Date(e).getTime())) fail(`${k}.expires`, `"${e}" is not a date`);
      entry.expires = e;
    }
    return entry;
  });
}

function object(v: Json, key: string): Record<string, Json> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(key, "must be an object");
  return v as Record<string, Json>;
}

function positiveInt(v: Json, key: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) fail(key, "must be a positive whole number");
  return v;
}

/**
 * Turns one parsed JSON policy into a typed layer. Throws PolicyFormatError naming the key; unknown
 * top-level keys are returned as warnings rather than errors, so a newer policy still loads.
 */
export function parseLayer(raw: Json): { layer: PolicyLayer; warnings: string[] } {
  const o = object(raw, "(top level)");
  const layer: PolicyLayer = {};
  const warnings: string[] = [];
  for (const key of Object.keys(o)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) warnings.push(`unknown key "${key}" ignored`);
  }
  if (o.index !== undefined) layer.index = url(o.index, "index");
  if (o.internal !== undefined) layer.internal = internalList(o.internal, "internal");
  if (o.minAge !== undefined) layer.minAgeMs = duration(o.minAge, "minAge");
  if (o.unknownAge !== undefined) layer.unknownAge = oneOf(o.unknownAge, "unknownAge", ["block", "allow"] as const);
  if (o.internalAge !== undefined) layer.internalAge = oneOf(o.internalAge, "internalAge", ["exempt", "enforce"] as const);
  if (o.snapshot !== undefined && o.snapshot !== null) layer.snapshot = parseSnapshot(str(o.snapshot, "snapshot"));
  if (o.directReferences !== undefined)
    layer.directReferences = oneOf(o.directReferences, "directReferences", ["block", "allow"] as const);
  if (o.timeout !== undefined) {
    const ms = duration(o.timeout, "timeout");
    if (ms <= 0) fail("timeout", "must be longer than 0");
    layer.timeoutMs = ms;
  }
  if (o.maxPageBytes !== undefined) layer.maxPageBytes = positiveInt(o.maxPageBytes, "maxPageBytes");
  if (o.osv !== undefined) {
    const v = object(o.osv, "osv");
    const osv: Partial<OsvPolicy> = {};
    for (const extra of Object.keys(v))
      if (!["source", "url", "database", "exportUrl", "cacheTtl", "maxStaleness", "ignore", "onError"].includes(extra))
        fail(`osv.${extra}`, "is not a known key");
    if (v.source !== undefined) osv.source = oneOf(v.source, "osv.source", ["api", "offline", "off"] as const);
    if (v.url !== undefined) osv.url = url(v.url, "osv.url");
    if (v.database !== undefined) osv.database = str(v.database, "osv.database");
    if (v.exportUrl !== undefined) osv.exportUrl = url(v.exportUrl, "osv.exportUrl");
    if (v.cacheTtl !== undefined) osv.cacheTtlMs = duration(v.cacheTtl, "osv.cacheTtl");
    if (v.maxStaleness !== undefined) osv.maxStalenessMs = duration(v.maxStaleness, "osv.maxStaleness");
    if (v.onError !== undefined) osv.onError = oneOf(v.onError, "osv.onError", ["block", "warn"] as const);
    if (v.ignore !== undefined) {
      if (!Array.isArray(v.ignore)) fail("osv.ignore", 'must be a list of {"id", "reason"}');
      osv.ignore = v.ignore.map((item, i) => {
        const k = `osv.ignore[${i}]`;
        const e = object(item, k);
        return { id: str(e.id, `${k}.id`), reason: str(e.reason, `${k}.reason`) };
      });
    }
    if (osv.source === "offline" && !osv.database) fail("osv.database", 'is required when "source" is "offline"');
    layer.osv = osv;
  }
  if (o.allow !== undefined) layer.allow = allowDenyList(o.allow, "allow");
  if (o.deny !== undefined) layer.deny = allowDenyList(o.deny, "deny");
  if (o.licenses !== undefined) {
    const v = object(o.licenses, "licenses");
    for (const extra of Object.keys(v)) if (!["allow", "deny"].includes(extra)) fail(`licenses.${extra}`, "is not a known key");
    layer.licenses = {};
    if (v.allow !== undefined) layer.licenses.allow = stringList(v.allow, "licenses.allow");
    if (v.deny !== undefined) layer.licenses.deny = stringList(v.deny, "licenses.deny");
  }
  if (o.unknownLicense !== undefined) layer.unknownLicense = oneOf(o.unknownLicense, "unknownLicense", ["allow", "block"] as const);
  if (o.typosquat !== undefined) layer.typosquat = oneOf(o.typosquat, "typosquat", ["block", "warn", "off"] as const);
  if (o.cran !== undefined) {
    const v = object(o.cran, "cran");
    for (const extra of Object.keys(v)) if (!["repo", "internal", "snapshot"].includes(extra)) fail(`cran.${extra}`, "is not a known key");
    const cran: Partial<CranPolicy> = {};
    if (v.repo !== undefined) cran.repo = url(v.repo, "cran.repo");
    if (v.internal !== undefined) cran.internal = internalList(v.internal, "cran.internal", true);
    if (v.snapshot !== undefined) {
      const s = str(v.snapshot, "cran.snapshot");
      if (!s.includes("{date}")) fail("cran.snapshot", 'must be a URL template containing "{date}"');
      cran.snapshot = s;
    }
    layer.cran = cran;
  }
  Object.assign(layer, parseAgeKeys(o, fail));
  return { layer, warnings };
}
