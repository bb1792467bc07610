import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { startLatencyProxy, type LatencyProxy } from "../helpers/latency-proxy.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

/**
 * Prefetch, with real pip against a slow upstream (a fixed delay on every request). pip asks for
 * one page or `.metadata` at a time, so without prefetch the index forwards one request at a
 * time; with it, the dependencies named in a `.metadata` are fetched ahead, concurrently.
 */
const FAN = 10;
const DELAY_MS = 100;

let idx: FakeIndex;
let slow: LatencyProxy;

before(async () => {
  const projects: Parameters<typeof startFakeIndex>[0]["projects"] = {
    app: [{ version: "1.0", uploadTime: daysAgo(30), requires: [...Array.from({ length: FAN }, (_, i) => `dep${i}>=1`), "winonly; sys_platform == 'win32'", "extraonly; extra == 'x'"] }],
    winonly: [{ version: "1.0", uploadTime: daysAgo(30) }],
    extraonly: [{ version: "1.0", uploadTime: daysAgo(30) }],
  };
  for (let i = 0; i < FAN; i++) {
    projects[`dep${i}`] = [
      { version: "1.0", uploadTime: daysAgo(30) },
      { version: "2.0", uploadTime: daysAgo(20), requires: [`leaf${i}`] },
    ];
    projects[`leaf${i}`] = [{ version: "1.0", uploadTime: daysAgo(30) }];
  }
  idx = await startFakeIndex({ projects });
  slow = await startLatencyProxy(idx.root, DELAY_MS);
});

after(async () => {
  await slow.close();
  await idx.close();
  cleanupAll();
});

describe("prefetch of dependency pages and metadata", () => {
  it("fetches the pages a .metadata names before pip asks, concurrently, and installs the same set", async () => {
    const policy = writePolicy({ index: `${slow.root}simple/`, minAge: "7d", osv: { source: "off" } });
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: policy });
    const target = tempDir("safe-pip-target-");
    const t0 = Date.now();
    const r = await safePip(["install", "--target", target, "app"], { env: iso.env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const took = Date.now() - t0;

    const installed = installedVersions(target);
    for (let i = 0; i < FAN; i++) {
      assert.equal(installed[`dep${i}`], "2.0");
      assert.equal(installed[`leaf${i}`], "1.0");
    }
    assert.equal(installed.winonly, undefined);

    const paths = slow.requests.map((q) => q.path);
    const appMeta = slow.requests.find((q) => q.path.includes("app-1.0") && q.path.endsWith(".metadata"));
    assert.ok(appMeta, `app's .metadata was not fetched: ${paths.join(" ")}`);
    // Every dependency page was asked of the upstream sooner than pip could have asked for it:
    // pip alone asks one page at a time, so the i-th page comes at least i round trips later.
    for (let i = 0; i < FAN; i++) {
      const page = slow.requests.find((q) => q.path === `/simple/dep${i}/`);
      assert.ok(page, `dep${i}'s page was never fetched`);
      const after = page.start - appMeta.end;
      assert.ok(after < Math.max(1, i) * DELAY_MS, `dep${i}'s page was asked ${after} ms after app's metadata`);
    }
    assert.ok(slow.maxInFlight() >= 4, `at most ${slow.maxInFlight()} upstream requests were in flight at once`);
    // Prefetched metadata is served from memory: each .metadata crosses the upstream once.
    const metas = paths.filter((p) => p.endsWith(".metadata"));
    assert.equal(new Set(metas).size, metas.length, `a .metadata was fetched twice: ${metas.join(" ")}`);
    console.log(`# prefetch: install took ${took} ms, ${slow.requests.length} upstream requests, at most ${slow.maxInFlight()} at once`);
    // An extra's dependency is never prefetched.
    assert.ok(!paths.includes("/simple/extraonly/"), "a dependency behind an extra was prefetched");

    // The wheels whose .metadata passed are fetched ahead as well, concurrently: pip alone
    // downloads one file after another once it has resolved. Each crosses the upstream once.
    const wheels = slow.requests.filter((q) => q.path.endsWith(".whl"));
    assert.equal(wheels.length, 2 * FAN + 1, `wheels fetched: ${wheels.map((q) => q.path).join(" ")}`);
    assert.equal(new Set(wheels.map((q) => q.path)).size, wheels.length, "a wheel was fetched twice");
    const overlap = Math.max(...wheels.map((w) => wheels.filter((o) => o.start < w.end && w.start < o.end).length));
    assert.ok(overlap >= 4, `at most ${overlap} wheels were in flight at once`);
  });
});
