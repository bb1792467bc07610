import { test } from "node:test";
import assert from "node:assert/strict";
import { compare as pep440Compare } from "@renovatebot/pep440";
import type { Ecosystem } from "../../src/checks/release.js";
import { aliasesOf, compareVersions, fixedVersions, isAffected, isMalware } from "../../src/checks/osv/match.js";
import { evaluateAdvisories } from "../../src/checks/osv/evaluate.js";
import { toOsvRecord, type OsvRecord } from "../../src/checks/osv/types.js";
import { loadFixtureRecords } from "../helpers/osv-server.js";

const records = loadFixtureRecords();
const byId = new Map(records.map((r) => [r.id, r]));
function rec(id: string): OsvRecord {
  const r = byId.get(id);
  assert.ok(r, `fixture ${id} missing`);
  return r;
}

type Row = [id: string, ecosystem: Ecosystem, name: string, version: string, expected: boolean];

const TABLE: Row[] = [
  // requests: introduced 2.3.0 / fixed 2.31.0 (plus a GIT range, ignored)
  ["PYSEC-2023-74", "PyPI", "requests", "2.3.0", true],
  ["PYSEC-2023-74", "PyPI", "requests", "2.30.0", true],
  ["PYSEC-2023-74", "PyPI", "requests", "2.31.0rc1", true], // pre-release of the fix is below it
  ["PYSEC-2023-74", "PyPI", "requests", "2.31.0", false],
  ["PYSEC-2023-74", "PyPI", "requests", "2.31", false], // == 2.31.0 under PEP 440
  ["PYSEC-2023-74", "PyPI", "requests", "2.2.1", false],
  ["PYSEC-2023-74", "PyPI", "Requests", "2.30.0", true], // PEP 503 name
  ["PYSEC-2023-74", "PyPI", "requests-oauthlib", "2.30.0", false],
  ["PYSEC-2023-74", "CRAN", "requests", "2.30.0", false], // other ecosystem
  // py: last_affected 1.11.0, no fix
  ["PYSEC-2022-42969", "PyPI", "py", "1.11.0", true],
  ["PYSEC-2022-42969", "PyPI", "py", "1.11.0.post1", false],
  ["PYSEC-2022-42969", "PyPI", "py", "1.11.1", false],
  ["PYSEC-2022-42969", "PyPI", "py", "0.1", true],
  // django: three introduced/fixed pairs, pre-releases
  ["PYSEC-2015-11", "PyPI", "django", "0.9", true],
  ["PYSEC-2015-11", "PyPI", "Django", "1.7.10", true],
  ["PYSEC-2015-11", "PyPI", "django", "1.7.11", false],
  ["PYSEC-2015-11", "PyPI", "django", "1.7.99", false],
  ["PYSEC-2015-11", "PyPI", "django", "1.8", true],
  ["PYSEC-2015-11", "PyPI", "django", "1.8.6", true],
  ["PYSEC-2015-11", "PyPI", "django", "1.8.6+ubuntu1", true], // local version sorts just above 1.8.6
  ["PYSEC-2015-11", "PyPI", "django", "1.8.7", false],
  ["PYSEC-2015-11", "PyPI", "django", "1.9a1", true],
  ["PYSEC-2015-11", "PyPI", "django", "1.9rc1", true],
  ["PYSEC-2015-11", "PyPI", "django", "1.9rc2", false],
  ["PYSEC-2015-11", "PyPI", "django", "1.9", false],
  ["PYSEC-2015-11", "PyPI", "django", "1.9.1", false],
  ["PYSEC-2014-19", "PyPI", "django", "1.3.7", false],
  ["PYSEC-2014-19", "PyPI", "django", "1.5.7", true],
  ["PYSEC-2014-19", "PyPI", "django", "1.7b3", true],
  ["PYSEC-2014-19", "PyPI", "django", "1.7b4", false],
  // beaker: post-release fix
  ["PYSEC-2012-1", "PyPI", "beaker", "1.6.5", true],
  ["PYSEC-2012-1", "PyPI", "beaker", "1.6.5.post0", true],
  ["PYSEC-2012-1", "PyPI", "beaker", "1.6.5.post1", false],
  ["PYSEC-2012-1", "PyPI", "beaker", "1.6.5-1", false], // implicit post-release spelling
  ["PYSEC-2012-1", "PyPI", "beaker", "1.6.6", false],
  // steam: fixed "2019-09-12" is not PEP 440 → legacy, below every valid version (as osv.dev)
  ["PYSEC-2019-125", "PyPI", "steam", "0.5", false],
  ["PYSEC-2019-125", "PyPI", "steam", "1.0", false],
  // redis: withdrawn, although 4.5.4 is listed
  ["PYSEC-2023-73", "PyPI", "redis", "4.5.4", false],
  // CRAN: R package_version order, case-sensitive names
  ["RSEC-2026-1", "CRAN", "png", "0.1-3", true],
  ["RSEC-2026-1", "CRAN", "png", "0.1-8", true],
  ["RSEC-2026-1", "CRAN", "png", "0.1.8", true], // R treats 0.1-8 == 0.1.8
  ["RSEC-2026-1", "CRAN", "png", "0.1-9", false],
  ["RSEC-2026-1", "CRAN", "png", "0.1-10", false], // integer, not string, compare
  ["RSEC-2026-1", "CRAN", "png", "0.1-2", false],
  ["RSEC-2026-1", "CRAN", "PNG", "0.1-5", false],
  ["RSEC-2026-1", "PyPI", "png", "0.1-5", false],
  ["RSEC-2023-4", "CRAN", "igraph", "0.7.0", false],
  ["RSEC-2023-4", "CRAN", "igraph", "0.7.1", true],
  ["RSEC-2023-4", "CRAN", "igraph", "1.2.2", true], // 1.2.2 < 1.2.2-2 in R
  ["RSEC-2023-4", "CRAN", "igraph", "0.7.1.0", true], // == 0.7.1 (listed) in R
  ["RSEC-2023-4", "CRAN", "igraph", "1.2.2-1", true],
  ["RSEC-2023-4", "CRAN", "igraph", "1.2.2.1", true],
  ["RSEC-2023-4", "CRAN", "igraph", "1.2.2-2", false],
  ["RSEC-2023-4", "CRAN", "igraph", "1.2.3", false],
  ["RSEC-2023-4", "CRAN", "igraph", "1.10.0", false], // 10 > 2 as integers
  ["RSEC-2026-0", "CRAN", "widgetframe", "0.3.1", true],
  ["RSEC-2026-0", "CRAN", "widgetframe", "99.0", true], // open range
  ["RSEC-2026-0", "CRAN", "widgetframe", "0.0.9", false],
  ["RSEC-2023-0", "CRAN", "readxl", "1.0.0", true],
  ["RSEC-2023-0", "CRAN", "readxl", "1.1.0", false],
  // synthetic: limit events
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "0.9", false],
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "1.2", true],
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "1.5", false],
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "2.5", false], // no longer below limit 2.0
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "3.1", true],
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "3.2", false], // limit is exclusive
  ["SAFEPIP-TEST-1", "PyPI", "safepip-fixture-ranges", "4.0", false],
  // synthetic: SEMVER range (Bioconductor, case-sensitive), falling back to versions
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "1.3.0", true],
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "1.4.0-rc.0", true],
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "1.4.0-rc.1", false],
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "1.4.0", false],
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "1.3", false], // not SemVer, not listed
  ["SAFEPIP-TEST-1", "Bioconductor", "SafePipFixture", "0.9", true], // listed
  ["SAFEPIP-TEST-1", "Bioconductor", "safepipfixture", "1.3.0", false],
  // synthetic malware
  ["MAL-0000-0001", "PyPI", "safepip-fixture-evil", "0.0.1", true],
  ["MAL-0000-0001", "PyPI", "Safepip_Fixture.Evil", "99.0", true],
  ["MAL-0000-0001", "PyPI", "safepip-fixture-evil", "not a version", true], // introduced "0" is below everything
  ["MAL-0000-0002", "PyPI", "safepip-fixture-hijacked", "2.0.1", true],
  ["MAL-0000-0002", "PyPI", "safepip-fixture-hijacked", "2.0.0", false],
];

