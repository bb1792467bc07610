/**
 * A fake upstream package index on 127.0.0.1 for integration tests: PEP 503 HTML and PEP 691 JSON
 * simple pages (with content negotiation), PEP 658 `.metadata` files, optionally PyPI's
 * `/pypi/<name>/json`, HTTP Basic auth and injectable faults. Every file is a real wheel from
 * `buildWheel`, so real pip can install from it.
 */
import http from "node:http";
import type { Socket } from "node:net";
import { createHash } from "node:crypto";
import { Readable, pipeline } from "node:stream";
import { compare, explain } from "@renovatebot/pep440";
import { normalizeName } from "../../src/core/names.js";
import { buildWheel, sha256Hex, type BuiltWheel, type WheelSpec } from "./wheel.js";

export interface FakeRelease {
  version: string;
  /** When the file was uploaded; `null` or absent = unknown, so no upload-time is served. */
  uploadTime?: Date | null;
  requires?: string[];
  requiresPython?: string;
  /** `true`, or a reason string (PEP 592). */
  yanked?: boolean | string;
  license?: string;
  licenseExpression?: string;
  classifiers?: string[];
  /** Serve this file (a real wheel or an sdist) instead of building a wheel; no PEP 658 metadata. */
  file?: { filename: string; data: Buffer };
}

export interface FakeIndexOptions {
  /** Project display name → releases, one wheel each. Files are listed in this order. */
  projects: Record<string, FakeRelease[]>;
  /** What the simple API can answer; "both" (default) negotiates on Accept. */
  format?: "json" | "html" | "both";
  /** Also serve PyPI's `/pypi/<name>/json` and `/pypi/<name>/<version>/json`. Default false. */
  jsonApi?: boolean;
  /** Serve PEP 658 `<file>.metadata` and advertise it. Default true. */
  coreMetadata?: boolean;
  /** Where the simple API lives; default "/simple/". */
  basePath?: string;
  /** Require HTTP Basic auth on every route when set. */
  auth?: { user: string; password: string };
}

export type Fault =
  | { kind: "status"; status: number }
  | { kind: "hang" }
  | { kind: "reset" }
  | { kind: "malformed" }
  | { kind: "huge"; bytes: number }
  | { kind: "redirect"; to: string }
  | { kind: "truncate-file" }
  | { kind: "wrong-hash" }
  /** Wheels (not `.metadata`) come with `extra` bytes more than the page's `size` (default 4,096). */
  | { kind: "oversize-file"; extra?: number };

export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  accept?: string;
  authorization?: string;
}

export interface FakeIndex {
  /** The simple API base, e.g. `http://127.0.0.1:PORT/simple/`. */
  url: string;
  /** The origin with a trailing slash, e.g. `http://127.0.0.1:PORT/`. */
  root: string;
  requests: RecordedRequest[];
  setProjects(projects: Record<string, FakeRelease[]>): void;
  /**
   * While set: status/hang/reset/malformed/huge/redirect apply to index pages (simple root and
   * project pages, and `/pypi/` JSON); truncate-file/wrong-hash apply to `/files/` (wheels and
   * `.metadata`).
   */
  fault: Fault | undefined;
  /**
   * When set, faults apply only to paths it matches: `/\/simple\/corp-only\//` fails one project
   * page while the root listing works, `/\.whl$/` fails wheels but not their `.metadata`.
   */
  faultPaths: RegExp | undefined;
  /** The wheel served for a release, e.g. to compare hashes. */
  wheel(project: string, version: string): BuiltWheel | undefined;
  close(): Promise<void>;
}

export const SIMPLE_JSON = "application/vnd.pypi.simple.v1+json";
export const SIMPLE_HTML = "application/vnd.pypi.simple.v1+html";
const TEXT_HTML = "text/html";
/** Server preference when q-values tie, as in PyPI's warehouse: text/html first (so a bare wildcard gets HTML). */
const OFFERS = [TEXT_HTML, SIMPLE_HTML, SIMPLE_JSON] as const;

