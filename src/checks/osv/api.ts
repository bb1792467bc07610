/**
 * The online OSV source (https://google.github.io/osv.dev/api/).
 *
 * - One project, one request: `POST /v1/query` with the package and *no version* returns every
 *   advisory for the project, so all its versions are matched locally from one answer.
 * - Many projects (`prefetch`): one `POST /v1/querybatch` per 1,000 projects returns ids only.
 *   Clean projects (most of them) are done right there; a project with advisories is then fetched
 *   with `GET /v1/vulns/{id}` when that takes one request or revalidates a stale cache entry
 *   (only new/modified ids), else with one `/v1/query` (one request however many advisories).
 * - Answers are cached per project on disk (`<cacheDir>/osv/<ecosystem>/<name>.json`) for
 *   `cacheTtlMs`, written atomically (temp file + rename) so concurrent runs never read a torn file;
 *   an unreadable cache file is simply refetched.
 * - Requests for the same project share one promise; at most `concurrency` requests are in flight.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SafePipError, describeError } from "../../core/errors.js";
import type { HttpClient, HttpResponse } from "../../core/http.js";
import { redactUrl } from "../../core/redact.js";
import type { OsvPolicy } from "../../policy/schema.js";
import type { Ecosystem } from "../release.js";
import { packageKey } from "./match.js";
import type { OsvSource } from "./source.js";
import { OsvFormatError, toOsvRecord, type OsvRecord, type OsvRecordRef } from "./types.js";

/** osv.dev rejects batches larger than this (standards.md §6.1). */
export const BATCH_LIMIT = 1000;
/** Guard against a server that keeps handing out page tokens. */
const MAX_PAGES = 1000;
const CACHE_FORMAT = 1;
/** See `loaded`: the shortest time an answer is kept in memory. */
const MEMORY_MIN_MS = 5 * 60_000;

export interface ApiSourceOptions {
  /** Parallel requests; ~8 keeps latency low without hammering the service. */
  concurrency?: number;
  /** Fewer projects than this are fetched one /v1/query each instead of via /v1/querybatch. */
  batchMin?: number;
  /** Injected clock for cache-TTL tests. */
  now?: () => number;
}

interface CacheFile {
  format: number;
  /** Hash of the API base URL: a cache filled from one server is not served for another (and no credentials on disk). */
  source: string;
  fetchedAt: number;
  ecosystem: string;
  name: string;
  records: OsvRecord[];
}

/** A counting semaphore: at most `n` tasks run at once, the rest queue in order. */
class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly n: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A file name for a project that is safe on every filesystem: plain names as they are; names with
 * upper case (CRAN is case-sensitive, macOS/Windows filesystems are not) get a hash suffix so
 * `Foo` and `foo` never share a file; anything else (path separators…) is hashed outright.
 */
export function cacheFileName(key: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(key)) return `_${sha(key).slice(0, 24)}.json`;
  return key === key.toLowerCase() ? `${key}.json` : `${key.toLowerCase()}~${sha(key).slice(0, 10)}.json`;
}

export class OsvApiSource implements OsvSource {
  private readonly base: string;
  private readonly sourceId: string;
  private readonly limiter: Limiter;
  private readonly batchMin: number;
  private readonly now: () => number;
  /**
   * Answers already obtained, with when. Kept for the cache TTL but at least MEMORY_MIN_MS, so one
   * run never asks twice even with `cacheTtl: 0`, while a long-lived process still refreshes.
   */
  private readonly loaded = new Map<string, { records: OsvRecord[]; at: number }>();
  /** Lookups under way: a second caller for the same project joins the first. */
  private readonly inflight = new Map<string, Promise<OsvRecord[]>>();
  /** Cache directories already created in this run (one mkdir per ecosystem, not per file). */
  private readonly madeDirs = new Set<string>();
  /** `GET /v1/vulns/{id}` under way, shared between projects (removed once settled). */
  private readonly byId = new Map<string, Promise<OsvRecord | undefined>>();

  constructor(
    private readonly policy: OsvPolicy,
    private readonly http: HttpClient,
    private readonly cacheDir: string,
    opts: ApiSourceOptions = {},
  ) {
    this.base = policy.url.replace(/\/+$/, "");
    this.sourceId = sha(this.base).slice(0, 16);
    this.limiter = new Limiter(opts.concurrency ?? 8);
    this.batchMin = opts.batchMin ?? 2;
    this.now = opts.now ?? Date.now;
  }

