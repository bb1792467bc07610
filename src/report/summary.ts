import type { ProjectDecision, VersionDecision } from "../index/project.js";
import { compareVersions } from "../index/project.js";
import type { Reason } from "../checks/types.js";
import type { Style } from "./style.js";

export interface PlannedPackage {
  name: string;
  version: string;
  source: "internal" | "public" | "direct" | "local";
  requested: boolean;
  warnings: Reason[];
}

export interface HeldBack {
  name: string;
  version: string;
  reasons: Reason[];
  using?: string | undefined;
}

function reasonText(r: Reason): string {
  return r.id && !r.message.includes(r.id) ? `${r.id}: ${r.message}` : r.message;
}

export function reasonsText(reasons: Reason[]): string {
  return reasons
    .filter((r) => r.verdict !== "allow")
    .map(reasonText)
    .join("; ");
}

/**
 * Versions newer than the one chosen that the policy hid: "numpy 2.9.0 hidden: uploaded 1 day ago;
 * using 1.26.0". Only newer ones matter to a user; older hidden versions would not have been picked.
 */
export function heldBack(decision: ProjectDecision, chosen: string): HeldBack[] {
  return decision.versions
    .filter((v: VersionDecision) => !v.served && v.reasons.length > 0 && compareVersions(v.version, chosen) > 0 && !v.yanked)
    .map((v) => ({ name: decision.name, version: v.version, reasons: v.reasons, using: chosen }));
}

/**
 * The summary: before installing with `--plan` ("will install"), or after pip's one pass
 * ("installed", "would install" for a dry run).
 */
export function renderPlan(planned: PlannedPackage[], held: HeldBack[], style: Style, verb = "will install"): string[] {
  const lines: string[] = [];
  if (planned.length === 0) lines.push("nothing to install: every requirement is already satisfied");
  else {
    lines.push(style.bold(`${verb} ${planned.length} package${planned.length === 1 ? "" : "s"}:`));
    const width = Math.max(...planned.map((p) => `${p.name} ${p.version}`.length));
    for (const p of [...planned].sort((a, b) => a.name.localeCompare(b.name))) {
      const label = `${p.name} ${p.version}`.padEnd(width);
      lines.push(`  ${style.green("+")} ${label}  ${style.dim(p.source)}${p.requested ? "" : style.dim(" (dependency)")}`);
      for (const w of p.warnings) lines.push(`      ${style.yellow("!")} ${reasonText(w)}`);
    }
  }
  if (held.length) {
    lines.push(style.bold("held back by policy:"));
    // Newest first, at most three per project: enough to explain the choice without a wall of text.
    const byProject = new Map<string, HeldBack[]>();
    for (const h of held) byProject.set(h.name, [...(byProject.get(h.name) ?? []), h]);
    for (const [name, list] of byProject) {
      list.sort((a, b) => compareVersions(b.version, a.version));
      for (const h of list.slice(0, 3)) lines.push(`  ${style.yellow("-")} ${name} ${h.version} hidden: ${reasonsText(h.reasons)}; using ${h.using}`);
      if (list.length > 3) lines.push(`    … and ${list.length - 3} more newer version${list.length - 3 === 1 ? "" : "s"} of ${name}`);
    }
  }
  return lines;
}

/** Why no version of a project could be offered: the block message's detail lines. */
export function blockedDetail(decision: ProjectDecision): string[] {
  if (decision.status === "blocked") return decision.nameReasons.filter((r) => r.verdict === "block").map((r) => `${decision.name}: ${reasonText(r)}`);
  const hidden = decision.versions.filter((v) => !v.served && v.reasons.length).sort((a, b) => compareVersions(b.version, a.version));
  const lines = hidden.slice(0, 5).map((v) => `${decision.name} ${v.version}: ${reasonsText(v.reasons)}`);
  if (hidden.length > 5) lines.push(`… and ${hidden.length - 5} older hidden version${hidden.length - 5 === 1 ? "" : "s"}`);
  return lines;
}
