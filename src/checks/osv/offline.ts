/**
 * The offline OSV source: records from an export on disk, for air-gapped machines and for runs
 * that must not depend on api.osv.dev being up.
 *
 * `osv.database` is either
 *  - an `all.zip` export (one `<ID>.json` per entry, https://google.github.io/osv.dev/data/), or
 *  - a directory of OSV JSON records and/or such zips, possibly in per-ecosystem subdirectories
 *    (what `safe-pip osv update` writes: `<dir>/PyPI/all.zip`, `<dir>/CRAN/all.zip`).
 *
 * The whole database is read and indexed (ecosystem → package key → records) once per source
 * instance, i.e. once per run; lookups after that are map reads.
 *
 * Freshness: a database older than `maxStalenessMs` is refused (UNAVAILABLE), because silently
 * checking against last year's advisories would look like protection without being it. Its age is
 * the time in the `.safe-pip-updated` stamp that `safe-pip osv update` writes, else the mtime.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { crc32, inflateRawSync } from "node:zlib";
import { formatAge } from "../../core/duration.js";
import { SafePipError, describeError } from "../../core/errors.js";
import type { OsvPolicy } from "../../policy/schema.js";
import type { Ecosystem } from "../release.js";
import { packageKey } from "./match.js";
import type { OsvSource } from "./source.js";
import { OsvFormatError, toOsvRecord, type OsvRecord } from "./types.js";

export const STAMP_NAME = ".safe-pip-updated";
const ECOSYSTEMS: readonly Ecosystem[] = ["PyPI", "CRAN", "Bioconductor"];
/** Directory nesting we follow (`<dir>/<ecosystem>/…` needs 1; leave room, but no runaway walks). */
const MAX_DEPTH = 4;
const READ_PARALLEL = 64;

// ---------------------------------------------------------------------------------------------
// ZIP reader (PKWARE APPNOTE 6.3: §4.3.7 local header, §4.3.12 central directory, §4.3.16 end
// record, §4.3.14/4.5.3 ZIP64). Why our own: no zip package is a dependency, and all we need is
// "every stored or deflated entry of one trusted-format archive", which node:zlib covers.
// ---------------------------------------------------------------------------------------------

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  data: Buffer;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_END64_LOCATOR = 0x07064b50;
/** OSV records are kilobytes; a "record" of more is a zip bomb or garbage. */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError("ZIP64 field out of range");
  return Number(v);
}

function findEnd(buf: Buffer): number {
  // The end record is 22 bytes plus a comment of at most 65,535 bytes, so it is near the end.
  const stop = Math.max(0, buf.length - 22 - 0xffff);
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf.readUInt32LE(i) === SIG_END && i + 22 + buf.readUInt16LE(i + 20) <= buf.length) return i;
  }
  throw new ZipError("no end-of-central-directory record (truncated, or not a zip archive)");
}

/** Every file entry of a ZIP archive held in memory, as an array (see zipEntries). */
export function readZip(buf: Buffer, filter: (name: string) => boolean = () => true): ZipEntry[] {
  return [...zipEntries(buf, filter)];
}

/**
 * Yields the file entries of a ZIP archive held in memory, one at a time (so a caller that parses
 * and drops each entry never holds the whole inflated export). Directory entries are skipped.
 * Throws ZipError for anything malformed: truncation, bad signatures, unknown compression,
 * encryption, size or CRC mismatches — a damaged database must fail loudly, not yield fewer
 * advisories. The central directory is walked fully before the first entry is yielded, so a
 * truncated archive fails before anything is used.
 */