  describe(): string {
    return `OSV API ${redactUrl(this.base)} (cache ${join(this.cacheDir, "osv")})`;
  }

  async advisories(ecosystem: Ecosystem, name: string): Promise<OsvRecord[]> {
    const key = packageKey(ecosystem, name);
    const id = `${ecosystem}\0${key}`;
    const done = this.remembered(id);
    if (done) return done;
    const running = this.inflight.get(id);
    if (running) return running;
    return this.track(id, this.loadOne(ecosystem, key));
  }

  async prefetch(ecosystem: Ecosystem, names: string[]): Promise<void> {
    const keys = [...new Set(names.map((n) => packageKey(ecosystem, n)))];
    const caches = await Promise.all(keys.map((key) => this.readCache(ecosystem, key)));
    // Decided synchronously after the cache reads, so no other caller can slip in between.
    const todo: Array<{ key: string; id: string; cached: CacheFile | undefined }> = [];
    keys.forEach((key, i) => {
      const id = `${ecosystem}\0${key}`;
      if (this.remembered(id) || this.inflight.has(id)) return;
      const cached = caches[i];
      if (cached && this.isFresh(cached)) this.loaded.set(id, { records: cached.records, at: this.now() });
      else todo.push({ key, id, cached });
    });
    if (todo.length === 0) return;
    if (todo.length < this.batchMin) {
      await Promise.all(todo.map((t) => this.track(t.id, this.fetchAndStore(ecosystem, t.key))));
      return;
    }
    // Register every project as in flight before the first await, so an advisories() call made
    // while the batch runs waits for it instead of sending its own request.
    const settle = new Map<string, { resolve: (r: OsvRecord[]) => void; reject: (e: unknown) => void }>();
    for (const t of todo) {
      const p = new Promise<OsvRecord[]>((resolve, reject) => settle.set(t.id, { resolve, reject }));
      p.catch(() => undefined); // observed through track(); avoid an unhandled rejection here
      void this.track(t.id, p).catch(() => undefined);
    }
    let refs: OsvRecordRef[][];
    try {
      refs = await this.batchRefs(ecosystem, todo.map((t) => t.key));
    } catch (err) {
      for (const s of settle.values()) s.reject(err);
      throw err;
    }
    // Each project settles on its own: one failing fetch doesn't discard the others' answers.
    const outcomes = await Promise.allSettled(
      todo.map(async (t, i) => settle.get(t.id)!.resolve(await this.resolveRefs(ecosystem, t.key, refs[i]!, t.cached))),
    );
    let failure: unknown;
    outcomes.forEach((o, i) => {
      if (o.status === "rejected") {
        settle.get(todo[i]!.id)!.reject(o.reason);
        failure ??= o.reason;
      }
    });
    if (failure !== undefined) throw failure;
  }

  // -- per project ------------------------------------------------------------------------------

  private remembered(id: string): OsvRecord[] | undefined {
    const hit = this.loaded.get(id);
    if (hit && this.now() - hit.at < Math.max(this.policy.cacheTtlMs, MEMORY_MIN_MS)) return hit.records;
    if (hit) this.loaded.delete(id);
    return undefined;
  }

  private track(id: string, p: Promise<OsvRecord[]>): Promise<OsvRecord[]> {
    const wrapped = p.then(
      (records) => {
        this.loaded.set(id, { records, at: this.now() });
        this.inflight.delete(id);
        return records;
      },
      (err: unknown) => {
        this.inflight.delete(id);
        throw err;
      },
    );
    this.inflight.set(id, wrapped);
    return wrapped;
  }

  private async loadOne(ecosystem: Ecosystem, key: string): Promise<OsvRecord[]> {
    const cached = await this.readCache(ecosystem, key);
    if (cached && this.isFresh(cached)) return cached.records;
    return this.fetchAndStore(ecosystem, key);
  }

  private async fetchAndStore(ecosystem: Ecosystem, key: string): Promise<OsvRecord[]> {
    const records = await this.queryProject(ecosystem, key);
    await this.writeCache(ecosystem, key, records);
    return records;
  }

