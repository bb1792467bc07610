/**
 * Is version V of a package affected by an OSV record? Pure functions, no I/O.
 *
 * Follows the OSV schema's evaluation algorithm (standards.md §6.4): skip withdrawn records; keep
 * `affected` entries whose ecosystem equals ours and whose name equals ours (PEP 503 for PyPI, exact
 * for CRAN/Bioconductor); V listed in `versions` → affected; otherwise each ECOSYSTEM/SEMVER range
 * is walked in version order. GIT ranges need a commit graph we don't have, so they are ignored and
 * the `versions` list (which osv.dev fills in from them) is relied on instead.
 *
 * Speed matters (a lock file can check hundreds of releases against a project with hundreds of
 * advisories), so each version string is parsed once into a comparable key (memoised), and each
 * record's sorted events and normalised `versions` set are computed once (WeakMap on the record).
 */
import { explain } from "@renovatebot/pep440";
import semver from "semver";
import type { Ecosystem } from "../release.js";
import { normalizeName } from "../../core/names.js";
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Version keys
// ---------------------------------------------------------------------------------------------

/**
 * A parsed version. `legacy` marks strings the ecosystem's grammar rejects: like osv.dev, they sort
 * below every valid version (and among themselves in natural string order), so a garbage version
 * is still placed deterministically instead of throwing halfway through a check.
 */
type Key =
  | { kind: "legacy"; raw: string }
  | { kind: "pep440"; epoch: number; release: number[]; pre: number; preN: number; post: number; dev: number; local: Array<number | string> | null }
  | { kind: "r"; parts: number[] };

/** Packaging's `_cmpkey` uses ±infinity for absent parts; these sentinels do the same job. */
const NEG = -Infinity;
const POS = Infinity;
/** Pre-release letters in order; "no pre-release" is POS and a bare .devN is NEG (packaging). */
const PRE_RANK: Record<string, number> = { a: 0, b: 1, rc: 2 };

function pep440Key(v: string): Key {
  const p = explain(v);
  if (!p) return { kind: "legacy", raw: v };
  const release = [...p.release];
  // 1.0 == 1.0.0: trailing zeros don't count (PEP 440 "zero padding").
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  const hasPre = Array.isArray(p.pre) && p.pre.length === 2;
  const post = p.post === null || p.post === undefined ? null : Number(Array.isArray(p.post) ? p.post[1] : p.post);
  const dev = p.dev === null || p.dev === undefined ? null : Number(Array.isArray(p.dev) ? p.dev[1] : p.dev);
  let pre: number;
  let preN = 0;
  if (hasPre) {
    pre = PRE_RANK[String(p.pre[0])] ?? 2;
    preN = Number(p.pre[1]);
  } else if (post === null && dev !== null) {
    pre = NEG; // 1.0.dev1 sorts before 1.0a1
  } else {
    pre = POS;
  }
  const local = p.local
    ? p.local.split(/[._-]/).map((s) => (/^\d+$/.test(s) ? Number(s) : s.toLowerCase()))
    : null;
  return { kind: "pep440", epoch: p.epoch, release, pre, preN, post: post ?? NEG, dev: dev ?? POS, local };
}

/**
 * R `package_version`: integers separated by `.` or `-`, compared as integers. Checked against R
 * 4.2: `1.2-3 == 1.2.3`, `1.0 == 1.0.0` (trailing zeros don't count), `1.01 == 1.1`,
 * `1.2.2 < 1.2.2-2`, `0.1-10 > 0.1-9`. (`utils::compareVersion` differs on trailing zeros; the
 * design follows package_version, which is what install.packages and dependency checks use.)
 */
const R_VERSION = /^\d+([.-]\d+)*$/;

function rKey(v: string): Key {
  const s = v.trim();
  if (!R_VERSION.test(s)) return { kind: "legacy", raw: v };
  const parts = s.split(/[.-]/).map(Number);
  while (parts.length > 1 && parts[parts.length - 1] === 0) parts.pop();
  return { kind: "r", parts };
}

