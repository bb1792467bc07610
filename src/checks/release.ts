import type { Reason } from "./types.js";

export type Ecosystem = "PyPI" | "CRAN" | "Bioconductor";

/** What the checks need to know about one release; the index fills it from the upstream page. */
export interface ReleaseInfo {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /** Where the release is served from: internal sources own their names. */
  source: "internal" | "public";
  /** Licence text when the metadata at hand carries it (CRAN's License field, PyPI core metadata). */
  license?: string | undefined;
}

/**
 * Every policy check that depends on a release (allow/deny, licences, OSV, malware) behind one
 * function, so the PyPI index and the CRAN repository apply exactly the same rules. Throws
 * SafePipError("UNAVAILABLE") only when a source is unreachable and the policy fails closed.
 */
export interface ReleaseChecker {
  /** Checks that need only the name (allow, deny of a whole name, typosquat). */
  checkName(ecosystem: Ecosystem, name: string, source: "internal" | "public"): Reason[];
  /** Checks of one release; many versions of one project are checked with one OSV lookup. */
  checkReleases(releases: ReleaseInfo[]): Promise<Map<string, Reason[]>>;
  /** Starts slow lookups (OSV) for a project early, so they overlap with fetching its page. */
  warm?(ecosystem: Ecosystem, name: string): void;
  /** Starts the lookups for many projects at once (one OSV batch), ahead of their pages. */
  warmMany?(ecosystem: Ecosystem, names: string[]): void;
  /** Does the one-off work the first check would otherwise wait for (the typosquat indexes). */
  prepare?(): void;
}

/** A checker that passes everything: for tests of the index alone, and `"osv": "off"` style runs. */
export const PASS_ALL: ReleaseChecker = {
  checkName: () => [],
  checkReleases: async (releases) => new Map(releases.map((r) => [r.version, []])),
};
