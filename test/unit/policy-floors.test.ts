import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { redactText, redactUrl } from "../../src/core/redact.js";
import { loadPolicy, type LoadOptions } from "../../src/policy/load.js";
import { policyProvenance } from "../../src/policy/provenance.js";
import { parseSimpleJson } from "../../src/index/upstream/simple.js";
import { parseJsonApiUploadTime, parseUploadTime } from "../../src/index/upstream/time.js";
import { isAffected } from "../../src/checks/osv/match.js";
import { pinnedVersion } from "../../src/commands/explain.js";
import { loadFixtureRecords } from "../helpers/osv-server.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

after(cleanupAll);

/** A system and a user policy in a temp dir, with the fixed system path pointed at a file that does not exist. */
function load(system: unknown, user: unknown, opts: { overrides?: Record<string, unknown> } = {}) {
  const dir = tempDir();
  const env: Record<string, string> = { HOME: dir, XDG_CONFIG_HOME: join(dir, "cfg") };
  if (system !== undefined) {
    writeFileSync(join(dir, "system.json"), JSON.stringify(system));
    env.SAFE_PIP_SYSTEM_POLICY = join(dir, "system.json");
  }
  if (user !== undefined) {
    writeFileSync(join(dir, "user.json"), JSON.stringify(user));
    env.SAFE_PIP_CONFIG = join(dir, "user.json");
  }
  const loadOpts: LoadOptions = { defaultSystemFile: join(dir, "no-such-system.json") };
  return loadPolicy(env, opts.overrides ?? {}, loadOpts);
}

const DAY = 86400e3;

