import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildProject } from "../../src/index/project.js";
import { securityFixes, type FixCandidate } from "../../src/index/age-rules.js";
import { statusFromHtml, statusFromJson } from "../../src/index/status.js";
import { parseSimpleJson } from "../../src/index/upstream/simple.js";
import { renderHtml, renderJson } from "../../src/index/render.js";
import { PASS_ALL, type ReleaseChecker } from "../../src/checks/release.js";
import type { Reason } from "../../src/checks/types.js";
import { DEFAULT_POLICY, parseLayer, type Policy } from "../../src/policy/schema.js";
import { mergeLayers, resolvePolicy } from "../../src/policy/merge.js";
import { loadPolicy } from "../../src/policy/load.js";
import { HttpClient } from "../../src/core/http.js";
import { buildLock } from "../../src/report/lock.js";
import { buildSbom, purl } from "../../src/report/sbom.js";
import type { ReportItem } from "../../src/pip/report.js";
import { writePolicy } from "../helpers/cli.js";
import { cleanupAll } from "../helpers/env.js";
import { after } from "node:test";

after(cleanupAll);

const now = new Date("2025-01-10T00:00:00Z");
const http = new HttpClient({ timeoutMs: 1000, maxBytes: 1000 });
const file = (filename: string, uploadTime?: string) => ({ filename, url: `https://u/${filename}`, hashes: { sha256: "00" }, uploadTime });
const routed = (name: string, files: ReturnType<typeof file>[], status?: { status: string; reason?: string }) => ({
  route: { source: "public" as const, indexUrl: "https://idx/simple/", why: "public" },
  page: { name, files, url: `https://idx/simple/${name}/`, status },
});
const policy = (layer: Record<string, unknown>): Policy => resolvePolicy(parseLayer(layer).layer);

/** A checker whose OSV verdicts are given per version. */
function osvChecker(byVersion: Record<string, Reason[]>): ReleaseChecker {
  return { checkName: () => [], checkReleases: async (rs) => new Map(rs.map((r) => [r.version, byVersion[r.version] ?? []])) };
}
const vuln = (id: string): Reason => ({ check: "osv", verdict: "block", id, message: `${id}: bad` });

