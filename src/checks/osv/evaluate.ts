/**
 * Turns the OSV records of one project into policy reasons for one of its versions.
 *
 * One advisory is often published several times (PYSEC-…, GHSA-…, CVE-… as aliases of each other),
 * so affecting records are grouped by shared ids first and each group yields one reason. Malware is
 * always a hard block: an ignore entry exists to accept a *known* risk in code you trust, and no such
 * judgement applies to a package written to attack you.
 */
import type { Ecosystem } from "../release.js";
import type { Reason } from "../types.js";
import { aliasesOf, compareVersions, fixedVersions, isAffected, isMalware } from "./match.js";
import type { OsvRecord } from "./types.js";

export interface IgnoreEntry {
  id: string;
  reason: string;
}

const SUMMARY_MAX = 120;
const ALIASES_SHOWN = 4;

/** Which id names a group: ecosystem databases first (they carry the best version data), CVE last. */
function idRank(id: string, malware: boolean): number {
  if (malware && id.startsWith("MAL-")) return 0;
  if (/^(PYSEC|RSEC|PSF)-/.test(id)) return 1;
  if (id.startsWith("GHSA-")) return 2;
  if (id.startsWith("CVE-")) return 4;
  return 3;
}

/** Groups records that share an id or alias (union-find over ids). */
function groupByAliases(records: OsvRecord[]): OsvRecord[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    let cur = x;
    while (cur !== root) {
      const next = parent.get(cur)!;
      parent.set(cur, root);
      cur = next;
    }
    return root;
  };
  const union = (a: string, b: string): void => {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
  };
  for (const r of records) {
    union(r.id, r.id);
    for (const a of aliasesOf(r)) union(r.id, a);
  }
  const groups = new Map<string, OsvRecord[]>();
  const seen = new Set<string>();
  for (const r of records) {
    if (seen.has(r.id)) continue; // the same record twice (two sources): count it once
    seen.add(r.id);
    const root = find(r.id);
    const g = groups.get(root);
    if (g) g.push(r);
    else groups.set(root, [r]);
  }
  return [...groups.values()];
}

/**
 * One line: a summary (the representative's, else an alias's: PYSEC records often have none while
 * the GHSA copy does), else the first sentence of the details, shortened.
 */
function headline(group: OsvRecord[]): string {
  for (const r of group) {
    const t = lines(r).summary;
    if (t) return t;
  }
  for (const r of group) {
    const t = lines(r).details;
    if (t) return t;
  }
  return "no description";
}

/** Per record, computed once: an index page checks many versions against the same records. */
const lineCache = new WeakMap<OsvRecord, { summary: string; details: string }>();

function lines(r: OsvRecord): { summary: string; details: string } {
  let l = lineCache.get(r);
  if (!l) {
    // Only the start of the details matters (first sentence); details can be kilobytes.
    const d = (r.details ?? "").slice(0, 4 * SUMMARY_MAX).trim();
    l = { summary: oneLine(r.summary ?? ""), details: d ? oneLine(/^(.+?[.!?])(\s|$)/s.exec(d)?.[1] ?? d) : "" };
    lineCache.set(r, l);
  }
  return l;
}

function oneLine(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > SUMMARY_MAX ? t.slice(0, SUMMARY_MAX - 1).trimEnd() + "…" : t;
}

function fixText(group: OsvRecord[], ecosystem: Ecosystem, name: string, version: string): string {
  const fixes = new Set<string>();
  for (const r of group) for (const f of fixedVersions(r, ecosystem, name)) fixes.add(f);
  // The smallest fix above this version is the upgrade that clears it (per-branch fixes are common).
  const above = [...fixes].filter((f) => compareVersions(ecosystem, f, version) > 0).sort((a, b) => compareVersions(ecosystem, a, b));
  return above.length > 0 ? `fixed in ${above[0]}` : "no fixed version";
}

export function advisoryUrl(id: string): string {
  return `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;
}

/**
 * Reasons for `name==version` from the project's records: one per affecting advisory (deduplicated
 * by aliases), malware first. `ignore` matches a record's id or any alias, case-insensitively.
 */
export function evaluateAdvisories(
  records: readonly OsvRecord[],
  ecosystem: Ecosystem,
  name: string,
  version: string,
  ignore: ReadonlyArray<IgnoreEntry>,
): Reason[] {
  const hits = records.filter((r) => isAffected(r, ecosystem, name, version));
  if (hits.length === 0) return [];
  const ignoreById = new Map(ignore.map((e) => [e.id.toUpperCase(), e]));
  const reasons: Reason[] = [];
  for (const group of groupByAliases(hits)) {
    const malware = group.some(isMalware);
    const rep = [...group].sort((a, b) => idRank(a.id, malware) - idRank(b.id, malware) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]!;
    const ids = new Set<string>();
    for (const r of group) for (const id of [r.id, ...aliasesOf(r)]) ids.add(id);
    const others = [...ids].filter((id) => id !== rep.id).sort();
    const aliasText =
      others.length === 0
        ? ""
        : ` (${others.slice(0, ALIASES_SHOWN).join(", ")}${others.length > ALIASES_SHOWN ? `, +${others.length - ALIASES_SHOWN} more` : ""})`;
    const ignored = [...ids].map((id) => ignoreById.get(id.toUpperCase())).find((e) => e !== undefined);
    const base = `${rep.id}: ${headline([rep, ...group.filter((r) => r !== rep)])}${aliasText}`;
    const url = advisoryUrl(rep.id);
    if (malware) {
      const note = ignored ? ` (osv.ignore does not apply to malware)` : "";
      reasons.push({ check: "malware", verdict: "block", id: rep.id, url, message: `${base}; known malicious package${note}` });
    } else if (ignored) {
      reasons.push({
        check: "osv",
        verdict: "warn",
        id: rep.id,
        url,
        message: `${base}; ${fixText(group, ecosystem, name, version)}; ignored by policy: ${oneLine(ignored.reason)}`,
      });
    } else {
      reasons.push({ check: "osv", verdict: "block", id: rep.id, url, message: `${base}; ${fixText(group, ecosystem, name, version)}` });
    }
  }
  const order = (r: Reason): number => (r.check === "malware" ? 0 : r.verdict === "block" ? 1 : 2);
  return reasons.sort((a, b) => order(a) - order(b) || ((a.id ?? "") < (b.id ?? "") ? -1 : (a.id ?? "") > (b.id ?? "") ? 1 : 0));
}
