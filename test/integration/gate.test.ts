import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { buildWheel, sha256Hex } from "../helpers/wheel.js";

// The index is the only gate: every verdict is made before pip can fetch or build anything, and
// pip runs once. Each hole below let code run or a package land on the two-pass design.

/** A PEP 517 backend that leaves a marker when pip asks it anything: proof that its code ran. */
const BACKEND = `import os
def _mark():
    open(os.environ["GATE_MARKER"], "a").write(os.getcwd() + "\\n")
def get_requires_for_build_wheel(config_settings=None):
    _mark(); return []
def prepare_metadata_for_build_wheel(d, config_settings=None):
    _mark(); raise RuntimeError("not for this test")
def build_wheel(d, config_settings=None, metadata_directory=None):
    _mark(); raise RuntimeError("not for this test")
def get_requires_for_build_sdist(config_settings=None):
    _mark(); return []
`;

function writeProject(dir: string, name: string, deps: string[] = []): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "backend.py"), BACKEND);
  writeFileSync(
    join(dir, "pyproject.toml"),
    `[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n[project]\nname = "${name}"\nversion = "1.0"\ndependencies = ${JSON.stringify(deps)}\n`,
  );
  writeFileSync(join(dir, "PKG-INFO"), `Metadata-Version: 2.1\nName: ${name}\nVersion: 1.0\n`);
}

let pub: FakeIndex;
let other: FakeIndex;
let noMeta: FakeIndex;
let tamper: { url: string; close(): Promise<void> };
let marker: string;
let evilDir: string;
let evilTgz: string;
let logDir: string;
const otherWheel = () => `${other.root}files/evil_http-1.0-py3-none-any.whl`;

before(async () => {
  const work = tempDir("safe-pip-gate-");
  marker = join(work, "marker");
  evilDir = join(work, "evil-dir");
  writeProject(evilDir, "evil-dir");
  writeProject(join(work, "tar", "evil-tar-1.0"), "evil-tar");
  evilTgz = join(work, "evil-tar-1.0.tar.gz");
  execFileSync("tar", ["czf", evilTgz, "-C", join(work, "tar"), "evil-tar-1.0"]);
  other = await startFakeIndex({ projects: { "evil-http": [{ version: "1.0", uploadTime: daysAgo(60) }] } });
  const localhost = otherWheel().replace("127.0.0.1", "localhost");
  pub = await startFakeIndex({
    projects: {
      dirdep: [
        { version: "1.0", uploadTime: daysAgo(60) },
        { version: "2.0", uploadTime: daysAgo(30), requires: [`evil-dir @ file://${evilDir}`] },
      ],
      tardep: [{ version: "1.0", uploadTime: daysAgo(60), requires: [`evil-tar @ file://${evilTgz}`] }],
      httpdep: [{ version: "1.0", uploadTime: daysAgo(60), requires: [`evil-http @ ${otherWheel()}`] }],
      lhdep: [{ version: "1.0", uploadTime: daysAgo(60), requires: [`evil-http @ ${localhost}`] }],
      gplonly: [{ version: "1.0", uploadTime: daysAgo(60), licenseExpression: "GPL-3.0-only" }],
      top: [{ version: "1.0", uploadTime: daysAgo(60), requires: ["mid"] }],
      mid: [{ version: "1.0", uploadTime: daysAgo(60), requires: ["deep"] }],
      "top-strict": [{ version: "1.0", uploadTime: daysAgo(60), requires: ["mid-strict"] }],
      "mid-strict": [{ version: "1.0", uploadTime: daysAgo(60), requires: ["deep>=1"] }],
      deep: [
        { version: "1.0", uploadTime: daysAgo(60), licenseExpression: "AGPL-3.0-only" },
        { version: "0.9", uploadTime: daysAgo(90), licenseExpression: "MIT" },
      ],
      fine: [{ version: "1.0", uploadTime: daysAgo(60), requires: ["fine-dep"], licenseExpression: "MIT" }],
      "fine-dep": [{ version: "1.0", uploadTime: daysAgo(60), licenseExpression: "MIT" }],
    },
  });
  // An upstream without PEP 658 files: the index sees a release's metadata only inside its wheel.
  noMeta = await startFakeIndex({
    coreMetadata: false,
    projects: {
      nometa: [
        { version: "1.0", uploadTime: daysAgo(60) },
        { version: "2.0", uploadTime: daysAgo(30), requires: [`evil-http @ ${otherWheel()}`] },
      ],
    },
  });
  tamper = await startTamperingIndex();
  // Every python start appends its argv here, so a test can count pip's passes.
  logDir = join(work, "site");
  mkdirSync(logDir);
  writeFileSync(join(logDir, "sitecustomize.py"), 'import os, sys\nif os.environ.get("GATE_LOG"):\n    open(os.environ["GATE_LOG"], "a").write(repr(sys.argv) + "\\n")\n');
});

