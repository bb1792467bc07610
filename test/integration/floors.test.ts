import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readdirSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startFakeIndex, SIMPLE_JSON, type FakeIndex } from "../helpers/pypi-server.js";
import { startOsvServer, loadFixtureRecords, type OsvServer } from "../helpers/osv-server.js";
import { buildWheel } from "../helpers/wheel.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

let idx: FakeIndex;
let osv: OsvServer;
let odd: { url: string; close(): Promise<void> };

/**
 * An index whose PEP 691 page gives `upload-time: "2024"`, which Date.parse reads as an old date.
 * The fake index only writes real timestamps, so this one is served by hand.
 */
async function startOddUploadTimeIndex(uploadTime: string): Promise<{ url: string; close(): Promise<void> }> {
  const wheel = buildWheel({ name: "oddtime", version: "1.0" });
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/simple/oddtime/") {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.writeHead(200, { "content-type": SIMPLE_JSON });
      res.end(JSON.stringify({
        meta: { "api-version": "1.1" },
        name: "oddtime",
        versions: ["1.0"],
        files: [{ filename: wheel.filename, url: `${base}/files/${wheel.filename}`, hashes: { sha256: wheel.sha256 }, "upload-time": uploadTime }],
      }));
    } else if (path === `/files/${wheel.filename}`) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(wheel.data);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

before(async () => {
  idx = await startFakeIndex({
    projects: {
      requests: [
        { version: "2.30.0", uploadTime: daysAgo(500) },
        { version: "2.31.0", uploadTime: daysAgo(400) },
      ],
      fresh: [
        { version: "1.0", uploadTime: daysAgo(300) },
        { version: "2.0", uploadTime: daysAgo(1) },
      ],
    },
  });
  osv = await startOsvServer(loadFixtureRecords());
  odd = await startOddUploadTimeIndex("2024");
});

after(async () => {
  await Promise.all([idx.close(), osv.close(), odd.close()]);
  cleanupAll();
});

/** A system floor (through SAFE_PIP_SYSTEM_POLICY, honoured because no /etc file exists) and a user policy. */
function layered(system: Record<string, unknown>, user: Record<string, unknown>) {
  const iso = isolatedEnv({ SAFE_PIP_SYSTEM_POLICY: writePolicy(system), SAFE_PIP_CONFIG: writePolicy(user) });
  return { env: iso.env, target: tempDir("safe-pip-target-") };
}

const SYSTEM = () => ({ index: idx.url, minAge: "7d", osv: { source: "api", url: osv.url, onError: "block" } });
/** Routes a user who wants around the age floor would write. */
const LOOSE_ROUTES = () => ({ internal: [{ url: idx.url, packages: ["*"] }], minAge: "0", unknownAge: "allow" });
/** An offline OSV database of the user's own, holding one record about some other package. */
const LOOSE_OSV = () => {
  const db = tempDir("safe-pip-own-osv-");
  mkdirSync(join(db, "PyPI"), { recursive: true });
  writeFileSync(
    join(db, "PyPI", "SAFEPIP-UNRELATED-1.json"),
    JSON.stringify({ id: "SAFEPIP-UNRELATED-1", modified: "2024-01-01T00:00:00Z", affected: [{ package: { ecosystem: "PyPI", name: "unrelated-pkg" }, versions: ["1.0"] }] }),
  );
  return { osv: { source: "offline", database: db, maxStaleness: "0", ignore: [{ id: "PYSEC-2023-74", reason: "mine" }] } };
};
const LOOSE = () => ({ ...LOOSE_ROUTES(), ...LOOSE_OSV() });

describe("a user policy cannot loosen a system floor (real pip)", () => {
  it("internal '*' does not exempt a fresh upload from the system's minimum age", async () => {
    const { env, target } = layered(SYSTEM(), LOOSE_ROUTES());
    const r = await safePip(["install", "--target", target, "fresh==2.0"], { env });
    assert.equal(r.code, 65, r.stdout + r.stderr);
    assert.match(r.stderr, /fresh 2\.0/);
    assert.match(r.stderr, /the system policy chooses the package sources/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("a user's own offline OSV database does not replace the system's OSV source", async () => {
    const { env, target } = layered(SYSTEM(), LOOSE_OSV());
    const r = await safePip(["install", "--target", target, "requests==2.30.0"], { env });
    assert.equal(r.code, 65, r.stdout + r.stderr);
    assert.match(r.stderr, /PYSEC-2023-74/);
    assert.deepEqual(readdirSync(target), []);
    // What the floor allows still installs.
    const ok = await safePip(["install", "--target", target, "requests"], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(installedVersions(target).requests, "2.31.0");
  });

  it("doctor --json shows the effective policy and the layer that set each value", async () => {
    const { env } = layered(SYSTEM(), { ...LOOSE(), typosquat: "block", directReferences: "block" });
    const r = await safePip(["doctor", "--json"], { env });
    const values = (JSON.parse(r.stdout) as Array<{ area: string; key?: string; value?: unknown; from?: string }>).filter((f) => f.area === "policy value");
    const by = new Map(values.map((v) => [v.key, v]));
    assert.deepEqual(by.get("minAge"), { ...by.get("minAge"), value: "7d", from: "system" });
    assert.equal(by.get("internal")?.from, "default");
    assert.deepEqual(by.get("internal")?.value, []);
    assert.equal(by.get("osv.source")?.value, "api");
    assert.equal(by.get("osv.source")?.from, "system");
    assert.equal(by.get("unknownAge")?.from, "user"); // the system leaves it unset: the user's "allow" stands
    assert.equal(by.get("typosquat")?.from, "user");
    assert.equal(by.get("osv.maxStaleness")?.from, "default");
    const text = await safePip(["doctor"], { env });
    assert.match(text.stdout, /policy value\s+minAge = "7d" \(system\)/);
  });
});

describe("upload times that are not RFC 3339 (real pip)", () => {
  it('an upload-time of "2024" counts as unknown, so the file is blocked', async () => {
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: odd.url, osv: { source: "off" } }) });
    const target = tempDir("safe-pip-target-");
    const r = await safePip(["install", "--target", target, "oddtime"], { env: iso.env });
    assert.equal(r.code, 65, r.stdout + r.stderr);
    assert.match(r.stderr, /upload time unknown/);
    assert.deepEqual(readdirSync(target), []);
  });
});

describe("explain --json of a blocked pin", () => {
  it("returns the version and the requirement asked about, with the reason", async () => {
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "api", url: osv.url } }) });
    const r = await safePip(["explain", "--json", "requests==2.30.0", "requests"], { env: iso.env });
    assert.equal(r.code, 65, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ requested: string; name: string; version: string | null; verdict: string; reasons: Array<{ check: string; id?: string }> }>;
    assert.equal(rows[0]!.requested, "requests==2.30.0");
    assert.equal(rows[0]!.version, "2.30.0");
    assert.equal(rows[0]!.verdict, "block");
    assert.ok(rows[0]!.reasons.some((x) => x.check === "osv" && x.id === "PYSEC-2023-74"), JSON.stringify(rows[0]));
    assert.equal(rows[1]!.requested, "requests");
    assert.equal(rows[1]!.version, "2.31.0");
  });
});