describe("minAgeExclude", () => {
  it("parses entries and rejects ones without expiry, reason or with unknown keys", () => {
    const p = policy({ minAgeExclude: [{ name: "acme-*", expires: "2027-01-31", reason: "our own", minAge: "1d" }] });
    assert.deepEqual(p.minAgeExclude, [{ name: "acme-*", expires: "2027-01-31", reason: "our own", minAgeMs: 86400e3 }]);
    assert.throws(() => parseLayer({ minAgeExclude: [{ name: "x", reason: "r" }] }), /must be a non-empty string/);
    assert.throws(() => parseLayer({ minAgeExclude: [{ name: "x", expires: "soon", reason: "r" }] }), /is not a date/);
    assert.throws(() => parseLayer({ minAgeExclude: [{ name: "x", expires: "2027-01-01" }] }), (e: Error & { key?: string }) => e.key === "minAgeExclude[0].reason");
    assert.throws(() => parseLayer({ minAgeExclude: [{ name: "x", expires: "2027-01-01", reason: "r", until: 1 }] }), /is not a known key/);
    assert.throws(() => parseLayer({ ageSecurityFixes: "maybe" }), /must be one of/);
    assert.equal(DEFAULT_POLICY.ageSecurityFixes, "allow");
  });

  it("exempts matching names (fully, or to a shorter minAge) and says so in the reasons", async () => {
    const files = [file("acme_lib-1.0-py3-none-any.whl", "2024-12-01T00:00:00Z"), file("acme_lib-2.0-py3-none-any.whl", "2025-01-08T00:00:00Z")];
    const full = await buildProject("acme-lib", routed("acme-lib", files), { policy: policy({ minAgeExclude: [{ name: "ACME_*", expires: "2027-01-31", reason: "vendored" }] }), http, checker: PASS_ALL, now });
    assert.equal(full.files.length, 2);
    const v2 = full.decision.versions.find((v) => v.version === "2.0")!;
    assert.equal(v2.reasons[0]!.verdict, "warn");
    assert.match(v2.reasons[0]!.message, /uploaded 2 days ago, younger than minAge 7d: allowed by minAgeExclude "ACME_\*" \(exempt until 2027-01-31: vendored\)/);

    const shorter = await buildProject("acme-lib", routed("acme-lib", files), { policy: policy({ minAgeExclude: [{ name: "acme-lib", expires: "2027-01-31", reason: "fast track", minAge: "3d" }] }), http, checker: PASS_ALL, now });
    assert.equal(shorter.files.length, 1);
    const held = shorter.decision.versions.find((v) => v.version === "2.0")!;
    assert.match(held.reasons[0]!.message, /uploaded 2 days ago \(minimum age 3d\), under minAgeExclude "acme-lib" \(minimum age 3d until 2027-01-31: fast track\)/);

    const other = await buildProject("other", routed("other", [file("other-2.0-py3-none-any.whl", "2025-01-08T00:00:00Z")]), { policy: policy({ minAgeExclude: [{ name: "acme-*", expires: "2027-01-31", reason: "x" }] }), http, checker: PASS_ALL, now });
    assert.equal(other.files.length, 0);
  });

  it("an expired entry no longer applies, and loading the policy says so once", async () => {
    const p = policy({ minAgeExclude: [{ name: "acme-*", expires: "2025-01-01", reason: "x" }] });
    const served = await buildProject("acme-lib", routed("acme-lib", [file("acme_lib-2.0-py3-none-any.whl", "2025-01-08T00:00:00Z")]), { policy: p, http, checker: PASS_ALL, now });
    assert.equal(served.files.length, 0);
    const loaded = loadPolicy({ SAFE_PIP_CONFIG: writePolicy({ minAgeExclude: [{ name: "acme-*", expires: "2020-01-01", reason: "x" }] }), SAFE_PIP_SYSTEM_POLICY: writePolicy({}) });
    assert.deepEqual(loaded.warnings.filter((w) => /expired/.test(w)), ['minAgeExclude entry "acme-*" expired on 2020-01-01 and no longer applies']);
  });

  it("the snapshot still applies to an exempt project", async () => {
    const p = policy({ snapshot: "2025-01-01", minAgeExclude: [{ name: "acme-*", expires: "2027-01-31", reason: "x" }] });
    const served = await buildProject("acme-lib", routed("acme-lib", [file("acme_lib-2.0-py3-none-any.whl", "2025-01-08T00:00:00Z")]), { policy: p, http, checker: PASS_ALL, now });
    assert.equal(served.files.length, 0);
    assert.match(served.decision.versions[0]!.reasons[0]!.message, /after the snapshot cutoff/);
  });

  it("a user's exemptions are ignored when the system policy sets minAge or minAgeExclude", () => {
    const user = parseLayer({ minAgeExclude: [{ name: "*", expires: "2099-01-01", reason: "I'm in a hurry" }] }).layer;
    const warnings: string[] = [];
    assert.equal(mergeLayers(parseLayer({ minAge: "7d" }).layer, user, warnings).minAgeExclude, undefined);
    assert.match(warnings[0]!, /the user's "minAgeExclude" entries are ignored/);
    const sys = parseLayer({ minAgeExclude: [{ name: "acme-*", expires: "2099-01-01", reason: "ours" }] }).layer;
    assert.deepEqual(mergeLayers(sys, user, []).minAgeExclude, sys.minAgeExclude);
    assert.deepEqual(mergeLayers({}, user, []).minAgeExclude, user.minAgeExclude);
    assert.equal(mergeLayers(parseLayer({ ageSecurityFixes: "block" }).layer, parseLayer({ ageSecurityFixes: "allow" }).layer, []).ageSecurityFixes, "block");
  });
});

describe("security-fix exemption", () => {
  const page = [
    file("lib-1.0-py3-none-any.whl", "2024-06-01T00:00:00Z"),
    file("lib-1.1-py3-none-any.whl", "2024-09-01T00:00:00Z"),
    file("lib-1.2-py3-none-any.whl", "2025-01-08T00:00:00Z"),
    file("lib-1.3-py3-none-any.whl", "2025-01-09T00:00:00Z"),
  ];

  it("offers the young release that fixes an advisory affecting every older one, and only that one", async () => {
    const checker = osvChecker({ "1.0": [vuln("PYSEC-2025-1")], "1.1": [vuln("PYSEC-2025-1")] });
    const served = await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker, now });
    assert.deepEqual(served.files.map((f) => f.filename), ["lib-1.2-py3-none-any.whl"]);
    const v = served.decision.versions.find((x) => x.version === "1.2")!;
    assert.equal(v.served, true);
    assert.match(v.reasons[0]!.message, /using 1\.2 although uploaded 2 days ago \(minimum age 7d\): fixes PYSEC-2025-1 which affects every older release/);
    assert.equal(served.decision.versions.find((x) => x.version === "1.3")!.served, false);
  });

  it("does not apply when an older release is clean, is malware-only, under a snapshot, or when turned off", async () => {
    const clean = await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker: osvChecker({ "1.0": [vuln("PYSEC-2025-1")] }), now });
    assert.deepEqual(clean.files.map((f) => f.filename), ["lib-1.1-py3-none-any.whl"]);
    const mal: Reason = { check: "malware", verdict: "block", id: "MAL-2025-1", message: "malicious" };
    const malware = await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker: osvChecker({ "1.0": [mal], "1.1": [mal] }), now });
    assert.equal(malware.files.length, 0);
    const both = osvChecker({ "1.0": [vuln("PYSEC-2025-1")], "1.1": [vuln("PYSEC-2025-1")] });
    const off = await buildProject("lib", routed("lib", page), { policy: { ...DEFAULT_POLICY, ageSecurityFixes: "block" }, http, checker: both, now });
    assert.equal(off.files.length, 0);
    const snap = await buildProject("lib", routed("lib", page), { policy: { ...DEFAULT_POLICY, snapshot: new Date("2025-01-01T00:00:00Z") }, http, checker: both, now });
    assert.equal(snap.files.length, 0);
    const vulnerableFix = await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker: osvChecker({ "1.0": [vuln("A")], "1.1": [vuln("A")], "1.2": [vuln("A")], "1.3": [vuln("A")] }), now });
    assert.equal(vulnerableFix.files.length, 0);
  });

  it("asks OSV about young releases only when every older one is already blocked by an advisory", async () => {
    const asked: string[][] = [];
    const counting = (byVersion: Record<string, Reason[]>): ReleaseChecker => ({
      checkName: () => [],
      checkReleases: async (rs) => (asked.push(rs.map((r) => r.version)), new Map(rs.map((r) => [r.version, byVersion[r.version] ?? []]))),
    });
    await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker: counting({ "1.0": [vuln("A")] }), now });
    assert.deepEqual(asked, [["1.0", "1.1"]]);
    asked.length = 0;
    await buildProject("lib", routed("lib", page), { policy: DEFAULT_POLICY, http, checker: counting({ "1.0": [vuln("A")], "1.1": [vuln("A")] }), now });
    assert.deepEqual(asked, [["1.0", "1.1"], ["1.2", "1.3"]]);
  });

  it("securityFixes needs an older release and names several advisories when none affects all", () => {
    const c = (version: string, checks: Reason[], youngOnly = false): FixCandidate => ({ version, yanked: false, youngOnly, served: !youngOnly, checks, uploadTime: "2025-01-09T00:00:00Z" });
    assert.equal(securityFixes([c("1.0", [], true)], 7 * 86400e3, now).size, 0);
    const r = securityFixes([c("1.0", [vuln("B")]), c("1.1", [vuln("A")]), c("2.0", [], true)], 7 * 86400e3, now);
    assert.match(r.get("2.0")!.message, /fixes A, B; every older release has one of them/);
  });
});

