import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { safePip, writePolicy } from "../helpers/cli.js";

let idx: FakeIndex;
let osv: OsvServer;
before(async () => {
  idx = await startFakeIndex({ projects: {} });
  osv = await startOsvServer([]);
});
after(async () => {
  await Promise.all([idx.close(), osv.close()]);
  cleanupAll();
});

interface Finding {
  status: string;
  area: string;
  finding: string;
  fix?: string;
}

describe("safe-pip doctor", () => {
  it("reports what is not covered, with a fix each, and exits 1", async () => {
    const { env } = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: "http://127.0.0.1:9/simple/", osv: { source: "off" } }), PIP_EXTRA_INDEX_URL: "https://user:pw@corp.example/simple/" });
    const r = await safePip(["doctor", "--json"], { env });
    assert.equal(r.code, 1, r.stderr);
    const findings = JSON.parse(r.stdout) as Finding[];
    const by = (area: string) => findings.filter((f) => f.area === area);
    assert.equal(by("pip")[0]!.status, "fail");
    assert.match(by("pip")[0]!.fix ?? "", /safe-pip setup/);
    assert.equal(by("python -m pip")[0]!.status, "fail");
    assert.ok(by("pip sources").some((f) => /extra-index-url https:\/\/\*\*\*\*@corp\.example/.test(f.finding)));
    assert.doesNotMatch(r.stdout, /pw@/);
    assert.equal(by("index")[0]!.status, "fail");
  });

  it("is all clear once shims, shell functions and the R hook are in place and sources answer", async () => {
    const { env } = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "api", url: osv.url } }), SHELL: "/bin/bash" });
    const dir = join(tempDir(), "shims");
    assert.equal((await safePip(["setup", "path", "bash", "--dir", dir], { env })).code, 0);
    assert.equal((await safePip(["setup", "r"], { env })).code, 0);
    const covered = { ...env, PATH: `${dir}:${env.PATH}`, SAFE_PIP_SHELL_INIT: "bash" };
    const r = await safePip(["doctor"], { env: covered });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok\s+pip\s+PATH shim/m);
    assert.match(r.stdout, /^ok\s+python -m pip\s+routed by the bash functions/m);
    assert.match(r.stdout, /^ok\s+OSV\s+API/m);
    assert.match(r.stdout, /everything safe-pip can check is covered/);
  });
});
