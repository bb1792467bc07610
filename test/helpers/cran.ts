/**
 * R test helpers: real source packages built with `R CMD build`, CRAN-like repositories served
 * from 127.0.0.1 by a static file server (real 404s, Apache-style directory listings for
 * `Archive/<pkg>/`, a request log as a test oracle), an isolated environment for every R run,
 * and a tiny tar.gz writer for unit tests that need package tarballs without R.
 */
import { createServer, type Server } from "node:http";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { basename, join, normalize } from "node:path";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { execa } from "execa";
import { after } from "node:test";
import { HttpClient } from "../../src/core/http.js";
import { cleanupAll, tempDir } from "./env.js";

/** Whether Rscript is on PATH (the R suite skips cleanly without it). */
export async function hasRscript(): Promise<boolean> {
  const r = await execa("Rscript", ["--version"], { reject: false }).catch(() => undefined);
  return r !== undefined && r.exitCode === 0;
}

export interface RPackageSpec {
  name: string;
  version: string;
  imports?: string;
  depends?: string;
  suggests?: string;
  license?: string;
  /** Written as `Date/Publication` (as CRAN does on acceptance); omitted when undefined. */
  published?: Date | undefined;
  /** The value `f()` returns once installed, to tell two builds of one version apart. */
  marker?: string;
}

