/**
 * The repository checks a hook resolution's archives while resolving, before R's installer
 * starts (R installs the rest when one download fails): every tarball fetched once, a refused
 * one blocks the resolution and nothing of it is served, the checked copy is what R receives.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { HttpClient } from "../../src/core/http.js";
import { PASS_ALL } from "../../src/checks/release.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import { parseDcf } from "../../src/r/dcf.js";
import { UnifiedRepository } from "../../src/r/repository.js";
import { parseInstalled } from "../../src/r/prefetch.js";
import { startServer, type RunningServer } from "../../src/r/server.js";
import { descriptionText, makeTarGz, makeTarGzEntries, serveStatic, type RPackageSpec, type StaticRepo } from "../helpers/cran.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

const http = new HttpClient({ timeoutMs: 5000, maxBytes: 8 * 1024 * 1024 });
const old = new Date(Date.now() - 300 * 86400e3);
const MAC = "bin/macosx/big-sur-arm64/contrib/4.4";
const WIN = "bin/windows/contrib/4.4";
let upstream: StaticRepo;
let root: string;

function get(url: string): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

const pkg = (name: string, version: string, imports?: string): RPackageSpec => ({ name, version, published: old, ...(imports ? { imports } : {}) });
const tar = (p: RPackageSpec) => makeTarGz({ [`${p.name}/DESCRIPTION`]: descriptionText(p), [`${p.name}/NAMESPACE`]: "export(f)\n" });

/** A repository: `top` imports `dep`; `bad` holds DESCRIPTION twice; `gone` has no tarball. */
function writeRepo(): void {
  const contrib = join(root, "src", "contrib");
  mkdirSync(contrib, { recursive: true });
  const specs = [pkg("top", "1.0", "dep"), pkg("dep", "2.0"), pkg("bad", "1.0"), pkg("gone", "1.0"), pkg("mac", "1.0"), pkg("macbad", "1.0"), pkg("win", "1.0")];
  for (const p of specs) if (p.name !== "gone") writeFileSync(join(contrib, `${p.name}_${p.version}.tar.gz`), tar(p));
  writeFileSync(
    join(contrib, "bad_1.0.tar.gz"),
    makeTarGzEntries([["bad/DESCRIPTION", descriptionText(pkg("bad", "1.0"))], ["bad/DESCRIPTION", descriptionText(pkg("other", "9.9"))]]),
  );
  const index = specs.map((p) => descriptionText(p).split("\n").filter((l) => /^(Package|Version|Imports|License|Date\/Publication):/.test(l)).join("\n")).join("\n\n") + "\n";
  writeFileSync(join(contrib, "PACKAGES"), index);
  writeFileSync(join(contrib, "PACKAGES.gz"), gzipSync(index));
  mkdirSync(join(root, MAC), { recursive: true });
  writeFileSync(join(root, MAC, "PACKAGES"), "Package: mac\nVersion: 1.0\n\nPackage: macbad\nVersion: 1.0\n");
  writeFileSync(join(root, MAC, "mac_1.0.tgz"), tar(pkg("mac", "1.0")));
  writeFileSync(join(root, MAC, "macbad_1.0.tgz"), tar(pkg("evil", "6.6")));
  mkdirSync(join(root, WIN), { recursive: true });
  writeFileSync(join(root, WIN, "PACKAGES"), "Package: win\nVersion: 1.0\n");
  writeFileSync(join(root, WIN, "win_1.0.zip"), "a zip binary");
}

async function start(): Promise<RunningServer> {
  const policy = resolvePolicy({ minAgeMs: 0, cran: { repo: upstream.url, internal: [] } });
  return startServer({ repository: new UnifiedRepository({ policy, checker: PASS_ALL, http }), policy, checker: PASS_ALL, http });
}

const fetched = (file: string) => upstream.requests.filter((q) => q.path.endsWith(`/${file}`)).length;

before(async () => {
  root = tempDir("safe-pip-prefetch-");
  writeRepo();
  upstream = await serveStatic(root);
});

after(async () => {
  await upstream.close();
  await http.close();
  cleanupAll();
});

