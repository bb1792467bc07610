/**
 * A name-only typosquat match against the project's own history, end to end with real pip: an
 * old project with many releases (matpack, one key from msgpack) installs with a warning; a
 * fresh look-alike with as many releases, and an old name with one placeholder release, stay
 * blocked. The fake index serves PEP 700 upload times, which is where the history comes from.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

let idx: FakeIndex;
before(async () => {
  const releases = (n: number, firstDaysAgo: number, stepDays: number) =>
    Array.from({ length: n }, (_, i) => ({ version: `0.${i + 1}`, uploadTime: daysAgo(firstDaysAgo - i * stepDays) }));
  idx = await startFakeIndex({
    projects: {
      matpack: releases(6, 2000, 300),
      reqeusts: releases(6, 60, 5),
      "python3-dateutil": [{ version: "1.0", uploadTime: daysAgo(900) }],
    },
  });
});
after(async () => {
  await idx.close();
  cleanupAll();
});

function env(): Record<string, string> {
  return isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "off" } }) }).env;
}

describe("typosquat: the project's own history", { concurrency: true }, () => {
  it("an old project with many releases installs, with a warning that says why", async () => {
    const target = tempDir();
    const r = await safePip(["install", "--target", target, "matpack"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).matpack, "0.6");
    assert.match(r.stderr, /"matpack" looks like "msgpack" .*Warned, not blocked: the project's own history \(first upload \d{4}-\d{2}-\d{2}, 5 years ago; 6 releases\)/);
  });

  it("a young look-alike with as many releases, and an old single-release name, stay blocked", async () => {
    for (const name of ["reqeusts", "python3-dateutil"]) {
      const target = tempDir();
      const r = await safePip(["install", "--target", target, name], { env: env() });
      assert.equal(r.code, 65, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`"${name}" looks like`));
      assert.doesNotMatch(r.stderr, /Warned, not blocked/);
    }
  });
});
