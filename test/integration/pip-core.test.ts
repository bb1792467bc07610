import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { buildWheel } from "../helpers/wheel.js";

// The attack in every variant: a name that belongs to the internal index ("acme-lib") is offered
// with a much higher version on the public upstream and on an extra index the user adds.
let publicIdx: FakeIndex;
let internalIdx: FakeIndex;
let evilIdx: FakeIndex;
let policyFile: string;

before(async () => {
  publicIdx = await startFakeIndex({
    projects: {
      "acme-lib": [{ version: "99.0", uploadTime: daysAgo(60) }],
      requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }],
      fresh: [
        { version: "1.0", uploadTime: daysAgo(30) },
        { version: "2.0", uploadTime: daysAgo(1) },
      ],
      brandnew: [{ version: "0.1", uploadTime: daysAgo(2) }],
      leaky: [{ version: "1.0", uploadTime: daysAgo(30) }],
      torchtriton: [{ version: "3.0.0", uploadTime: daysAgo(40) }],
      oldpkg: [
        { version: "1.0", uploadTime: new Date("2024-05-01T00:00:00Z") },
        { version: "2.0", uploadTime: new Date("2024-07-01T00:00:00Z") },
      ],
    },
  });
  internalIdx = await startFakeIndex({
    projects: {
      "acme-lib": [{ version: "1.0", uploadTime: daysAgo(1), requires: ["requests>=2"] }],
      torch: [{ version: "2.0.0.dev20221230", uploadTime: daysAgo(1), requires: ["torchtriton==2.0.0"] }],
      torchtriton: [{ version: "2.0.0", uploadTime: daysAgo(1) }],
    },
  });
  evilIdx = await startFakeIndex({
    projects: {
      "acme-lib": [{ version: "100.0", uploadTime: daysAgo(60) }],
      leaky: [{ version: "6.6.6", uploadTime: daysAgo(60) }],
      torchtriton: [{ version: "3.0.0", uploadTime: daysAgo(60) }],
    },
  });
  policyFile = writePolicy({
    index: publicIdx.url,
    internal: [{ url: internalIdx.url, packages: ["acme-*"] }],
    minAge: "7d",
    osv: { source: "off" },
  });
});

after(async () => {
  await Promise.all([publicIdx.close(), internalIdx.close(), evilIdx.close()]);
  cleanupAll();
});

function setup(extra: Record<string, string> = {}) {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: policyFile, ...extra });
  const target = tempDir("safe-pip-target-");
  return { env: iso.env, home: iso.home, target };
}

describe("dependency confusion: internal names never come from elsewhere", () => {
  it("via --extra-index-url on the command line", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "--extra-index-url", evilIdx.url, "acme-lib"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { acme_lib: "1.0", requests: "2.31.0" });
    assert.match(r.stderr, /ignored --extra-index-url http:\/\/127\.0\.0\.1:\d+\/simple\/ \(from the command line\)/);
    assert.match(r.stderr, /acme-lib 1\.0\s+internal/);
  });

  it("via -i with an attached value and an abbreviated --extra-ind option", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", `-i${evilIdx.url}`, `--extra-ind=${evilIdx.url}`, "-t", target, "acme-lib"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).acme_lib, "1.0");
  });

  for (const variable of ["PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_FIND_LINKS"]) {
    it(`via ${variable}`, async () => {
      const value = variable === "PIP_FIND_LINKS" ? evilIdx.root + "simple/acme-lib/" : evilIdx.url;
      const { env, target } = setup({ [variable]: value });
      const r = await safePip(["install", "--target", target, "acme-lib"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(installedVersions(target).acme_lib, "1.0");
      assert.match(r.stderr, new RegExp(`environment variable ${variable}`));
    });
  }

  it("via a pip.conf named by PIP_CONFIG_FILE, in an [install] section", async () => {
    const dir = tempDir();
    const conf = join(dir, "pip.conf");
    writeFileSync(conf, `[global]\ntimeout = 30\n[install]\nextra-index-url =\n    ${evilIdx.url}\n`);
    const { env, target } = setup({ PIP_CONFIG_FILE: conf });
    const r = await safePip(["install", "--target", target, "acme-lib"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).acme_lib, "1.0");
    assert.match(r.stderr, /ignored extra-index-url .* \(from .*pip\.conf \[install\]\)/);
  });

  it("via a requirements file with nested includes, continuations and ${VAR} expansion", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "requirements.txt"), "# top\n-r sub/more.txt\nacme-lib \\\n  >=0.5  # internal\n");
    writeFileSync(join(dir, "sub", "more.txt"), "--extra-index-url ${EVIL}\n-c cons.txt\n");
    writeFileSync(join(dir, "sub", "cons.txt"), `--index-url ${evilIdx.url}\nrequests<3\n`);
    const { env, target } = setup({ EVIL: evilIdx.url });
    const r = await safePip(["install", "--target", target, "-r", join(dir, "requirements.txt")], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).acme_lib, "1.0");
    assert.match(r.stderr, /ignored --extra-index-url http:\/\/127\.0\.0\.1:\d+\/simple\/ \(from .*more\.txt:1\)/);
    assert.match(r.stderr, /ignored --index-url .* \(from .*cons\.txt:1\)/);
  });

  it("replays torchtriton: an internal dependency is never taken from the public index", async () => {
    // PyTorch nightly: `pip install --pre torch --extra-index-url <nightly>`; torch needs
    // torchtriton, which only the nightly index had, until a malicious 3.0.0 appeared on PyPI.
    const policy = writePolicy({ index: publicIdx.url, internal: [{ url: internalIdx.url }], osv: { source: "off" } });
    const { env, target } = setup({ SAFE_PIP_CONFIG: policy });
    const r = await safePip(["install", "--pre", "torch", "--extra-index-url", internalIdx.url, "--target", target], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { torch: "2.0.0.dev20221230", torchtriton: "2.0.0" });
    assert.match(r.stderr, /torchtriton 2\.0\.0\s+internal/);
    assert.equal(publicIdx.requests.filter((q) => q.path.includes("torchtriton")).length, 0, "the public index was never asked");
  });
});

