import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { realPython } from "../helpers/python.js";

let idx: FakeIndex;

before(async () => {
  idx = await startFakeIndex({
    projects: {
      app: [{ version: "1.0", uploadTime: daysAgo(60), requires: ["dep-one>=1", "dep_two"], licenseExpression: "MIT" }],
      "dep-one": [
        { version: "1.2", uploadTime: daysAgo(90), classifiers: ["License :: OSI Approved :: BSD License"] },
        { version: "1.3", uploadTime: daysAgo(1) },
      ],
      "dep-two": [{ version: "0.5", uploadTime: daysAgo(90) }],
    },
  });
});

after(async () => {
  await idx.close();
  cleanupAll();
});

interface Bom {
  bomFormat: string;
  specVersion: string;
  serialNumber: string;
  metadata: { tools: { components: Array<{ name: string }> } };
  components: Array<{ name: string; version: string; purl: string; hashes?: Array<{ alg: string; content: string }>; licenses?: unknown[]; externalReferences?: Array<{ url: string }> }>;
  dependencies: Array<{ ref: string; dependsOn: string[] }>;
}

describe("--sbom and --lock after an install", () => {
  it("write a CycloneDX SBOM and a lock file that plain pip replays into the same set", async () => {
    const iso = isolatedEnv({ SAFE_PIP_PYTHON: realPython(), SAFE_PIP_CONFIG: writePolicy({ index: idx.url, minAge: "7d", osv: { source: "off" }, typosquat: "off" }) });
    const out = tempDir("safe-pip-out-");
    const target = tempDir("safe-pip-target-");
    const report = join(out, "run.json");
    const r = await safePip(["install", "--target", target, "--sbom", join(out, "bom.json"), `--lock=${join(out, "requirements.lock")}`, "app"], {
      env: { ...iso.env, SAFE_PIP_REPORT: report },
      cwd: out,
    });
    assert.equal(r.code, 0, r.stderr);
    const installed = installedVersions(target);
    assert.deepEqual(installed, { app: "1.0", dep_one: "1.2", dep_two: "0.5" });

    const bom = JSON.parse(readFileSync(join(out, "bom.json"), "utf8")) as Bom;
    assert.equal(bom.bomFormat, "CycloneDX");
    assert.equal(bom.specVersion, "1.5");
    assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(bom.metadata.tools.components[0]!.name, "safe-pip");
    assert.deepEqual(bom.components.map((c) => c.purl).sort(), ["pkg:pypi/app@1.0", "pkg:pypi/dep-one@1.2", "pkg:pypi/dep-two@0.5"]);
    for (const c of bom.components) {
      assert.equal(c.hashes?.[0]?.content, idx.wheel(c.name, c.version)!.sha256, c.name);
      assert.equal(c.externalReferences?.[0]?.url, idx.url);
    }
    assert.deepEqual(bom.components.find((c) => c.name === "app")!.licenses, [{ expression: "MIT" }]);
    assert.deepEqual(bom.dependencies.find((d) => d.ref === "pkg:pypi/app@1.0")!.dependsOn, ["pkg:pypi/dep-one@1.2", "pkg:pypi/dep-two@0.5"]);
    const record = JSON.parse(readFileSync(report, "utf8")) as { outputs?: { sbom?: string; lock?: string } };
    assert.equal(record.outputs?.sbom, join(out, "bom.json"));

    // Plain pip, no safe-pip: the lock alone, with hashes required, gives the same set.
    const replay = tempDir("safe-pip-replay-");
    const pip = await execa(realPython(), ["-m", "pip", "install", "--require-hashes", "--no-deps", "--index-url", idx.url, "--target", replay, "-r", join(out, "requirements.lock")], {
      env: { ...iso.env, PIP_CONFIG_FILE: "/dev/null" },
      extendEnv: false,
      reject: false,
    });
    assert.equal(pip.exitCode, 0, pip.stderr);
    assert.deepEqual(installedVersions(replay), installed);
  });

  it("--dry-run writes the lock but no SBOM, and the options belong to install only", async () => {
    const iso = isolatedEnv({ SAFE_PIP_PYTHON: realPython(), SAFE_PIP_CONFIG: writePolicy({ index: idx.url, minAge: "7d", osv: { source: "off" }, typosquat: "off" }) });
    const out = tempDir("safe-pip-out-");
    const r = await safePip(["install", "--dry-run", "--sbom", "bom.json", "--lock", "req.lock", "app"], { env: iso.env, cwd: out });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(out, "bom.json")));
    assert.match(readFileSync(join(out, "req.lock"), "utf8"), /^dep-one==1\.2 \\\n    --hash=sha256:[0-9a-f]{64}$/m);
    assert.match(r.stderr, /no SBOM written to bom\.json: nothing was installed \(--dry-run\)/);
    const d = await safePip(["download", "--lock", "x.lock", "app"], { env: iso.env, cwd: out });
    assert.equal(d.code, 64);
    assert.match(d.stderr, /--lock applies only to "install"/);
  });
});