describe("R repository: archives checked while resolving", () => {
  it("fetches every tarball of the closure once, at resolve; R then gets that copy with no second fetch; the copies go with the server", async () => {
    const tmp = tempDir("safe-pip-prefetch-tmp-");
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    const s = await start();
    try {
      const text = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=top`)).body.toString();
      assert.match(text, /^status\tok\n/);
      assert.equal(fetched("top_1.0.tar.gz"), 1);
      assert.equal(fetched("dep_2.0.tar.gz"), 1);
      assert.deepEqual(readdirSync(tmp).map((n) => n.replace(/-[^-]+$/, "")), ["safe-pip-r-checked"]);
      const repo = /^repo\t(\S+)$/m.exec(text)![1]!;
      const got = await get(`${repo}/src/contrib/dep_2.0.tar.gz`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, readFileSync(join(root, "src/contrib/dep_2.0.tar.gz")));
      assert.equal(fetched("dep_2.0.tar.gz"), 1, "served from the checked copy");
      // A second resolution of the same releases reuses the checked copies.
      await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=top`);
      assert.equal(fetched("top_1.0.tar.gz"), 1);
    } finally {
      await s.close();
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    assert.deepEqual(readdirSync(tmp), [], "checked copies removed when the server stops");
  });

  it("a refused tarball blocks the whole resolution, named with its reason, and nothing of it is served", async () => {
    const s = await start();
    try {
      const text = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=top,bad`)).body.toString();
      assert.match(text, /^status\tblocked\n/);
      assert.match(text, /\nrefused\tbad_1\.0\.tar\.gz: \S+\/bad_1\.0\.tar\.gz: .*holds bad\/DESCRIPTION twice/);
      const repo = /^repo\t(\S+)$/m.exec(text)![1]!;
      assert.deepEqual(parseDcf((await get(`${repo}/src/contrib/PACKAGES`)).body.toString()), []);
      assert.equal((await get(`${repo}/src/contrib/top_1.0.tar.gz`)).status, 403);
      assert.equal((await get(`${s.url}/src/contrib/top_1.0.tar.gz`)).status, 403, "nor under the base URL");
      const json = JSON.parse((await get(`${s.url}/__safe-pip/resolve?token=${s.token}&mode=install&pkgs=bad`)).body.toString()) as { blocked: boolean; refused: string[] };
      assert.equal(json.blocked, true);
      assert.equal(json.refused.length, 1);
    } finally {
      await s.close();
    }
  });

  it("a tarball that cannot be fetched is an error naming it, not a partial install", async () => {
    const s = await start();
    try {
      const text = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=top,gone`)).body.toString();
      assert.match(text, /^status\terror\nerror\tcannot fetch gone_1\.0\.tar\.gz: \S+gone_1\.0\.tar\.gz: HTTP 404/);
    } finally {
      await s.close();
    }
  });

  it("without the hook's mode nothing is fetched at resolve (checked when served instead)", async () => {
    const s = await start();
    try {
      const before = fetched("bad_1.0.tar.gz");
      const text = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&pkgs=bad`)).body.toString();
      assert.match(text, /^status\tok\n/);
      assert.equal(fetched("bad_1.0.tar.gz"), before);
      const repo = /^repo\t(\S+)$/m.exec(text)![1]!;
      const got = await get(`${repo}/src/contrib/bad_1.0.tar.gz`);
      assert.equal(got.status, 403);
      assert.match(got.body.toString(), /safe-pip refused bad_1\.0\.tar\.gz: .*twice/);
    } finally {
      await s.close();
    }
  });

  it("update mode fetches only what is newer than the installed copies (and what is not installed)", async () => {
    const s = await start();
    try {
      const t0 = fetched("top_1.0.tar.gz");
      const d0 = fetched("dep_2.0.tar.gz");
      const b0 = fetched("bad_1.0.tar.gz");
      const text = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=update&pkgs=top,dep,bad&have=top_1.0,dep_1.0,bad_1.0,bad_0.5`)).body.toString();
      // bad: one installed copy (0.5) is older, so update.packages() would fetch 1.0: checked and refused.
      assert.match(text, /^status\tblocked\n/);
      assert.match(text, /\nrefused\tbad_1\.0\.tar\.gz: /);
      assert.equal(fetched("top_1.0.tar.gz"), t0, "installed at that version: not fetched");
      assert.equal(fetched("dep_2.0.tar.gz"), d0 + 1, "newer than installed: fetched and checked");
      assert.equal(fetched("bad_1.0.tar.gz"), b0 + 1);
    } finally {
      await s.close();
    }
    assert.deepEqual([...parseInstalled("a_1.0,a_0.9,b.x_2-1,junk,_1").entries()], [["a", "0.9"], ["b.x", "2-1"]]);
  });

  it("macOS .tgz binaries of the directory the hook names are checked at resolve too (instead of their source)", async () => {
    const s = await start();
    try {
      const ok = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=mac&bin=${encodeURIComponent(MAC)}`)).body.toString();
      assert.match(ok, /^status\tok\n/);
      assert.equal(fetched("mac_1.0.tgz"), 1);
      assert.equal(fetched("mac_1.0.tar.gz"), 0, "R installs the binary: its source tarball is not fetched");
      const repo = /^repo\t(\S+)$/m.exec(ok)![1]!;
      const got = await get(`${repo}/${MAC}/mac_1.0.tgz`);
      assert.deepEqual(got.body, readFileSync(join(root, MAC, "mac_1.0.tgz")));
      assert.equal(fetched("mac_1.0.tgz"), 1, "served from the checked copy");
      const bad = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=macbad&bin=${encodeURIComponent(MAC)}`)).body.toString();
      assert.match(bad, /^status\tblocked\n/);
      assert.match(bad, /\nrefused\tmacbad_1\.0\.tgz: .*holds evil 6\.6, not macbad 1\.0/);
      // Windows .zip binaries are served by name and version only (as on demand): nothing fetched early.
      const win = (await get(`${s.url}/__safe-pip/resolve?token=${s.token}&format=text&mode=install&pkgs=win&bin=${encodeURIComponent(WIN)}`)).body.toString();
      assert.match(win, /^status\tok\n/);
      assert.equal(fetched("win_1.0.zip") + fetched("win_1.0.tar.gz"), 0);
    } finally {
      await s.close();
    }
  });
});
