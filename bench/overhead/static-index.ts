/**
 * A static PEP 503/691 upstream for the benchmark, two flavours:
 *
 *  - `startStaticIndex(projects)`: the synthetic universe with every page and file rendered once up
 *    front (the same wheels `startFakeIndex` builds), so serving is a map lookup. Optionally sends
 *    PyPI's cache headers (files immutable for a year, pages revalidated), to show what pip's HTTP
 *    cache does with a real index.
 *  - `serveDirectory(dir)`: an existing PEP 503 directory tree (`simple/<name>/index.html`, plus
 *    `index.json` for PEP 691 when present), for `--index DIR`.
 *
 * `writeIndexDir(projects, dir)` writes the synthetic universe as such a tree.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { normalizeName } from "../../src/core/names.js";
import { buildWheel, sha256Hex, type BuiltWheel } from "../../test/helpers/wheel.js";
import { isoUploadTime, negotiate, SIMPLE_JSON, type FakeRelease } from "../../test/helpers/pypi-server.js";

export interface StaticIndex {
  /** The simple API base URL. */
  url: string;
  /** Requests served, by kind. */
  counts: { pages: number; metadata: number; files: number; other: number };
  close(): Promise<void>;
}

interface Body {
  type: string;
  data: Buffer;
  cache?: string;
}

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function wheelOf(name: string, r: FakeRelease): BuiltWheel {
  // Same spec as test/helpers/pypi-server.ts builds, so the files (and hashes) are the same.
  return buildWheel({
    name,
    version: r.version,
    requires: r.requires,
    requiresPython: r.requiresPython,
    license: r.license,
    licenseExpression: r.licenseExpression,
    classifiers: r.classifiers,
  });
}

interface Rendered {
  /** Normalized name → { json, html } page bodies, with file URLs relative to the page. */
  pages: Map<string, { json: string; html: string }>;
  /** Filename → wheel. */
  files: Map<string, BuiltWheel>;
}

function render(projects: Record<string, FakeRelease[]>): Rendered {
  const pages = new Map<string, { json: string; html: string }>();
  const files = new Map<string, BuiltWheel>();
  for (const [name, releases] of Object.entries(projects)) {
    const key = normalizeName(name);
    const entries = releases.map((r) => ({ r, w: wheelOf(name, r) }));
    for (const e of entries) files.set(e.w.filename, e.w);
    const rel = (w: BuiltWheel) => `../../files/${encodeURIComponent(w.filename)}`;
    const yanked = (r: FakeRelease) => (r.yanked === "" ? true : (r.yanked ?? false));
    const json = JSON.stringify({
      meta: { "api-version": "1.1" },
      name: key,
      files: entries.map(({ r, w }) => ({
        filename: w.filename,
        url: rel(w),
        hashes: { sha256: w.sha256 },
        ...(r.requiresPython !== undefined && { "requires-python": r.requiresPython }),
        yanked: yanked(r),
        size: w.data.length,
        ...(r.uploadTime && { "upload-time": isoUploadTime(r.uploadTime) }),
        "core-metadata": { sha256: sha256Hex(w.metadata) },
        "dist-info-metadata": { sha256: sha256Hex(w.metadata) },
      })),
      versions: [...new Set(releases.map((r) => r.version))],
    });
    const links = entries.map(({ r, w }) => {
      const attrs = [`href="${escapeHtml(`${rel(w)}#sha256=${w.sha256}`)}"`];
      if (r.requiresPython !== undefined) attrs.push(`data-requires-python="${escapeHtml(r.requiresPython)}"`);
      const y = yanked(r);
      if (y !== false) attrs.push(`data-yanked="${y === true ? "" : escapeHtml(y)}"`);
      const h = `sha256=${sha256Hex(w.metadata)}`;
      attrs.push(`data-core-metadata="${h}"`, `data-dist-info-metadata="${h}"`);
      return `<a ${attrs.join(" ")}>${escapeHtml(w.filename)}</a><br>`;
    });
    const html = [
      "<!DOCTYPE html>",
      "<html>",
      `<head><meta name="pypi:repository-version" content="1.1"><title>Links for ${escapeHtml(name)}</title></head>`,
      "<body>",
      `<h1>Links for ${escapeHtml(name)}</h1>`,
      ...links,
      "</body>",
      "</html>",
      "",
    ].join("\n");
    pages.set(key, { json, html });
  }
  return { pages, files };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, { type: "text/plain", data: Buffer.from(String(err)) });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

function send(res: ServerResponse, status: number, body: Body): void {
  const headers: Record<string, string | number> = { "content-type": body.type, "content-length": body.data.length, vary: "Accept" };
  if (body.cache) headers["cache-control"] = body.cache;
  res.writeHead(status, headers);
  res.end(body.data);
}

const notFound: Body = { type: "text/plain", data: Buffer.from("not found\n") };

/** PyPI's headers: files are immutable; simple pages may be cached 10 minutes. */
const PYPI_FILE_CACHE = "max-age=365000000, immutable, public";
const PYPI_PAGE_CACHE = "max-age=600, public";

export async function startStaticIndex(projects: Record<string, FakeRelease[]>, opts: { pypiCacheHeaders?: boolean } = {}): Promise<StaticIndex> {
  const { pages, files } = render(projects);
  const counts = { pages: 0, metadata: 0, files: 0, other: 0 };
  const pageCache = opts.pypiCacheHeaders ? PYPI_PAGE_CACHE : undefined;
  const fileCache = opts.pypiCacheHeaders ? PYPI_FILE_CACHE : undefined;
  const rootHtml = Buffer.from(
    `<!DOCTYPE html><html><body>\n${[...pages.keys()].map((k) => `<a href="${k}/">${k}</a><br>`).join("\n")}\n</body></html>\n`,
  );
  const srv = await listen((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path === "/simple/") {
      counts.other++;
      return send(res, 200, { type: "text/html", data: rootHtml });
    }
    const page = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (page) {
      counts.pages++;
      const key = normalizeName(page[1]!);
      if (key !== page[1] || page[2] !== "/") {
        res.writeHead(301, { location: `/simple/${key}/`, "content-length": 0 });
        return void res.end();
      }
      const p = pages.get(key);
      if (!p) return send(res, 404, notFound);
      const type = negotiate(req.headers.accept);
      return type === SIMPLE_JSON
        ? send(res, 200, { type: SIMPLE_JSON, data: Buffer.from(p.json), cache: pageCache })
        : send(res, 200, { type: `${type}; charset=utf-8`, data: Buffer.from(p.html), cache: pageCache });
    }
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file) {
      const isMeta = file[1]!.endsWith(".metadata");
      const w = files.get(isMeta ? file[1]!.slice(0, -".metadata".length) : file[1]!);
      if (!w) return send(res, 404, notFound);
      if (isMeta) {
        counts.metadata++;
        return send(res, 200, { type: "text/plain; charset=utf-8", data: Buffer.from(w.metadata), cache: fileCache });
      }
      counts.files++;
      return send(res, 200, { type: "application/octet-stream", data: w.data, cache: fileCache });
    }
    counts.other++;
    send(res, 404, notFound);
  });
  return { url: `http://127.0.0.1:${srv.port}/simple/`, counts, close: srv.close };
}