describe("policy floors: a user layer can tighten, never loosen", () => {
  it("internal: once the system sets any pip source or a rule routing would bypass, user routes are ignored", () => {
    const evil = { internal: [{ url: "https://evil.example/simple/", packages: ["*"] }] };
    for (const system of [{ index: "https://mirror.corp/simple/" }, { internal: [] }, { minAge: "14d" }, { snapshot: "2024-01-01" }, { unknownAge: "block" }, { internalAge: "enforce" }, { typosquat: "block" }]) {
      const { policy, warnings } = load(system, evil);
      assert.deepEqual(policy.internal, (system as { internal?: unknown }).internal ?? [], JSON.stringify(system));
      assert.match(warnings.join("\n"), /"internal" routes are ignored/);
    }
    // A system policy that says nothing about sources or ages leaves them to the user.
    assert.equal(load({ deny: ["x"] }, evil).policy.internal.length, 1);
    assert.equal(load(undefined, evil).policy.internal.length, 1);
  });
  it("internal: the system's own routes stay, and the user cannot append to them", () => {
    const { policy } = load(
      { internal: [{ url: "https://corp.example/simple/", packages: ["acme-*"] }] },
      { internal: [{ url: "https://evil.example/simple/", packages: ["*"] }] },
    );
    assert.deepEqual(policy.internal.map((i) => i.url), ["https://corp.example/simple/"]);
  });
  it("index: fixed by the system, also when the system only sets age rules", () => {
    assert.equal(load({ index: "https://mirror.corp/simple/" }, { index: "https://evil/simple/" }).policy.index, "https://mirror.corp/simple/");
    assert.equal(load({ minAge: "7d" }, { index: "https://evil/simple/" }).policy.index, "https://pypi.org/simple/");
    assert.equal(load({}, { index: "https://own/simple/" }).policy.index, "https://own/simple/");
  });
  it("minAge: the larger wins", () => {
    assert.equal(load({ minAge: "14d" }, { minAge: "0" }).policy.minAgeMs, 14 * DAY);
    assert.equal(load({ minAge: "3d" }, { minAge: "2w" }).policy.minAgeMs, 14 * DAY);
  });
  it("snapshot: the earlier wins, and a user snapshot adds a cutoff", () => {
    assert.equal(load({ snapshot: "2024-06-01" }, { snapshot: "2025-01-01" }).policy.snapshot?.toISOString(), "2024-06-02T00:00:00.000Z");
    assert.equal(load({ snapshot: "2024-06-01" }, { snapshot: "2024-01-01" }).policy.snapshot?.toISOString(), "2024-01-02T00:00:00.000Z");
    assert.equal(load({ minAge: "7d" }, { snapshot: "2024-01-01" }).policy.snapshot?.toISOString(), "2024-01-02T00:00:00.000Z");
  });
  it("a command-line --snapshot is one more layer: it can only move the cutoff earlier", () => {
    const r = load({ snapshot: "2024-06-01" }, {}, { overrides: { snapshot: new Date("2025-01-01T00:00:00Z") } });
    assert.equal(r.policy.snapshot?.toISOString(), "2024-06-02T00:00:00.000Z");
  });
  for (const [key, loose, strict] of [
    ["unknownAge", "allow", "block"],
    ["internalAge", "exempt", "enforce"],
    ["directReferences", "allow", "block"],
    ["unknownLicense", "allow", "block"],
    ["typosquat", "off", "block"],
    ["typosquat", "warn", "block"],
  ] as const) {
    it(`${key}: "${strict}" over "${loose}"`, () => {
      const r = load({ [key]: strict }, { [key]: loose });
      assert.equal(r.policy[key], strict);
      assert.match(r.warnings.join("\n"), new RegExp(`"${key}"`));
      assert.equal(load({ [key]: loose }, { [key]: strict }).policy[key], strict);
    });
  }
  it("typosquat: warn over off", () => {
    assert.equal(load({ typosquat: "warn" }, { typosquat: "off" }).policy.typosquat, "warn");
  });
  it("timeout: can be raised, not lowered below the system's (a short one turns checks into outages)", () => {
    assert.equal(load({ timeout: "30s" }, { timeout: "1s" }).policy.timeoutMs, 30_000);
    assert.equal(load({ timeout: "30s" }, { timeout: "60s" }).policy.timeoutMs, 60_000);
  });
  it("maxPageBytes: the smaller wins", () => {
    assert.equal(load({ maxPageBytes: 1000 }, { maxPageBytes: 10_000 }).policy.maxPageBytes, 1000);
    assert.equal(load({ maxPageBytes: 1000 }, { maxPageBytes: 10 }).policy.maxPageBytes, 10);
  });
  it("allow: narrowed to names on both, with both lists' version limits", () => {
    const { policy } = load({ allow: ["jinja2<3", "requests"] }, { allow: ["jinja2<2.11", "numpy"] });
    assert.deepEqual(policy.allow, [{ name: "jinja2", versions: "<3, <2.11" }]);
    assert.deepEqual(load({ allow: ["a"] }, {}).policy.allow?.map((e) => e.name), ["a"]);
    assert.deepEqual(load({}, { allow: ["b"] }).policy.allow?.map((e) => e.name), ["b"]);
  });
  it("allow: a combined entry expires with the earlier of the two", () => {
    const { policy } = load({ allow: [{ name: "x", expires: "2030-01-01" }] }, { allow: [{ name: "x", expires: "2029-01-01" }] });
    assert.equal(policy.allow?.[0]?.expires, "2029-01-01");
  });
  it("deny: united", () => {
    assert.deepEqual(load({ deny: ["evil"] }, { deny: ["other"] }).policy.deny.map((d) => d.name), ["evil", "other"]);
  });
  it("licenses: deny united, allow narrowed by pattern", () => {
    const { policy } = load({ licenses: { allow: ["MIT", "BSD-*"], deny: ["GPL-*"] } }, { licenses: { allow: ["BSD-3-Clause", "WTFPL"], deny: ["AGPL-*"] } });
    assert.deepEqual(policy.licenses.deny, ["GPL-*", "AGPL-*"]);
    assert.deepEqual(policy.licenses.allow, ["BSD-3-Clause"]);
    // A user allow list with no system one narrows the default "anything".
    assert.deepEqual(load({ minAge: "7d" }, { licenses: { allow: ["MIT"] } }).policy.licenses.allow, ["MIT"]);
  });
  it("osv endpoints: the system's once it sets any osv key", () => {
    const system = { osv: { source: "api", url: "https://osv.corp.example" } };
    for (const user of [
      { osv: { url: "https://empty.example" } },
      { osv: { source: "off" } },
      { osv: { source: "offline", database: "/tmp/empty" } },
    ]) {
      const { policy, warnings } = load(system, user);
      assert.equal(policy.osv.source, "api", JSON.stringify(user));
      assert.equal(policy.osv.url, "https://osv.corp.example");
      assert.equal(policy.osv.database, undefined);
      assert.match(warnings.join("\n"), /the system policy sets "osv"/);
    }
    // Also when the system only says how strict OSV is.
    assert.equal(load({ osv: { onError: "block" } }, { osv: { url: "https://empty.example" } }).policy.osv.url, "https://api.osv.dev");
    assert.equal(load({ osv: { onError: "block" } }, { osv: { exportUrl: "https://empty.example/all.zip" } }).policy.osv.exportUrl, undefined);
    // No system osv: the user chooses.
    assert.equal(load({ minAge: "7d" }, { osv: { url: "https://own.example" } }).policy.osv.url, "https://own.example");
  });
  it("osv.onError: block over warn, the default counting as the system's once it sets osv", () => {
    assert.equal(load({ osv: { onError: "block" } }, { osv: { onError: "warn" } }).policy.osv.onError, "block");
    assert.equal(load({ osv: { source: "api" } }, { osv: { onError: "warn" } }).policy.osv.onError, "block");
    assert.equal(load({ osv: { onError: "warn" } }, { osv: { onError: "block" } }).policy.osv.onError, "block");
  });
  it("osv.ignore: the user's entries are ignored once the system sets osv", () => {
    const { policy } = load({ osv: { source: "api" } }, { osv: { ignore: [{ id: "PYSEC-2023-74", reason: "mine" }] } });
    assert.deepEqual(policy.osv.ignore, []);
  });
  it("osv.maxStaleness: the smaller wins, and 0 (no limit) is the loosest", () => {
    assert.equal(load({ osv: { maxStaleness: "7d" } }, { osv: { maxStaleness: "0" } }).policy.osv.maxStalenessMs, 7 * DAY);
    assert.equal(load({ osv: { maxStaleness: "7d" } }, { osv: { maxStaleness: "1d" } }).policy.osv.maxStalenessMs, DAY);
    assert.equal(load({ osv: { maxStaleness: "0" } }, { osv: { maxStaleness: "1d" } }).policy.osv.maxStalenessMs, DAY);
    assert.equal(load({ osv: { source: "api" } }, { osv: { maxStaleness: "365d" } }).policy.osv.maxStalenessMs, 7 * DAY);
  });
  it("osv.cacheTtl: the shorter wins (a long cache hides new advisories)", () => {
    assert.equal(load({ osv: { cacheTtl: "1h" } }, { osv: { cacheTtl: "365d" } }).policy.osv.cacheTtlMs, 3600e3);
    assert.equal(load({ osv: { source: "api" } }, { osv: { cacheTtl: "365d" } }).policy.osv.cacheTtlMs, 6 * 3600e3);
    assert.equal(load({ osv: { cacheTtl: "1h" } }, { osv: { cacheTtl: "0" } }).policy.osv.cacheTtlMs, 0);
  });
  it("cran sources: the system's once it sets any, or an age rule", () => {
    const user = { cran: { repo: "https://evil.example", internal: [{ url: "https://evil.example", packages: ["*"] }], snapshot: "https://evil.example/{date}" } };
    for (const system of [{ cran: { repo: "https://cran.corp.example" } }, { cran: { internal: [] } }, { minAge: "7d" }]) {
      const { policy, warnings } = load(system, user);
      assert.notEqual(policy.cran.repo, "https://evil.example", JSON.stringify(system));
      assert.deepEqual(policy.cran.internal, []);
      assert.equal(policy.cran.snapshot, undefined);
      assert.match(warnings.join("\n"), /CRAN sources/);
    }
    assert.equal(load({}, user).policy.cran.repo, "https://evil.example");
  });
  it("a key with no floor rule keeps the system's value and ignores the user's", async () => {
    // Simulates a key added later (agerules' minAgeExclude): until it has a rule, the system wins.
    const { mergeLayers } = await import("../../src/policy/merge.js");
    const warnings: string[] = [];
    const out = mergeLayers({ ["futureKey" as "index"]: "system" }, { ["futureKey" as "index"]: "user" }, warnings) as Record<string, unknown>;
    assert.equal(out.futureKey, "system");
    assert.match(warnings.join("\n"), /"futureKey" has no floor rule/);
    const out2 = mergeLayers({}, { ["futureKey" as "index"]: "user" }, []) as Record<string, unknown>;
    assert.equal(out2.futureKey, undefined);
  });
});

