import { gunzipSync } from "node:zlib";
import type { HttpClient } from "../core/http.js";
import { SafePipError, describeError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import type { Ecosystem } from "../checks/release.js";
import { parseDcf, type DcfRecord } from "./dcf.js";
import { isValidRName } from "./deps.js";
import { isValidRVersion, compareRVersions } from "./versions.js";
import { parsePublication } from "./age.js";
import { readFileFromTarGz } from "./tar.js";
import type { InternalNames } from "./internal-names.js";
import type { PackageRecord, RepoRef, Source } from "./types.js";

export function repoRef(url: string, source: Source, patterns: string[] = []): RepoRef {
  const base = url.replace(/\/+$/, "");
  return { url: base, label: redactUrl(base), source, ecosystem: ecosystemOf(base), patterns };
}

/** Bioconductor repositories are matched against OSV's `Bioconductor` ecosystem, all else `CRAN`. */
export function ecosystemOf(url: string): Ecosystem {
  try {
    return /(^|\.)bioconductor\.org$/i.test(new URL(url).hostname) ? "Bioconductor" : "CRAN";
  } catch {
    return "CRAN";
  }
}

export interface UpstreamOptions {
  /** How long an index or archive listing is reused before it is fetched again. */
  ttlMs: number;
  /** Cap on an index after decompression, and on bytes read from a tarball to find DESCRIPTION. */
  maxBytes: number;
  now: () => number;
}

interface Cached<T> {
  at: number;
  value: Promise<T>;
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * One upstream CRAN-like repository: its PACKAGES index, `Archive/` listings, tarball
 * DESCRIPTIONs and binary indexes, each fetched through HttpClient and cached. Anything it cannot
 * fetch or read is an error, never an empty (and so unfiltered-looking) answer: only a 404 on an
 * optional file (an archive listing, a binary index) means "nothing there".
 */
export class CranUpstream {
  private indexCache: Cached<Map<string, PackageRecord[]>> | undefined;
  private readonly archives = new Map<string, Cached<Array<{ version: string; file: string }>>>();
  private readonly descriptions = new Map<string, Promise<DcfRecord>>();
  private readonly binaries = new Map<string, Cached<Map<string, DcfRecord[]>>>();
  /** Records skipped because their Package, Version or Path could not be trusted. */
  readonly invalid: string[] = [];

  constructor(
    readonly repo: RepoRef,
    private readonly http: HttpClient,
    private readonly opts: UpstreamOptions,
    /** Internal repositories: the names they listed before, checked on every index load. */
    private readonly memory?: { names: InternalNames; allowShrink: boolean },
  ) {}

  /** Names this (internal) repository listed in any earlier index: they stay internal. */
  knownNames(): ReadonlySet<string> {
    return this.memory?.names.known(this.repo) ?? new Set();
  }

  private cached<T>(entry: Cached<T> | undefined, load: () => Promise<T>, set: (c: Cached<T>) => void): Promise<T> {
    const now = this.opts.now();
    if (entry && now - entry.at < this.opts.ttlMs) return entry.value;
    const value = load();
    // A failure must not stick: the next request tries again.
    value.catch(() => set({ at: -Infinity, value }));
    set({ at: now, value });
    return value;
  }

  contribUrl(path = ""): string {
    return `${this.repo.url}/src/contrib${path ? `/${path}` : ""}`;
  }

  fileUrl(rec: Pick<PackageRecord, "path" | "file">): string {
    return `${this.contribUrl(rec.path)}/${rec.file}`;
  }

  /** Every valid record of `src/contrib/PACKAGES`, by package name, newest version first. */
  index(): Promise<Map<string, PackageRecord[]>> {
    return this.cached(this.indexCache, () => this.loadIndex(), (c) => (this.indexCache = c));
  }

  private async loadIndex(): Promise<Map<string, PackageRecord[]>> {
    const records = await this.fetchPackages(this.contribUrl(), true);
    const out = new Map<string, PackageRecord[]>();
    for (const rec of records) {
      const r = this.toRecord(rec);
      if (!r) continue;
      const list = out.get(r.name) ?? [];
      list.push(r);
      out.set(r.name, list);
    }
    for (const list of out.values()) list.sort((a, b) => compareRVersions(b.version, a.version));
    this.memory?.names.observe(this.repo, out.keys(), this.memory.allowShrink);
    return out;
  }

  private toRecord(rec: DcfRecord): PackageRecord | undefined {
    const name = rec.Package ?? "";
    const version = rec.Version ?? "";
    const path = rec.Path ?? "";
    const pathOk = path === "" || path.split("/").every((s) => SAFE_SEGMENT.test(s));
    if (!isValidRName(name) || !isValidRVersion(version) || !pathOk) {
      this.invalid.push(`${name || "?"} ${version || "?"}`);
      return undefined;
    }
    // R asks for `<name>_<version>.tar.gz` (the served index carries no File); a File naming any
    // other tarball would make the release judged here differ from the bytes fetched. The record
    // is kept, refused, so the name stays where it is (an internal name does not fall to public).
    const file = `${name}_${version}.tar.gz`;
    const refused =
      rec.File !== undefined && rec.File !== file
        ? `${this.repo.label}: PACKAGES names the file ${JSON.stringify(rec.File).slice(1, -1)} for ${name} ${version}; only ${file} is accepted`
        : undefined;
    return { name, version, repo: this.repo, path, file, fields: rec, published: parsePublication(rec["Date/Publication"]), refused };
  }

  /**
   * PACKAGES.gz, else PACKAGES (R's own order after the .rds we never read). Only a 404 moves on
   * to the next file; a missing index is an error when `required`, else an empty list.
   */
  private async fetchPackages(dir: string, required: boolean): Promise<DcfRecord[]> {
    for (const name of ["PACKAGES.gz", "PACKAGES"]) {
      const url = `${dir}/${name}`;
      const res = await this.http.get(url, undefined, this.opts.maxBytes);
      if (res.status === 404 || res.status === 410) continue;
      if (res.status !== 200) throw unavailable(url, `HTTP ${res.status}`);
      let text: string;
      try {
        text = (name.endsWith(".gz") ? gunzipSync(res.body, { maxOutputLength: this.opts.maxBytes }) : res.body).toString("utf8");
      } catch (err) {
        throw unavailable(url, `cannot be decompressed (${describeError(err)})`);
      }
      try {
        return parseDcf(text);
      } catch (err) {
        throw unavailable(url, `is not a valid PACKAGES index: ${describeError(err)}`);
      }
    }
    if (required) throw unavailable(`${dir}/PACKAGES`, "not found (HTTP 404)");
    return [];
  }

  /** The versions under `src/contrib/Archive/<name>/`, newest first; none when there is no listing. */
  archive(name: string): Promise<Array<{ version: string; file: string }>> {
    return this.cached(this.archives.get(name), () => this.loadArchive(name), (c) => this.archives.set(name, c));
  }

  private async loadArchive(name: string): Promise<Array<{ version: string; file: string }>> {
    const url = `${this.contribUrl(`Archive/${name}`)}/`;
    const res = await this.http.get(url, "text/html", this.opts.maxBytes);
    if (res.status === 404 || res.status === 410) return [];
    if (res.status !== 200) throw unavailable(url, `HTTP ${res.status}`);
    const escaped = name.replace(/\./g, "\\.");
    const re = new RegExp(`^${escaped}_(\\d+(?:[.-]\\d+)+)\\.tar\\.gz$`);
    const seen = new Map<string, string>();
    for (const m of res.body.toString("utf8").matchAll(/href\s*=\s*["']([^"']+)["']/gi)) {
      const file = safeDecode(m[1]!.split(/[?#]/)[0]!.split("/").pop() ?? "");
      const v = re.exec(file);
      if (v) seen.set(v[1]!, file);
    }
    return [...seen].map(([version, file]) => ({ version, file })).sort((a, b) => compareRVersions(b.version, a.version));
  }

  /** An archived version as a record, its fields read from the tarball's DESCRIPTION. */
  async archivedRecord(name: string, version: string, file: string): Promise<PackageRecord> {
    const base = { name, version, repo: this.repo, path: `Archive/${name}`, file };
    const fields = await this.description({ ...base, fields: {} });
    return { ...base, fields, published: parsePublication(fields["Date/Publication"]) };
  }

  /**
   * The DESCRIPTION inside a release's tarball (only the first few kilobytes are read). Throws
   * UNAVAILABLE when the tarball cannot be fetched, and a plain Error when its content is not
   * the package and version the index promised.
   */
  description(rec: PackageRecord): Promise<DcfRecord> {
    const url = this.fileUrl(rec);
    let p = this.descriptions.get(url);
    if (!p) {
      p = this.loadDescription(rec, url);
      p.catch(() => this.descriptions.delete(url));
      this.descriptions.set(url, p);
    }
    return p;
  }

  private async loadDescription(rec: PackageRecord, url: string): Promise<DcfRecord> {
    const res = await this.http.open(url);
    if (res.status !== 200) {
      res.body.resume();
      throw unavailable(url, `HTTP ${res.status}`);
    }
    let data: Buffer | undefined;
    try {
      data = await readFileFromTarGz(res.body, (p) => p === `${rec.name}/DESCRIPTION`, this.opts.maxBytes);
    } catch (err) {
      if (err instanceof SafePipError) throw err;
      throw new Error(`${redactUrl(url)}: cannot be read as a package tarball (${describeError(err)})`);
    }
    if (!data) throw new Error(`${redactUrl(url)}: no ${rec.name}/DESCRIPTION in the tarball`);
    const fields = parseDcf(data.toString("utf8"))[0] ?? {};
    if (fields.Package !== rec.name || compareRVersions(fields.Version ?? "", rec.version) !== 0)
      throw new Error(`${redactUrl(url)}: the tarball holds ${fields.Package ?? "?"} ${fields.Version ?? "?"}, not ${rec.name} ${rec.version}`);
    return fields;
  }

  /** A binary index (`bin/<platform>/contrib/<x.y>/PACKAGES`), by name; empty when there is none. */
  binaryIndex(binDir: string): Promise<Map<string, DcfRecord[]>> {
    return this.cached(
      this.binaries.get(binDir),
      async () => {
        const out = new Map<string, DcfRecord[]>();
        for (const rec of await this.fetchPackages(`${this.repo.url}/${binDir}`, false)) {
          if (!rec.Package) continue;
          out.set(rec.Package, [...(out.get(rec.Package) ?? []), rec]);
        }
        return out;
      },
      (c) => this.binaries.set(binDir, c),
    );
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a malformed link is just not a tarball name
  }
}

function unavailable(url: string, why: string): SafePipError {
  return new SafePipError("UNAVAILABLE", `${redactUrl(url)}: ${why}`);
}

/** The upstream a record came from (records keep the RepoRef object of their repository). */
export function upstreamOf(upstreams: readonly CranUpstream[], rec: PackageRecord): CranUpstream {
  const up = upstreams.find((u) => u.repo === rec.repo);
  if (!up) throw new Error(`no upstream for ${rec.repo.label}`);
  return up;
}
