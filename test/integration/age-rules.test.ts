import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { realPython } from "../helpers/python.js";
import { toOsvRecord } from "../../src/checks/osv/types.js";

let idx: FakeIndex;
let osv: OsvServer;
let statusIdx: { url: string; close(): Promise<void> };

/**
 * An upstream that marks projects with PEP 792 statuses: it serves the fake index's real wheels,
 * with `project-status` in JSON (quarantined one) and the HTML meta tag (archived one).
 */
async function startStatusIndex(files: FakeIndex): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const m = /^\/simple\/([a-z0-9-]+)\/$/.exec(req.url ?? "");
    const name = m?.[1];
    const w = name ? files.wheel(name, "1.0") : undefined;
    if (!name || !w) return res.writeHead(404).end();
    const url = `${files.root}files/${w.filename}`;
    if (name === "evilpkg") {
      res.writeHead(200, { "Content-Type": "application/vnd.pypi.simple.v1+json" });
      return res.end(JSON.stringify({ meta: { "api-version": "1.4" }, name, "project-status": { status: "quarantined", reason: "malware reported" }, files: [{ filename: w.filename, url, hashes: { sha256: w.sha256 }, "upload-time": daysAgo(100).toISOString() }] }));
    }
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<html><head><meta name="pypi:project-status" content="archived"><meta name="pypi:project-status-reason" content="moved to newpkg"></head><body><a href="${url}#sha256=${w.sha256}">${w.filename}</a></body></html>`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/simple/`, close: () => new Promise((r) => server.close(() => r())) };
}

before(async () => {
  idx = await startFakeIndex({
    projects: {
      "acme-tool": [
        { version: "1.0", uploadTime: daysAgo(60) },
        { version: "2.0", uploadTime: daysAgo(1) },
      ],
      fixme: [
        { version: "1.0", uploadTime: daysAgo(300) },
        { version: "1.1", uploadTime: daysAgo(2) },
      ],
      oldpkg: [
        { version: "1.0", uploadTime: new Date("2024-05-01T00:00:00Z") },
        { version: "2.0", uploadTime: new Date("2024-07-01T00:00:00Z") },
      ],
      evilpkg: [{ version: "1.0", uploadTime: daysAgo(100) }],
      oldlib: [{ version: "1.0", uploadTime: daysAgo(100) }],
    },
  });
  osv = await startOsvServer([
    toOsvRecord({
      id: "PYSEC-2099-1",
      modified: "2025-01-01T00:00:00Z",
      summary: "remote code execution in fixme",
      affected: [{ package: { ecosystem: "PyPI", name: "fixme" }, ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }] }],
    }),
  ]);
  statusIdx = await startStatusIndex(idx);
});

after(async () => {
  await Promise.all([idx.close(), osv.close(), statusIdx.close()]);
  cleanupAll();
});

function run(policy: Record<string, unknown> = {}, extra: Record<string, string> = {}) {
  const iso = isolatedEnv({
    SAFE_PIP_PYTHON: realPython(),
    SAFE_PIP_CONFIG: writePolicy({ index: idx.url, minAge: "7d", osv: { source: "api", url: osv.url }, typosquat: "off", ...policy }),
    ...extra,
  });
  return { env: iso.env, target: tempDir("safe-pip-target-") };
}

describe("age rules with real pip", () => {
  it("minAgeExclude lets a young release of an exempt name through, and the plan says why", async () => {
    const { env, target } = run({ minAgeExclude: [{ name: "acme-*", expires: "2099-01-31", reason: "our own tool" }] });
    const r = await safePip(["install", "--target", target, "acme-tool"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { acme_tool: "2.0" });
    assert.match(r.stderr, /allowed by minAgeExclude "acme-\*" \(exempt until 2099-01-31: our own tool\)/);
  });

  it("an expired exemption no longer applies and says so once", async () => {
    const { env, target } = run({ minAgeExclude: [{ name: "acme-*", expires: "2020-01-31", reason: "old" }] });
    const r = await safePip(["install", "--target", target, "acme-tool"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { acme_tool: "1.0" });
    assert.equal(r.stderr.match(/minAgeExclude entry "acme-\*" expired on 2020-01-31 and no longer applies/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /acme-tool 2\.0 hidden: uploaded 1 day ago \(minimum age 7d\); using 1\.0/);
  });

  it("a young release that fixes an advisory affecting every older one is used, and reported", async () => {
    const { env, target } = run();
    const r = await safePip(["install", "--target", target, "fixme"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { fixme: "1.1" });
    assert.match(r.stderr, /using 1\.1 although uploaded 2 days ago \(minimum age 7d\): fixes PYSEC-2099-1 which affects every older release/);
  });

  it('"ageSecurityFixes": "block" keeps the minimum age: nothing safe is left, so the install is blocked', async () => {
    const { env, target } = run({ ageSecurityFixes: "block" });
    const r = await safePip(["install", "--target", target, "fixme"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.deepEqual(installedVersions(target), {});
  });

  it("SAFE_PIP_SNAPSHOT pins a run to a date, and cannot loosen the policy's snapshot", async () => {
    const a = run({}, { SAFE_PIP_SNAPSHOT: "2024-06-01" });
    const r = await safePip(["install", "--target", a.target, "oldpkg"], { env: a.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(a.target), { oldpkg: "1.0" });
    assert.match(r.stderr, /oldpkg 2\.0 hidden: uploaded 2024-07-01, after the snapshot cutoff 2024-06-02 00:00 UTC/);
    const b = run({ snapshot: "2024-06-01" }, { SAFE_PIP_SNAPSHOT: "2025-01-01" });
    const r2 = await safePip(["install", "--target", b.target, "oldpkg"], { env: b.env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(installedVersions(b.target), { oldpkg: "1.0" });
    const c = run({}, { SAFE_PIP_SNAPSHOT: "last week" });
    const r3 = await safePip(["install", "--target", c.target, "oldpkg"], { env: c.env });
    assert.equal(r3.code, 78);
    assert.match(r3.stderr, /SAFE_PIP_SNAPSHOT: "last week" is not a date/);
  });

  it("PEP 792: a quarantined project is blocked, an archived one installs with a warning", async () => {
    const { env, target } = run({ index: statusIdx.url, unknownAge: "allow" }); // HTML pages carry no upload time
    const q = await safePip(["install", "--target", target, "evilpkg"], { env });
    assert.equal(q.code, 65, q.stderr);
    assert.match(q.stderr, /quarantined this project \(PEP 792\): malware reported/);
    assert.deepEqual(installedVersions(target), {});
    const a = await safePip(["install", "--target", target, "oldlib"], { env });
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(installedVersions(target), { oldlib: "1.0" });
    assert.match(a.stderr, /archived upstream: no further releases are expected \(PEP 792\): moved to newpkg/);
  });
});