describe("SAFE_PIP_SYSTEM_POLICY", () => {
  it("is ignored once the fixed system policy exists, which then sets the floors", () => {
    const dir = tempDir();
    const fixed = join(dir, "etc-policy.json");
    writeFileSync(fixed, JSON.stringify({ minAge: "30d" }));
    writeFileSync(join(dir, "mine.json"), JSON.stringify({ minAge: "0" }));
    const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "cfg"), SAFE_PIP_SYSTEM_POLICY: join(dir, "mine.json") };
    const r = loadPolicy(env, {}, { defaultSystemFile: fixed });
    assert.equal(r.policy.minAgeMs, 30 * DAY);
    assert.equal(r.systemFile, fixed);
    assert.match(r.warnings.join("\n"), /SAFE_PIP_SYSTEM_POLICY is ignored/);
  });
  it("is honoured where no system policy is installed", () => {
    assert.equal(load({ minAge: "30d" }, { minAge: "1d" }).policy.minAgeMs, 30 * DAY);
  });
});

describe("doctor's provenance: which layer set each value", () => {
  it("credits system, user, command line and default", () => {
    const r = load(
      { minAge: "14d", deny: ["evil"], internal: [{ url: "https://u:s3cret@corp.example/simple/", packages: ["acme-*"] }] },
      { typosquat: "warn", unknownLicense: "block", deny: ["other"] },
      { overrides: { snapshot: new Date("2024-01-01T00:00:00Z") } },
    );
    const by = new Map(policyProvenance(r).map((v) => [v.key, v]));
    assert.deepEqual(by.get("minAge"), { key: "minAge", value: "14d", from: "system" });
    assert.equal(by.get("unknownLicense")?.from, "user");
    // The system leaves typosquat unset, so the user's choice stands.
    assert.equal(by.get("typosquat")?.from, "user");
    assert.equal(by.get("directReferences")?.from, "default");
    assert.equal(by.get("deny")?.from, "system+user");
    assert.equal(by.get("snapshot")?.from, "command line");
    assert.equal(by.get("index")?.from, "default");
    assert.equal(by.get("osv.url")?.from, "default");
    assert.equal(by.get("internal")?.from, "system");
  });
});

