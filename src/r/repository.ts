import { randomBytes } from "node:crypto";
import type { Policy } from "../policy/schema.js";
import type { ReleaseChecker } from "../checks/release.js";
import type { HttpClient } from "../core/http.js";
import { ageCutoff, snapshotRepo } from "./age.js";
import type { DcfRecord } from "./dcf.js";
import { Selector } from "./filter.js";
import { resolveClosure, type Resolution, type ResolveRequest } from "./resolve.js";
import { InternalNames, internalNamesFile } from "./internal-names.js";
import { CranUpstream, repoRef, upstreamOf } from "./upstream.js";
import { compareRVersions } from "./versions.js";
import type { PackageRecord } from "./types.js";
import type { ArchiveSource } from "./prefetch.js";

export interface RepositoryOptions {
  policy: Policy;
  checker: ReleaseChecker;
  http: HttpClient;
  now?: () => number;
  /** How long upstream indexes are reused (default 10 minutes). */
  ttlMs?: number;
  /** Archived versions opened per package before giving up (default 8). */
  maxArchiveTries?: number;
  /** How many resolutions keep their own repository URL (default 64, oldest dropped first). */
  keep?: number;
  /**
   * safe-pip's state directory: where the names each internal repository listed are kept, so
   * they stay internal even when that repository later answers with fewer (internal-names.ts).
   * Without it nothing is remembered beyond this process (tests).
   */
  stateDir?: string | undefined;
}

/** One resolution and the packages it allows: what `/r/<id>/src/contrib/PACKAGES` serves. */
export interface ServedResolution {
  id: string;
  request: ResolveRequest;
  resolution: Resolution;
  served: Map<string, PackageRecord>;
}

/** PACKAGES fields passed on; everything else upstream wrote (and `File`, `Path`) is dropped. */
const SERVED_FIELDS = [
  "Package", "Version", "Priority", "Depends", "Imports", "LinkingTo", "Suggests", "Enhances", "License",
  "License_is_FOSS", "License_restricts_use", "OS_type", "Archs", "MD5sum", "NeedsCompilation",
];

/**
 * The unified CRAN-like repository: the internal repositories and the public one (or its dated
 * snapshot) behind one index that lists only releases the policy allows.
 *
 * It lists only what some resolution has checked. Checking all of CRAN up front would mean
 * ~20,000 advisory lookups and, since CRAN's PACKAGES carries no dates, as many tarball reads;
 * instead the R hook asks to resolve what is about to be installed, and each resolution gets its
 * own repository URL (so R's per-session index cache can never serve an older, smaller list).
 * The base URL lists every package any resolution allowed, for clients that only read
 * `options(repos)`. A package no resolution allowed is simply absent: fail closed.
 */
export class UnifiedRepository {
  readonly internal: CranUpstream[];
  readonly public: CranUpstream;
  /** The snapshot date used for the public repository, when the policy gives a template. */
  readonly snapshotDate: string | undefined;
  private readonly selector: Selector;
  private readonly resolutions = new Map<string, ServedResolution>();
  private readonly union = new Map<string, PackageRecord>();
  private readonly keep: number;
  private readonly upstreams: CranUpstream[];

  constructor(o: RepositoryOptions) {
    const now = o.now ?? Date.now;
    const upstreamOpts = { ttlMs: o.ttlMs ?? 10 * 60e3, maxBytes: o.policy.maxPageBytes, now };
    const cran = o.policy.cran;
    let publicUrl = cran.repo;
    if (cran.snapshot) {
      const snap = snapshotRepo(cran.snapshot, ageCutoff(o.policy, now()));
      publicUrl = snap.url;
      this.snapshotDate = snap.date;
    }
    this.public = new CranUpstream(repoRef(publicUrl, "public"), o.http, upstreamOpts);
    const names = o.stateDir !== undefined ? new InternalNames(internalNamesFile(o.stateDir)) : undefined;
    this.internal = cran.internal.map(
      (s) =>
        new CranUpstream(repoRef(s.url, "internal", s.packages), o.http, upstreamOpts, names && { names, allowShrink: s.allowShrink === true }),
    );
    this.upstreams = [this.public, ...this.internal];
    this.keep = o.keep ?? 64;
    this.selector = new Selector({
      policy: o.policy,
      checker: o.checker,
      internal: this.internal,
      public: this.public,
      publicAgeFromSnapshot: cran.snapshot !== undefined,
      now,
      maxArchiveTries: o.maxArchiveTries ?? 8,
    });
  }

