import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { HttpClient } from "../../src/core/http.js";
import { PASS_ALL } from "../../src/checks/release.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import type { Policy } from "../../src/policy/schema.js";
import { parseDcf } from "../../src/r/dcf.js";
import { UnifiedRepository } from "../../src/r/repository.js";
import { startServer, type RunningServer } from "../../src/r/server.js";
import { makeFakeCranDir, makeTarGz, descriptionText, serveStatic, type StaticRepo } from "../helpers/cran.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

const daysAgo = (n: number) => new Date(Date.now() - n * 86400e3);
const http = new HttpClient({ timeoutMs: 5000, maxBytes: 8 * 1024 * 1024 });
let upstream: StaticRepo;
let upstreamRoot: string;
let policy: Policy;
let server: RunningServer;

interface Got {
  status: number;
  body: Buffer;
  type: string;
}

/** GET/POST with full control over the Host header (fetch would not allow changing it). */
function get(url: string, opts: { method?: string; host?: string } = {}): Promise<Got> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? "GET", headers: opts.host ? { host: opts.host } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), type: String(res.headers["content-type"] ?? "") }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const control = (action: string, query: string) => `${server.url}/__safe-pip/${action}?token=${server.token}&${query}`;

async function start(p: Policy, extra: Partial<Parameters<typeof startServer>[0]> = {}): Promise<RunningServer> {
  const repository = new UnifiedRepository({ policy: p, checker: PASS_ALL, http });
  return startServer({ repository, policy: p, checker: PASS_ALL, http, ...extra });
}

before(async () => {
  upstreamRoot = makeFakeCranDir({
    current: [
      { name: "alpha", version: "2.0", published: daysAgo(1) },
      { name: "epsilon", version: "1.0", published: daysAgo(300) },
    ],
    archive: [{ name: "alpha", version: "1.0", published: daysAgo(400) }],
    binaries: { "bin/windows/contrib/4.2": [{ name: "epsilon", version: "1.0" }] },
  });
  upstream = await serveStatic(upstreamRoot);
  policy = resolvePolicy({ minAgeMs: 7 * 86400e3, cran: { repo: upstream.url, internal: [] } });
  server = await start(policy);
});

after(async () => {
  await server.close();
  await upstream.close();
  await http.close();
  cleanupAll();
});