function cmpNum(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Tuple order with "shorter prefix is smaller" (Python tuples, R package_version). */
function cmpNumList(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpNum(a[i]!, b[i]!);
    if (c) return c;
  }
  return cmpNum(a.length, b.length);
}

/** PEP 440 local segments: numbers beat strings; strings compare case-insensitively. */
function cmpLocal(a: Array<number | string> | null, b: Array<number | string> | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === "number" && typeof y === "number") {
      const c = cmpNum(x, y);
      if (c) return c;
    } else if (typeof x === "number") return 1;
    else if (typeof y === "number") return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return cmpNum(a.length, b.length);
}

// Made on first use: building it at module scope cost every install ~10 ms of start-up, and only
// legacy (non-PEP 440) versions ever need it.
let collator: Intl.Collator | undefined;

function cmpKeys(a: Key, b: Key): number {
  if (a.kind === "legacy" || b.kind === "legacy") {
    if (a.kind === "legacy" && b.kind === "legacy") return (collator ??= new Intl.Collator("en", { numeric: true, sensitivity: "base" })).compare(a.raw, b.raw) || (a.raw < b.raw ? -1 : a.raw > b.raw ? 1 : 0);
    return a.kind === "legacy" ? -1 : 1;
  }
  if (a.kind === "r" && b.kind === "r") return cmpNumList(a.parts, b.parts);
  if (a.kind === "pep440" && b.kind === "pep440") {
    return (
      cmpNum(a.epoch, b.epoch) ||
      cmpNumList(a.release, b.release) ||
      cmpNum(a.pre, b.pre) ||
      cmpNum(a.preN, b.preN) ||
      cmpNum(a.post, b.post) ||
      cmpNum(a.dev, b.dev) ||
      cmpLocal(a.local, b.local)
    );
  }
  throw new Error("cmpKeys: keys of different schemes");
}

/**
 * Memoised parsing per scheme. Bounded so a long-lived process (the local index server) can't grow
 * it without limit; clearing is cheap because keys are recomputed on demand.
 */
const MEMO_LIMIT = 200_000;
const memo = { pep440: new Map<string, Key>(), r: new Map<string, Key>() };
const canonMemo = { pep440: new Map<string, string>(), r: new Map<string, string>() };

type Scheme = "pep440" | "r";

function schemeOf(ecosystem: Ecosystem): Scheme {
  return ecosystem === "PyPI" ? "pep440" : "r";
}

function keyOf(scheme: Scheme, v: string): Key {
  const m = memo[scheme];
  let k = m.get(v);
  if (!k) {
    if (m.size >= MEMO_LIMIT) m.clear();
    k = scheme === "pep440" ? pep440Key(v) : rKey(v);
    m.set(v, k);
  }
  return k;
}

/** Compares two versions in the ecosystem's order (PEP 440 for PyPI, package_version for R). */
export function compareVersions(ecosystem: Ecosystem, a: string, b: string): number {
  const s = schemeOf(ecosystem);
  return cmpKeys(keyOf(s, a), keyOf(s, b));
}

