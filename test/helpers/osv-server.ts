/**
 * An OSV API stand-in for tests and benchmarks: a real HTTP server on 127.0.0.1 (random port)
 * answering like api.osv.dev (https://google.github.io/osv.dev/api/) from a list of records:
 *
 *   POST /v1/query        {package:{name,ecosystem}, version?, page_token?} → {vulns, next_page_token?}
 *   POST /v1/querybatch   {queries:[…]} (≤ 1,000) → {results:[{vulns:[{id,modified}], next_page_token?}]}
 *   GET  /v1/vulns/{id}   → the record, or 404
 *   GET  /export/{ecosystem}/all.zip, /export/all.zip → a zip export like the osv-vulnerabilities bucket
 *
 * Page sizes are configurable so tests reach `next_page_token`, and fault modes let tests check
 * failure handling: "down" (a closed port), "slow" (answers after delayMs), "malformed" (invalid
 * JSON), "500". Options can be changed while the server runs (`server.options.fault = …`).
 *
 * Also: `loadFixtureRecords` (test/fixtures/osv) and `buildZip`, a tiny ZIP writer (stored or
 * deflated entries) for offline-database tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { crc32, deflateRawSync } from "node:zlib";
import { packageRoot } from "../../src/core/paths.js";
import type { Ecosystem } from "../../src/checks/release.js";
import { isAffected, packageKey } from "../../src/checks/osv/match.js";
import { toOsvRecord, type OsvRecord } from "../../src/checks/osv/types.js";

export type OsvFault = "down" | "slow" | "malformed" | "500";

export interface OsvServerOptions {
  /** Records per /v1/query page (default 1,000, like osv.dev's page bound). */
  pageSize?: number;
  /** Ids per query result per /v1/querybatch page (default 1,000). */
  batchPageSize?: number;
  /** The first /v1/query page carries no records, only a token (osv.dev may do that). */
  tokenOnlyFirstPage?: boolean;
  fault?: OsvFault | undefined;
  /** Delay for the "slow" fault (default 2,000 ms). */
  delayMs?: number;
  /** Ecosystems whose /export/{ecosystem}/all.zip answers 404 (not published). */
  missingExports?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface OsvServer {
  url: string;
  requests: RecordedRequest[];
  options: OsvServerOptions;
  close(): Promise<void>;
}

const ECOSYSTEMS: readonly Ecosystem[] = ["PyPI", "CRAN", "Bioconductor"];

function isEcosystem(v: unknown): v is Ecosystem {
  return typeof v === "string" && (ECOSYSTEMS as readonly string[]).includes(v);
}

function encodeToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString("base64url");
}