describe("PEP 792 project status", () => {
  it("reads the status from JSON (top level or meta) and HTML meta tags", () => {
    assert.deepEqual(statusFromJson({ "project-status": { status: "Quarantined", reason: "malware\nfound" } }), { status: "quarantined", reason: "malware found" });
    assert.deepEqual(statusFromJson({ meta: { "api-version": "1.4", "project-status": "archived" } }), { status: "archived" });
    assert.equal(statusFromJson({ meta: {} }), undefined);
    const page = parseSimpleJson(JSON.stringify({ meta: { "api-version": "1.4" }, name: "x", files: [], "project-status": { status: "deprecated" } }), "https://i/simple/x/", "x");
    assert.deepEqual(page.status, { status: "deprecated" });
    assert.deepEqual(statusFromHtml(`<html><head><meta content="archived" name="pypi:project-status"><meta name='pypi:project-status-reason' content='use y &amp; z'></head></html>`), { status: "archived", reason: "use y & z" });
    assert.equal(statusFromHtml(`<html><meta name="pypi:repository-version" content="1.4"></html>`), undefined);
  });

  it("quarantined blocks the project; archived and deprecated warn; the status is passed through", async () => {
    const files = [file("x-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z")];
    const q = await buildProject("x", routed("x", files, { status: "quarantined", reason: "malware" }), { policy: DEFAULT_POLICY, http, checker: PASS_ALL, now });
    assert.equal(q.decision.status, "blocked");
    assert.equal(q.files.length, 0);
    assert.match(q.decision.nameReasons[0]!.message, /quarantined this project \(PEP 792\): malware/);
    const a = await buildProject("x", routed("x", files, { status: "archived" }), { policy: DEFAULT_POLICY, http, checker: PASS_ALL, now });
    assert.equal(a.files.length, 1);
    assert.equal(a.decision.nameReasons[0]!.verdict, "warn");
    assert.equal((JSON.parse(renderJson("x", a.files, ["1.0"], a.decision.projectStatus)) as Record<string, unknown>)["project-status"] !== undefined, true);
    assert.match(renderHtml("x", a.files, { status: "archived", reason: "<gone>" }), /<meta name="pypi:project-status" content="archived">\n\s*<meta name="pypi:project-status-reason" content="&lt;gone&gt;">/);
  });
});