function cranDate(d: Date): string {
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** DESCRIPTION text of a spec, exactly as the package will carry it (before R CMD build adds its fields). */
export function descriptionText(p: RPackageSpec): string {
  const lines = [
    `Package: ${p.name}`,
    `Version: ${p.version}`,
    `Title: Test Package ${p.name}`,
    `Description: A package built by the safe-pip tests.`,
    `License: ${p.license ?? "MIT"}`,
    `Author: safe-pip tests`,
    `Maintainer: safe-pip tests <tests@example.invalid>`,
  ];
  if (p.depends) lines.push(`Depends: ${p.depends}`);
  if (p.imports) lines.push(`Imports: ${p.imports}`);
  if (p.suggests) lines.push(`Suggests: ${p.suggests}`);
  if (p.published) lines.push(`Date/Publication: ${cranDate(p.published)}`);
  return lines.join("\n") + "\n";
}

/**
 * Builds source packages with `R CMD build` (two at a time: ~0.5 s each) and returns
 * `key → tarball path`, key = `name_version[_marker]`.
 */
export async function buildRPackages(specs: RPackageSpec[]): Promise<Map<string, string>> {
  const root = tempDir("safe-pip-rpkg-");
  const out = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const p = specs[next++]!;
      const key = `${p.name}_${p.version}${p.marker ? `_${p.marker}` : ""}`;
      const work = join(root, key);
      const src = join(work, p.name);
      mkdirSync(join(src, "R"), { recursive: true });
      writeFileSync(join(src, "DESCRIPTION"), descriptionText(p));
      writeFileSync(join(src, "NAMESPACE"), "export(f)\n");
      writeFileSync(join(src, "R", "f.R"), `f <- function() "${p.marker ?? `${p.name} ${p.version}`}"\n`);
      const r = await execa("R", ["CMD", "build", "--no-manual", "--no-build-vignettes", p.name], {
        cwd: work,
        reject: false,
        env: { LANGUAGE: "en", R_PROFILE_USER: "", R_ENVIRON_USER: "" },
      });
      const tarball = join(work, `${p.name}_${p.version}.tar.gz`);
      if (r.exitCode !== 0 || !existsSync(tarball)) throw new Error(`R CMD build ${key} failed:\n${r.stdout}\n${r.stderr}`);
      out.set(key, tarball);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

export interface RepoLayout {
  /** Tarballs for `src/contrib/` (listed in PACKAGES). */
  current: string[];
  /** Tarballs for `src/contrib/Archive/<pkg>/`. */
  archive?: string[];
  /**
   * How PACKAGES is written: "R" = `tools::write_PACKAGES` (real R output, no dates), or "none"
   * (only the tarballs; for a repository that must never be read).
   */
  index?: "R" | "none";
}

/** Lays out a CRAN-like directory tree and writes its index. */
export async function makeCranDir(layout: RepoLayout, root = tempDir("safe-pip-cran-")): Promise<string> {
  const contrib = join(root, "src", "contrib");
  mkdirSync(contrib, { recursive: true });
  for (const t of layout.current) copyFileSync(t, join(contrib, basename(t)));
  for (const t of layout.archive ?? []) {
    const name = basename(t).replace(/_.*$/, "");
    mkdirSync(join(contrib, "Archive", name), { recursive: true });
    copyFileSync(t, join(contrib, "Archive", name, basename(t)));
  }
  if ((layout.index ?? "R") === "R") {
    const r = await execa("Rscript", ["--vanilla", "-e", `tools::write_PACKAGES(${JSON.stringify(contrib)}, type = "source")`], {
      reject: false,
      env: { LANGUAGE: "en" },
    });
    if (r.exitCode !== 0) throw new Error(`write_PACKAGES failed: ${r.stderr}`);
  }
  return root;
}

export interface LoggedRequest {
  method: string;
  path: string;
  userAgent: string;
}

export interface StaticRepo {
  url: string;
  root: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

/**
 * Serves a directory on 127.0.0.1: files as they are, directories as an Apache-style listing
 * (what CRAN mirrors show for `Archive/<pkg>/`), everything else 404. `prefix` mounts the tree
 * under a path (a dated snapshot URL such as `/cran/2024-01-01`).
 */
export async function serveStatic(root: string, prefix = ""): Promise<StaticRepo> {
  const requests: LoggedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push({ method: req.method ?? "", path, userAgent: String(req.headers["user-agent"] ?? "") });
    if (!path.startsWith(`${prefix}/`)) return notFound();
    const rel = normalize(path.slice(prefix.length)).replace(/^(\.\.(\/|$))+/, "");
    const file = join(root, rel);
    if (!file.startsWith(root) || !existsSync(file)) return notFound();
    if (statSync(file).isDirectory()) {
      if (!path.endsWith("/")) {
        res.writeHead(301, { location: `${path}/` });
        return res.end();
      }
      const items = readdirSync(file)
        .map((n) => `<tr><td><a href="${encodeURIComponent(n)}">${n}</a></td><td align="right">2020-01-01 00:00</td></tr>`)
        .join("\n");
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(`<html><body><h1>Index of ${path}</h1><table><tr><th><a href="?C=N;O=D">Name</a></th></tr>\n<tr><td><a href="../">Parent Directory</a></td></tr>\n${items}</table></body></html>`);
    }
    res.writeHead(200, { "content-length": statSync(file).size, "content-type": "application/octet-stream" });
    createReadStream(file).pipe(res);
    function notFound() {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    root,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A gzipped ustar archive of `files` (path → content), for unit tests that need tarballs without R. */
export function makeTarGz(files: Record<string, string | Buffer>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const header = Buffer.alloc(512);
    if (Buffer.byteLength(path) > 100) {
      // GNU long name: an "L" entry holding the name, then the real header.
      const name = Buffer.from(path + "\0");
      blocks.push(tarHeader("././@LongLink", name.length, "L"), pad(name));
      header.set(tarHeader(path.slice(0, 99), data.length, "0"));
    } else header.set(tarHeader(path, data.length, "0"));
    blocks.push(header, pad(data));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function tarHeader(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(size.toString(8).padStart(11, "0") + "\0", 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/** The packages installed in an R library directory: name → Version (read from their DESCRIPTION). */
export function installedRPackages(lib: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(lib)) return out;
  for (const name of readdirSync(lib)) {
    const desc = join(lib, name, "DESCRIPTION");
    if (!existsSync(desc)) continue;
    const m = /^Version:\s*(\S+)/m.exec(readFileSync(desc, "utf8"));
    if (m) out[name] = m[1]!;
  }
  return out;
}

export interface FakeRepoSpec {
  current: RPackageSpec[];
  archive?: RPackageSpec[];
  /** Put `Date/Publication` into PACKAGES too (CRAN's own index has no dates; PPM-like ones may). */
  datesInIndex?: boolean;
  /** Replace the PACKAGES text (to test unreadable indexes). */
  rawIndex?: string;
  /** Binary index records to add under `bin/<dir>/` (with a dummy file per record). */
  binaries?: Record<string, RPackageSpec[]>;
}

/**
 * A CRAN-like tree written from TypeScript alone: tarballs holding `<pkg>/DESCRIPTION` (made by
 * makeTarGz) and a PACKAGES/PACKAGES.gz index, for unit tests that must not need R.
 */
export function makeFakeCranDir(spec: FakeRepoSpec, root = tempDir("safe-pip-fakecran-")): string {
  const contrib = join(root, "src", "contrib");
  mkdirSync(contrib, { recursive: true });
  const tar = (p: RPackageSpec) => makeTarGz({ [`${p.name}/DESCRIPTION`]: descriptionText(p), [`${p.name}/NAMESPACE`]: "export(f)\n" });
  const records: string[] = [];
  for (const p of spec.current) {
    writeFileSync(join(contrib, `${p.name}_${p.version}.tar.gz`), tar(p));
    const fields = descriptionText(p)
      .split("\n")
      .filter((l) => /^(Package|Version|Depends|Imports|Suggests|License|Date\/Publication):/.test(l))
      .filter((l) => spec.datesInIndex || !l.startsWith("Date/Publication"));
    records.push(fields.join("\n"));
  }
  for (const p of spec.archive ?? []) {
    mkdirSync(join(contrib, "Archive", p.name), { recursive: true });
    writeFileSync(join(contrib, "Archive", p.name, `${p.name}_${p.version}.tar.gz`), tar(p));
  }
  const index = spec.rawIndex ?? records.join("\n\n") + "\n";
  writeFileSync(join(contrib, "PACKAGES"), index);
  writeFileSync(join(contrib, "PACKAGES.gz"), gzipSync(index));
  for (const [dir, list] of Object.entries(spec.binaries ?? {})) {
    mkdirSync(join(root, dir), { recursive: true });
    const ext = dir.includes("windows") ? "zip" : "tgz";
    writeFileSync(join(root, dir, "PACKAGES"), list.map((p) => `Package: ${p.name}\nVersion: ${p.version}\n`).join("\n"));
    for (const p of list) writeFileSync(join(root, dir, `${p.name}_${p.version}.${ext}`), `binary ${p.name} ${p.version}`);
  }
  return root;
}

/**
 * A gzipped ustar archive from an ordered list of entries, so one path may appear twice (a
 * hostile tarball: R's untar extracts every entry, so the last copy is the one installed).
 */
export function makeTarGzEntries(entries: Array<[path: string, content: string | Buffer]>): Buffer {
  const parts = entries.map(([path, content]) => {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return Buffer.concat([tarHeader(path, data.length, "0"), pad(data)]);
  });
  return gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));
}

/** The files of a minimal installable source package (DESCRIPTION, NAMESPACE, R/f.R) under `<dir>/`. */
export function rPackageEntries(p: RPackageSpec, dir = p.name): Array<[string, string]> {
  return [
    [`${dir}/DESCRIPTION`, descriptionText(p)],
    [`${dir}/NAMESPACE`, "export(f)\n"],
    [`${dir}/R/f.R`, `f <- function() "${p.marker ?? `${p.name} ${p.version}`}"\n`],
  ];
}

/**
 * The shared set-up of the in-process repository unit tests: the static repositories a suite
 * starts (closed after it) and one upstream HTTP client, closed with them.
 */
export function repositorySuite(): { servers: StaticRepo[]; http: HttpClient } {
  const servers: StaticRepo[] = [];
  const http = new HttpClient({ timeoutMs: 5000, maxBytes: 8 * 1024 * 1024 });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await http.close();
    cleanupAll();
  });
  return { servers, http };
}
