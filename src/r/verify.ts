import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import { readZip } from "../checks/osv/offline.js";
import type { HttpClient } from "../core/http.js";
import { SafePipError, describeError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import { parseDcf, type DcfRecord } from "./dcf.js";
import { readFileFromTar, readFileFromTarGz } from "./tar.js";
import { compareRVersions } from "./versions.js";

/** Largest package archive fetched (compressed); CRAN's largest source packages are a few hundred MB. */
export const MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024;
/** Largest archive read through (decompressed): a bomb costs reading time, never memory. */
export const MAX_UNPACKED_BYTES = 4 * 1024 * 1024 * 1024;

/** Every top-level DESCRIPTION: a package archive holds one (R CMD INSTALL refuses several top-level entries too). */
export const TOP_DESCRIPTION = (p: string) => /^[^/]+\/DESCRIPTION$/.test(p);

/** The archive is not the package that was judged: refused, never served or installed. */
export class RefusedArchive extends Error {}

/** Largest .zip read (it is read into memory to walk its central directory). */
export const MAX_ZIP_BYTES = 512 * 1024 * 1024;

/** The archive forms R installs from a file, and how each is read here. */
export const ARCHIVE_FORMS = /\.(tar\.gz|tgz|tar\.xz|tar\.bz2|zip)$/i;

/** A fetched archive on local disk; `cleanup` removes it. */
export interface LocalArchive {
  path: string;
  cleanup(): void;
}

/**
 * Downloads `url` to a private temporary file (bounded by MAX_ARCHIVE_BYTES), in a new directory
 * under `parent`. Throws
 * UNAVAILABLE when it cannot be fetched. The caller reads, judges and serves this one copy, so
 * what is installed is byte for byte what was judged.
 */
export async function download(http: HttpClient, url: string, name: string, parent: string = tmpdir()): Promise<LocalArchive> {
  const dir = mkdtempSync(join(parent, "safe-pip-r-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const path = join(dir, name.replace(/[^A-Za-z0-9._+-]/g, "_") || "archive");
  try {
    const res = await http.open(url);
    if (res.status !== 200) {
      res.body.resume();
      throw new SafePipError("UNAVAILABLE", `${redactUrl(url)}: HTTP ${res.status}`);
    }
    let size = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > MAX_ARCHIVE_BYTES) done(new Error(`larger than ${MAX_ARCHIVE_BYTES} bytes`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(res.body, limit, createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      throw new SafePipError("UNAVAILABLE", `${redactUrl(url)}: download failed (${describeError(err)})`);
    }
    return { path, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * The one DESCRIPTION of a local .tar.gz/.tgz, read through the whole archive the way R extracts
 * it: a second top-level DESCRIPTION, a duplicate or a link is refused (R would install the last
 * copy, or both), as is an archive without one.
 */
export async function tarGzDescription(path: string, shown: string): Promise<DcfRecord> {
  let data: Buffer | undefined;
  try {
    data = await readFileFromTarGz(createReadStream(path), TOP_DESCRIPTION, MAX_UNPACKED_BYTES, { whole: true });
  } catch (err) {
    throw new RefusedArchive(`${shown}: cannot be read as a package archive: ${describeError(err)}`);
  }
  if (!data) throw new RefusedArchive(`${shown}: no <package>/DESCRIPTION in the archive`);
  return descriptionOf(data, shown);
}

/**
 * The one top-level DESCRIPTION of a package archive in any form R installs: .tar.gz/.tgz (read
 * here), .tar.xz and .tar.bz2 (decompressed by `xz -dc` / `bzip2 -dc`, then read as tar) and .zip
 * (its central directory, which is what unzip extracts from). Anything unreadable is refused.
 */
export async function archiveDescription(path: string, shown: string): Promise<DcfRecord> {
  const lower = path.toLowerCase();
  if (/\.(tar\.gz|tgz)$/.test(lower)) return tarGzDescription(path, shown);
  if (lower.endsWith(".tar.xz")) return decompressedTarDescription("xz", path, shown);
  if (lower.endsWith(".tar.bz2")) return decompressedTarDescription("bzip2", path, shown);
  if (lower.endsWith(".zip")) return zipDescription(path, shown);
  throw new RefusedArchive(`${shown}: not a package archive safe-pip can read (.tar.gz, .tgz, .tar.xz, .tar.bz2 or .zip)`);
}

async function decompressedTarDescription(tool: "xz" | "bzip2", path: string, shown: string): Promise<DcfRecord> {
  const proc = execa(tool, ["-dc", path], { buffer: false, stdin: "ignore", stderr: "pipe", reject: false });
  let stderr = "";
  proc.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const stdout = proc.stdout!;
  let data: Buffer | undefined;
  let readError: unknown;
  try {
    data = await readFileFromTar(stdout, TOP_DESCRIPTION, MAX_UNPACKED_BYTES, { whole: true });
  } catch (err) {
    readError = err;
  }
  // Stopped at the tar end marker: what the decompressor still has is never extracted.
  const stoppedEarly = !stdout.readableEnded;
  if (stoppedEarly) proc.kill();
  const r = await proc;
  if ((r as { code?: unknown }).code === "ENOENT") throw new RefusedArchive(`${shown}: \`${tool}\` is needed to read it and was not found`);
  if (!stoppedEarly && r.exitCode !== 0)
    throw new RefusedArchive(`${shown}: ${tool} cannot decompress it (${stderr.trim().split("\n")[0] || `exit ${r.exitCode}`})`);
  if (readError) throw new RefusedArchive(`${shown}: cannot be read as a package archive: ${describeError(readError)}`);
  if (!data) throw new RefusedArchive(`${shown}: no <package>/DESCRIPTION in the archive`);
  return descriptionOf(data, shown);
}

function zipDescription(path: string, shown: string): DcfRecord {
  if (statSync(path).size > MAX_ZIP_BYTES) throw new RefusedArchive(`${shown}: larger than ${MAX_ZIP_BYTES} bytes`);
  let found;
  try {
    found = readZip(readFileSync(path), TOP_DESCRIPTION);
  } catch (err) {
    throw new RefusedArchive(`${shown}: cannot be read as a package archive: ${describeError(err)}`);
  }
  if (found.length > 1)
    throw new RefusedArchive(`${shown}: the archive holds ${found.map((e) => e.name).join(" and ")} (one package, one DESCRIPTION per archive)`);
  if (!found[0]) throw new RefusedArchive(`${shown}: no <package>/DESCRIPTION in the archive`);
  return descriptionOf(found[0].data, shown);
}

export function descriptionOf(data: Buffer, shown: string): DcfRecord {
  let fields: DcfRecord | undefined;
  try {
    fields = parseDcf(data.toString("utf8"))[0];
  } catch (err) {
    throw new RefusedArchive(`${shown}: its DESCRIPTION cannot be read: ${describeError(err)}`);
  }
  if (!fields?.Package || !fields.Version) throw new RefusedArchive(`${shown}: its DESCRIPTION has no Package or Version`);
  return fields;
}

/** Refuses an archive whose DESCRIPTION is not the package and version that were judged. */
export function expectPackage(fields: DcfRecord, name: string, version: string, shown: string): void {
  if (fields.Package !== name || compareRVersions(fields.Version ?? "", version) !== 0)
    throw new RefusedArchive(`${shown} holds ${fields.Package ?? "?"} ${fields.Version ?? "?"}, not ${name} ${version}`);
}