after(async () => {
  await Promise.all([pub.close(), other.close(), noMeta.close(), tamper.close()]);
  cleanupAll();
});

/**
 * A public index whose `.metadata` for `tampered 1.0` says one thing (MIT, no dependencies) and
 * whose wheel's own METADATA says another (a direct reference): pip resolves with the first and
 * would install the second.
 */
async function startTamperingIndex(): Promise<{ url: string; close(): Promise<void> }> {
  const wheel = buildWheel({ name: "tampered", version: "1.0", licenseExpression: "MIT", requires: ["evil-http @ file:///etc"] });
  const served = "Metadata-Version: 2.4\nName: tampered\nVersion: 1.0\nLicense-Expression: MIT\n";
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    if (path === "/simple/tampered/") {
      const port = (server.address() as AddressInfo).port;
      res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
      return void res.end(
        JSON.stringify({
          meta: { "api-version": "1.1" },
          name: "tampered",
          files: [
            {
              filename: wheel.filename,
              url: `http://127.0.0.1:${port}/files/${wheel.filename}`,
              hashes: { sha256: wheel.sha256 },
              "core-metadata": { sha256: sha256Hex(served) },
              "upload-time": daysAgo(60).toISOString(),
              size: wheel.data.length,
            },
          ],
        }),
      );
    }
    if (path === `/files/${wheel.filename}.metadata`) return void res.end(served);
    if (path === `/files/${wheel.filename}`) return void res.end(wheel.data);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple/`, close: () => new Promise((r) => server.close(() => r())) };
}

function setup(policy: Record<string, unknown> = {}, index = pub.url) {
  const log = join(tempDir(), "argv.log");
  const iso = isolatedEnv({
    // Typosquat checks are not the subject here (and "fine" looks like "vine").
    SAFE_PIP_CONFIG: writePolicy({ index, minAge: "7d", osv: { source: "off" }, typosquat: "off", ...policy }),
    GATE_MARKER: marker,
    GATE_LOG: log,
    PYTHONPATH: logDir,
  });
  return { env: iso.env, target: tempDir("safe-pip-target-"), log };
}

/** The top-level `pip install` runs (build isolation's own pips install with --prefix). */
function pipInstalls(log: string): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.includes("'install'") && !l.includes("--prefix"));
}

const ranCode = () => existsSync(marker) && readFileSync(marker, "utf8").length > 0;

describe("direct references inside resolved metadata", () => {
  it("a release depending on `x @ file:///dir` is hidden; pip takes the older one and the directory is never touched", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "dirdep"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { dirdep: "1.0" });
    assert.match(r.stderr, /dirdep 2\.0 hidden: depends on "evil-dir @ file:\/\/.*evil-dir", a direct reference/);
    assert.equal(ranCode(), false, "the directory's build backend never ran");
  });

  it("`x @ file:///x.tar.gz` is never built: the release is blocked with the reason", async () => {
    const { env, target } = setup();
    const r = await safePip(["install", "--target", target, "tardep"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /tardep 1\.0: depends on "evil-tar @ file:\/\/.*evil-tar-1\.0\.tar\.gz"/);
    assert.deepEqual(readdirSync(target), []);
    assert.equal(ranCode(), false, "the archive was never built");
  });

  for (const [project, host] of [["httpdep", "127.0.0.1"], ["lhdep", "localhost"]] as const) {
    it(`\`x @ http://${host}:<other port>/…\` is never fetched`, async () => {
      const { env, target } = setup();
      const before = other.requests.length;
      const r = await safePip(["install", "--target", target, project], { env });
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, new RegExp(`${project} 1\\.0: depends on "evil-http ?@ http://${host}:\\d+/files/`));
      assert.equal(other.requests.length, before, "the other server was never contacted");
      assert.deepEqual(readdirSync(target), []);
    });
  }

  it("with no PEP 658 file, the wheel's own METADATA is read as it passes: release hidden, pip run again, older one installed", async () => {
    const { env, target, log } = setup({}, noMeta.url);
    const before = other.requests.length;
    const r = await safePip(["install", "--target", target, "nometa"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { nometa: "1.0" });
    assert.match(r.stderr, /nometa 2\.0 hidden: depends on "evil-http @ http:\/\/127\.0\.0\.1:\d+\/files\/.*running pip again without it/);
    assert.equal(other.requests.length, before);
    assert.equal(pipInstalls(log).length, 2);
  });

  it("a wheel whose own METADATA differs from the .metadata the index served is refused", async () => {
    const { env, target } = setup({}, tamper.url);
    const r = await safePip(["install", "--target", target, "tampered"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /tampered-1\.0-py3-none-any\.whl: its own METADATA differs from the \.metadata the index served \(requires-dist\)/);
    assert.deepEqual(readdirSync(target), []);
  });
});

describe("the proxy trap covers every address", () => {
  for (const host of ["127.0.0.1", "localhost"]) {
    it(`a URL dependency only a build reveals (a local project's dependency on ${host}:<other port>) is refused inside pip, not fetched`, async () => {
      const proj = join(tempDir(), "localproj");
      // Only in the metadata the backend generates: a static pyproject.toml dependency is now
      // blocked before pip runs (test/integration/inputs.test.ts), so this one must be dynamic.
      writeProject(proj, "localproj");
      // This backend must produce metadata: use pip's fallback (no prepare hook) via a real one.
      writeFileSync(
        join(proj, "backend.py"),
        `import os\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\ndef prepare_metadata_for_build_wheel(d, config_settings=None):\n    os.makedirs(os.path.join(d, "localproj-1.0.dist-info"))\n    open(os.path.join(d, "localproj-1.0.dist-info", "METADATA"), "w").write("Metadata-Version: 2.1\\nName: localproj\\nVersion: 1.0\\nRequires-Dist: evil-http @ ${otherWheel().replace("127.0.0.1", host)}\\n")\n    return "localproj-1.0.dist-info"\n`,
      );
      const { env, target } = setup();
      const before = other.requests.length;
      const r = await safePip(["install", "--target", target, proj], { env });
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, new RegExp(`blocked: localproj depends on "evil-http ?@ http://${host}:\\d+/files/evil_http-1\\.0-py3-none-any\\.whl", which bypasses the index`));
      assert.equal(other.requests.length, before, "the other port was never reached");
      assert.deepEqual(readdirSync(target), []);
    });

    it(`a fetch of ${host}:<other port> from inside the pip process tree goes through safe-pip's listener and is refused`, async () => {
      const proj = join(tempDir(), "fetchproj");
      writeProject(proj, "fetchproj");
      // A build backend reaching out by itself: the proxy variables send it to safe-pip's listener.
      writeFileSync(
        join(proj, "backend.py"),
        `import urllib.request\ndef get_requires_for_build_wheel(config_settings=None):\n    urllib.request.urlopen("${otherWheel().replace("127.0.0.1", host)}", timeout=10).read()\n    return []\n`,
      );
      const { env, target } = setup();
      const before = other.requests.length;
      const r = await safePip(["install", "--target", target, proj], { env });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`http://${host}:\\d+/files/evil_http-1\\.0-py3-none-any\\.whl directly; refused`));
      assert.equal(other.requests.length, before, "the other port was never reached");
      assert.deepEqual(readdirSync(target), []);
    });
  }
});

