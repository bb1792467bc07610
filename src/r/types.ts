import type { Ecosystem } from "../checks/release.js";
import type { Reason, Verdict } from "../checks/types.js";
import type { DcfRecord } from "./dcf.js";

export type Source = "internal" | "public";

/** One upstream CRAN-like repository, as the policy names it. */
export interface RepoRef {
  /** Base URL without a trailing slash (the part before `/src/contrib`); may hold credentials. */
  url: string;
  /** The same URL with credentials redacted: the only form that reaches messages and reports. */
  label: string;
  source: Source;
  ecosystem: Ecosystem;
  /** Reserved name patterns of an internal repository (policy `cran.internal[].packages`). */
  patterns: string[];
}

/** One version of one package in one upstream repository. */
export interface PackageRecord {
  name: string;
  version: string;
  repo: RepoRef;
  /** Directory under `src/contrib` holding the tarball: "" for current, `Archive/<name>` for older. */
  path: string;
  /** The upstream tarball's file name: always `<name>_<version>.tar.gz` (a different PACKAGES `File` is refused). */
  file: string;
  /** The metadata at hand: the PACKAGES record, or the tarball's DESCRIPTION for archived versions. */
  fields: DcfRecord;
  /** `Date/Publication`, when known. */
  published?: Date | undefined;
  /**
   * Why the upstream's record cannot be trusted (a `File` naming another tarball): the release is
   * then judged blocked with this reason, and nothing is ever fetched for it.
   */
  refused?: string | undefined;
}

/** What the policy said about one version that was considered. */
export interface VersionDecision {
  name: string;
  version: string;
  source: Source;
  repo: string;
  verdict: Verdict;
  reasons: Reason[];
}

export type PackageStatus = "ok" | "blocked" | "missing" | "base";

/** The outcome for one package of a resolution. */
export interface PackageOutcome {
  name: string;
  status: PackageStatus;
  /** The version that will be served (status "ok"). */
  chosen?: PackageRecord | undefined;
  /** Every version looked at, newest first, with the policy's verdict. */
  decisions: VersionDecision[];
  /** Why no version can be served (status "blocked"), one line each. */
  problems: string[];
  /** Who pulled this package in (empty for packages asked for by name). */
  requiredBy: string[];
  /** The newest version any upstream has, to say what was held back. */
  newest?: string | undefined;
}