describe("R repository server", () => {
  it("lists nothing until a resolution has checked it", async () => {
    const r = await get(`${server.url}/src/contrib/PACKAGES`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "");
    assert.equal((await get(`${server.url}/src/contrib/epsilon_1.0.tar.gz`)).status, 403);
  });

  it("serves a resolution's own PACKAGES, .gz and tarballs; 404 for PACKAGES.rds; 403 for what is not allowed", async () => {
    const res = await get(control("resolve", "pkgs=alpha,epsilon&dependencies=NA"));
    assert.equal(res.status, 200);
    const json = JSON.parse(res.body.toString()) as { repository: string; blocked: boolean; packages: Array<{ name: string; version: string; path?: string }> };
    assert.equal(json.blocked, false);
    assert.deepEqual(json.packages.map((p) => [p.name, p.version, p.path]), [["alpha", "1.0", "Archive/alpha"], ["epsilon", "1.0", undefined]]);
    const repo = json.repository;
    assert.match(repo, /^http:\/\/127\.0\.0\.1:\d+\/r\/[0-9a-f]+$/);

    const plain = (await get(`${repo}/src/contrib/PACKAGES`)).body.toString();
    assert.deepEqual(parseDcf(plain), [
      { Package: "alpha", Version: "1.0", License: "MIT", Path: "Archive/alpha" },
      { Package: "epsilon", Version: "1.0", License: "MIT" },
    ]);
    assert.equal(gunzipSync((await get(`${repo}/src/contrib/PACKAGES.gz`)).body).toString(), plain);
    assert.equal((await get(`${repo}/src/contrib/PACKAGES.rds`)).status, 404);
    assert.equal((await get(`${repo}/src/contrib/Meta/archive.rds`)).status, 404);

    const tb = await get(`${repo}/src/contrib/Archive/alpha/alpha_1.0.tar.gz`);
    assert.equal(tb.status, 200);
    assert.deepEqual(tb.body, readFileSync(join(upstreamRoot, "src/contrib/Archive/alpha/alpha_1.0.tar.gz")));
    const young = await get(`${repo}/src/contrib/alpha_2.0.tar.gz`);
    assert.equal(young.status, 403);
    assert.match(young.body.toString(), /not an allowed release/);

    // The base URL now lists the union of what resolutions allowed.
    assert.match((await get(`${server.url}/src/contrib/PACKAGES`)).body.toString(), /Package: alpha\nVersion: 1\.0/);
    assert.equal((await get(`${server.url}/r/0123456789abcdef/src/contrib/PACKAGES`)).status, 404);
  });

  it("serves binaries of exactly the allowed versions", async () => {
    const json = JSON.parse((await get(control("resolve", "pkgs=epsilon"))).body.toString()) as { repository: string };
    const dir = `${json.repository}/bin/windows/contrib/4.2`;
    assert.deepEqual(parseDcf((await get(`${dir}/PACKAGES`)).body.toString()), [{ Package: "epsilon", Version: "1.0", File: "epsilon_1.0.zip" }]);
    assert.equal((await get(`${dir}/epsilon_1.0.zip`)).body.toString(), "binary epsilon 1.0");
    assert.equal((await get(`${dir}/alpha_2.0.zip`)).status, 403);
    assert.equal((await get(`${dir}/PACKAGES.rds`)).status, 404);
  });

  it("answers the R hook in tab-separated lines", async () => {
    const text = (await get(control("resolve", "pkgs=alpha&format=text"))).body.toString();
    const lines = text.trim().split("\n").map((l) => l.split("\t"));
    assert.deepEqual(lines[0], ["status", "ok"]);
    assert.equal(lines[1]![0], "repo");
    assert.deepEqual(lines.find((l) => l[0] === "held")?.slice(0, 3), ["held", "alpha", "2.0"]);
    assert.deepEqual(lines.find((l) => l[0] === "pkg"), ["pkg", "alpha", "1.0", "public"]);
  });

  it("requires the token for control requests and this machine's Host for everything", async () => {
    assert.equal((await get(`${server.url}/__safe-pip/resolve?pkgs=alpha`)).status, 403);
    assert.equal((await get(`${server.url}/__safe-pip/resolve?pkgs=alpha&token=wrong`)).status, 403);
    assert.equal((await get(`${server.url}/src/contrib/PACKAGES`, { host: "evil.example:80" })).status, 421);
    assert.equal((await get(control("shutdown", ""))).status, 405, "shutdown needs POST");
  });

  it("reports an unreachable upstream as an error, never as an empty repository", async () => {
    const p = resolvePolicy({ cran: { repo: "http://127.0.0.1:1", internal: [] } });
    const s = await start(p);
    try {
      const r = await get(`${s.url}/__safe-pip/resolve?token=${s.token}&pkgs=alpha&format=text`);
      assert.match(r.body.toString(), /^status\terror\nerror\thttp:\/\/127\.0\.0\.1:1\/src\/contrib\/PACKAGES\.gz: connection refused/);
      const j = await get(`${s.url}/__safe-pip/resolve?token=${s.token}&pkgs=alpha`);
      assert.equal(j.status, 502);
    } finally {
      await s.close();
    }
  });

  it("blocks direct references (repos = NULL) unless the policy allows them, then checks what is inside", async () => {
    const dir = tempDir();
    const file = join(dir, "local_1.0.tar.gz");
    writeFileSync(file, makeTarGz({ "local/DESCRIPTION": descriptionText({ name: "local", version: "1.0" }) }));
    const blocked = (await get(control("direct", `path=${encodeURIComponent(file)}&format=text`))).body.toString();
    assert.match(blocked, /^status\tblocked\nblock\t.*local_1\.0\.tar\.gz: direct: .*directReferences: "block"/);

    const p = resolvePolicy({ ...policy, directReferences: "allow" });
    const s = await start(p);
    try {
      const ok = (await get(`${s.url}/__safe-pip/direct?token=${s.token}&format=text&path=${encodeURIComponent(file)}`)).body.toString();
      // R is handed the private copy that was read and judged, not the original file.
      assert.match(ok, /^status\tok\nlocal\t1\t\S+\/safe-pip-r-[^/]+\/local_1\.0\.tar\.gz\tcopy\n$/);
    } finally {
      await s.close();
    }
  });

  it("stops on POST shutdown, when idle, and when the R session that started it is gone", async () => {
    const a = await start(policy);
    assert.equal((await get(`${a.url}/__safe-pip/shutdown?token=${a.token}`, { method: "POST" })).status, 200);
    await a.closed;

    const b = await start(policy, { idleTimeoutMs: 200 });
    await b.closed;

    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    const c = await start(policy, { parentPid: child.pid });
    child.kill();
    await c.closed;
  });
});