describe("download and wheel get the same verdict as install", () => {
  for (const command of ["download", "wheel"]) {
    it(`${command}: a denied licence is blocked and nothing is written`, async () => {
      const { env } = setup({ licenses: { deny: ["GPL-*"] } });
      const dest = tempDir();
      const r = await safePip([command, command === "download" ? "-d" : "-w", dest, "gplonly"], { env });
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, /gplonly 1\.0: licence GPL-3\.0-only \(from License-Expression\) is not allowed/);
      assert.deepEqual(readdirSync(dest), []);
    });
  }
});

describe("one pass", () => {
  it("pip runs once, the summary comes after, and --plan never reaches pip", async () => {
    const { env, target, log } = setup({ licenses: { allow: ["MIT"] } });
    const r = await safePip(["install", "--target", target, "fine"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { fine: "1.0", fine_dep: "1.0" });
    assert.equal(pipInstalls(log).length, 1, readFileSync(log, "utf8"));
    assert.match(r.stderr, /installed 2 packages:\n.*fine 1\.0\s+public/);

    const planned = setup({ licenses: { allow: ["MIT"] } });
    const p = await safePip(["install", "--plan", "--target", planned.target, "fine"], { env: planned.env });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /will install 2 packages:/);
    assert.equal(pipInstalls(planned.log).length, 2);
    assert.ok(pipInstalls(planned.log).every((l) => !l.includes("--plan")));
  });

  it("a licence refused deep in the graph makes pip settle on an allowed version in the same pass", async () => {
    const { env, target, log } = setup({ licenses: { deny: ["AGPL-*"] } });
    const r = await safePip(["install", "--target", target, "top"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { top: "1.0", mid: "1.0", deep: "0.9" });
    assert.match(r.stderr, /deep 1\.0 hidden: licence AGPL-3\.0-only \(from License-Expression\) is not allowed by policy; using 0\.9/);
    assert.equal(pipInstalls(log).length, 1);
  });

  it("a refusal deep in the graph installs nothing, and says which version was hidden and what was needed", async () => {
    const { env, target } = setup({ licenses: { deny: ["AGPL-*"] } });
    const r = await safePip(["install", "--target", target, "top-strict"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /deep 1\.0: licence AGPL-3\.0-only/);
    assert.match(r.stderr, /no other version satisfies deep>=1/);
    assert.deepEqual(readdirSync(target), []);
  });
});
