import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { inflateRawSync } from "node:zlib";
import { checkLicense, licenseFromMetadata } from "../checks/license.js";
import type { Reason } from "../checks/types.js";
import { normalizeName } from "../core/names.js";
import { redactText, redactUrl } from "../core/redact.js";
import type { Policy } from "../policy/schema.js";
import { readFileFromTarGz } from "../r/tar.js";
import { parseCoreMetadata, requiresDist } from "./core-metadata.js";

/**
 * The verdicts that can only be made once a release's core metadata is at hand (the PEP 658
 * `.metadata` file, a wheel's METADATA, an sdist's PKG-INFO): direct references among its
 * dependencies, and its licence. Only blocking reasons are returned; a release with none passes.
 *
 * A direct reference is blocked whatever its marker says: PyPI refuses uploads that carry one, so
 * a release that has one comes from an index nobody vetted it on, and an `extra == …` marker is
 * one `pip install x[extra]` away from being followed.
 */
export function judgeCoreMetadata(text: string, policy: Policy): Reason[] {
  const reasons: Reason[] = [];
  if (policy.directReferences === "block") {
    for (const dep of requiresDist(text)) {
      if (!dep.name) {
        reasons.push({ check: "direct", verdict: "block", message: `declares a dependency safe-pip cannot read ("${redactText(dep.raw).slice(0, 120)}")` });
      } else if (dep.url !== undefined) {
        reasons.push({
          check: "direct",
          verdict: "block",
          message: `depends on "${dep.name} @ ${redactUrl(dep.url)}", a direct reference that bypasses the index (directReferences: block)`,
        });
      }
    }
  }
  reasons.push(...checkLicense(licenseFromMetadata(text), policy.licenses, policy.unknownLicense).filter((r) => r.verdict === "block"));
  return reasons;
}

/**
 * What pip gets instead of the real `.metadata` of a release the index has just hidden. Its Name
 * differs from the project's, so pip 22.2+ raises MetadataInconsistent for the link, which its
 * resolver treats as "discard this candidate and try the next one" — in the same pass, without
 * ever downloading the release. The name carries the reason, since pip prints it. (The page
 * therefore never carries the upstream's metadata hash: the index checks that hash itself.)
 */
export function hiddenMetadata(name: string, version: string, reasons: Reason[]): string {
  const why = reasons.map((r) => r.message).join("; ").replace(/[\r\n]+/g, " ");
  return `Metadata-Version: 2.1\nName: ${name} ${version} hidden by safe-pip: ${why}\nVersion: ${version}\n`;
}

const COMPARED = ["name", "version", "requires-dist", "requires-python", "license", "license-expression", "license-file", "provides-extra", "classifier"];

/**
 * The first field in which a file's own metadata differs from the `.metadata` the index served
 * for it (order of repeated fields aside), or undefined when they agree. pip resolves with the
 * served file and installs the real one, so any difference here is a difference in what was judged.
 */
export function metadataDifference(served: string, own: string): string | undefined {
  const a = parseCoreMetadata(served);
  const b = parseCoreMetadata(own);
  for (const field of COMPARED) {
    const norm = (m: typeof a) =>
      m
        .all(field)
        .map((v) => (field === "name" ? normalizeName(v) : v.replace(/\s+/g, " ").trim()))
        .sort()
        .join("\n");
    if (norm(a) !== norm(b)) return field;
  }
  return undefined;
}

/**
 * A file passing through the index, kept so its metadata can be read once the last byte arrived
 * (a zip's directory is at its end). Small files stay in memory; past `memoryLimit` the rest goes
 * to a temporary file, so a 1 GB wheel does not become 1 GB of heap.
 */
export class Spool {
  private chunks: Buffer[] = [];
  private joined: Buffer | undefined;
  private fd: number | undefined;
  private dir: string | undefined;
  size = 0;

  constructor(private readonly memoryLimit = 32 * 1024 * 1024) {}

  add(buf: Buffer): void {
    if (this.fd === undefined && this.size + buf.length > this.memoryLimit) {
      this.dir = mkdtempSync(join(tmpdir(), "safe-pip-spool-"));
      this.fd = openSync(join(this.dir, "file"), "w+");
      for (const c of this.chunks) writeSync(this.fd, c);
      this.chunks = [];
    }
    if (this.fd !== undefined) writeSync(this.fd, buf);
    else this.chunks.push(buf);
    this.size += buf.length;
  }