describe("per-run snapshot from the environment", () => {
  it("SAFE_PIP_SNAPSHOT tightens but never loosens the system snapshot, and a bad value is a config error", () => {
    const sys = writePolicy({ snapshot: "2024-06-01" });
    const tighter = loadPolicy({ SAFE_PIP_SYSTEM_POLICY: sys, SAFE_PIP_CONFIG: writePolicy({}), SAFE_PIP_SNAPSHOT: "2024-05-01" });
    assert.equal(tighter.policy.snapshot!.toISOString(), "2024-05-02T00:00:00.000Z");
    const looser = loadPolicy({ SAFE_PIP_SYSTEM_POLICY: sys, SAFE_PIP_CONFIG: writePolicy({}), SAFE_PIP_SNAPSHOT: "2025-01-01" });
    assert.equal(looser.policy.snapshot!.toISOString(), "2024-06-02T00:00:00.000Z");
    assert.throws(() => loadPolicy({ SAFE_PIP_SYSTEM_POLICY: sys, SAFE_PIP_SNAPSHOT: "yesterday" }), (e: Error & { exitCode?: number }) => /SAFE_PIP_SNAPSHOT: "yesterday" is not a date/.test(e.message) && e.exitCode === 78);
  });
});

describe("lock and SBOM documents", () => {
  const item = (name: string, version: string, extra: Partial<ReportItem> = {}): ReportItem => ({
    name, version, url: `http://127.0.0.1/files/${name}`, sha256: "ab".repeat(32), isDirect: false, editable: false, localDir: false, requested: true, requires: [], licenseText: "", ...extra,
  });

  it("the lock pins every index package with its hash and lists what it cannot pin", () => {
    const text = buildLock([item("zeta", "1.0"), item("alpha", "2.0+local"), item("mine", "0.1", { localDir: true, sha256: undefined })], ["header"]);
    assert.equal(text, `# header\nalpha==2.0+local \\\n    --hash=sha256:${"ab".repeat(32)}\nzeta==1.0 \\\n    --hash=sha256:${"ab".repeat(32)}\n# not locked (local project): mine 0.1\n`);
  });

  it("the SBOM is CycloneDX with purls, hashes, licences, the index and dependencies", () => {
    const bom = buildSbom(
      [
        { item: item("my-pkg", "1.0+x", { requires: ["dep>=1", "extra-only; extra == 'test'"] }), source: "public", index: "https://pypi.example/simple/", metadata: "Metadata-Version: 2.4\nLicense-Expression: MIT\n\n" },
        { item: item("dep", "2.0", { licenseText: "License: BSD" }), source: "internal" },
      ],
      { version: "9.9" },
    ) as { bomFormat: string; specVersion: string; components: Array<Record<string, unknown>>; dependencies: unknown[]; metadata: { tools: { components: Array<{ name: string }> } } };
    assert.equal(bom.bomFormat, "CycloneDX");
    assert.equal(bom.specVersion, "1.5");
    assert.equal(bom.metadata.tools.components[0]!.name, "safe-pip");
    assert.equal(purl("My_Pkg", "1.0+x"), "pkg:pypi/my-pkg@1.0%2Bx");
    assert.equal(bom.components[0]!.purl, "pkg:pypi/my-pkg@1.0%2Bx");
    assert.deepEqual(bom.components[0]!.licenses, [{ expression: "MIT" }]);
    assert.deepEqual(bom.components[0]!.hashes, [{ alg: "SHA-256", content: "ab".repeat(32) }]);
    assert.deepEqual(bom.components[0]!.externalReferences, [{ type: "distribution", url: "https://pypi.example/simple/" }]);
    assert.deepEqual(bom.components[1]!.licenses, [{ license: { name: "BSD-3-Clause" } }]);
    assert.deepEqual(bom.dependencies[0], { ref: "pkg:pypi/my-pkg@1.0%2Bx", dependsOn: ["pkg:pypi/dep@2.0"] });
  });
});
