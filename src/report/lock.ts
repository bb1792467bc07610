/**
 * A hash-pinned requirements file from the verdict: every package of the resolved set with its
 * sha256, so plain pip can replay exactly that set later with
 * `pip install --require-hashes --no-deps -r FILE` (and any index that has those files).
 */
import type { ReportItem } from "../pip/report.js";

export function buildLock(items: readonly ReportItem[], header: string[]): string {
  const lines = header.map((h) => `# ${h}`);
  const skipped: string[] = [];
  for (const item of [...items].sort((a, b) => a.name.localeCompare(b.name))) {
    // A local project or a direct URL has no index file to pin: listed, so the gap is visible.
    if (item.localDir || item.isDirect || !item.sha256) {
      skipped.push(`# not locked (${item.localDir ? "local project" : item.isDirect ? "direct reference" : "no sha256"}): ${item.name} ${item.version}`);
      continue;
    }
    lines.push(`${item.name}==${item.version} \\`, `    --hash=sha256:${item.sha256}`);
  }
  return [...lines, ...skipped].join("\n") + "\n";
}