  /** Full records from the batch's ids: reuse unchanged cached ones, GET or /v1/query the rest. */
  private async resolveRefs(ecosystem: Ecosystem, key: string, refs: OsvRecordRef[], cached: CacheFile | undefined): Promise<OsvRecord[]> {
    if (refs.length === 0) {
      await this.writeCache(ecosystem, key, []);
      return [];
    }
    const known = new Map((cached?.records ?? []).map((r) => [r.id, r]));
    const needed = refs.filter((r) => {
      const k = known.get(r.id);
      return !k || r.modified === undefined || k.modified !== r.modified;
    });
    let records: OsvRecord[];
    // GETs cost one request per id, /v1/query one per project (whatever its size). So: GET when
    // one id is missing, or a few changed since a stale cache entry (revalidation); else query.
    if (needed.length === 1 || (cached !== undefined && needed.length <= 4)) {
      const fetched = await Promise.all(needed.map((r) => this.getVuln(r.id)));
      const fresh = new Map(fetched.filter((r): r is OsvRecord => r !== undefined).map((r) => [r.id, r]));
      records = refs.map((r) => fresh.get(r.id) ?? known.get(r.id)).filter((r): r is OsvRecord => r !== undefined);
    } else {
      records = await this.queryProject(ecosystem, key);
    }
    await this.writeCache(ecosystem, key, records);
    return records;
  }

  // -- HTTP -------------------------------------------------------------------------------------