/** A canonical string: two versions the ecosystem treats as equal get the same one. Memoised. */
function canonical(scheme: Scheme, v: string): string {
  let c = canonMemo[scheme].get(v);
  if (c === undefined) {
    const k = keyOf(scheme, v);
    switch (k.kind) {
      case "legacy":
        c = "legacy:" + k.raw.trim().toLowerCase();
        break;
      case "r":
        c = k.parts.join(".");
        break;
      case "pep440":
        c = `${k.epoch}!${k.release.join(".")}|${k.pre},${k.preN}|${k.post}|${k.dev}|${k.local ? k.local.join(".") : ""}`;
        break;
    }
    if (canonMemo[scheme].size >= MEMO_LIMIT) canonMemo[scheme].clear();
    canonMemo[scheme].set(v, c);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/**
 * The form in which two package names are compared: PEP 503 for PyPI (osv.dev normalises PyPI
 * names too); CRAN and Bioconductor names are case-sensitive, so they are compared exactly.
 */
export function packageKey(ecosystem: Ecosystem, name: string): string {
  if (ecosystem !== "PyPI") return name;
  let k = nameMemo.get(name);
  if (k === undefined) {
    if (nameMemo.size >= MEMO_LIMIT) nameMemo.clear();
    k = normalizeName(name);
    nameMemo.set(name, k);
  }
  return k;
}

const nameMemo = new Map<string, string>();

// ---------------------------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------------------------

type EventKind = "introduced" | "fixed" | "last_affected" | "limit";

/** A range event with its version already parsed into a comparable key. */
interface PreparedEvent<K> {
  kind: EventKind;
  value: string;
  key: K;
  /** `introduced: "0"` means "before every version", including legacy strings. */
  zero: boolean;
}

/** A range ready to evaluate: events sorted, limits split out. Built once per range and order. */
interface PreparedRange<K> {
  events: PreparedEvent<K>[];
  limits: K[];
  /** False when an event version isn't valid in the order (SEMVER): the range can't decide. */
  usable: boolean;
}

/** A version order: parse once into a key, compare keys. */
interface Order<K> {
  name: string;
  key(v: string): K | undefined;
  cmp(a: K, b: K): number;
}

const PEP440_ORDER: Order<Key> = { name: "pep440", key: (v) => keyOf("pep440", v), cmp: cmpKeys };
const R_ORDER: Order<Key> = { name: "r", key: (v) => keyOf("r", v), cmp: cmpKeys };
/** SemVer 2.0 via the semver package; a non-SemVer string has no key. */
const SEMVER_ORDER: Order<semver.SemVer> = {
  name: "semver",
  key: (v) => semver.parse(v) ?? undefined,
  cmp: (a, b) => a.compare(b),
};

function eventParts(e: OsvEvent): [EventKind, string] {
  if ("introduced" in e) return ["introduced", e.introduced];
  if ("fixed" in e) return ["fixed", e.fixed];
  if ("last_affected" in e) return ["last_affected", e.last_affected];
  return ["limit", e.limit];
}

function prepare<K>(range: OsvRange, order: Order<K>): PreparedRange<K> {
  const events: PreparedEvent<K>[] = [];
  let usable = true;
  for (const e of range.events) {
    const [kind, value] = eventParts(e);
    const zero = kind === "introduced" && value === "0";
    const key = order.key(value);
    if (key === undefined && !zero) usable = false;
    events.push({ kind, value, key: key as K, zero });
  }
  if (usable) events.sort((x, y) => (x.zero || y.zero ? (x.zero === y.zero ? 0 : x.zero ? -1 : 1) : order.cmp(x.key, y.key)));
  return { events, limits: events.filter((e) => e.kind === "limit").map((e) => e.key), usable };
}

const prepared = new WeakMap<OsvRange, { order: string; range: PreparedRange<unknown> }>();

function preparedOf<K>(range: OsvRange, order: Order<K>): PreparedRange<K> {
  const hit = prepared.get(range);
  if (hit && hit.order === order.name) return hit.range as PreparedRange<K>;
  const p = prepare(range, order);
  prepared.set(range, { order: order.name, range: p as PreparedRange<unknown> });
  return p;
}

/**
 * The schema's algorithm for one range: with `limit` events, V must be below at least one of them;
 * then walk sorted events with a flag: `introduced ≤ V` sets it, `fixed ≤ V` clears it,
 * `last_affected < V` clears it. Vs. a plain "between introduced and fixed" test this handles
 * several introduced/fixed pairs in one range (django's per-branch fixes) and unsorted input.
 */
function inRange<K>(range: PreparedRange<K>, v: K, cmp: (a: K, b: K) => number): boolean {
  if (range.limits.length > 0 && !range.limits.some((l) => cmp(l, v) > 0)) return false;
  let affected = false;
  for (const e of range.events) {
    switch (e.kind) {
      case "introduced":
        if (e.zero || cmp(e.key, v) <= 0) affected = true;
        break;
      case "fixed":
        if (cmp(e.key, v) <= 0) affected = false;
        break;
      case "last_affected":
        if (cmp(e.key, v) < 0) affected = false;
        break;
      case "limit":
        break;
    }
  }
  return affected;
}

/**
 * An event version against the candidate, the way a PEP 440 specifier compares them: an event
 * without a local label ignores the candidate's (`1.0+ubuntu1` is a build of 1.0, so
 * `last_affected: 1.0` covers it); an event with one compares in full.
 */
function cmpEventPep440(event: Key, candidate: Key): number {
  if (event.kind === "pep440" && candidate.kind === "pep440" && event.local === null && candidate.local !== null)
    return cmpKeys(event, { ...candidate, local: null });
  return cmpKeys(event, candidate);
}

function rangeMatches(range: OsvRange, ecosystem: Ecosystem, version: string): boolean {
  if (range.type === "ECOSYSTEM") {
    const order = ecosystem === "PyPI" ? PEP440_ORDER : R_ORDER;
    return inRange(preparedOf(range, order), keyOf(schemeOf(ecosystem), version), ecosystem === "PyPI" ? cmpEventPep440 : cmpKeys);
  }
  if (range.type === "SEMVER") {
    // SemVer 2.0 order only when every side is SemVer; otherwise the range can't be evaluated and
    // the entry's `versions` list decides (schema guidance, standards.md §6.4 step 4).
    const v = SEMVER_ORDER.key(version);
    const p = preparedOf(range, SEMVER_ORDER);
    return v !== undefined && p.usable && inRange(p, v, SEMVER_ORDER.cmp);
  }
  return false; // GIT (commit hashes) and unknown types: rely on `versions`.
}

/**
 * Per `affected` entry: how often its list was searched, and (from the 4th search on) a Set of the
 * list's canonical forms. Most entries are searched once or twice per run, where a scan without
 * allocation is cheaper; an index page checking 100 versions against one project gets the Set.
 */
const versionSets = new WeakMap<OsvAffected, { scheme: Scheme; uses: number; canon?: Set<string> }>();
const SET_AFTER_USES = 4;

function listedIn(entry: OsvAffected, scheme: Scheme, version: string): boolean {
  const list = entry.versions;
  if (!list || list.length === 0) return false;
  // Normalised comparison: `1.0.0` vs `1.0`, `0.8.0-alpha2` vs `0.8.0a2`, R's `1.2-3` vs `1.2.3`.
  const want = canonical(scheme, version);
  // PEP 440 `==1.0` installs 1.0+anything: a listed version without a local label covers every
  // local build of it. (A listed `1.0+abc` still matches only itself.)
  const plus = scheme === "pep440" ? version.indexOf("+") : -1;
  const publicWant = plus > 0 ? canonical(scheme, version.slice(0, plus)) : undefined;
  let state = versionSets.get(entry);
  if (!state || state.scheme !== scheme) {
    state = { scheme, uses: 0 };
    versionSets.set(entry, state);
  }
  if (!state.canon && ++state.uses >= SET_AFTER_USES) state.canon = new Set(list.map((v) => canonical(scheme, v)));
  if (state.canon) return state.canon.has(want) || (publicWant !== undefined && state.canon.has(publicWant));
  for (const v of list) {
    if (v === version) return true;
    const c = canonical(scheme, v);
    if (c === want || c === publicWant) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Each entry's package key, computed once per record object (names are normalised by regex). */
const entryKeys = new WeakMap<OsvAffected, string>();

function entryKey(entry: OsvAffected, ecosystem: Ecosystem): string | undefined {
  if (!entry.package || entry.package.ecosystem !== ecosystem) return undefined;
  let k = entryKeys.get(entry);
  if (k === undefined) {
    k = packageKey(ecosystem, entry.package.name);
    entryKeys.set(entry, k);
  }
  return k;
}

/** The record's `affected` entries for this package (same ecosystem, same name). */
export function entriesFor(record: OsvRecord, ecosystem: Ecosystem, name: string): OsvAffected[] {
  const want = packageKey(ecosystem, name);
  return (record.affected ?? []).filter((a) => entryKey(a, ecosystem) === want);
}

/** True when `version` of `name` is affected by `record` (see the module comment). */
export function isAffected(record: OsvRecord, ecosystem: Ecosystem, name: string, version: string): boolean {
  if (record.withdrawn || !record.affected) return false;
  const scheme = schemeOf(ecosystem);
  const want = packageKey(ecosystem, name);
  for (const entry of record.affected) {
    if (entryKey(entry, ecosystem) !== want) continue;
    // Ranges first: a few comparisons, and usually decisive. Then the explicit list.
    for (const range of entry.ranges ?? []) if (rangeMatches(range, ecosystem, version)) return true;
    if (listedIn(entry, scheme, version)) return true;
    // A malware report that names the package but neither versions nor ranges: every version is
    // bad. (For a vulnerability the same gap means "unknown", which we don't turn into a block.)
    if ((!entry.ranges || entry.ranges.length === 0) && (!entry.versions || entry.versions.length === 0) && isMalware(record))
      return true;
  }
  return false;
}

/** CWE ids from `database_specific`: GHSA's `cwe_ids: ["CWE-506"]`, OpenSSF's `cwes: [{cweId}]`. */
function cweIds(ds: Record<string, unknown> | undefined): string[] {
  const ids = Array.isArray(ds?.["cwe_ids"]) ? (ds["cwe_ids"] as unknown[]) : [];
  const cwes = Array.isArray(ds?.["cwes"]) ? (ds["cwes"] as unknown[]) : [];
  return [...ids, ...cwes.map((c) => (typeof c === "object" && c !== null ? (c as { cweId?: unknown }).cweId : undefined))].filter(
    (x): x is string => typeof x === "string",
  );
}

/**
 * Malicious-package reports: OpenSSF `MAL-` ids (also when only an alias), anything carrying the
 * malicious-packages origins marker, or CWE-506 (embedded malicious code) as GHSA tags malware.
 */
export function isMalware(record: OsvRecord): boolean {
  if (record.id.startsWith("MAL-")) return true;
  if ((record.aliases ?? []).some((a) => a.startsWith("MAL-"))) return true;
  if (record.database_specific && "malicious-packages-origins" in record.database_specific) return true;
  if (cweIds(record.database_specific).includes("CWE-506")) return true;
  return (record.affected ?? []).some((a) => cweIds(a.database_specific).includes("CWE-506"));
}

/** The `fixed` versions this record gives for the package, in ecosystem order, without repeats. */
export function fixedVersions(record: OsvRecord, ecosystem: Ecosystem, name: string): string[] {
  const out = new Set<string>();
  for (const entry of entriesFor(record, ecosystem, name))
    for (const range of entry.ranges ?? [])
      if (range.type === "ECOSYSTEM" || range.type === "SEMVER")
        for (const e of range.events) if ("fixed" in e) out.add(e.fixed);
  return [...out].sort((a, b) => compareVersions(ecosystem, a, b));
}

/** Other ids for the same advisory: `aliases`, plus the R Consortium's non-standard `upstream`. */
export function aliasesOf(record: OsvRecord): string[] {
  const out = new Set<string>([...(record.aliases ?? []), ...(record.upstream ?? [])]);
  out.delete(record.id);
  return [...out];
}
