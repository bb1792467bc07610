import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import type { Policy } from "../policy/schema.js";
import type { ReleaseChecker } from "../checks/release.js";
import type { HttpClient } from "../core/http.js";
import { SafePipError, describeError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import { writeDcf } from "./dcf.js";
import { dependencyMode } from "./deps.js";
import { checkDirect, discardCopies, type DirectOutcome } from "./direct.js";
import { directText, resolutionJson, resolutionLines } from "./report.js";
import type { UnifiedRepository } from "./repository.js";
import type { PackageRecord } from "./types.js";
import { RefusedArchive, download, expectPackage, tarGzDescription } from "./verify.js";
import { VerifiedArchives, parseInstalled, toBeFetched, type ArchiveSource } from "./prefetch.js";

export interface ServerOptions {
  repository: UnifiedRepository;
  policy: Policy;
  checker: ReleaseChecker;
  http: HttpClient;
  port?: number;
  /** Stop after this long without a request (0: never). */
  idleTimeoutMs?: number;
  /** Stop when this process is gone (the R session that started us). */
  parentPid?: number | undefined;
  /** One line per event worth logging (blocked downloads, upstream failures). */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  /** Required by the control endpoints (`/__safe-pip/...`), never by the repository paths. */
  token: string;
  close(): Promise<void>;
  /** Settles when the server has stopped, for whatever reason. */
  closed: Promise<void>;
}

const CONTROL = "/__safe-pip/";

/**
 * The CRAN-like repository on 127.0.0.1. Paths, under the base URL or a resolution's
 * `/r/<id>` prefix:
 *   src/contrib/PACKAGES, PACKAGES.gz   the allowed releases (PACKAGES.rds: 404, R falls back)
 *   src/contrib/<file>, Archive/<pkg>/<file>   streamed from upstream if allowed, else 403
 *   bin/<platform>/contrib/<x.y>/...    binaries of exactly the allowed versions
 * Control (token required): GET resolve, GET direct, GET refused, POST shutdown, GET ping.
 * Every tarball is fetched whole and its DESCRIPTION checked against the judged release before a
 * byte of it is served: for the hook's resolutions (`mode=install|update`) the whole closure is
 * fetched and checked while resolving, before R's installer starts (prefetch.ts), so a refused
 * archive stops the install with nothing installed; anything else is checked when R asks for it.
 */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const token = randomBytes(16).toString("hex");
  const log = o.log ?? (() => undefined);
  let port = 0;
  let lastActivity = Date.now();
  let inFlight = 0;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const timers: NodeJS.Timeout[] = [];
  // Archives refused while serving, by resolution id ("" for the base URL): the hook asks after
  // R's installer has run, since R itself only reports a failed download.
  const refusals = new Map<string, string[]>();
  // Direct-reference copies handed to the hook: it removes them after installing; whatever an
  // interrupted session left is removed when the server stops.
  const handedOut: DirectOutcome[] = [];
  const verified = new VerifiedArchives(o.http);

  // update.packages() resolves every installed package in one GET: allow long query strings.
  const server: Server = createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    inFlight++;
    lastActivity = Date.now();
    res.on("close", () => {
      inFlight--;
      lastActivity = Date.now();
    });
    handle(req, res).catch((err: unknown) => {
      log(`error: ${redactUrl(describeError(err))}`);
      if (!res.headersSent) send(res, 502, `safe-pip: ${redactUrl(describeError(err))}\n`);
      else res.destroy();
    });
  });
  server.maxHeadersCount = 100;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      for (const t of timers) clearInterval(t);
      discardCopies(handedOut);
      verified.close();
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    }).then(resolveClosed));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only this machine's clients, by this address: a web page cannot rebind a name onto us.
    const host = (req.headers.host ?? "").toLowerCase();
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(host)) return send(res, 421, "safe-pip: wrong Host\n");
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    if (url.pathname.startsWith(CONTROL)) return control(req, res, url);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "safe-pip: method not allowed\n");

    let path = url.pathname;
    let id: string | undefined;
    const m = /^\/r\/([0-9a-f]+)(\/.*)$/.exec(path);
    if (m) {
      id = m[1];
      path = m[2]!;
    }
    const served = o.repository.served(id);
    if (!served) return send(res, 404, "safe-pip: unknown or expired repository URL; run install.packages() again\n");

    if (path === "/src/contrib/PACKAGES" || path === "/src/contrib/PACKAGES.gz")
      return sendIndex(req, res, writeDcf(o.repository.packagesIndex(served)), path.endsWith(".gz"));
    let f = /^\/src\/contrib\/(?:Archive\/[^/]+\/)?([^/]+\.tar\.gz)$/.exec(path);
    if (f) return sendTarball(req, res, served, decodeURIComponent(f[1]!), id ?? "");
    f = /^\/(bin\/(?:[A-Za-z0-9._-]+\/)+contrib\/\d+\.\d+)\/([^/]+)$/.exec(path);
    if (f) return sendBinary(req, res, served, f[1]!, decodeURIComponent(f[2]!), id ?? "");
    return send(res, 404, "safe-pip: not found\n");
  }

  function sendIndex(req: IncomingMessage, res: ServerResponse, text: string, gz: boolean): void {
    const body = gz ? gzipSync(text) : Buffer.from(text);
    res.writeHead(200, {
      "content-type": gz ? "application/gzip" : "text/plain; charset=utf-8",
      "content-length": body.length,
      "cache-control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  async function sendTarball(req: IncomingMessage, res: ServerResponse, served: Map<string, PackageRecord>, file: string, key: string): Promise<void> {
    const hit = o.repository.tarball(served, file);
    if (!hit) {
      log(`refused ${file}: not an allowed release`);
      return send(res, 403, `safe-pip: ${file} is not an allowed release; install it with install.packages() so safe-pip can check it\n`);
    }
    return sendVerified(req, res, hit.url, file, hit.rec, "application/x-gzip", key);
  }

  async function sendBinary(
    req: IncomingMessage,
    res: ServerResponse,
    served: Map<string, PackageRecord>,
    dir: string,
    file: string,
    key: string,
  ): Promise<void> {
    if (file === "PACKAGES.rds") return send(res, 404, "safe-pip: not served\n");
    const { records, files } = await o.repository.binaryIndex(served, dir);
    if (file === "PACKAGES" || file === "PACKAGES.gz") return sendIndex(req, res, writeDcf(records), file.endsWith(".gz"));
    const target = files.get(file);
    if (!target) return send(res, 403, `safe-pip: ${file} is not an allowed release\n`);
    // macOS binaries are tar.gz archives too: their DESCRIPTION is checked like a source tarball's.
    const rec = file.endsWith(".tgz") ? served.get(file.replace(/_[^_]*$/, "")) : undefined;
    if (rec) return sendVerified(req, res, target, file, rec, "application/octet-stream", key);
    return proxy(req, res, target, "application/octet-stream");
  }

  /**
   * Fetches the whole archive to a private file, checks that its one DESCRIPTION (read the way R
   * extracts it) is the judged package and version, and serves that same file. A mismatch is a
   * 403 with the reason, remembered for the hook.
   */
  async function sendVerified(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    file: string,
    rec: PackageRecord,
    type: string,
    key: string,
  ): Promise<void> {
    // Checked while resolving (the hook's installs): serve that copy, with no second fetch.
    const copy = await verified.copyFor(target, rec);
    if (copy) return sendFile(req, res, copy, type);
    if (req.method === "HEAD") return proxy(req, res, target, type);
    const local = await download(o.http, target, file);
    try {
      try {
        expectPackage(await tarGzDescription(local.path, redactUrl(target)), rec.name, rec.version, redactUrl(target));
      } catch (err) {
        if (!(err instanceof RefusedArchive)) throw err;
        const line = `${file}: ${err.message}`;
        log(`refused ${line}`);
        refusals.set(key, [...(refusals.get(key) ?? []), line]);
        return send(res, 403, `safe-pip refused ${line}\n`);
      }
      res.writeHead(200, { "content-type": type, "content-length": statSync(local.path).size });
      await pipeline(createReadStream(local.path), res);
    } finally {
      local.cleanup();
    }
  }

  async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, type: string): Promise<void> {
    res.writeHead(200, { "content-type": type, "content-length": statSync(path).size });
    if (req.method === "HEAD") return void res.end();
    await pipeline(createReadStream(path), res);
  }

  /**
   * The archives R's installer will fetch for a resolution: every source tarball, the `.tgz`
   * binaries of the binary directories the hook names (`bin=`, macOS), and for update.packages()
   * only what is newer than the installed copies the hook lists (`have=name_version,…`).
   */
  async function archivesToCheck(served: Map<string, PackageRecord>, url: URL, update: boolean): Promise<ArchiveSource[]> {
    const binaries: ArchiveSource[] = [];
    for (const dir of url.searchParams.getAll("bin")) {
      if (!/^bin\/(?:[A-Za-z0-9._-]+\/)+contrib\/\d+\.\d+$/.test(dir)) continue;
      binaries.push(...(await o.repository.binaryArchives(served, dir)));
    }
    // A binary of exactly the served version is what R installs (type "both" prefers it at an
    // equal version): its source tarball is not fetched, so not checked in advance either.
    // `.zip` binaries (Windows) are served by name and version only, as when served on demand.
    const hasBinary = new Set(binaries.map((b) => b.rec.name));
    let sources = [
      ...o.repository.sourceArchives(served).filter((s) => !hasBinary.has(s.rec.name)),
      ...binaries.filter((b) => b.file.endsWith(".tgz")),
    ];
    if (update) sources = toBeFetched(sources, parseInstalled(url.searchParams.get("have")));
    return sources;
  }

  async function proxy(req: IncomingMessage, res: ServerResponse, target: string, type: string): Promise<void> {
    const up = await o.http.open(target);
    if (up.status !== 200) {
      up.body.resume();
      log(`upstream ${redactUrl(target)}: HTTP ${up.status}`);
      return send(res, 502, `safe-pip: upstream answered HTTP ${up.status}\n`);
    }
    const headers: Record<string, string> = { "content-type": type };
    if (up.headers["content-length"]) headers["content-length"] = up.headers["content-length"];
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      up.body.destroy();
      res.end();
      return;
    }
    await pipeline(up.body, res);
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const given = url.searchParams.get("token") ?? String(req.headers["x-safe-pip-token"] ?? "");
    if (!sameToken(given, token)) return send(res, 403, "safe-pip: bad token\n");
    const action = url.pathname.slice(CONTROL.length);
    if (action === "ping") return send(res, 200, "safe-pip\n");
    if (action === "shutdown") {
      if (req.method !== "POST") return send(res, 405, "safe-pip: use POST\n");
      send(res, 200, "bye\n");
      void close();
      return;
    }
    const text = url.searchParams.get("format") === "text";
    if (action === "resolve") {
      const pkgs = (url.searchParams.get("pkgs") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      let mode;
      try {
        mode = dependencyMode(url.searchParams.get("dependencies") ?? undefined);
      } catch (err) {
        return send(res, 400, `safe-pip: ${describeError(err)}\n`);
      }
      try {
        const hookMode = url.searchParams.get("mode");
        const entry = await o.repository.resolve({ pkgs, dependencies: mode, strict: hookMode !== "update" });
        let refused: string[] = [];
        if (hookMode === "install" || hookMode === "update") {
          refused = await verified.verifyAll(await archivesToCheck(entry.served, url, hookMode === "update"));
          if (refused.length) {
            for (const line of refused) log(`refused ${line}`);
            o.repository.withdraw(entry);
          }
        }
        const repoUrl = `http://127.0.0.1:${port}/r/${entry.id}`;
        if (text) return send(res, 200, resolutionLines(entry, repoUrl, refused));
        return sendJson(res, 200, resolutionJson(entry, repoUrl, refused));
      } catch (err) {
        const msg = redactUrl(describeError(err));
        log(`resolve failed: ${msg}`);
        if (text) return send(res, 200, `status\terror\nerror\t${msg.replace(/[\t\r\n]+/g, " ")}\n`);
        return sendJson(res, err instanceof SafePipError ? 502 : 500, { error: msg });
      }
    }
    if (action === "refused") {
      // What was refused while serving a resolution's repository (`id`; empty: the base URL).
      const lines = refusals.get(url.searchParams.get("id") ?? "") ?? [];
      const clean = (l: string) => l.replace(/[\t\r\n]+/g, " ");
      return send(res, 200, [`status\t${lines.length ? "blocked" : "ok"}`, ...lines.map((l) => `block\t${clean(l)}`)].join("\n") + "\n");
    }
    if (action === "direct") {
      const outcomes = await checkDirect(url.searchParams.getAll("path"), o.policy, o.checker, o.http);
      if (outcomes.some((x) => x.verdict === "block")) discardCopies(outcomes);
      else handedOut.push(...outcomes);
      if (text) return send(res, 200, directText(outcomes));
      return sendJson(res, 200, { blocked: outcomes.some((x) => x.verdict === "block"), outcomes });
    }
    return send(res, 404, "safe-pip: unknown control request\n");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  const idle = o.idleTimeoutMs ?? 0;
  if (idle > 0) {
    const t = setInterval(() => {
      if (inFlight === 0 && Date.now() - lastActivity >= idle) void close();
    }, Math.min(idle, 5000));
    t.unref();
    timers.push(t);
  }
  if (o.parentPid) {
    const pid = o.parentPid;
    const t = setInterval(() => {
      if (!alive(pid)) void close();
    }, 1000);
    t.unref();
    timers.push(t);
  }
  return { url: `http://127.0.0.1:${port}`, token, close, closed };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
