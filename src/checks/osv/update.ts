/**
 * `safe-pip osv update`: refreshes the offline OSV database from the osv.dev export bucket.
 *
 * Layout (and so what `osv.database` / `osv.exportUrl` mean):
 *  - `exportUrl` is a URL template; `{ecosystem}` is replaced by `PyPI`, `CRAN` and `Bioconductor`.
 *    Default: https://storage.googleapis.com/osv-vulnerabilities/{ecosystem}/all.zip (one zip per
 *    ecosystem, standards.md §6.3). A URL without `{ecosystem}` is downloaded once as is.
 *  - `database` is a directory → each export goes to `<dir>/<ecosystem>/all.zip` (or `<dir>/all.zip`
 *    for a URL without the placeholder), and the stamp to `<dir>/.safe-pip-updated`.
 *  - `database` ends in `.zip` → one file; the template is expanded for `PyPI` only (a single export
 *    can't hold several ecosystems' zips), stamp at `<file>.safe-pip-updated`.
 *
 * Each file is downloaded to a temporary name next to its target, checked to be a readable export of
 * OSV records, and only then renamed over the old one: a failed or interrupted update leaves the
 * previous database in place, and a concurrent safe-pip run sees either the old or the new file.
 * The stamp is written last, so the database only counts as fresh once every file is in.
 *
 * Bioconductor is optional: should the bucket publish no Bioconductor export (HTTP 404) it is
 * reported and skipped, since the R Consortium's advisories are all filed under CRAN today.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { SafePipError, configError, describeError } from "../../core/errors.js";
import type { HttpClient, HttpStream } from "../../core/http.js";
import { redactUrl } from "../../core/redact.js";
import type { OsvPolicy } from "../../policy/schema.js";
import type { Ecosystem } from "../release.js";
import { recordsFromZip, stampPath } from "./offline.js";

export const DEFAULT_EXPORT_URL = "https://storage.googleapis.com/osv-vulnerabilities/{ecosystem}/all.zip";
const ECOSYSTEMS: readonly Ecosystem[] = ["PyPI", "CRAN", "Bioconductor"];
const OPTIONAL: ReadonlySet<Ecosystem> = new Set(["Bioconductor"]);
/** The whole-ecosystem PyPI export is tens of MB; this only stops a runaway server filling the disk. */
const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;

interface Download {
  ecosystem: Ecosystem | undefined;
  url: string;
  target: string;
}

interface Done {
  ecosystem: Ecosystem | undefined;
  url: string;
  target: string;
  records: number | undefined; // undefined: optional export not published
}

export interface UpdateOptions {
  now?: () => Date;
}

function plan(database: string, template: string): Download[] {
  const perEcosystem = template.includes("{ecosystem}");
  if (/\.zip$/i.test(database)) {
    return [{ ecosystem: perEcosystem ? "PyPI" : undefined, url: template.replaceAll("{ecosystem}", "PyPI"), target: database }];
  }
  if (!perEcosystem) return [{ ecosystem: undefined, url: template, target: join(database, "all.zip") }];
  return ECOSYSTEMS.map((e) => ({ ecosystem: e, url: template.replaceAll("{ecosystem}", e), target: join(database, e, "all.zip") }));
}

function exportError(url: string, reason: string, cause?: unknown): SafePipError {
  return new SafePipError("UNAVAILABLE", `OSV export ${redactUrl(url)}: ${reason}`, cause === undefined ? undefined : { cause });
}

async function download(http: HttpClient, d: Download): Promise<Done> {
  let res: HttpStream;
  try {
    res = await http.open(d.url, "application/zip, application/octet-stream");
  } catch (err) {
    throw err instanceof SafePipError ? new SafePipError("UNAVAILABLE", `OSV export ${err.message}`, { cause: err }) : exportError(d.url, describeError(err), err);
  }
  if (res.status !== 200) {
    // undici reports destroy() as an 'error' event ("Request aborted"); without a listener that
    // event would crash the process.
    res.body.on("error", () => undefined);
    res.body.destroy();
    if (res.status === 404 && d.ecosystem && OPTIONAL.has(d.ecosystem)) return { ...d, records: undefined };
    throw exportError(d.url, `HTTP ${res.status}`);
  }
  await mkdir(dirname(d.target), { recursive: true });
  const tmp = `${d.target}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    let size = 0;
    await pipeline(
      res.body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > MAX_DOWNLOAD_BYTES) throw new Error(`larger than ${MAX_DOWNLOAD_BYTES} bytes`);
          yield chunk;
        }
      },
      createWriteStream(tmp),
    );
    let records: number;
    try {
      records = recordsFromZip(await readFile(tmp), "the downloaded file").length;
    } catch (err) {
      throw exportError(d.url, `not a usable OSV export: ${describeError(err)}`);
    }
    await rename(tmp, d.target);
    return { ...d, records };
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (err instanceof SafePipError) throw err;
    throw exportError(d.url, `download failed: ${describeError(err)}`, err);
  }
}

/** Downloads the export(s), replaces the database atomically, writes the stamp; returns one line. */
export async function updateOfflineDatabase(policy: OsvPolicy, http: HttpClient, opts: UpdateOptions = {}): Promise<string> {
  if (!policy.database) throw configError("osv.database is not set", 'set "osv": {"database": "<dir or file.zip>"} in the policy');
  const database = resolve(policy.database);
  const template = policy.exportUrl ?? DEFAULT_EXPORT_URL;
  const isDirectory = !/\.zip$/i.test(database);
  if (isDirectory) {
    const st = await stat(database).catch(() => undefined);
    if (st && !st.isDirectory()) throw configError(`osv.database ${database} is a file; use a directory or a path ending in .zip`);
    await mkdir(database, { recursive: true });
  } else {
    await mkdir(dirname(database), { recursive: true });
  }

  const done: Done[] = [];
  // One at a time: each export is read back whole to validate it, so keep one in memory at once.
  for (const d of plan(database, template)) done.push(await download(http, d));

  const updatedAt = (opts.now?.() ?? new Date()).toISOString();
  const stamp = stampPath(database, isDirectory);
  const stampTmp = `${stamp}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const files = done.map((d) => ({ ecosystem: d.ecosystem ?? null, url: redactUrl(d.url), file: d.target, records: d.records ?? null }));
  await writeFile(stampTmp, JSON.stringify({ updatedAt, files }, null, 2) + "\n");
  await rename(stampTmp, stamp);

  const counts = done
    .filter((d) => d.records !== undefined)
    .map((d) => `${d.records!.toLocaleString("en-US")} ${d.ecosystem ?? "OSV"}`)
    .join(", ");
  const skipped = done.filter((d) => d.records === undefined).map((d) => `${d.ecosystem}: no export published`);
  return `updated offline OSV database ${database}: ${counts} records${skipped.length ? ` (${skipped.join("; ")})` : ""} from ${redactUrl(template)}`;
}