describe("upload times: RFC 3339 only", () => {
  it("accepts RFC 3339 with Z or an offset, fractional seconds too", () => {
    assert.equal(parseUploadTime("2024-01-02T03:04:05Z"), "2024-01-02T03:04:05Z");
    assert.equal(parseUploadTime("2024-01-02T03:04:05.123456Z"), "2024-01-02T03:04:05.123456Z");
    assert.equal(parseUploadTime("2024-01-02T03:04:05+02:00"), "2024-01-02T01:04:05.000Z");
    assert.equal(parseUploadTime("2024-01-02 03:04:05.5-01:30"), "2024-01-02T04:34:05.500Z");
  });
  it("treats anything else as unknown", () => {
    for (const bad of ["1", "2024", "2024-01", "2024-01-02", "2024-01-02T03:04:05", "March 7, 2020", "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "0", "", " 2024-01-02T03:04:05Z junk"])
      assert.equal(parseUploadTime(bad), undefined, bad);
    assert.equal(parseUploadTime(2024), undefined);
  });
  it("the PEP 691 reader drops an upload-time that is not RFC 3339", () => {
    const page = parseSimpleJson(
      JSON.stringify({ meta: { "api-version": "1.1" }, files: [
        { filename: "a-1.0-py3-none-any.whl", url: "a.whl", hashes: {}, "upload-time": "2024" },
        { filename: "a-1.0.tar.gz", url: "a.tgz", hashes: {}, "upload-time": "1" },
        { filename: "a-0.9.tar.gz", url: "b.tgz", hashes: {}, "upload-time": "2020-01-01T00:00:00Z" },
      ] }),
      "https://x.example/simple/a/",
      "a",
    );
    assert.deepEqual(page.files.map((f) => f.uploadTime), [undefined, undefined, "2020-01-01T00:00:00Z"]);
  });
  it("the JSON API's upload_time is read as UTC only in PyPI's form", () => {
    assert.equal(parseJsonApiUploadTime("2019-01-01T00:00:00"), "2019-01-01T00:00:00Z");
    assert.equal(parseJsonApiUploadTime("2024"), undefined);
    assert.equal(parseJsonApiUploadTime("1"), undefined);
  });
});

describe("OSV: local version labels match like PEP 440 ==", () => {
  const records = loadFixtureRecords(join(packageRoot(), "test", "fixtures", "osv-local"));
  const mal = records.find((r) => r.id === "MAL-0000-0101")!;
  const last = records.find((r) => r.id === "PYSEC-0000-0102")!;
  it("a listed version without a local label covers its local builds", () => {
    for (const v of ["1.0", "1.0+anything", "1.0.0+ubuntu.1", "1.0+Vendor-2"]) assert.ok(isAffected(mal, "PyPI", "safepip-fixture-local", v), v);
    for (const v of ["1.0.1", "1.0.post1", "1.0.post1+x"]) assert.ok(!isAffected(mal, "PyPI", "safepip-fixture-local", v), v);
  });
  it("a listed version with a local label matches only itself", () => {
    assert.ok(isAffected(mal, "PyPI", "safepip-fixture-local", "2.0+vendor.1"));
    assert.ok(!isAffected(mal, "PyPI", "safepip-fixture-local", "2.0"));
    assert.ok(!isAffected(mal, "PyPI", "safepip-fixture-local", "2.0+vendor.2"));
  });
  it("ranges ignore the candidate's local label against a public event version", () => {
    assert.ok(isAffected(last, "PyPI", "safepip-fixture-lastaffected", "1.0+local"));
    assert.ok(isAffected(last, "PyPI", "safepip-fixture-lastaffected", "1.0"));
    assert.ok(!isAffected(last, "PyPI", "safepip-fixture-lastaffected", "1.0.post1"));
  });
});

describe("redaction", () => {
  it("hides a password containing @ up to the last @ of the authority", () => {
    assert.equal(redactUrl("https://u:p@ss@host/simple/"), "https://****@host/simple/");
    assert.equal(redactUrl("https://u:p@ss@host"), "https://****@host");
    assert.equal(redactText("pip -i https://u:p@s@s@host:8080/simple/ x"), "pip -i https://****@host:8080/simple/ x");
    assert.equal(redactText("https://tok@host?x=a@b"), "https://****@host?x=a@b");
  });
  it("leaves an @ in the path (a VCS ref) alone", () => {
    assert.equal(redactText("git+https://github.com/o/r@v1.0"), "git+https://github.com/o/r@v1.0");
    assert.equal(redactText("git+https://tok@github.com/o/r@v1.0"), "git+https://****@github.com/o/r@v1.0");
  });
});

describe("explain: the version a pin asks about", () => {
  it("reads exact pins only", () => {
    assert.equal(pinnedVersion("==2.10"), "2.10");
    assert.equal(pinnedVersion("=== 2.10"), "2.10");
    assert.equal(pinnedVersion("==2.*"), undefined);
    assert.equal(pinnedVersion(">=2,<3"), undefined);
    assert.equal(pinnedVersion(""), undefined);
  });
});