export function* zipEntries(buf: Buffer, filter: (name: string) => boolean = () => true): Generator<ZipEntry> {
  if (buf.length < 22) throw new ZipError(`only ${buf.length} bytes (truncated, or not a zip archive)`);
  const end = findEnd(buf);
  if (buf.readUInt16LE(end + 4) !== 0 || buf.readUInt16LE(end + 6) !== 0) throw new ZipError("multi-disk archives are not supported");
  let count = buf.readUInt16LE(end + 10);
  let cdSize = buf.readUInt32LE(end + 12);
  let cdOffset = buf.readUInt32LE(end + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = end - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== SIG_END64_LOCATOR) throw new ZipError("ZIP64 end-of-central-directory locator missing");
    const at = u64(buf, loc + 8);
    if (at + 56 > buf.length || buf.readUInt32LE(at) !== SIG_END64) throw new ZipError("ZIP64 end-of-central-directory record missing");
    count = u64(buf, at + 32);
    cdSize = u64(buf, at + 40);
    cdOffset = u64(buf, at + 48);
  }
  if (cdOffset + cdSize > buf.length) throw new ZipError("central directory runs past the end of the file (truncated)");

  const entries: Array<{ name: string; flags: number; method: number; crc: number; csize: number; usize: number; localOffset: number }> = [];
  let pos = cdOffset;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > buf.length || buf.readUInt32LE(pos) !== SIG_CENTRAL) throw new ZipError(`central directory entry ${i} is damaged`);
    const flags = buf.readUInt16LE(pos + 8);
    const method = buf.readUInt16LE(pos + 10);
    const crc = buf.readUInt32LE(pos + 16);
    let csize = buf.readUInt32LE(pos + 20);
    let usize = buf.readUInt32LE(pos + 24);
    const nameLen = buf.readUInt16LE(pos + 28);
    const extraLen = buf.readUInt16LE(pos + 30);
    const commentLen = buf.readUInt16LE(pos + 32);
    let localOffset = buf.readUInt32LE(pos + 42);
    const next = pos + 46 + nameLen + extraLen + commentLen;
    if (next > buf.length) throw new ZipError(`central directory entry ${i} is truncated`);
    const name = buf.toString("utf8", pos + 46, pos + 46 + nameLen);
    // ZIP64 extended information (header 0x0001): the 64-bit values, in this order, for each
    // 32-bit field that holds 0xFFFFFFFF.
    for (let x = pos + 46 + nameLen; x + 4 <= pos + 46 + nameLen + extraLen; ) {
      const id = buf.readUInt16LE(x);
      const len = buf.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let f = x + 4;
        if (usize === 0xffffffff) (usize = u64(buf, f)), (f += 8);
        if (csize === 0xffffffff) (csize = u64(buf, f)), (f += 8);
        if (localOffset === 0xffffffff) localOffset = u64(buf, f);
      }
      x += 4 + len;
    }
    pos = next;
    if (name.endsWith("/") || !filter(name)) continue;
    entries.push({ name, flags, method, crc, csize, usize, localOffset });
  }
  for (const { name, flags, method, crc, csize, usize, localOffset } of entries) {
    if (flags & 0x1) throw new ZipError(`${name} is encrypted`);
    if (usize > MAX_ENTRY_BYTES) throw new ZipError(`${name} is ${usize} bytes, more than an OSV record can be`);
    if (localOffset + 30 > buf.length || buf.readUInt32LE(localOffset) !== SIG_LOCAL)
      throw new ZipError(`${name}: local header missing (truncated?)`);
    const dataStart = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    if (dataStart + csize > buf.length) throw new ZipError(`${name}: data runs past the end of the file (truncated)`);
    const packed = buf.subarray(dataStart, dataStart + csize);
    let data: Buffer;
    if (method === 0) data = packed;
    else if (method === 8) {
      try {
        data = inflateRawSync(packed, { maxOutputLength: Math.max(usize, 1) });
      } catch (err) {
        throw new ZipError(`${name}: corrupt deflate data (${describeError(err)})`);
      }
    } else throw new ZipError(`${name}: unsupported compression method ${method}`);
    if (data.length !== usize) throw new ZipError(`${name}: ${data.length} bytes, header says ${usize}`);
    if (crc32(data) >>> 0 !== crc) throw new ZipError(`${name}: CRC mismatch (damaged)`);
    yield { name, data };
  }
}

// ---------------------------------------------------------------------------------------------
// Loading and indexing
// ---------------------------------------------------------------------------------------------

