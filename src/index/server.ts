import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { SafePipError, describeError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import { normalizeName } from "../core/names.js";
import { redactUrl } from "../core/redact.js";
import type { ReleaseChecker } from "../checks/release.js";
import type { Reason } from "../checks/types.js";
import type { Policy } from "../policy/schema.js";
import { versionFromFilename, type DistFile } from "./model.js";
import { fetchCoreMetadata } from "./metadata.js";
import { fileMetadata, hiddenMetadata, judgeCoreMetadata, metadataDifference, Spool } from "./gate.js";
import { buildProject, type ProjectDecision, type ServedProject } from "./project.js";
import { prefetchDependencies, prefetchedFile, prefetchedMetadata, prefetchFile } from "./prefetch.js";
import { renderHtml, renderJson, wantsJson } from "./render.js";
import { Router } from "./router.js";

export interface IndexOptions {
  policy: Policy;
  http: HttpClient;
  checker: ReleaseChecker;
  now?: () => Date;
}

/** A problem the index met while serving, kept so the command can explain pip's failure. */
export interface IndexIncident {
  /**
   * upstream/file: a source failed (unavailable); direct-access: pip tried to go around the index;
   * refused: a file contradicted what the index had judged (blocked); hidden: a release was hidden
   * only when its file passed through, so pip's pass broke off and may be run again without it.
   */
  kind: "upstream" | "direct-access" | "file" | "refused" | "hidden";
  project?: string | undefined;
  message: string;
}

/**
 * The unified index: a PEP 503/691 server on 127.0.0.1 that is pip's only source for the run.
 * Each project page is built once (routing, age, checks) and reused by every later request in the
 * run — the resolve pass and the install pass see exactly the same page.
 */
export class UnifiedIndex {
  readonly projects = new Map<string, Promise<ServedProject>>();
  readonly incidents: IndexIncident[] = [];
  private readonly files = new Map<string, DistFile>();
  /** PEP 658 metadata that passed through to pip, kept (it is small) for licence checks. */
  private readonly metadataSeen = new Map<string, string>();
  /** `project/version` of releases hidden after their page was served (metadata or file verdicts). */
  private readonly hidden = new Map<string, Reason[]>();
  /** `project/filename` of files whose contents were refused, with the reason. */
  private readonly refusedFiles = new Map<string, string>();
  private readonly router: Router;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly opts: IndexOptions) {
    this.router = new Router(opts.http, opts.policy.index, opts.policy.internal);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/simple/`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, "text/plain", `safe-pip index error: ${describeError(err)}\n`);
        else res.destroy();
      });
    });
    // pip sends CONNECT (or absolute-form requests) when it tries to reach a host other than us
    // through the proxy variables we point at this server: refuse and remember.
    server.on("connect", (req: IncomingMessage, socket: Socket) => {
      this.incidents.push({ kind: "direct-access", message: `pip tried to reach ${redactUrl(req.url ?? "?")} directly; refused` });
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    });
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    // One-off work the first page would otherwise wait for (loading undici, building the typosquat
    // indexes: ~0.2 s together), done just after this returns: the caller spawns pip next, and pip
    // takes ~0.3 s to start before it sends its first request, so the two overlap.
    setImmediate(() => {
      try {
        this.opts.http.warm();
        this.opts.checker.prepare?.();
      } catch {
        // Only an optimisation: the first real check reports whatever failed here.
      }
    });
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The served project, built on first request and cached for the run. */
  project(name: string): Promise<ServedProject> {
    const key = normalizeName(name);
    let p = this.projects.get(key);
    if (!p) {
      this.opts.checker.warm?.("PyPI", key);
      p = this.router
        .route(key)
        .then((routed) => buildProject(key, routed, { ...this.opts, now: this.opts.now?.() ?? new Date() }))
        .then((served) => {
          for (const f of served.files) this.files.set(`${key}/${f.filename}`, f);
          return served;
        });
      p.catch((err: unknown) => this.incidents.push({ kind: "upstream", project: key, message: describeError(err) }));
      this.projects.set(key, p);
    }
    return p;
  }

  /** Core metadata of a release: what pip already fetched through us, else fetched now. */
  async coreMetadata(name: string, version: string): Promise<string | undefined> {
    const key = normalizeName(name);
    const served = await this.project(key);
    for (const f of served.files) {
      if (versionFromFilename(f.filename, key) !== version) continue;
      const seen = this.metadataSeen.get(`${key}/${f.filename}`);
      if (seen !== undefined) return seen;
    }
    return fetchCoreMetadata(this.opts.http, this, key, version);
  }

  /**
   * Hides a release the index learnt about only from its metadata or file: its version decision
   * records why, and later pages (build isolation's pips, a further pass) no longer offer it.
   */
  private async hide(project: string, version: string, reasons: Reason[]): Promise<void> {
    const key = `${project}/${version}`;
    if (this.hidden.has(key)) return;
    this.hidden.set(key, reasons);
    const served = await this.project(project);
    const d = served.decision.versions.find((v) => v.version === version);
    if (d) {
      d.served = false;
      d.reasons.push(...reasons);
    }
    served.files = served.files.filter((f) => versionFromFilename(f.filename, project) !== version);
  }

  /** Decisions about every project pip asked for, in request order (failed ones omitted). */
  async decisions(): Promise<ProjectDecision[]> {
    const settled = await Promise.allSettled(this.projects.values());
    return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value.decision] : []));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = req.url ?? "/";
    if (!raw.startsWith("/")) {
      // Absolute form: pip reached us as its proxy. Only our own origin, spelt exactly as pip was
      // told it (127.0.0.1 and our port), is served; localhost, other loopback ports (a local
      // mirror of all of PyPI) and every other host are refused and remembered.
      let own = false;
      try {
        const u = new URL(raw);
        own = u.origin === this.origin && !u.username && !u.password;
        if (own) raw = u.pathname + u.search;
      } catch {
        own = false;
      }
      if (!own) {
        this.incidents.push({ kind: "direct-access", message: `pip tried to fetch ${redactUrl(raw)} directly; refused` });
        return send(res, 403, "text/plain", "safe-pip: only the unified index may be used\n");
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n");
    const path = decodeURIComponent(new URL(raw, "http://x").pathname);
    if (path === "/simple" || path === "/simple/") {
      return wantsJson(req.headers.accept)
        ? send(res, 200, "application/vnd.pypi.simple.v1+json", JSON.stringify({ meta: { "api-version": "1.1" }, projects: [] }))
        : send(res, 200, "text/html", "<!DOCTYPE html><html><body></body></html>\n");
    }
    const page = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (page) return this.servePage(page[1]!, req, res);
    const file = /^\/files\/([^/]+)\/([^/]+)$/.exec(path);
    if (file) return this.serveFile(file[1]!, file[2]!, req, res);
    return send(res, 404, "text/plain", "not found\n");
  }

  private async servePage(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const key = normalizeName(name);
    if (key !== name || !req.url!.endsWith("/")) {
      res.writeHead(301, { location: `/simple/${encodeURIComponent(key)}/`, "content-length": "0" });
      return void res.end();
    }
    let served: ServedProject;
    try {
      served = await this.project(key);
    } catch (err) {
      const msg = err instanceof SafePipError ? err.message : describeError(err);
      return send(res, 502, "text/plain", `safe-pip: ${msg}\n`);
    }
    if (served.decision.status === "not-found") return send(res, 404, "text/plain", "not found\n");
    const json = wantsJson(req.headers.accept);
    const versions = served.decision.versions.filter((v) => v.served).map((v) => v.version);
    return json
      ? send(res, 200, "application/vnd.pypi.simple.v1+json", renderJson(key, served.files, versions, served.decision.projectStatus))
      : send(res, 200, "application/vnd.pypi.simple.v1+html", renderHtml(key, served.files, served.decision.projectStatus));
  }

  private async serveFile(project: string, filename: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const isMetadata = filename.endsWith(".metadata");
    const distName = isMetadata ? filename.slice(0, -".metadata".length) : filename;
    const file = this.files.get(`${project}/${distName}`);
    if (!file || (isMetadata && !file.coreMetadata)) return send(res, 404, "text/plain", "safe-pip: not a file this index offered\n");
    const version = versionFromFilename(distName, project) ?? "";
    const hidden = this.hidden.get(`${project}/${version}`);
    if (isMetadata) return this.serveMetadata(project, version, distName, file, hidden, res);
    if (hidden) return send(res, 403, "text/plain", `safe-pip: ${project} ${version} is hidden by policy: ${hidden.map((r) => r.message).join("; ")}\n`);
    // A file refused once is refused at once: pip retries a broken download, and each retry
    // would otherwise fetch and judge the whole file again.
    const refused = this.refusedFiles.get(`${project}/${distName}`);
    if (refused) return send(res, 403, "text/plain", `safe-pip: ${refused}\n`);
    const url = file.url;
    const expected = file.hashes.sha256;
    if (req.method === "GET") {
      // Fetched ahead when its .metadata passed (prefetch.ts): complete, size and sha256 already
      // checked, so it is judged whole before a byte goes out, and refused with a plain 403.
      const early = await prefetchedFile(this, file);
      const late = this.hidden.get(`${project}/${version}`);
      if (early !== undefined && late) return send(res, 403, "text/plain", `safe-pip: ${project} ${version} is hidden by policy: ${late.map((r) => r.message).join("; ")}\n`);
      if (early !== undefined) return this.servePrefetched(project, version, distName, early, res);
    }
    const upstream = await this.openUpstreamFile(url, project, res);
    if (!upstream) return;
    const headers: Record<string, string> = { "content-type": "application/octet-stream", "cache-control": "no-store" };
    const length = upstream.headers["content-length"];
    if (length) headers["content-length"] = length;
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      upstream.body.destroy();
      return void res.end();
    }
    // Headers go out now, so a cut below reads as a broken download, not a proxy that never answered.
    res.flushHeaders();
    // Stream, hashing as we go; on a hash or size mismatch, or when the file's own metadata fails
    // the policy, the connection is cut before the last byte, so pip sees a broken download rather
    // than a file it might trust or build. The last chunk read is therefore always held back until
    // the next one arrives, or until the whole file checked out. The bytes are spooled meanwhile,
    // because a zip's directory (where a wheel's METADATA is found) comes at its end.
    const hash = createHash("sha256");
    const spool = new Spool();
    const limit = file.size;
    let size = 0;
    let held: Buffer | undefined;
    const fail = (message: string, kind: IndexIncident["kind"] = "file") => {
      this.incidents.push({ kind, project, message });
      upstream.body.destroy();
      res.destroy();
    };
    try {
      try {
        for await (const chunk of upstream.body) {
          const buf = chunk as Buffer;
          size += buf.length;
          if (limit !== undefined && size > limit) return fail(`${filename} is larger than the ${limit} bytes its index declared`);
          hash.update(buf);
          spool.add(buf);
          if (held && !res.write(held)) await new Promise<void>((r) => res.once("drain", () => r()));
          held = buf;
        }
      } catch (err) {
        return fail(`${filename}: download broke off (${describeError(err)})`);
      }
      if (limit !== undefined && size < limit) return fail(`${filename} is smaller (${size} bytes) than the ${limit} bytes its index declared`);
      if (expected && hash.digest("hex") !== expected.toLowerCase()) return fail(`${filename} does not match the sha256 its index declared`);
      const verdict = await this.judgeFile(project, version, distName, spool);
      if (verdict) {
        this.refusedFiles.set(`${project}/${distName}`, verdict.message);
        return fail(verdict.message, verdict.kind);
      }
    } finally {
      spool.dispose();
    }
    res.end(held);
  }

  private async servePrefetched(project: string, version: string, distName: string, body: Buffer, res: ServerResponse): Promise<void> {
    const spool = new Spool();
    spool.add(body);
    let verdict: Awaited<ReturnType<UnifiedIndex["judgeFile"]>>;
    try {
      verdict = await this.judgeFile(project, version, distName, spool);
    } finally {
      spool.dispose();
    }
    if (verdict) {
      this.refusedFiles.set(`${project}/${distName}`, verdict.message);
      this.incidents.push({ kind: verdict.kind, project, message: verdict.message });
      return send(res, 403, "text/plain", `safe-pip: ${verdict.message}\n`);
    }
    return send(res, 200, "application/octet-stream", body);
  }

  /**
   * A PEP 658 `.metadata` file: fetched whole (it is small), checked against the upstream's hash,
   * then judged. A release the metadata condemns is hidden, and pip gets a stand-in that makes its
   * resolver discard the candidate and go on to an older one (see hiddenMetadata).
   */
  /**
   * Opens a file (or its .metadata) upstream for serving; an upstream failure is answered with a
   * 502 and recorded as an incident, and then undefined is returned.
   */
  private async openUpstreamFile(url: string, project: string, res: ServerResponse): Promise<Awaited<ReturnType<HttpClient["open"]>> | undefined> {
    let upstream;
    try {
      upstream = await this.opts.http.open(url);
    } catch (err) {
      this.incidents.push({ kind: "file", project, message: describeError(err) });
      send(res, 502, "text/plain", `safe-pip: ${describeError(err)}\n`);
      return undefined;
    }
    if (upstream.status !== 200) {
      upstream.body.resume();
      this.incidents.push({ kind: "file", project, message: `${redactUrl(url)}: answered HTTP ${upstream.status}` });
      send(res, 502, "text/plain", `safe-pip: upstream answered HTTP ${upstream.status}\n`);
      return undefined;
    }
    return upstream;
  }

  private async serveMetadata(project: string, version: string, distName: string, file: DistFile, hidden: Reason[] | undefined, res: ServerResponse): Promise<void> {
    if (hidden) return send(res, 200, "application/octet-stream", hiddenMetadata(project, version, hidden));
    const url = `${file.url}.metadata`;
    // Fetched ahead by prefetch (already checked against the page's sha256, checked again below).
    const early = await prefetchedMetadata(this, url, typeof file.coreMetadata === "object" ? file.coreMetadata.sha256 : undefined);
    let body: Buffer;
    if (early !== undefined) body = Buffer.from(early, "utf8");
    else {
      const upstream = await this.openUpstreamFile(url, project, res);
      if (!upstream) return;
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of upstream.body) {
          size += (chunk as Buffer).length;
          if (size > 4 * 1024 * 1024) {
            upstream.body.destroy();
            this.incidents.push({ kind: "file", project, message: `${distName}.metadata is larger than 4 MiB` });
            return send(res, 502, "text/plain", "safe-pip: metadata file too large\n");
          }
          chunks.push(chunk as Buffer);
        }
      } catch (err) {
        this.incidents.push({ kind: "file", project, message: `${distName}.metadata: download broke off (${describeError(err)})` });
        return send(res, 502, "text/plain", "safe-pip: metadata download broke off\n");
      }
      body = Buffer.concat(chunks);
    }
    const expected = typeof file.coreMetadata === "object" ? file.coreMetadata.sha256 : undefined;
    if (expected && createHash("sha256").update(body).digest("hex") !== expected.toLowerCase()) {
      this.incidents.push({ kind: "file", project, message: `${distName}.metadata does not match the sha256 its index declared` });
      return send(res, 502, "text/plain", "safe-pip: metadata does not match its declared hash\n");
    }
    const text = body.toString("utf8");
    this.metadataSeen.set(`${project}/${distName}`, text);
    const reasons = judgeCoreMetadata(text, this.opts.policy);
    if (reasons.length) {
      await this.hide(project, version, reasons);
      return send(res, 200, "application/octet-stream", hiddenMetadata(project, version, reasons));
    }
    prefetchDependencies(this, this.opts, text);
    prefetchFile(this, this.opts, file);
    return send(res, 200, "application/octet-stream", body);
  }

  /**
   * The verdict on a whole file, from the metadata inside it. A wheel must carry exactly the
   * metadata the index served for it (pip resolved with that one); a file whose metadata the index
   * had not seen (no PEP 658 file upstream, an sdist's PKG-INFO, pip with --require-hashes) is
   * judged now, and a release it condemns is hidden for every later page and pass.
   */
  private async judgeFile(project: string, version: string, distName: string, spool: Spool): Promise<{ kind: IndexIncident["kind"]; message: string } | undefined> {
    let own: string | undefined;
    try {
      own = await fileMetadata(distName, spool);
    } catch (err) {
      return { kind: "refused", message: `${distName}: its metadata cannot be read (${describeError(err)}); refused` };
    }
    if (own === undefined) return undefined;
    const served = distName.endsWith(".whl") ? this.metadataSeen.get(`${project}/${distName}`) : undefined;
    if (served !== undefined) {
      const field = metadataDifference(served, own);
      return field ? { kind: "refused", message: `${distName}: its own METADATA differs from the .metadata the index served (${field}); refused` } : undefined;
    }
    const reasons = judgeCoreMetadata(own, this.opts.policy);
    if (!reasons.length) return undefined;
    await this.hide(project, version, reasons);
    return { kind: "hidden", message: `${project} ${version} hidden: ${reasons.map((r) => r.message).join("; ")}` };
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

export async function startUnifiedIndex(opts: IndexOptions): Promise<UnifiedIndex> {
  return new UnifiedIndex(opts).start();
}