/** Writes the synthetic universe as a PEP 503 directory (HTML) with PEP 691 JSON beside each page. */
export function writeIndexDir(projects: Record<string, FakeRelease[]>, dir: string): void {
  const { pages, files } = render(projects);
  mkdirSync(join(dir, "simple"), { recursive: true });
  mkdirSync(join(dir, "files"), { recursive: true });
  writeFileSync(join(dir, "simple", "index.html"), `<!DOCTYPE html><html><body>\n${[...pages.keys()].map((k) => `<a href="${k}/">${k}</a><br>`).join("\n")}\n</body></html>\n`);
  for (const [key, p] of pages) {
    mkdirSync(join(dir, "simple", key), { recursive: true });
    writeFileSync(join(dir, "simple", key, "index.html"), p.html);
    writeFileSync(join(dir, "simple", key, "index.json"), p.json);
  }
  for (const [filename, w] of files) {
    writeFileSync(join(dir, "files", filename), w.data);
    writeFileSync(join(dir, "files", `${filename}.metadata`), w.metadata);
  }
}

/**
 * Serves an existing PEP 503 directory. A directory answers with its `index.json` (PEP 691) when the
 * client prefers JSON and the file exists, else with its `index.html`. The index URL is
 * `<root>/simple/` when DIR has a `simple` subdirectory, else `<root>/`.
 */
export async function serveDirectory(dir: string): Promise<StaticIndex> {
  const root = resolve(dir);
  if (!statSync(root).isDirectory()) throw new Error(`--index ${dir}: not a directory`);
  const counts = { pages: 0, metadata: 0, files: 0, other: 0 };
  const srv = await listen((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const full = resolve(root, "." + urlPath);
    if (full !== root && !full.startsWith(root + sep)) return send(res, 403, notFound);
    if (!existsSync(full)) return send(res, 404, notFound);
    if (statSync(full).isDirectory()) {
      if (!urlPath.endsWith("/")) {
        res.writeHead(301, { location: urlPath + "/", "content-length": 0 });
        return void res.end();
      }
      counts.pages++;
      const json = join(full, "index.json");
      const html = join(full, "index.html");
      if (existsSync(json) && negotiate(req.headers.accept) === SIMPLE_JSON) return send(res, 200, { type: SIMPLE_JSON, data: readFileSync(json) });
      if (existsSync(html)) return send(res, 200, { type: "text/html; charset=utf-8", data: readFileSync(html) });
      return send(res, 404, notFound);
    }
    const isMeta = full.endsWith(".metadata");
    if (isMeta) counts.metadata++;
    else counts.files++;
    send(res, 200, { type: isMeta ? "text/plain; charset=utf-8" : "application/octet-stream", data: readFileSync(full) });
  });
  const base = `http://127.0.0.1:${srv.port}/`;
  return { url: existsSync(join(root, "simple")) ? `${base}simple/` : base, counts, close: srv.close };
}
