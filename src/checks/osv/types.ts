/**
 * The parts of the OSV schema (https://ossf.github.io/osv-schema/) safe-pip reads, and one checked
 * conversion from parsed JSON. Every source (API, offline export, cache file) runs its records
 * through `toOsvRecord`, so the matcher can trust the shapes below instead of re-checking them —
 * and a malformed answer is rejected where it enters rather than silently matching nothing.
 */

export type OsvEvent =
  | { introduced: string }
  | { fixed: string }
  | { last_affected: string }
  | { limit: string };

export interface OsvRange {
  type: "ECOSYSTEM" | "SEMVER" | "GIT" | string;
  repo?: string;
  events: OsvEvent[];
  database_specific?: Record<string, unknown>;
}

export interface OsvPackage {
  ecosystem: string;
  name: string;
  purl?: string;
}

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffected {
  package?: OsvPackage;
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvReference {
  type: string;
  url: string;
}

export interface OsvRecord {
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  /**
   * Not OSV: the R Consortium database lists CVEs here instead of in `aliases` (r-and-cran.md §5).
   * Kept so those CVEs still dedupe and show in messages.
   */
  upstream?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: OsvReference[];
  database_specific?: Record<string, unknown>;
}

/** The subset of the record carried by `/v1/querybatch`: ids only, plus `modified` for revalidation. */
export interface OsvRecordRef {
  id: string;
  modified?: string;
}

const EVENT_KEYS = ["introduced", "fixed", "last_affected", "limit"] as const;

/** Thrown by `toOsvRecord`; the caller adds which source and file it came from. */
export class OsvFormatError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new OsvFormatError(`${where}.${key} is not a string`);
  return v;
}

function optStrings(o: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new OsvFormatError(`${where}.${key} is not a list of strings`);
  return v as string[];
}

function optObject(o: Record<string, unknown>, key: string, where: string): Record<string, unknown> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new OsvFormatError(`${where}.${key} is not an object`);
  return v;
}

function toSeverities(o: Record<string, unknown>, where: string): OsvSeverity[] | undefined {
  const v = o.severity;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new OsvFormatError(`${where}.severity is not a list`);
  return v.filter(isObject).map((s) => ({ type: String(s.type ?? ""), score: String(s.score ?? "") }));
}

/** undefined for an event of a kind this version doesn't know (a later schema): it is skipped. */
function toEvent(raw: unknown, where: string): OsvEvent | undefined {
  if (!isObject(raw)) throw new OsvFormatError(`${where} is not an object`);
  const keys = EVENT_KEYS.filter((k) => raw[k] !== undefined);
  if (keys.length === 0) return undefined;
  // The schema says exactly one; an event with two would be read differently by different tools.
  if (keys.length !== 1) throw new OsvFormatError(`${where} must hold exactly one of ${EVENT_KEYS.join(", ")}`);
  const key = keys[0]!;
  const value = raw[key];
  if (typeof value !== "string") throw new OsvFormatError(`${where}.${key} is not a string`);
  return { [key]: value } as OsvEvent;
}

function toRange(raw: unknown, where: string): OsvRange {
  if (!isObject(raw)) throw new OsvFormatError(`${where} is not an object`);
  if (typeof raw.type !== "string") throw new OsvFormatError(`${where}.type is not a string`);
  if (!Array.isArray(raw.events)) throw new OsvFormatError(`${where}.events is not a list`);
  const events = raw.events.map((e, i) => toEvent(e, `${where}.events[${i}]`)).filter((e): e is OsvEvent => e !== undefined);
  const range: OsvRange = { type: raw.type, events };
  const repo = optString(raw, "repo", where);
  if (repo !== undefined) range.repo = repo;
  return range;
}

function toAffected(raw: unknown, where: string): OsvAffected {
  if (!isObject(raw)) throw new OsvFormatError(`${where} is not an object`);
  const out: OsvAffected = {};
  const pkg = optObject(raw, "package", where);
  if (pkg) {
    if (typeof pkg.ecosystem !== "string" || typeof pkg.name !== "string")
      throw new OsvFormatError(`${where}.package needs string "ecosystem" and "name"`);
    out.package = { ecosystem: pkg.ecosystem, name: pkg.name };
    if (typeof pkg.purl === "string") out.package.purl = pkg.purl;
  }
  if (raw.ranges !== undefined && raw.ranges !== null) {
    if (!Array.isArray(raw.ranges)) throw new OsvFormatError(`${where}.ranges is not a list`);
    out.ranges = raw.ranges.map((r, i) => toRange(r, `${where}.ranges[${i}]`));
  }
  const versions = optStrings(raw, "versions", where);
  if (versions) out.versions = versions;
  const severity = toSeverities(raw, where);
  if (severity) out.severity = severity;
  const es = optObject(raw, "ecosystem_specific", where);
  if (es) out.ecosystem_specific = es;
  const ds = optObject(raw, "database_specific", where);
  if (ds) out.database_specific = ds;
  return out;
}

/**
 * Checks one parsed JSON value against the fields we use and returns a typed record; unknown
 * fields are dropped (smaller caches, nothing untyped leaks out). Throws OsvFormatError.
 */
export function toOsvRecord(raw: unknown): OsvRecord {
  if (!isObject(raw)) throw new OsvFormatError("record is not a JSON object");
  if (typeof raw.id !== "string" || raw.id === "") throw new OsvFormatError('record has no string "id"');
  const where = raw.id;
  const rec: OsvRecord = { id: raw.id };
  for (const key of ["modified", "published", "withdrawn", "summary", "details"] as const) {
    const v = optString(raw, key, where);
    if (v !== undefined) rec[key] = v;
  }
  for (const key of ["aliases", "related", "upstream"] as const) {
    const v = optStrings(raw, key, where);
    if (v) rec[key] = v;
  }
  const severity = toSeverities(raw, where);
  if (severity) rec.severity = severity;
  if (raw.affected !== undefined && raw.affected !== null) {
    if (!Array.isArray(raw.affected)) throw new OsvFormatError(`${where}.affected is not a list`);
    rec.affected = raw.affected.map((a, i) => toAffected(a, `${where}.affected[${i}]`));
  }
  if (Array.isArray(raw.references)) {
    rec.references = raw.references
      .filter(isObject)
      .filter((r) => typeof r.url === "string")
      .map((r) => ({ type: String(r.type ?? ""), url: r.url as string }));
  }
  const ds = optObject(raw, "database_specific", where);
  if (ds) rec.database_specific = ds;
  return rec;
}
