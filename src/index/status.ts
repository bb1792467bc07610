/**
 * PEP 792 project status markers. An upstream may mark a project `quarantined` (unsafe, e.g.
 * malware: no file may be offered), `archived` (no more releases) or `deprecated`; `active` is
 * the default. JSON carries `"project-status": {"status", "reason"}` (API 1.4); HTML carries
 * `<meta name="pypi:project-status" content="…">` and `pypi:project-status-reason`.
 */
import type { Reason } from "../checks/types.js";
import { decodeEntities } from "./upstream/html.js";

export interface ProjectStatus {
  status: string;
  reason?: string | undefined;
}

function clean(s: string): string {
  // The reason is upstream text shown on a terminal: one line, no control characters, bounded.
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 300);
}

/** From a parsed PEP 691 document: the top-level key (the spec's place), or `meta` as a fallback. */
export function statusFromJson(doc: Record<string, unknown>): ProjectStatus | undefined {
  const meta = typeof doc.meta === "object" && doc.meta !== null ? (doc.meta as Record<string, unknown>) : {};
  for (const v of [doc["project-status"], meta["project-status"]]) {
    if (typeof v === "string" && v.trim()) return { status: clean(v).toLowerCase() };
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.status !== "string" || !o.status.trim()) continue;
      return { status: clean(o.status).toLowerCase(), ...(typeof o.reason === "string" && o.reason.trim() ? { reason: clean(o.reason) } : {}) };
    }
  }
  return undefined;
}

const META = /<meta\b([^>]*)>/gi;
const ATTR = /([a-z-:]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;

/** From a PEP 503 page's `<meta>` tags. */
export function statusFromHtml(html: string): ProjectStatus | undefined {
  let status: string | undefined;
  let reason: string | undefined;
  for (const m of html.matchAll(META)) {
    const attrs = new Map<string, string>();
    for (const a of m[1]!.matchAll(ATTR)) attrs.set(a[1]!.toLowerCase(), decodeEntities(a[2] ?? a[3] ?? a[4] ?? ""));
    const name = attrs.get("name")?.toLowerCase();
    const content = attrs.get("content");
    if (content === undefined) continue;
    if (name === "pypi:project-status" && status === undefined) status = clean(content).toLowerCase();
    if (name === "pypi:project-status-reason" && reason === undefined) reason = clean(content);
  }
  if (!status) return undefined;
  return reason ? { status, reason } : { status };
}

/**
 * What safe-pip does with a status: `quarantined` blocks the project (the index serves no file,
 * as PEP 792 requires of the index itself); `archived` and `deprecated` are warnings. An unknown
 * status is a warning too: it comes from a newer spec, and guessing it is safe would fail open.
 */
export function statusReasons(status: ProjectStatus | undefined): Reason[] {
  if (!status || status.status === "active") return [];
  const why = status.reason ? `: ${status.reason}` : "";
  switch (status.status) {
    case "quarantined":
      return [{ check: "status", verdict: "block", message: `the upstream index has quarantined this project (PEP 792)${why}` }];
    case "archived":
      return [{ check: "status", verdict: "warn", message: `archived upstream: no further releases are expected (PEP 792)${why}` }];
    case "deprecated":
      return [{ check: "status", verdict: "warn", message: `deprecated upstream (PEP 792)${why}` }];
    default:
      return [{ check: "status", verdict: "warn", message: `unknown project status "${status.status}" upstream (PEP 792)${why}` }];
  }
}