interface Entry {
  release: FakeRelease;
  wheel: BuiltWheel;
}
interface Project {
  name: string;
  normalized: string;
  entries: Entry[];
}

/** Wheels are deterministic, so one build per distinct spec serves every server in the run. */
const wheelCache = new Map<string, BuiltWheel>();

function wheelFor(name: string, r: FakeRelease): BuiltWheel {
  if (r.file) return { filename: r.file.filename, data: r.file.data, sha256: sha256Hex(r.file.data), metadata: "" };
  const spec: WheelSpec = {
    name,
    version: r.version,
    requires: r.requires,
    requiresPython: r.requiresPython,
    license: r.license,
    licenseExpression: r.licenseExpression,
    classifiers: r.classifiers,
  };
  const key = JSON.stringify(spec);
  let w = wheelCache.get(key);
  if (!w) {
    w = buildWheel(spec);
    wheelCache.set(key, w);
  }
  return w;
}

/**
 * Picks the response type for an Accept header (PEP 691). Each offer takes the q of the most
 * specific range that matches it; the best q wins, ties go to OFFERS order. Like PyPI, a header
 * that matches nothing gets text/html rather than a 406.
 */
export function negotiate(accept: string | undefined): string {
  if (accept === undefined || accept.trim() === "") return TEXT_HTML;
  const ranges = accept.split(",").map((part) => {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
  const specificity = (range: string, offer: string): number => {
    // "latest" must be answered with the concrete v1 type.
    const r = range.replace(".latest+", ".v1+");
    if (r === offer) return 3;
    if (r.endsWith("/*") && offer.startsWith(r.slice(0, -1))) return 2;
    return r === "*/*" ? 1 : 0;
  };
  let best: { offer: string; q: number } | undefined;
  for (const offer of OFFERS) {
    let q = 0;
    let spec = 0;
    for (const r of ranges) {
      const s = specificity(r.type, offer);
      if (s > spec) [spec, q] = [s, r.q];
    }
    if (q > 0 && (best === undefined || q > best.q)) best = { offer, q };
  }
  return best?.offer ?? TEXT_HTML;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** PEP 691 wants `yyyy-mm-ddThh:mm:ss[.ffffff]Z`; PyPI always sends six fraction digits. */
export function isoUploadTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function sortVersions(versions: string[]): string[] {
  return [...new Set(versions)].sort((a, b) => {
    try {
      return compare(a, b);
    } catch {
      return a < b ? -1 : a > b ? 1 : 0;
    }
  });
}

/** A yank with an empty reason is still a yank. */
function yankValue(r: FakeRelease): boolean | string {
  return r.yanked === "" ? true : (r.yanked ?? false);
}

export async function startFakeIndex(opts: FakeIndexOptions): Promise<FakeIndex> {
  const format = opts.format ?? "both";
  const coreMetadata = opts.coreMetadata ?? true;
  const basePath = ("/" + (opts.basePath ?? "/simple/") + "/").replace(/\/+/g, "/");
  let projects = new Map<string, Project>();
  let files = new Map<string, BuiltWheel>();
  let serial = 0;
  const sockets = new Set<Socket>();
  const expectedAuth = opts.auth
    ? "Basic " + Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString("base64")
    : undefined;

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, "text/plain", String(err));
      else res.destroy();
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake index: no port");
  const root = `http://127.0.0.1:${address.port}/`;

  const index: FakeIndex = {
    url: `http://127.0.0.1:${address.port}${basePath}`,
    root,
    requests: [],
    fault: undefined,
    faultPaths: undefined,
    setProjects,
    wheel: (project, version) =>
      projects.get(normalizeName(project))?.entries.find((e) => e.release.version === version)?.wheel,
    close: async () => {
      // Hung requests would keep server.close() waiting forever; destroy every socket first.
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  setProjects(opts.projects);
  return index;

  function setProjects(next: Record<string, FakeRelease[]>): void {
    const p = new Map<string, Project>();
    const f = new Map<string, BuiltWheel>();
    for (const [name, releases] of Object.entries(next)) {
      const normalized = normalizeName(name);
      if (p.has(normalized)) throw new Error(`fake index: ${name} listed twice`);
      const entries = releases.map((release) => ({ release, wheel: wheelFor(name, release) }));
      for (const e of entries) f.set(e.wheel.filename, e.wheel);
      p.set(normalized, { name, normalized, entries });
    }
    projects = p;
    files = f;
    serial++;
  }

  function fileUrl(w: BuiltWheel): string {
    return `${root}files/${encodeURIComponent(w.filename)}`;
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rawUrl = req.url ?? "/";
    const url = new URL(rawUrl, root);
    index.requests.push({
      method: req.method ?? "GET",
      path: rawUrl,
      ...(req.headers.accept !== undefined && { accept: req.headers.accept }),
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
    });
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed");
    if (expectedAuth !== undefined && req.headers.authorization !== expectedAuth) {
      res.setHeader("WWW-Authenticate", 'Basic realm="fake-index"');
      return send(res, 401, "text/plain", "unauthorized");
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, "text/plain", "bad path");
    }

    if (path.startsWith("/files/")) return serveFile(res, path.slice("/files/".length));
    if (opts.jsonApi && path.startsWith("/pypi/")) {
      if (pageFault(req, res, "application/json")) return;
      return serveJsonApi(res, path.slice("/pypi/".length));
    }
    if (path + "/" === basePath) return redirect(res, basePath + url.search);
    if (!path.startsWith(basePath)) return send(res, 404, "text/plain", "not found");

    // PEP 691 also allows choosing the format with ?format=<type> instead of Accept.
    const wanted = url.searchParams.get("format") ?? req.headers.accept;
    const type = format === "html" ? TEXT_HTML : format === "json" ? SIMPLE_JSON : negotiate(wanted);
    if (pageFault(req, res, type)) return;

    const rest = path.slice(basePath.length);
    if (rest === "") return serveRoot(res, type);
    const slash = rest.indexOf("/");
    const name = slash === -1 ? rest : rest.slice(0, slash);
    if (slash !== -1 && slash !== rest.length - 1) return send(res, 404, "text/plain", "not found");
    // Like PyPI: the canonical URL is the normalized name with a trailing slash.
    if (slash === -1 || name !== normalizeName(name))
      return redirect(res, basePath + encodeURIComponent(normalizeName(name)) + "/" + url.search);
    const project = projects.get(name);
    if (!project) return send(res, 404, "text/plain", "not found");
    return type === SIMPLE_JSON ? serveProjectJson(res, project) : serveProjectHtml(res, project, type);
  }

  /** Applies an index-page fault; true when the response is taken care of. */
  function pageFault(req: http.IncomingMessage, res: http.ServerResponse, type: string): boolean {
    const fault = index.fault;
    if (index.faultPaths && !index.faultPaths.test(req.url ?? "/")) return false;
    switch (fault?.kind) {
      case undefined:
      case "truncate-file":
      case "wrong-hash":
      case "oversize-file":
        return false;
      case "status":
        send(res, fault.status, "text/plain", `fault: status ${fault.status}`);
        return true;
      case "hang":
        return true; // never answer; close() destroys the socket
      case "reset":
        req.socket.resetAndDestroy(); // TCP RST, so the client sees ECONNRESET
        return true;
      case "malformed":
        send(res, 200, type, type.includes("json") ? '{"meta": {"api-version": "1.1"}, "files": [{"filen' : "<html><body><a href=\"");
        return true;
      case "huge":
        sendHuge(res, type, fault.bytes);
        return true;
      case "redirect":
        redirect(res, fault.to, 302);
        return true;
    }
  }

  function serveRoot(res: http.ServerResponse, type: string): void {
    const list = [...projects.values()];
    if (type === SIMPLE_JSON) {
      return sendJson(res, type, { meta: { "api-version": "1.1" }, projects: list.map((p) => ({ name: p.name })) });
    }
    const links = list.map((p) => `<a href="${escapeHtml(basePath + p.normalized + "/")}">${escapeHtml(p.name)}</a><br>`);
    send(res, 200, type, htmlPage("Simple index", links));
  }

  function serveProjectJson(res: http.ServerResponse, p: Project): void {
    const fileList = p.entries.map(({ release: r, wheel: w }) => ({
      filename: w.filename,
      url: fileUrl(w),
      hashes: { sha256: w.sha256 },
      ...(r.requiresPython !== undefined && { "requires-python": r.requiresPython }),
      yanked: yankValue(r),
      size: w.data.length,
      ...(r.uploadTime && { "upload-time": isoUploadTime(r.uploadTime) }),
      // PEP 714 name plus the legacy PEP 658 one, as PyPI serves both.
      ...(coreMetadata && w.metadata !== "" && {
        "core-metadata": { sha256: sha256Hex(w.metadata) },
        "dist-info-metadata": { sha256: sha256Hex(w.metadata) },
      }),
    }));
    sendJson(res, SIMPLE_JSON, {
      meta: { "api-version": "1.1" },
      name: p.normalized,
      files: fileList,
      versions: sortVersions(p.entries.map((e) => e.release.version)),
    });
  }

  function serveProjectHtml(res: http.ServerResponse, p: Project, type: string): void {
    const links = p.entries.map(({ release: r, wheel: w }) => {
      const attrs = [`href="${escapeHtml(`${fileUrl(w)}#sha256=${w.sha256}`)}"`];
      if (r.requiresPython !== undefined) attrs.push(`data-requires-python="${escapeHtml(r.requiresPython)}"`);
      const yanked = yankValue(r);
      if (yanked !== false) attrs.push(`data-yanked="${yanked === true ? "" : escapeHtml(yanked)}"`);
      if (coreMetadata && w.metadata !== "") {
        const h = `sha256=${sha256Hex(w.metadata)}`;
        attrs.push(`data-core-metadata="${h}"`, `data-dist-info-metadata="${h}"`);
      }
      return `<a ${attrs.join(" ")}>${escapeHtml(w.filename)}</a><br>`;
    });
    send(res, 200, type, htmlPage(`Links for ${p.name}`, links));
  }

  function serveFile(res: http.ServerResponse, filename: string): void {
    const isMetadata = filename.endsWith(".metadata");
    const w = files.get(isMetadata ? filename.slice(0, -".metadata".length) : filename);
    if (!w || (isMetadata && !coreMetadata)) return send(res, 404, "text/plain", "not found");
    let body = isMetadata ? Buffer.from(w.metadata, "utf8") : w.data;
    const fault = index.faultPaths && !index.faultPaths.test(res.req.url ?? "/") ? undefined : index.fault;
    if (fault?.kind === "wrong-hash") {
      body = Buffer.from(body);
      const i = body.length >> 1;
      body[i] = (body[i] ?? 0) ^ 0xff; // same size, different sha256
    }
    if (fault?.kind === "oversize-file" && !isMetadata) body = Buffer.concat([body, Buffer.alloc(fault.extra ?? 4096, 0x20)]);
    const type = isMetadata ? "text/plain; charset=utf-8" : "application/octet-stream";
    if (fault?.kind === "truncate-file") {
      // Promise the full length, send half, then cut the connection.
      res.writeHead(200, { "Content-Type": type, "Content-Length": body.length });
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    send(res, 200, type, body);
  }

  function serveJsonApi(res: http.ServerResponse, rest: string): void {
    const m = /^([^/]+)\/(?:([^/]+)\/)?json\/?$/.exec(rest);
    const p = m?.[1] === undefined ? undefined : projects.get(normalizeName(m[1]));
    if (!m || !p || p.entries.length === 0) return send(res, 404, "application/json", '{"message": "Not Found"}');
    const versions = sortVersions(p.entries.map((e) => e.release.version));
    const filesOf = (v: string): Entry[] => p.entries.filter((e) => e.release.version === v);
    const wantVersion = m[2];
    let version: string | undefined;
    if (wantVersion !== undefined) {
      version = versions.find((v) => v === wantVersion) ?? versions.find((v) => safeEq(v, wantVersion));
      if (version === undefined) return send(res, 404, "application/json", '{"message": "Not Found"}');
    } else {
      // PyPI's "latest": newest final non-yanked release, else newest non-yanked, else newest.
      const live = versions.filter((v) => filesOf(v).some((e) => yankValue(e.release) === false));
      version = live.filter((v) => !explain(v)?.is_prerelease).at(-1) ?? live.at(-1) ?? versions.at(-1);
    }
    const current = filesOf(version ?? "")[0]?.release;
    if (version === undefined || current === undefined) return send(res, 404, "application/json", "{}");
    const yanked = yankValue(current);
    const body: Record<string, unknown> = {
      info: {
        name: p.name,
        version,
        summary: "",
        license: current.license ?? null,
        license_expression: current.licenseExpression ?? null,
        classifiers: current.classifiers ?? [],
        requires_dist: current.requires ?? null,
        requires_python: current.requiresPython ?? null,
        yanked: yanked !== false,
        yanked_reason: typeof yanked === "string" ? yanked : null,
      },
      last_serial: serial,
      urls: filesOf(version).map(jsonApiFile),
      vulnerabilities: [],
    };
    if (wantVersion === undefined) {
      body.releases = Object.fromEntries(versions.map((v) => [v, filesOf(v).map(jsonApiFile)]));
    }
    sendJson(res, "application/json", body);
  }

  function jsonApiFile({ release: r, wheel: w }: Entry): Record<string, unknown> {
    const yanked = yankValue(r);
    const md5 = createHash("md5").update(w.data).digest("hex");
    return {
      comment_text: "",
      digests: { md5, sha256: w.sha256 },
      filename: w.filename,
      has_sig: false,
      md5_digest: md5,
      packagetype: "bdist_wheel",
      python_version: "py3",
      requires_python: r.requiresPython ?? null,
      size: w.data.length,
      // PyPI's upload_time has no zone suffix; upload_time_iso_8601 is the unambiguous one.
      ...(r.uploadTime && {
        upload_time: r.uploadTime.toISOString().slice(0, 19),
        upload_time_iso_8601: isoUploadTime(r.uploadTime),
      }),
      url: fileUrl(w),
      yanked: yanked !== false,
      yanked_reason: typeof yanked === "string" ? yanked : null,
    };
  }
}

function safeEq(a: string, b: string): boolean {
  try {
    return compare(a, b) === 0;
  } catch {
    return false;
  }
}

function htmlPage(title: string, lines: string[]): string {
  return [
    "<!DOCTYPE html>",
    "<html>",
    `<head><meta name="pypi:repository-version" content="1.1"><title>${escapeHtml(title)}</title></head>`,
    `<body>`,
    `<h1>${escapeHtml(title)}</h1>`,
    ...lines,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  const contentType = type.startsWith("text/") && !type.includes("charset") ? `${type}; charset=utf-8` : type;
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": buf.length, Vary: "Accept" });
  res.end(buf);
}

function sendJson(res: http.ServerResponse, type: string, value: unknown): void {
  send(res, 200, type, JSON.stringify(value));
}

function redirect(res: http.ServerResponse, location: string, status = 301): void {
  res.setHeader("Location", location);
  send(res, status, "text/plain", `see ${location}`);
}

/** Streams exactly `bytes` bytes of a well-formed-looking page without holding it in memory. */
function sendHuge(res: http.ServerResponse, type: string, bytes: number): void {
  const json = type.includes("json");
  const head = json ? '{"meta":{"api-version":"1.1"},"name":"huge","files":[],"_pad":"' : "<!DOCTYPE html><html><body><!--";
  const tail = json ? '"}' : "--></body></html>";
  const padBytes = Math.max(0, bytes - head.length - tail.length);
  res.writeHead(200, { "Content-Type": type, "Content-Length": head.length + padBytes + tail.length });
  const chunk = Buffer.alloc(64 * 1024, "a");
  function* parts(): Generator<Buffer> {
    yield Buffer.from(head);
    for (let left = padBytes; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
    yield Buffer.from(tail);
  }
  // The client may give up mid-way (that is the point of the test); ignore the resulting error.
  pipeline(Readable.from(parts()), res, () => undefined);
}