/** Raised while loading; the source turns it into UNAVAILABLE naming the database. */
class DatabaseError extends Error {}

function parseRecord(text: string | Buffer, where: string): OsvRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof text === "string" ? text : text.toString("utf8"));
  } catch {
    throw new DatabaseError(`${where} is not valid JSON (truncated or corrupt)`);
  }
  try {
    return toOsvRecord(raw);
  } catch (err) {
    throw new DatabaseError(`${where} is not an OSV record: ${err instanceof OsvFormatError ? err.message : describeError(err)}`);
  }
}

/** All records of one zip export. `label` names the file in errors. */
export function recordsFromZip(buf: Buffer, label: string): OsvRecord[] {
  const out: OsvRecord[] = [];
  const it = zipEntries(buf, (n) => n.endsWith(".json"));
  for (;;) {
    let step: IteratorResult<ZipEntry>;
    try {
      step = it.next();
    } catch (err) {
      throw new DatabaseError(`${label} is not a valid zip archive: ${describeError(err)}`);
    }
    if (step.done) return out;
    out.push(parseRecord(step.value.data, `${label}: entry ${step.value.name}`));
  }
}

async function recordsFromPath(path: string, depth: number, out: OsvRecord[]): Promise<void> {
  const st = await stat(path);
  if (st.isFile()) {
    if (path.endsWith(".zip")) out.push(...recordsFromZip(await readFile(path), path));
    else if (path.endsWith(".json")) out.push(parseRecord(await readFile(path), path));
    return;
  }
  if (!st.isDirectory() || depth > MAX_DEPTH) return;
  const names = (await readdir(path)).filter((n) => !n.startsWith(".") && !n.endsWith(".tmp")).sort();
  // Bounded parallelism: thousands of small files read much faster than one by one, without
  // running into the open-file limit.
  for (let i = 0; i < names.length; i += READ_PARALLEL) {
    const parts = await Promise.all(
      names.slice(i, i + READ_PARALLEL).map(async (n) => {
        const part: OsvRecord[] = [];
        await recordsFromPath(join(path, n), depth + 1, part);
        return part;
      }),
    );
    for (const p of parts) out.push(...p);
  }
}

export type OsvIndex = Map<Ecosystem, Map<string, OsvRecord[]>>;

/** ecosystem → package key → records; one record appears once per package however many entries name it. */
export function buildIndex(records: Iterable<OsvRecord>): { index: OsvIndex; count: number } {
  // The same id twice (a JSON file next to a zip holding it): keep the most recently modified.
  const byId = new Map<string, OsvRecord>();
  for (const r of records) {
    const prev = byId.get(r.id);
    if (!prev || (r.modified ?? "") > (prev.modified ?? "")) byId.set(r.id, r);
  }
  const index: OsvIndex = new Map(ECOSYSTEMS.map((e) => [e, new Map<string, OsvRecord[]>()]));
  for (const r of byId.values()) {
    const keys = new Set<string>();
    for (const a of r.affected ?? []) {
      const eco = a.package?.ecosystem as Ecosystem | undefined;
      if (!a.package || !eco || !index.has(eco)) continue;
      const k = `${eco}\0${packageKey(eco, a.package.name)}`;
      if (keys.has(k)) continue;
      keys.add(k);
      const byName = index.get(eco)!;
      const key = packageKey(eco, a.package.name);
      const list = byName.get(key);
      if (list) list.push(r);
      else byName.set(key, [r]);
    }
  }
  return { index, count: byId.size };
}

/** Where the update stamp lives: inside a directory database, next to a zip one. */
export function stampPath(database: string, isDirectory: boolean): string {
  return isDirectory ? join(database, STAMP_NAME) : `${database}${STAMP_NAME}`;
}

