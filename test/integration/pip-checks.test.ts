import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { startOsvServer, loadFixtureRecords, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

// Real advisory: PYSEC-2023-74 (requests 2.3.0 up to 2.31.0 leaks Proxy-Authorization).
let idx: FakeIndex;
let osv: OsvServer;

before(async () => {
  idx = await startFakeIndex({
    projects: {
      requests: [
        { version: "2.30.0", uploadTime: daysAgo(500) },
        { version: "2.31.0", uploadTime: daysAgo(400) },
        { version: "2.32.0", uploadTime: daysAgo(2) },
      ],
      "needs-requests": [{ version: "1.0", uploadTime: daysAgo(300), requires: ["requests<2.31"] }],
      "safepip-fixture-evil": [{ version: "1.0", uploadTime: daysAgo(100) }],
      reqeusts: [{ version: "1.0", uploadTime: daysAgo(100) }],
      "app-with-bad-dep": [{ version: "1.0", uploadTime: daysAgo(100), requires: ["leftpad-py"] }],
      "leftpad-py": [{ version: "0.1", uploadTime: daysAgo(100) }],
      gplthing: [{ version: "1.0", uploadTime: daysAgo(100), licenseExpression: "GPL-3.0-only" }],
      mitthing: [{ version: "1.0", uploadTime: daysAgo(100), classifiers: ["License :: OSI Approved :: MIT License"] }],
    },
  });
  osv = await startOsvServer(loadFixtureRecords());
});

after(async () => {
  await Promise.all([idx.close(), osv.close()]);
  cleanupAll();
});

function run(policy: Record<string, unknown> = {}) {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "api", url: osv.url }, ...policy }) });
  return { env: iso.env, target: tempDir("safe-pip-target-") };
}

describe("OSV", () => {
  it("a pinned vulnerable version is blocked with the advisory, aliases and the fix", async () => {
    const { env, target } = run();
    const r = await safePip(["install", "--target", target, "requests==2.30.0"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /requests 2\.30\.0: PYSEC-2023-74: .*CVE-2023-32681.*fixed in 2\.31\.0/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("an unpinned request settles on a version that is neither vulnerable nor too young", async () => {
    const { env, target } = run();
    const r = await safePip(["install", "--target", target, "requests"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).requests, "2.31.0");
  });

  it("a dependency that can only be satisfied by a vulnerable version blocks the whole install", async () => {
    const { env, target } = run();
    const r = await safePip(["install", "--target", target, "needs-requests"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /PYSEC-2023-74/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("malware (MAL-) is blocked and cannot be ignored", async () => {
    const { env, target } = run({ osv: { source: "api", url: osv.url, ignore: [{ id: "MAL-0000-0001", reason: "trust me" }] } });
    const r = await safePip(["install", "--target", target, "safepip-fixture-evil"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /MAL-0000-0001: .*known malicious package \(osv\.ignore does not apply to malware\)/);
  });

  it("an ignored advisory is allowed with its reason shown", async () => {
    const { env, target } = run({ osv: { source: "api", url: osv.url, ignore: [{ id: "CVE-2023-32681", reason: "no proxies here" }] } });
    const r = await safePip(["install", "--target", target, "requests==2.30.0"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ignored by policy: no proxies here/);
  });

  it("an unreachable OSV source fails closed (exit 69), or warns when the policy says so", async () => {
    const down = run({ osv: { source: "api", url: "http://127.0.0.1:9" } });
    const r = await safePip(["install", "--target", down.target, "requests"], { env: down.env });
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, /127\.0\.0\.1:9.*connection refused/);
    assert.deepEqual(readdirSync(down.target), []);
    const warn = run({ osv: { source: "api", url: "http://127.0.0.1:9", onError: "warn" } });
    const w = await safePip(["install", "--target", warn.target, "requests"], { env: warn.env });
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /warning: OSV .* could not be checked/);
  });
});

describe("names: typosquats, deny and allow lists", () => {
  it("blocks a typosquat with the name it imitates", async () => {
    const { env, target } = run();
    const r = await safePip(["install", "--target", target, "reqeusts"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /"reqeusts" looks like "requests" .*did you mean requests\?/);
  });

  it("a denied name pulled in transitively blocks the install", async () => {
    const { env, target } = run({ deny: [{ name: "leftpad-py", reason: "unmaintained" }] });
    const r = await safePip(["install", "--target", target, "app-with-bad-dep"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /leftpad-py: denied by policy \(leftpad-py\): unmaintained/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("a denied version range makes pip pick an allowed version", async () => {
    const { env, target } = run({ deny: ["requests>=2.31"], osv: { source: "off" } });
    const r = await safePip(["install", "--target", target, "requests"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).requests, "2.30.0");
    assert.match(r.stderr, /requests 2\.31\.0 hidden: denied by policy/);
  });

  it("curated mode installs only allow-listed names, dependencies included", async () => {
    const { env, target } = run({ allow: ["app-with-bad-dep"] });
    const r = await safePip(["install", "--target", target, "app-with-bad-dep"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /leftpad-py is not on the policy's allow list/);
  });
});

describe("licences", () => {
  it("a denied licence is blocked before install; an allowed one passes", async () => {
    const { env, target } = run({ licenses: { deny: ["GPL-*", "AGPL-*"] } });
    const r = await safePip(["install", "--target", target, "gplthing"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /gplthing 1\.0: licence GPL-3\.0-only \(from License-Expression\) is not allowed/);
    assert.deepEqual(readdirSync(target), []);
    const ok = await safePip(["install", "--target", target, "mitthing"], { env });
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe("safe-pip explain", () => {
  it("--json gives the chosen version, the verdict and every reason", async () => {
    const { env } = run();
    const r = await safePip(["explain", "requests", "requests==2.30.0", "reqeusts", "--json"], { env });
    assert.equal(r.code, 65, r.stderr);
    const out = JSON.parse(r.stdout) as Array<{ name: string; version: string | null; verdict: string; reasons: Array<{ check: string; message: string; id?: string }> }>;
    assert.equal(out[0]!.version, "2.31.0");
    assert.equal(out[0]!.verdict, "allow");
    assert.ok(out[0]!.reasons.some((x) => x.check === "age" && /2\.32\.0 hidden: uploaded 2 days ago/.test(x.message)));
    assert.equal(out[1]!.verdict, "block");
    assert.ok(out[1]!.reasons.some((x) => x.check === "osv" && x.id === "PYSEC-2023-74"));
    assert.equal(out[2]!.verdict, "block");
    assert.ok(out[2]!.reasons.some((x) => x.check === "typosquat"));
  });

  it("name-only checks still work with no index reachable; other checks are reported as not run", async () => {
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: "http://127.0.0.1:9/simple/", osv: { source: "api", url: "http://127.0.0.1:9" } }) });
    const r = await safePip(["explain", "reqeusts", "--json"], { env: iso.env });
    assert.equal(r.code, 65);
    const out = JSON.parse(r.stdout) as Array<{ verdict: string; reasons: Array<{ check: string; message: string }> }>;
    assert.ok(out[0]!.reasons.some((x) => x.check === "typosquat"));
    assert.ok(out[0]!.reasons.some((x) => x.check === "source" && /not checked/.test(x.message)));
  });
});