  read(pos: number, len: number): Buffer {
    const n = Math.max(0, Math.min(len, this.size - pos));
    if (this.fd !== undefined) {
      const out = Buffer.alloc(n);
      readSync(this.fd, out, 0, n, pos);
      return out;
    }
    this.joined ??= Buffer.concat(this.chunks);
    return this.joined.subarray(pos, pos + n);
  }

  stream(): Readable {
    const self = this;
    return Readable.from(
      (function* () {
        for (let pos = 0; pos < self.size; pos += 1024 * 1024) yield self.read(pos, 1024 * 1024);
      })(),
    );
  }

  dispose(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.fd = undefined;
    this.chunks = [];
    this.joined = undefined;
  }
}

const MAX_METADATA = 4 * 1024 * 1024;

/** One file out of a zip archive (stored or deflated; zip64 understood), read from its central directory. */
export function readZipEntry(spool: Pick<Spool, "read" | "size">, wanted: (name: string) => boolean): { name: string; data: Buffer }[] {
  const size = spool.size;
  const tailLen = Math.min(size, 65557);
  const tail = spool.read(size - tailLen, tailLen);
  const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  let entries = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || cdSize === 0xffffffff || entries === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new Error("zip64 archive without its locator");
    const z = spool.read(Number(tail.readBigUInt64LE(loc + 8)), 56);
    if (z.readUInt32LE(0) !== 0x06064b50) throw new Error("zip64 end of central directory is missing");
    entries = Number(z.readBigUInt64LE(32));
    cdSize = Number(z.readBigUInt64LE(40));
    cdOffset = Number(z.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw new Error("central directory lies outside the file");
  const cd = spool.read(cdOffset, cdSize);
  const found: { name: string; data: Buffer }[] = [];
  let p = 0;
  for (let i = 0; i < entries && p + 46 <= cd.length; i++) {
    if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt central directory");
    const method = cd.readUInt16LE(p + 10);
    let comp = cd.readUInt32LE(p + 20);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let local = cd.readUInt32LE(p + 42);
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    if (wanted(name)) {
      if (comp === 0xffffffff || local === 0xffffffff) {
        // zip64 extra field: the 64-bit values present are those whose 32-bit field is all ones.
        const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
        for (let e = 0; e + 4 <= extra.length; ) {
          const id = extra.readUInt16LE(e);
          const len = extra.readUInt16LE(e + 2);
          if (id === 1) {
            let q = e + 4;
            if (cd.readUInt32LE(p + 24) === 0xffffffff) q += 8;
            if (comp === 0xffffffff) (comp = Number(extra.readBigUInt64LE(q))), (q += 8);
            if (local === 0xffffffff) local = Number(extra.readBigUInt64LE(q));
          }
          e += 4 + len;
        }
      }
      if (comp > MAX_METADATA) throw new Error(`${name} is larger than ${MAX_METADATA} bytes`);
      const lh = spool.read(local, 30);
      if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50) throw new Error(`corrupt local header for ${name}`);
      const raw = spool.read(local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28), comp);
      if (method === 0) found.push({ name, data: raw });
      else if (method === 8) found.push({ name, data: inflateRawSync(raw, { maxOutputLength: MAX_METADATA }) });
      else throw new Error(`${name} uses zip compression method ${method}`);
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  return found;
}

/**
 * The core metadata a distribution file carries, read from the bytes that passed through: a
 * wheel's `*.dist-info/METADATA`, an sdist's top-level `PKG-INFO` (.tar.gz or .zip). undefined
 * for formats the index does not read (other sdist compressions); throws when a wheel's metadata
 * cannot be found or read, since pip could not install such a wheel either.
 */
export async function fileMetadata(filename: string, spool: Spool): Promise<string | undefined> {
  if (filename.endsWith(".whl")) {
    const hits = readZipEntry(spool, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n));
    if (hits.length !== 1) throw new Error(`${filename} has ${hits.length} .dist-info/METADATA files`);
    return hits[0]!.data.toString("utf8");
  }
  const pkgInfo = (n: string) => /^[^/]+\/PKG-INFO$/.test(n);
  if (/\.zip$/i.test(filename)) return readZipEntry(spool, pkgInfo)[0]?.data.toString("utf8");
  if (/\.(tar\.gz|tgz)$/i.test(filename)) {
    const data = await readFileFromTarGz(spool.stream(), pkgInfo, 512 * 1024 * 1024).catch(() => undefined);
    return data?.toString("utf8");
  }
  return undefined;
}
