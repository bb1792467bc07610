import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

// PyPI refuses most typo names (reqeusts, requets, numpyy all 404 there), so the typo a user
// really types is usually absent from the index: it must still get "did you mean", exit 65.
let idx: FakeIndex;
before(async () => {
  idx = await startFakeIndex({ projects: { requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }] } });
});
after(async () => {
  await idx.close();
  cleanupAll();
});

it("a typo of a popular name that the index doesn't have is blocked with \"did you mean\"", async () => {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, minAge: "7d", osv: { source: "off" } }) });
  const target = tempDir("safe-pip-target-");
  const r = await safePip(["install", "--target", target, "reqeusts"], { env: iso.env });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /reqeusts: .*did you mean requests\?/);
  assert.deepEqual(installedVersions(target), {});
});

it("a missing name that isn't a typo stays pip's own failure", async () => {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, minAge: "7d", osv: { source: "off" } }) });
  const r = await safePip(["install", "--target", tempDir("safe-pip-target-"), "zzqx-no-such-project"], { env: iso.env });
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /did you mean/);
});