describe("minimum age", () => {
  it("skips a too-young release for the newest old-enough one, and says so", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "fresh"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).fresh, "1.0");
    assert.match(r.stderr, /fresh 2\.0 hidden: uploaded 1 day ago \(minimum age 7d\); using 1\.0/);
  });

  it("blocks a project whose only releases are too young, installing nothing", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "requests", "brandnew"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /blocked by policy: no allowed version of brandnew/);
    assert.match(r.stderr, /brandnew 0\.1: uploaded 2 days ago \(minimum age 7d\)/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("a snapshot date pins resolution to that day", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "--snapshot", "2024-06-01", "oldpkg"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).oldpkg, "1.0");
    assert.match(r.stderr, /oldpkg 2\.0 hidden: uploaded 2024-07-01, after the snapshot cutoff/);
  });
});

describe("the machine's and the user's own pip configuration", () => {
  it("does not leak a source in (find-links dir, user pip.conf, PIP_FIND_LINKS)", async () => {
    const wheels = tempDir();
    const w = buildWheel({ name: "leaky", version: "5.0" });
    writeFileSync(join(wheels, w.filename), w.data);
    const { env, home, target } = setup({ PIP_FIND_LINKS: wheels });
    mkdirSync(join(home, ".config", "pip"), { recursive: true });
    writeFileSync(join(home, ".config", "pip", "pip.conf"), `[global]\nextra-index-url = ${evilIdx.url}\nfind-links = ${wheels}\n`);
    const r = await safePip(["install", "--target", target, "leaky"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).leaky, "1.0");
    assert.match(r.stderr, /ignored find-links .* \(from environment variable PIP_FIND_LINKS\)/);
    assert.equal(evilIdx.requests.filter((q) => q.path.includes("leaky")).length, 0);
  });
});

describe("direct references", () => {
  it("are blocked by default with the reason", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, `acme-lib @ ${evilIdx.root}files/acme_lib-100.0-py3-none-any.whl`], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /a direct URL/);
    assert.match(r.stderr, /directReferences/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("a local wheel file is a direct reference too", async () => {
    const dir = tempDir();
    const w = buildWheel({ name: "localthing", version: "1.0" });
    writeFileSync(join(dir, w.filename), w.data);
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, join(dir, w.filename)], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /a local archive/);
  });
});

describe("unreachable sources fail closed", () => {
  it("an internal index that is down is an error, never a public fallback", async () => {
    const policy = writePolicy({ index: publicIdx.url, internal: [{ url: "http://127.0.0.1:9/simple/", packages: ["acme-*"] }], osv: { source: "off" } });
    const { env, target } = setup({ SAFE_PIP_CONFIG: policy });
    const before = publicIdx.requests.length;
    const r = await safePip(["install", "--target", target, "acme-lib"], { env });
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, /internal index http:\/\/127\.0\.0\.1:9\/simple\/ is unavailable \(connection refused\)/);
    assert.equal(publicIdx.requests.slice(before).filter((q) => q.path.includes("acme")).length, 0);
    assert.deepEqual(readdirSync(target), []);
  });
});