  async resolve(request: ResolveRequest): Promise<ServedResolution> {
    const resolution = await resolveClosure(this.selector, request);
    const served = new Map<string, PackageRecord>();
    // A blocked install gets no repository at all: nothing of it may be fetched.
    if (!resolution.blocked)
      for (const o of resolution.outcomes) if (o.status === "ok" && o.chosen) served.set(o.name, o.chosen);
    const entry: ServedResolution = { id: randomBytes(8).toString("hex"), request, resolution, served };
    this.resolutions.set(entry.id, entry);
    for (const [name, rec] of served) this.union.set(name, rec);
    while (this.resolutions.size > this.keep) this.resolutions.delete(this.resolutions.keys().next().value!);
    return entry;
  }

  /**
   * Nothing of a resolution is served any more (an archive of it was refused before the install):
   * its URL lists nothing, and the base URL drops what only it had added.
   */
  withdraw(entry: ServedResolution): void {
    for (const [name, rec] of entry.served) if (this.union.get(name) === rec) this.union.delete(name);
    entry.served.clear();
  }

  /** The packages served under a resolution's URL, or under the base URL (`id` undefined). */
  served(id: string | undefined): Map<string, PackageRecord> | undefined {
    return id === undefined ? this.union : this.resolutions.get(id)?.served;
  }

  /** The PACKAGES records for a served set: upstream metadata, trimmed, with our own `Path`. */
  packagesIndex(served: Map<string, PackageRecord>): DcfRecord[] {
    return [...served.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((rec) => {
        const out: DcfRecord = {};
        for (const f of SERVED_FIELDS) {
          const v = f === "Package" ? rec.name : f === "Version" ? rec.version : rec.fields[f];
          if (v !== undefined) out[f] = v;
        }
        if (rec.path) out.Path = rec.path;
        return out;
      });
  }

  /** The served release behind a requested tarball name (`alpha_1.0.tar.gz`), if any. */
  tarball(served: Map<string, PackageRecord>, file: string): { rec: PackageRecord; url: string } | undefined {
    const m = /^(.+?)_(\d+(?:[.-]\d+)+)\.tar\.gz$/.exec(file);
    const rec = m ? served.get(m[1]!) : undefined;
    if (!rec || compareRVersions(rec.version, m![2]!) !== 0) return undefined;
    return { rec, url: upstreamOf(this.upstreams, rec).fileUrl(rec) };
  }

  /** The source tarball of every served release: what R fetches from `src/contrib`. */
  sourceArchives(served: Map<string, PackageRecord>): ArchiveSource[] {
    return [...served.values()].map((rec) => ({ file: rec.file, url: upstreamOf(this.upstreams, rec).fileUrl(rec), rec }));
  }

  /** The binaries (`.tgz` on macOS, `.zip` on Windows) listed for a served set in `binDir`. */
  async binaryArchives(served: Map<string, PackageRecord>, binDir: string): Promise<ArchiveSource[]> {
    const { files } = await this.binaryIndex(served, binDir);
    const out: ArchiveSource[] = [];
    for (const [file, url] of files) {
      const rec = served.get(file.replace(/_[^_]*$/, ""));
      if (rec) out.push({ file, url, rec });
    }
    return out;
  }

  /**
   * A binary index (`bin/<platform>/contrib/<x.y>`): a served release is listed when the same
   * repository has a binary of exactly that version, which is the release that was checked.
   * Archived versions have no binaries; R then installs from source.
   */
  async binaryIndex(served: Map<string, PackageRecord>, binDir: string): Promise<{ records: DcfRecord[]; files: Map<string, string> }> {
    const records: DcfRecord[] = [];
    const files = new Map<string, string>();
    for (const rec of [...served.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (rec.path) continue;
      const up = upstreamOf(this.upstreams, rec);
      const bin = (await up.binaryIndex(binDir)).get(rec.name)?.find((b) => compareRVersions(b.Version ?? "", rec.version) === 0);
      if (!bin) continue;
      // Only `<name>_<version>.tgz|.zip`: a File naming another archive would serve something else
      // than the release judged (R then installs from source, which is checked).
      const file = `${rec.name}_${bin.Version}${binDir.includes("windows") ? ".zip" : ".tgz"}`;
      if (bin.File !== undefined && bin.File !== file) continue;
      if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(file)) continue;
      const out: DcfRecord = {};
      for (const f of SERVED_FIELDS) if (bin[f] !== undefined) out[f] = bin[f]!;
      out.File = file;
      records.push(out);
      files.set(file, `${up.repo.url}/${binDir}/${file}`);
    }
    return { records, files };
  }
}
