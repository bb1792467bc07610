import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HttpClient } from "../core/http.js";
import { SafePipError, describeError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import { compareRVersions } from "./versions.js";
import type { PackageRecord } from "./types.js";
import { RefusedArchive, download, expectPackage, tarGzDescription, type LocalArchive } from "./verify.js";

/** One archive R may fetch for a resolution: the file name R asks for, its upstream URL, the judged release. */
export interface ArchiveSource {
  file: string;
  url: string;
  rec: PackageRecord;
}

/** Archives fetched and checked at once: a few at a time, so one install cannot flood the upstream. */
export const PREFETCH_CONCURRENCY = 4;

/**
 * Archives fetched whole and checked (their one DESCRIPTION is the judged package and version)
 * *before* R's installer starts. R's install.packages downloads every tarball, only warns about
 * one that fails, and installs the rest: checking at download time would leave the clean part of
 * an install in place when one archive is refused. So the repository checks the whole closure
 * when the hook resolves it, keeps the checked copies in one private directory, and serves those
 * copies byte for byte (no second fetch). The directory is removed by close().
 */
export class VerifiedArchives {
  private dir: string | undefined;
  // By upstream URL and judged release: a copy is served only for the release it was checked as.
  private readonly copies = new Map<string, Promise<LocalArchive>>();
  private closed = false;

  constructor(
    private readonly http: HttpClient,
    private readonly concurrency = PREFETCH_CONCURRENCY,
  ) {}

  /**
   * Fetches and checks every source not checked yet. Returns one `file: reason` line per refused
   * archive (all of them, not only the first); throws UNAVAILABLE naming the file when one cannot
   * be fetched, since R would then install the rest without it.
   */
  async verifyAll(sources: ArchiveSource[]): Promise<string[]> {
    const refused: string[] = [];
    const failed: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < sources.length) {
        const s = sources[next++]!;
        try {
          await this.verify(s);
        } catch (err) {
          if (err instanceof RefusedArchive) refused.push(`${s.file}: ${err.message}`);
          else failed.push(`${s.file}: ${redactUrl(describeError(err))}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, sources.length) }, worker));
    if (failed.length && !refused.length) throw new SafePipError("UNAVAILABLE", `cannot fetch ${failed.join("; ")}`);
    return [...refused, ...failed.map((f) => `${f} (not fetched)`)];
  }

  /** The checked copy of `url` as `rec`, when verifyAll has made one. */
  async copyFor(url: string, rec: PackageRecord): Promise<string | undefined> {
    const p = this.copies.get(key(url, rec));
    if (!p) return undefined;
    try {
      return (await p).path;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.closed = true;
    this.copies.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private verify(s: ArchiveSource): Promise<LocalArchive> {
    if (this.closed) return Promise.reject(new SafePipError("UNAVAILABLE", "the repository is stopping"));
    const k = key(s.url, s.rec);
    let p = this.copies.get(k);
    if (!p) {
      p = this.fetchChecked(s);
      this.copies.set(k, p);
      // A refusal or a failed fetch is not kept: the next resolution asks the upstream again.
      p.catch(() => this.copies.get(k) === p && this.copies.delete(k));
    }
    return p;
  }

  private async fetchChecked(s: ArchiveSource): Promise<LocalArchive> {
    this.dir ??= mkdtempSync(join(tmpdir(), "safe-pip-r-checked-"));
    const local = await download(this.http, s.url, s.file, this.dir);
    try {
      const shown = redactUrl(s.url);
      expectPackage(await tarGzDescription(local.path, shown), s.rec.name, s.rec.version, shown);
    } catch (err) {
      local.cleanup();
      throw err;
    }
    return local;
  }
}

function key(url: string, rec: PackageRecord): string {
  return `${url}\n${rec.name}\n${rec.version}`;
}

/** `name_version,…` (what the hook says is installed) as name → lowest installed version. */
export function parseInstalled(list: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of (list ?? "").split(",")) {
    const m = /^([A-Za-z0-9.]+)_(\S+)$/.exec(item.trim());
    if (!m) continue;
    const have = out.get(m[1]!);
    if (have === undefined || compareRVersions(m[2]!, have) < 0) out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * What update.packages() will fetch of a resolution: only releases newer than every installed
 * copy, plus packages not installed at all (new dependencies). Checking the rest would download
 * the tarball of every installed package on each update.
 */
export function toBeFetched(sources: ArchiveSource[], installed: Map<string, string>): ArchiveSource[] {
  return sources.filter((s) => {
    const have = installed.get(s.rec.name);
    return have === undefined || compareRVersions(s.rec.version, have) > 0;
  });
}