function decodeToken(token: unknown): number | undefined {
  if (token === undefined) return 0;
  if (typeof token !== "string") return undefined;
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  return m ? Number(m[1]) : undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** ecosystem\0package key → records naming it, sorted by id so pages don't shift between requests. */
function indexRecords(records: OsvRecord[]): Map<string, OsvRecord[]> {
  const index = new Map<string, OsvRecord[]>();
  for (const r of [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const keys = new Set<string>();
    for (const a of r.affected ?? []) if (a.package && isEcosystem(a.package.ecosystem)) keys.add(`${a.package.ecosystem}\0${packageKey(a.package.ecosystem, a.package.name)}`);
    for (const k of keys) index.set(k, [...(index.get(k) ?? []), r]);
  }
  return index;
}

function recordsFor(index: Map<string, OsvRecord[]>, ecosystem: Ecosystem, name: string, version: string | undefined): OsvRecord[] {
  const all = index.get(`${ecosystem}\0${packageKey(ecosystem, name)}`) ?? [];
  return version === undefined ? all : all.filter((r) => isAffected(r, ecosystem, name, version));
}

interface Query {
  ecosystem: Ecosystem;
  name: string;
  version: string | undefined;
  offset: number;
  /** The request carried a page_token (so it is not a first page). */
  continued: boolean;
}

function parseQuery(q: unknown): Query | string {
  if (typeof q !== "object" || q === null) return "query is not an object";
  const o = q as Record<string, unknown>;
  const pkg = o.package as Record<string, unknown> | undefined;
  if (!pkg || typeof pkg.name !== "string" || !isEcosystem(pkg.ecosystem)) return "package.name and a known package.ecosystem are required";
  const offset = decodeToken(o.page_token);
  if (offset === undefined) return "invalid page_token";
  return {
    ecosystem: pkg.ecosystem,
    name: pkg.name,
    version: typeof o.version === "string" ? o.version : undefined,
    offset,
    continued: o.page_token !== undefined,
  };
}

/** Starts the stand-in. With `fault: "down"` nothing listens: the URL points at a closed port. */
export async function startOsvServer(records: OsvRecord[], opts: OsvServerOptions = {}): Promise<OsvServer> {
  const options: OsvServerOptions = { ...opts };
  const requests: RecordedRequest[] = [];
  const byId = new Map(records.map((r) => [r.id, r]));
  const index = indexRecords(records);

  if (options.fault === "down") {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return { url: `http://127.0.0.1:${port}`, requests, options, close: async () => undefined };
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0]!;
    const text = req.method === "POST" ? await readBody(req) : "";
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    requests.push({ method: req.method ?? "GET", path, body });

    if (options.fault === "slow") await new Promise((r) => setTimeout(r, options.delayMs ?? 2000));
    if (options.fault === "500") return send(res, 500, { code: 13, message: "stand-in: internal error" });
    if (options.fault === "malformed") return send(res, 200, '{"vulns": [{"id": "PYSEC-');

    if (req.method === "POST" && path === "/v1/query") {
      const q = parseQuery(body);
      if (typeof q === "string") return send(res, 400, { code: 3, message: q });
      const all = recordsFor(index, q.ecosystem, q.name, q.version);
      if (options.tokenOnlyFirstPage && !q.continued && all.length > 0) return send(res, 200, { next_page_token: encodeToken(0) });
      const start = q.offset;
      const size = options.pageSize ?? 1000;
      const page = all.slice(start, start + size);
      const out: Record<string, unknown> = {};
      if (page.length) out.vulns = page;
      if (start + size < all.length) out.next_page_token = encodeToken(start + size);
      return send(res, 200, out);
    }
    if (req.method === "POST" && path === "/v1/querybatch") {
      const queries = (body as { queries?: unknown } | undefined)?.queries;
      if (!Array.isArray(queries)) return send(res, 400, { code: 3, message: "queries is required" });
      if (queries.length > 1000) return send(res, 400, { code: 3, message: "Too many queries." });
      const results: unknown[] = [];
      for (const raw of queries) {
        const q = parseQuery(raw);
        if (typeof q === "string") return send(res, 400, { code: 3, message: q });
        const all = recordsFor(index, q.ecosystem, q.name, q.version);
        const size = options.batchPageSize ?? 1000;
        const start = q.offset;
        const page = all.slice(start, start + size);
        const r: Record<string, unknown> = {};
        if (page.length) r.vulns = page.map((v) => ({ id: v.id, modified: v.modified }));
        if (start + size < all.length) r.next_page_token = encodeToken(start + size);
        results.push(r);
      }
      return send(res, 200, { results });
    }
    const vuln = /^\/v1\/vulns\/(.+)$/.exec(path);
    if (req.method === "GET" && vuln) {
      const rec = byId.get(decodeURIComponent(vuln[1]!));
      return rec ? send(res, 200, rec) : send(res, 404, { code: 5, message: "Bug not found." });
    }
    const exp = /^\/export\/(?:([A-Za-z]+)\/)?all\.zip$/.exec(path);
    if (req.method === "GET" && exp) {
      const eco = exp[1];
      if (eco !== undefined && (!isEcosystem(eco) || options.missingExports?.includes(eco))) return send(res, 404, { message: "no such export" });
      const chosen = eco === undefined ? records : records.filter((r) => (r.affected ?? []).some((a) => a.package?.ecosystem === eco));
      const zip = buildZip(chosen.map((r) => ({ name: `${r.id}.json`, data: JSON.stringify(r) })));
      res.writeHead(200, { "content-type": "application/zip", "content-length": zip.length });
      res.end(zip);
      return;
    }
    send(res, 404, { code: 5, message: "not found" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { message: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    options,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // slow answers still pending must not hold the test open
        server.close(() => resolve());
      }),
  };
}

/** Every record under test/fixtures/osv (or `dir`), recursively. */
export function loadFixtureRecords(dir: string = join(packageRoot(), "test", "fixtures", "osv")): OsvRecord[] {
  const out: OsvRecord[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...loadFixtureRecords(p));
    else if (name.endsWith(".json")) out.push(toOsvRecord(JSON.parse(readFileSync(p, "utf8")) as unknown));
  }
  return out;
}

export interface ZipInput {
  name: string;
  data: Buffer | string;
}

/**
 * A minimal ZIP writer (APPNOTE §4.3): local headers + data, central directory, end record.
 * `store: true` writes entries uncompressed (method 0), otherwise deflate (method 8), so tests cover
 * both paths of the reader; `zip64: true` adds the ZIP64 end records (sizes stay 32-bit).
 */
export function buildZip(entries: ZipInput[], opts: { store?: boolean; zip64?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const raw = typeof e.data === "string" ? Buffer.from(e.data, "utf8") : e.data;
    const method = opts.store ? 0 : 8;
    const packed = opts.store ? raw : deflateRawSync(raw);
    const crc = crc32(raw) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, packed);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x0800, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(packed.length, 20);
    c.writeUInt32LE(raw.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  if (opts.zip64) {
    // ZIP64 end record + locator, with the classic end record's fields set to "see ZIP64" (APPNOTE
    // §4.3.14-4.3.15): how exports with more than 65,535 entries look.
    const end64 = Buffer.alloc(56);
    end64.writeUInt32LE(0x06064b50, 0);
    end64.writeBigUInt64LE(44n, 4);
    end64.writeUInt16LE(45, 12);
    end64.writeUInt16LE(45, 14);
    end64.writeBigUInt64LE(BigInt(entries.length), 24);
    end64.writeBigUInt64LE(BigInt(entries.length), 32);
    end64.writeBigUInt64LE(BigInt(cd.length), 40);
    end64.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    locator.writeUInt32LE(1, 16);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
    return Buffer.concat([...parts, cd, end64, locator, end]);
  }
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}
