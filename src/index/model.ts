import type { ProjectStatus } from "./status.js";

/** One distribution file as the simple API describes it (PEP 503/691/700/592/658/714). */
export interface DistFile {
  filename: string;
  /** Absolute upstream URL, without the hash fragment. */
  url: string;
  hashes: Record<string, string>;
  requiresPython?: string | undefined;
  /** PEP 658/714: false, true, or the metadata file's hashes. */
  coreMetadata?: boolean | Record<string, string> | undefined;
  /** PEP 592: false, true, or the reason text. */
  yanked?: boolean | string | undefined;
  size?: number | undefined;
  /** PEP 700 upload time, ISO 8601 UTC. */
  uploadTime?: string | undefined;
  gpgSig?: boolean | undefined;
}

export interface ProjectPage {
  name: string;
  files: DistFile[];
  /** PEP 700 `versions` when the upstream gave it. */
  versions?: string[] | undefined;
  /** Where the page came from (redacted when shown). */
  url: string;
  /** PEP 792 project status, when the upstream marks one. */
  status?: ProjectStatus | undefined;
}

const SDIST = /\.(tar\.gz|zip|tar\.bz2|tgz|tar\.xz|tar)$/i;

/**
 * A file's version from its name: wheels by the spec's dash layout, sdists by the first dash whose
 * prefix normalises to the project name (pip's rule, which copes with legacy hyphenated names).
 */
export function versionFromFilename(filename: string, normalizedProject: string): string | undefined {
  if (filename.endsWith(".whl")) {
    const parts = filename.slice(0, -4).split("-");
    if (parts.length !== 5 && parts.length !== 6) return undefined;
    return parts[1];
  }
  const m = SDIST.exec(filename);
  if (!m) return undefined;
  const stem = filename.slice(0, -m[0].length);
  for (let i = stem.indexOf("-"); i !== -1; i = stem.indexOf("-", i + 1)) {
    const prefix = stem.slice(0, i).toLowerCase().replace(/[-_.]+/g, "-");
    if (prefix === normalizedProject) return stem.slice(i + 1) || undefined;
  }
  return undefined;
}

/** A file name safe to serve under our own URL: no path tricks, no control characters. */
export function isSafeFilename(filename: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/.test(filename) && !filename.includes("..") && filename.length < 256;
}