test("isAffected: table of real and synthetic records", () => {
  const failures: string[] = [];
  for (const [id, eco, name, version, expected] of TABLE) {
    const got = isAffected(rec(id), eco, name, version);
    if (got !== expected) failures.push(`${id} ${eco} ${name} ${version}: expected ${expected}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

test("isAffected: the versions list alone, compared in normalised form", () => {
  const py = rec("PYSEC-2022-42969");
  // Strip the range so only `versions` can match.
  const listOnly: OsvRecord = { ...py, affected: py.affected!.map((a) => ({ ...a, ranges: [] })) };
  assert.equal(isAffected(listOnly, "PyPI", "py", "0.8.0-alpha2"), true); // exact
  assert.equal(isAffected(listOnly, "PyPI", "py", "0.8.0a2"), true); // listed as 0.8.0-alpha2
  assert.equal(isAffected(listOnly, "PyPI", "py", "1.4.7dev3"), true); // listed as 1.4.7.dev3
  assert.equal(isAffected(listOnly, "PyPI", "py", "1.4.7.0"), true); // 1.4.7 padded
  assert.equal(isAffected(listOnly, "PyPI", "py", "1.11.0"), true);
  assert.equal(isAffected(listOnly, "PyPI", "py", "1.11.1"), false);
  assert.equal(isAffected(listOnly, "PyPI", "py", "1.4.7.post1"), false);
});

test("isAffected: withdrawn is the only reason redis 4.5.4 passes", () => {
  const redis = rec("PYSEC-2023-73");
  assert.ok(redis.withdrawn);
  assert.equal(isAffected({ ...redis, withdrawn: undefined }, "PyPI", "redis", "4.5.4"), true);
});

test("isAffected: range events given out of order are sorted first", () => {
  const r = toOsvRecord({
    id: "SAFEPIP-TEST-ORDER",
    affected: [
      {
        package: { ecosystem: "PyPI", name: "x" },
        ranges: [{ type: "ECOSYSTEM", events: [{ fixed: "2.0" }, { introduced: "1.5" }, { fixed: "1.2" }, { introduced: "0" }] }],
      },
    ],
  });
  assert.equal(isAffected(r, "PyPI", "x", "1.0"), true);
  assert.equal(isAffected(r, "PyPI", "x", "1.3"), false);
  assert.equal(isAffected(r, "PyPI", "x", "1.7"), true);
  assert.equal(isAffected(r, "PyPI", "x", "2.0"), false);
});

test("isMalware: MAL ids, origins marker, CWE-506; not ordinary vulnerabilities", () => {
  assert.equal(isMalware(rec("MAL-0000-0001")), true);
  assert.equal(isMalware(rec("MAL-0000-0002")), true);
  assert.equal(isMalware(rec("PYSEC-2023-74")), false);
  assert.equal(isMalware(rec("GHSA-j8r2-6x86-q33q")), false); // CWE-200
  const ghsaMalware = toOsvRecord({ id: "GHSA-xxxx-yyyy-zzzz", database_specific: { cwe_ids: ["CWE-506"] } });
  assert.equal(isMalware(ghsaMalware), true);
  const origins = toOsvRecord({ id: "OTHER-1", database_specific: { "malicious-packages-origins": [] } });
  assert.equal(isMalware(origins), true);
  const openssfCwe = toOsvRecord({ id: "X-1", affected: [{ database_specific: { cwes: [{ cweId: "CWE-506", name: "Embedded Malicious Code" }] } }] });
  assert.equal(isMalware(openssfCwe), true);
  const aliased = toOsvRecord({ id: "GHSA-aaaa-bbbb-cccc", aliases: ["MAL-2024-1"] });
  assert.equal(isMalware(aliased), true);
});

test("fixedVersions and aliasesOf", () => {
  assert.deepEqual(fixedVersions(rec("PYSEC-2015-11"), "PyPI", "Django"), ["1.7.11", "1.8.7", "1.9rc2"]);
  assert.deepEqual(fixedVersions(rec("PYSEC-2022-42969"), "PyPI", "py"), []);
  assert.deepEqual(fixedVersions(rec("RSEC-2026-1"), "CRAN", "png"), ["0.1-9"]);
  assert.deepEqual(fixedVersions(rec("RSEC-2026-1"), "CRAN", "other"), []);
  assert.deepEqual(aliasesOf(rec("PYSEC-2023-74")).sort(), ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]);
  assert.ok(aliasesOf(rec("RSEC-2023-0")).includes("CVE-2017-2896")); // from the non-standard `upstream`
});

test("compareVersions: PEP 440 agrees with @renovatebot/pep440 on every pair", () => {
  const versions = [
    "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
    "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0.0", "1.0+abc.5", "1.0+abc.7",
    "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1", "2.31.0rc1", "2.31.0",
    "0.8.0-alpha2", "1.4.7.dev3", "1.6.5-1", "1.0c1", "1.0.post0", "v1.2", "1.0+ABC.5",
  ];
  const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
  const bad: string[] = [];
  for (const a of versions)
    for (const b of versions) {
      const ours = sign(compareVersions("PyPI", a, b));
      const theirs = sign(pep440Compare(a, b));
      if (ours !== theirs) bad.push(`${a} vs ${b}: ours ${ours}, library ${theirs}`);
    }
  assert.deepEqual(bad, []);
  // Non-PEP 440 strings sort below every valid version.
  assert.ok(compareVersions("PyPI", "2019-09-12", "0.0.1") < 0);
  assert.ok(compareVersions("PyPI", "0.0.1", "not-a-version") > 0);
});

test("compareVersions: R package_version order (checked against R 4.2)", () => {
  assert.equal(compareVersions("CRAN", "1.2-3", "1.2.3"), 0);
  assert.equal(compareVersions("CRAN", "1.0", "1.0.0.0"), 0); // package_version("1.0") == package_version("1.0.0.0")
  assert.equal(compareVersions("CRAN", "1.01", "1.1"), 0);
  assert.ok(compareVersions("CRAN", "1.0.1", "1.0") > 0);
  assert.ok(compareVersions("CRAN", "1.2.2", "1.2.2-2") < 0);
  assert.ok(compareVersions("CRAN", "1.10", "1.9") > 0);
  assert.ok(compareVersions("CRAN", "0.1-10", "0.1-9") > 0);
  assert.ok(compareVersions("Bioconductor", "3.18.1", "3.9.2") > 0);
  assert.ok(compareVersions("CRAN", "1.0-beta", "0.0.1") < 0); // invalid R version: below valid ones
});

// ---------------------------------------------------------------------------------------------
// evaluateAdvisories
// ---------------------------------------------------------------------------------------------

test("evaluateAdvisories: one reason per advisory, aliases deduplicated, one line", () => {
  const reasons = evaluateAdvisories(records, "PyPI", "requests", "2.30.0", []);
  assert.deepEqual(reasons, [
    {
      check: "osv",
      verdict: "block",
      id: "PYSEC-2023-74",
      url: "https://osv.dev/vulnerability/PYSEC-2023-74",
      message:
        "PYSEC-2023-74: Unintended leak of Proxy-Authorization header in requests (CVE-2023-32681, GHSA-j8r2-6x86-q33q); fixed in 2.31.0",
    },
  ]);
  assert.deepEqual(evaluateAdvisories(records, "PyPI", "requests", "2.31.0", []), []);
});

test("evaluateAdvisories: several advisories; the nearest fix above the version", () => {
  const reasons = evaluateAdvisories(records, "PyPI", "Django", "1.6.2", []);
  assert.deepEqual(reasons.map((r) => r.id), ["PYSEC-2014-19", "PYSEC-2015-11"]);
  assert.match(reasons[0]!.message, /; fixed in 1\.6\.5$/);
  assert.match(reasons[1]!.message, /; fixed in 1\.7\.11$/);
  for (const r of reasons) assert.ok(!r.message.includes("\n"), "one line");
  // No summary in PYSEC records: the first sentence of the details stands in.
  assert.match(reasons[1]!.message, /^PYSEC-2015-11: .+ \(CVE-2015-8213\); fixed in/);
});

test("evaluateAdvisories: no fix, withdrawn, CRAN", () => {
  const py = evaluateAdvisories(records, "PyPI", "py", "1.11.0", []);
  assert.equal(py.length, 1);
  assert.match(py[0]!.message, /; no fixed version$/);
  assert.deepEqual(evaluateAdvisories(records, "PyPI", "redis", "4.5.4", []), []);
  const png = evaluateAdvisories(records, "CRAN", "png", "0.1-7", []);
  assert.equal(png.length, 1);
  assert.equal(png[0]!.id, "RSEC-2026-1");
  assert.match(png[0]!.message, /; fixed in 0\.1-9$/);
});

test("evaluateAdvisories: ignore by id or alias turns a block into a warning", () => {
  const byAlias = evaluateAdvisories(records, "PyPI", "requests", "2.30.0", [{ id: "CVE-2023-32681", reason: "no proxies in our deployment" }]);
  assert.equal(byAlias.length, 1);
  assert.equal(byAlias[0]!.check, "osv");
  assert.equal(byAlias[0]!.verdict, "warn");
  assert.match(byAlias[0]!.message, /^PYSEC-2023-74: .*; fixed in 2\.31\.0; ignored by policy: no proxies in our deployment$/);
  const byId = evaluateAdvisories(records, "PyPI", "requests", "2.30.0", [{ id: "pysec-2023-74", reason: "accepted" }]);
  assert.equal(byId[0]!.verdict, "warn");
});

test("evaluateAdvisories: malware is always a block, even when ignored", () => {
  const plain = evaluateAdvisories(records, "PyPI", "safepip-fixture-evil", "1.0", []);
  assert.equal(plain.length, 1);
  assert.equal(plain[0]!.check, "malware");
  assert.equal(plain[0]!.verdict, "block");
  assert.equal(plain[0]!.id, "MAL-0000-0001");
  assert.equal(plain[0]!.message, "MAL-0000-0001: Malicious code in safepip-fixture-evil (PyPI); known malicious package");
  const ignored = evaluateAdvisories(records, "PyPI", "safepip-fixture-evil", "1.0", [{ id: "MAL-0000-0001", reason: "trust me" }]);
  assert.equal(ignored[0]!.verdict, "block");
  assert.match(ignored[0]!.message, /does not apply to malware/);
  // Only the compromised release of the hijacked project.
  assert.equal(evaluateAdvisories(records, "PyPI", "Safepip_Fixture_Hijacked", "2.0.1", []).length, 1);
  assert.equal(evaluateAdvisories(records, "PyPI", "safepip-fixture-hijacked", "2.0.2", []).length, 0);
});

test("evaluateAdvisories: malware sorts first and a MAL alias makes the group malware", () => {
  const vuln = toOsvRecord({
    id: "GHSA-test-0000-0001",
    aliases: ["MAL-0000-0003"],
    summary: "Embedded malicious code",
    affected: [{ package: { ecosystem: "PyPI", name: "both" }, ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }] }],
  });
  const cve = toOsvRecord({
    id: "PYSEC-0000-1",
    summary: "A plain bug",
    affected: [{ package: { ecosystem: "PyPI", name: "both" }, ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "9" }] }] }],
  });
  const reasons = evaluateAdvisories([cve, vuln], "PyPI", "both", "1.0", []);
  assert.deepEqual(reasons.map((r) => [r.check, r.id]), [["malware", "GHSA-test-0000-0001"], ["osv", "PYSEC-0000-1"]]);
});