  private async queryProject(ecosystem: Ecosystem, key: string): Promise<OsvRecord[]> {
    const url = `${this.base}/v1/query`;
    const out: OsvRecord[] = [];
    const tokens = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body: Record<string, unknown> = { package: { name: key, ecosystem } };
      if (token !== undefined) body.page_token = token;
      const answer = await this.postJson(url, body);
      if (!isObject(answer)) throw this.malformed(url, "answer is not a JSON object");
      const vulns = answer.vulns ?? [];
      if (!Array.isArray(vulns)) throw this.malformed(url, '"vulns" is not a list');
      for (const v of vulns) out.push(this.record(url, v));
      token = typeof answer.next_page_token === "string" && answer.next_page_token !== "" ? answer.next_page_token : undefined;
      // A record modified between two pages can show up on both.
      if (token === undefined) return [...new Map(out.map((r) => [r.id, r])).values()];
      if (tokens.has(token)) throw this.malformed(url, "the same next_page_token was returned twice");
      tokens.add(token);
    }
    throw this.malformed(url, `more than ${MAX_PAGES} pages`);
  }

  /** Ids (and modified times) per project, in input order, following per-result page tokens. */
  private async batchRefs(ecosystem: Ecosystem, keys: string[]): Promise<OsvRecordRef[][]> {
    const url = `${this.base}/v1/querybatch`;
    const results: OsvRecordRef[][] = keys.map(() => []);
    // Each pending item: which project, and the page token to ask for (undefined = first page).
    let pending: Array<{ index: number; token: string | undefined }> = keys.map((_, index) => ({ index, token: undefined }));
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_PAGES) throw this.malformed(url, `more than ${MAX_PAGES} pages`);
      const chunks: Array<typeof pending> = [];
      for (let i = 0; i < pending.length; i += BATCH_LIMIT) chunks.push(pending.slice(i, i + BATCH_LIMIT));
      const next: typeof pending = [];
      await Promise.all(
        chunks.map(async (chunk) => {
          const queries = chunk.map((p) => {
            const q: Record<string, unknown> = { package: { name: keys[p.index], ecosystem } };
            if (p.token !== undefined) q.page_token = p.token;
            return q;
          });
          const answer = await this.postJson(url, { queries });
          if (!isObject(answer) || !Array.isArray(answer.results)) throw this.malformed(url, 'answer has no "results" list');
          if (answer.results.length !== chunk.length)
            throw this.malformed(url, `${answer.results.length} results for ${chunk.length} queries`);
          answer.results.forEach((res, i) => {
            const item = chunk[i]!;
            if (!isObject(res)) throw this.malformed(url, `result ${i} is not an object`);
            const vulns = res.vulns ?? [];
            if (!Array.isArray(vulns)) throw this.malformed(url, `result ${i}: "vulns" is not a list`);
            for (const v of vulns) {
              if (!isObject(v) || typeof v.id !== "string") throw this.malformed(url, `result ${i}: a vuln has no id`);
              results[item.index]!.push(typeof v.modified === "string" ? { id: v.id, modified: v.modified } : { id: v.id });
            }
            const token = res.next_page_token;
            if (typeof token === "string" && token !== "") {
              if (token === item.token) throw this.malformed(url, "the same next_page_token was returned twice");
              next.push({ index: item.index, token });
            }
          });
        }),
      );
      pending = next;
    }
    // A record can show up on two pages if it changed between them.
    return results.map((refs) => [...new Map(refs.map((r) => [r.id, r])).values()]);
  }

  private getVuln(id: string): Promise<OsvRecord | undefined> {
    let p = this.byId.get(id);
    if (!p) {
      const url = `${this.base}/v1/vulns/${encodeURIComponent(id)}`;
      p = this.limiter.run(async () => {
        let res: HttpResponse;
        try {
          res = await this.http.get(url, "application/json");
        } catch (err) {
          throw this.unreachable(url, err);
        }
        // Listed by the batch but gone now (withdrawn and deleted in between): nothing to match.
        if (res.status === 404) return undefined;
        return this.record(url, this.parse(url, res));
      });
      this.byId.set(id, p);
      const forget = () => void this.byId.delete(id);
      p.then(forget, forget);
    }
    return p;
  }

  private async postJson(url: string, body: unknown): Promise<unknown> {
    return this.limiter.run(async () => {
      let res: HttpResponse;
      try {
        res = await this.http.postJson(url, body);
      } catch (err) {
        throw this.unreachable(url, err);
      }
      return this.parse(url, res);
    });
  }

  private parse(url: string, res: HttpResponse): unknown {
    if (res.status !== 200) {
      const text = res.body.toString("utf8", 0, Math.min(res.body.length, 200)).replace(/\s+/g, " ").trim();
      throw new SafePipError("UNAVAILABLE", `OSV API ${redactUrl(url)}: HTTP ${res.status}${text ? ` (${text})` : ""}`);
    }
    try {
      return JSON.parse(res.body.toString("utf8")) as unknown;
    } catch {
      throw this.malformed(url, "answer is not valid JSON");
    }
  }

  private record(url: string, raw: unknown): OsvRecord {
    try {
      return toOsvRecord(raw);
    } catch (err) {
      throw this.malformed(url, err instanceof OsvFormatError ? `invalid OSV record: ${err.message}` : describeError(err));
    }
  }

  private malformed(url: string, reason: string): SafePipError {
    return new SafePipError("UNAVAILABLE", `OSV API ${redactUrl(url)}: ${reason}`);
  }

  private unreachable(url: string, err: unknown): SafePipError {
    // HttpClient errors already read "<redacted url>: <reason>"; prefix which service it was.
    if (err instanceof SafePipError) return new SafePipError("UNAVAILABLE", `OSV API ${err.message}`, { cause: err });
    return new SafePipError("UNAVAILABLE", `OSV API ${redactUrl(url)}: ${describeError(err)}`, { cause: err });
  }

  // -- cache ------------------------------------------------------------------------------------

  private cachePath(ecosystem: Ecosystem, key: string): string {
    return join(this.cacheDir, "osv", ecosystem, cacheFileName(key));
  }

  private isFresh(c: CacheFile): boolean {
    const age = this.now() - c.fetchedAt;
    // A timestamp from the future (clock moved back) is not trusted as fresh.
    return age >= -60_000 && age < this.policy.cacheTtlMs;
  }

  /** The cache entry, or undefined when missing, corrupt, from another server or another format. */
  private async readCache(ecosystem: Ecosystem, key: string): Promise<CacheFile | undefined> {
    try {
      const raw = JSON.parse(await readFile(this.cachePath(ecosystem, key), "utf8")) as unknown;
      if (!isObject(raw) || raw.format !== CACHE_FORMAT || raw.source !== this.sourceId) return undefined;
      if (raw.ecosystem !== ecosystem || raw.name !== key || typeof raw.fetchedAt !== "number") return undefined;
      if (!Array.isArray(raw.records)) return undefined;
      return { format: CACHE_FORMAT, source: this.sourceId, fetchedAt: raw.fetchedAt, ecosystem, name: key, records: raw.records.map(toOsvRecord) };
    } catch {
      return undefined; // unreadable or corrupt: refetch and overwrite
    }
  }

  /** Best effort: a read-only cache directory costs speed, never correctness. */
  private async writeCache(ecosystem: Ecosystem, key: string, records: OsvRecord[]): Promise<void> {
    const file = this.cachePath(ecosystem, key);
    const body: CacheFile = { format: CACHE_FORMAT, source: this.sourceId, fetchedAt: this.now(), ecosystem, name: key, records };
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      if (!this.madeDirs.has(dirname(file))) {
        await mkdir(dirname(file), { recursive: true });
        this.madeDirs.add(dirname(file));
      }
      await writeFile(tmp, JSON.stringify(body));
      await rename(tmp, file); // atomic on one filesystem: readers see the old or the new file, never half
    } catch {
      await unlink(tmp).catch(() => undefined);
    }
  }
}