async function databaseTime(database: string, isDirectory: boolean, mtimeMs: number): Promise<number> {
  const stamp = stampPath(database, isDirectory);
  try {
    const text = await readFile(stamp, "utf8");
    try {
      const t = Date.parse(String((JSON.parse(text) as { updatedAt?: unknown }).updatedAt));
      if (Number.isFinite(t)) return t;
    } catch {
      /* an unreadable stamp still tells us when it was written */
    }
    return (await stat(stamp)).mtimeMs;
  } catch {
    return mtimeMs;
  }
}

export interface OfflineSourceOptions {
  now?: () => number;
}

export class OsvOfflineSource implements OsvSource {
  private readonly database: string;
  private readonly now: () => number;
  private loading: Promise<OsvIndex> | undefined;
  private recordCount = 0;
  /** When the loaded database was last updated (stamp or mtime). */
  private databaseTime = 0;

  constructor(
    private readonly policy: OsvPolicy,
    opts: OfflineSourceOptions = {},
  ) {
    if (!policy.database) throw new SafePipError("CONFIG", "osv.database is not set");
    this.database = resolve(policy.database);
    this.now = opts.now ?? Date.now;
  }

  describe(): string {
    return `offline OSV database ${this.database}${this.recordCount ? ` (${this.recordCount} records)` : ""}`;
  }

  async advisories(ecosystem: Ecosystem, name: string): Promise<OsvRecord[]> {
    const index = await this.load();
    // A long-lived process (the local index server) can outlive the database's freshness: then
    // refuse, and drop the index so the next call re-reads the files (`osv update` may have run).
    if (this.isStale(this.databaseTime)) {
      this.loading = undefined;
      return (await this.load()).get(ecosystem)?.get(packageKey(ecosystem, name)) ?? [];
    }
    return index.get(ecosystem)?.get(packageKey(ecosystem, name)) ?? [];
  }

  private isStale(time: number): boolean {
    return this.policy.maxStalenessMs > 0 && this.now() - time > this.policy.maxStalenessMs;
  }

  /** Nothing to fetch; loading the index early just moves the cost (and any error) up front. */
  async prefetch(): Promise<void> {
    await this.load();
  }

  /** Number of records indexed (after the first lookup). */
  get size(): number {
    return this.recordCount;
  }

  private load(): Promise<OsvIndex> {
    if (!this.loading) {
      this.loading = this.loadNow();
      // A failed load is retried on the next call (the user may have run `osv update` meanwhile).
      this.loading.catch(() => (this.loading = undefined));
    }
    return this.loading;
  }

  private async loadNow(): Promise<OsvIndex> {
    const db = this.database;
    const hint = "run `safe-pip osv update`";
    let st;
    try {
      st = await stat(db);
    } catch {
      throw new SafePipError("UNAVAILABLE", `offline OSV database ${db} does not exist`, { hint });
    }
    const time = await databaseTime(db, st.isDirectory(), st.mtimeMs);
    if (this.isStale(time)) {
      const age = this.now() - time;
      throw new SafePipError("UNAVAILABLE", `offline OSV database ${db} is ${formatAge(age)} old (max ${formatAge(this.policy.maxStalenessMs)})`, {
        hint,
      });
    }
    const records: OsvRecord[] = [];
    try {
      if (st.isDirectory()) await recordsFromPath(db, 0, records);
      else {
        const buf = await readFile(db);
        if (buf.length >= 4 && buf.readUInt32LE(0) !== SIG_LOCAL && buf.readUInt32LE(0) !== SIG_END)
          throw new DatabaseError(`${db} is neither a directory nor a zip archive`);
        records.push(...recordsFromZip(buf, db));
      }
    } catch (err) {
      const reason = err instanceof DatabaseError ? err.message : `${db}: ${describeError(err)}`;
      throw new SafePipError("UNAVAILABLE", `offline OSV database ${reason}`, { hint, cause: err });
    }
    // An empty database would pass every package: that is a broken download or a wrong path.
    if (records.length === 0) throw new SafePipError("UNAVAILABLE", `offline OSV database ${db} holds no OSV records`, { hint });
    const { index, count } = buildIndex(records);
    this.recordCount = count;
    this.databaseTime = time;
    return index;
  }
}
