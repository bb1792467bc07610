/**
 * A PEP 751 lock file (pylock.toml) from the verdict: every package pip installed through the
 * unified index, with its version, the upstream index that served it (public or internal, never
 * safe-pip's own 127.0.0.1 index, which lives for one run) and the file pip got, by its upstream
 * URL and the sha256 pip's report gives. pip 26.1+ replays it with `pip install -r pylock.toml`.
 * Local projects and direct references have no index file to lock: they are listed as comments.
 */
import { basename } from "node:path";
import type { ReportItem } from "../pip/report.js";

/** The upstream copy of a file pip installed (its absolute URL, already redacted). */
export interface LockedFile {
  url: string;
  uploadTime?: string | undefined;
  size?: number | undefined;
}

export interface PylockPackage {
  item: ReportItem;
  /** The upstream simple index that answered for the project (redacted). */
  index?: string | undefined;
  file?: LockedFile | undefined;
}

/** A TOML basic string: JSON's escapes are TOML's for every character JSON.stringify produces. */
function str(s: string): string {
  return JSON.stringify(s).replace(/\u007f/g, "\\u007f");
}

/** The file name pip fetched: the last path segment of the report's URL, without query or fragment. */
export function reportFilename(url: string): string {
  try {
    return decodeURIComponent(basename(new URL(url).pathname));
  } catch {
    return basename(url.split(/[?#]/)[0] ?? url);
  }
}

export function buildPylock(packages: readonly PylockPackage[], header: string[], createdBy: string): string {
  const lines = [...header.map((h) => `# ${h}`), 'lock-version = "1.0"', `created-by = ${str(createdBy)}`];
  const skipped: string[] = [];
  for (const { item, index, file } of [...packages].sort((a, b) => a.item.name.localeCompare(b.item.name))) {
    if (item.localDir || item.isDirect || !item.sha256 || !file) {
      const why = item.localDir ? "local project" : item.isDirect ? "direct reference" : !item.sha256 ? "no sha256" : "no upstream file";
      skipped.push(`# not locked (${why}): ${item.name} ${item.version}`);
      continue;
    }
    const filename = reportFilename(item.url);
    lines.push("", "[[packages]]", `name = ${str(item.name)}`, `version = ${str(item.version)}`);
    if (index) lines.push(`index = ${str(index)}`);
    const fields = [`name = ${str(filename)}`, `url = ${str(file.url)}`];
    // A TOML offset date-time, written bare; anything else the upstream sent is left out.
    if (file.uploadTime && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(file.uploadTime)) fields.push(`upload-time = ${file.uploadTime}`);
    if (file.size !== undefined) fields.push(`size = ${file.size}`);
    fields.push(`hashes = { sha256 = ${str(item.sha256)} }`);
    // A wheel goes in the wheels array, anything else pip built is the sdist.
    if (filename.endsWith(".whl")) lines.push("[[packages.wheels]]", ...fields);
    else lines.push("[packages.sdist]", ...fields);
  }
  return [...lines, ...(skipped.length ? ["", ...skipped] : [])].join("\n") + "\n";
}
