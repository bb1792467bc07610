import { formatReason } from "./filter.js";
import { directLines, type DirectOutcome } from "./direct.js";
import type { ServedResolution } from "./repository.js";
import type { PackageOutcome } from "./types.js";

/** What a resolution means for the person installing, one line each. */
export interface ResolutionMessages {
  /** Why the install is refused (strict) — package, version and rule. */
  blocks: string[];
  /** Newer releases not offered, by package: `update.packages` shows those above what is installed. */
  held: Array<{ name: string; version: string; text: string }>;
  /** Everything else worth a line: internal copies preferred, warnings. */
  notes: string[];
}

function neededBy(o: PackageOutcome): string {
  return o.requiredBy.length ? ` (needed by ${o.requiredBy.join(", ")})` : "";
}

export function resolutionMessages(entry: ServedResolution): ResolutionMessages {
  const { resolution } = entry;
  const out: ResolutionMessages = { blocks: [], held: [], notes: [] };
  for (const o of resolution.outcomes) {
    if (o.status === "blocked") {
      const lines = o.problems.map((p) => `${p}${neededBy(o)}`);
      if (entry.request.strict) out.blocks.push(...lines);
      else out.held.push(...lines.map((text) => ({ name: o.name, version: o.newest ?? "", text })));
      continue;
    }
    if (o.status !== "ok" || !o.chosen) continue;
    const chosen = o.chosen;
    const newer = o.decisions.find((d) => d.verdict === "block" && d.source === chosen.repo.source && d.version === o.newest);
    if (newer && o.newest !== chosen.version) {
      const why = newer.reasons.filter((r) => r.verdict === "block").map(formatReason).join("; ");
      out.held.push({
        name: o.name,
        version: newer.version,
        text: `${o.name} ${newer.version} held back: ${why}; using ${chosen.version}${chosen.path ? " from the archive" : ""}`,
      });
    }
    const shadowed = o.decisions.filter((d) => d.source === "public" && chosen.repo.source === "internal");
    if (shadowed.length)
      out.notes.push(
        `${o.name}: using internal ${chosen.version} from ${chosen.repo.label}; public ${shadowed.map((d) => d.version).join(", ")} ignored`,
      );
    const mine = o.decisions.find((d) => d.version === chosen.version && d.source === chosen.repo.source);
    for (const r of mine?.reasons ?? []) if (r.verdict === "warn") out.notes.push(`${o.name} ${chosen.version}: ${formatReason(r)}`);
  }
  return out;
}

/** The machine-readable form (`safe-pip r check`, the control endpoint's JSON). */
export function resolutionJson(entry: ServedResolution, repository: string | undefined, refused: string[] = []): unknown {
  return {
    id: entry.id,
    repository,
    blocked: entry.resolution.blocked || refused.length > 0,
    // Archives fetched before the install and refused (`file: reason`): nothing is served.
    refused,
    packages: entry.resolution.outcomes.map((o) => ({
      name: o.name,
      status: o.status,
      version: o.chosen?.version,
      source: o.chosen?.repo.source,
      repository: o.chosen?.repo.label,
      path: o.chosen?.path || undefined,
      newest: o.newest,
      requiredBy: o.requiredBy,
      problems: o.problems,
      decisions: o.decisions,
    })),
    messages: resolutionMessages(entry),
  };
}

/** Tab-separated lines for the R hook, which has no JSON parser: `kind<TAB>fields…`. */
export function resolutionLines(entry: ServedResolution, repository: string, refused: string[] = []): string {
  const m = resolutionMessages(entry);
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, " ");
  const lines = [
    `status\t${entry.resolution.blocked || refused.length ? "blocked" : "ok"}`,
    `repo\t${repository}`,
    ...m.blocks.map((b) => `block\t${clean(b)}`),
    ...refused.map((r) => `refused\t${clean(r)}`),
    ...m.held.map((h) => `held\t${h.name}\t${h.version}\t${clean(h.text)}`),
    ...m.notes.map((n) => `note\t${clean(n)}`),
    ...entry.resolution.outcomes
      .filter((o) => o.status === "ok" && o.chosen)
      .map((o) => `pkg\t${o.name}\t${o.chosen!.version}\t${o.chosen!.repo.source}`),
  ];
  return lines.join("\n") + "\n";
}

export function directText(outcomes: DirectOutcome[]): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, " ");
  const blocked = outcomes.some((o) => o.verdict === "block");
  // `local<TAB>index<TAB>path<TAB>copy|dir`: what R installs instead of the index-th argument.
  const locals = blocked
    ? []
    : outcomes.flatMap((o, i) => (o.local ? [`local\t${i + 1}\t${clean(o.local.path)}\t${o.local.copy ? "copy" : "dir"}`] : []));
  return [`status\t${blocked ? "blocked" : "ok"}`, ...directLines(outcomes).map((l) => `${l.kind}\t${clean(l.text)}`), ...locals].join("\n") + "\n";
}
