import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SafePipError } from "../../src/core/errors.js";
import { PASS_ALL, type ReleaseChecker } from "../../src/checks/release.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import type { PolicyLayer } from "../../src/policy/schema.js";
import { dependencyMode } from "../../src/r/deps.js";
import { UnifiedRepository } from "../../src/r/repository.js";
import { resolutionMessages } from "../../src/r/report.js";
import { makeFakeCranDir, serveStatic, repositorySuite, type RPackageSpec, type StaticRepo } from "../helpers/cran.js";

const NOW = Date.parse("2026-03-17T12:00:00Z");
const daysAgo = (n: number) => new Date(NOW - n * 86400e3);
const pkg = (name: string, version: string, age: number | undefined, extra: Partial<RPackageSpec> = {}): RPackageSpec => ({
  name,
  version,
  published: age === undefined ? undefined : daysAgo(age),
  ...extra,
});

const { servers, http } = repositorySuite();

async function serve(spec: Parameters<typeof makeFakeCranDir>[0], prefix = ""): Promise<StaticRepo> {
  const s = await serveStatic(makeFakeCranDir(spec), prefix);
  servers.push(s);
  return s;
}

function repository(layer: PolicyLayer, checker: ReleaseChecker = PASS_ALL): UnifiedRepository {
  const policy = resolvePolicy({ minAgeMs: 7 * 86400e3, ...layer });
  return new UnifiedRepository({ policy, checker, http, now: () => NOW });
}

const install = (pkgs: string[], dependencies = "NA") => ({ pkgs, dependencies: dependencyMode(dependencies), strict: true });

/** A checker that blocks listed `name@version`s (an advisory) and whole names (a deny entry). */
function blockingChecker(versions: Record<string, string>, names: string[] = []): ReleaseChecker {
  return {
    checkName: (_e, name) => (names.includes(name) ? [{ check: "deny", verdict: "block", message: `denied by policy (${name})` }] : []),
    checkReleases: async (releases) =>
      new Map(
        releases.map((r) => [
          r.version,
          versions[`${r.name}@${r.version}`]
            ? [{ check: "osv", verdict: "block", id: versions[`${r.name}@${r.version}`], message: `${versions[`${r.name}@${r.version}`]}: test advisory` }]
            : [],
        ]),
      ),
  };
}

describe("R repository filtering", () => {
  it("serves the internal copy of a name even when the public one has a higher version", async () => {
    const pub = await serve({ current: [pkg("beta", "0.5", 400), pkg("acme.tools", "9.9", 400)] });
    const internal = await serve({ current: [pkg("beta", "0.4", undefined)] });
    const repo = repository({ cran: { repo: pub.url, internal: [{ url: internal.url, packages: ["acme*"] }] } });

    const beta = await repo.resolve(install(["beta"]));
    assert.equal(beta.resolution.blocked, false);
    const o = beta.resolution.outcomes[0]!;
    assert.equal(o.chosen?.version, "0.4");
    assert.equal(o.chosen?.repo.source, "internal");
    const hidden = o.decisions.find((d) => d.source === "public");
    assert.equal(hidden?.version, "0.5");
    assert.equal(hidden?.reasons[0]?.check, "internal");
    assert.match(resolutionMessages(beta).notes.join("\n"), /beta: using internal 0\.4 .* public 0\.5 ignored/);

    // A reserved pattern no internal repository serves: the public package is never a stand-in.
    const acme = await repo.resolve(install(["acme.tools"]));
    assert.equal(acme.resolution.blocked, true);
    assert.equal(acme.served.size, 0);
    assert.match(resolutionMessages(acme).blocks.join("\n"), /acme\.tools: internal: .*public 9\.9 is never used/);
  });

  it("holds back a too-young release and serves the newest old-enough one from Archive/", async () => {
    // CRAN's PACKAGES has no dates: they come from each tarball's DESCRIPTION.
    const pub = await serve({ current: [pkg("alpha", "2.0", 1)], archive: [pkg("alpha", "1.5", 3), pkg("alpha", "1.0", 400)] });
    const repo = repository({ cran: { repo: pub.url, internal: [] } });
    const r = await repo.resolve(install(["alpha"]));
    const o = r.resolution.outcomes[0]!;
    assert.equal(o.chosen?.version, "1.0");
    assert.equal(o.chosen?.path, "Archive/alpha");
    assert.deepEqual(
      o.decisions.map((d) => [d.version, d.verdict, d.reasons[0]?.check]),
      [
        ["2.0", "block", "age"],
        ["1.5", "block", "age"],
        ["1.0", "allow", undefined],
      ],
    );
    assert.match(resolutionMessages(r).held[0]!.text, /alpha 2\.0 held back: age: published 1 day ago \(minimum age 7d\); using 1\.0 from the archive/);
    assert.deepEqual(repo.packagesIndex(r.served), [{ Package: "alpha", Version: "1.0", License: "MIT", Path: "Archive/alpha" }]);
  });

  it("uses Date/Publication from PACKAGES when the index carries it, without opening tarballs", async () => {
    const pub = await serve({ current: [pkg("alpha", "2.0", 30)], datesInIndex: true });
    const repo = repository({ cran: { repo: pub.url, internal: [] } });
    const r = await repo.resolve(install(["alpha"]));
    assert.equal(r.resolution.outcomes[0]?.chosen?.version, "2.0");
    assert.ok(!pub.requests.some((q) => q.path.endsWith(".tar.gz")), JSON.stringify(pub.requests));
  });

  it("follows unknownAge for releases with no publication date; internal ones are exempt by default", async () => {
    const pub = await serve({ current: [pkg("nodate", "1.0", undefined)] });
    const internal = await serve({ current: [pkg("inhouse", "1.0", undefined)] });
    const cran = { repo: pub.url, internal: [{ url: internal.url, packages: [] }] };
    const strict = await repository({ cran }).resolve(install(["nodate", "inhouse"]));
    assert.equal(strict.resolution.blocked, true);
    assert.match(resolutionMessages(strict).blocks.join("\n"), /nodate 1\.0: age: publication date unknown/);
    assert.equal(strict.resolution.outcomes.find((o) => o.name === "inhouse")?.status, "ok");

    const lax = await repository({ cran, unknownAge: "allow" }).resolve(install(["nodate"]));
    assert.equal(lax.resolution.outcomes[0]?.status, "ok");
    assert.match(resolutionMessages(lax).notes.join("\n"), /nodate 1\.0: age: publication date unknown/);

    const enforced = await repository({ cran, internalAge: "enforce" }).resolve(install(["inhouse"]));
    assert.equal(enforced.resolution.blocked, true);
  });

  it("hides a version the release checker blocks, reports it, and falls back to an older one", async () => {
    const pub = await serve({ current: [pkg("omega", "2.0", 300)], archive: [pkg("omega", "1.0", 500)] });
    const repo = repository({ cran: { repo: pub.url, internal: [] } }, blockingChecker({ "omega@2.0": "RSEC-TEST-1" }));
    const r = await repo.resolve(install(["omega"]));
    const o = r.resolution.outcomes[0]!;
    assert.equal(o.chosen?.version, "1.0");
    assert.equal(o.decisions[0]?.verdict, "block");
    assert.equal(o.decisions[0]?.reasons[0]?.id, "RSEC-TEST-1");
    assert.match(resolutionMessages(r).held[0]!.text, /omega 2\.0 held back: osv: RSEC-TEST-1: test advisory; using 1\.0/);
    assert.equal(repo.tarball(r.served, "omega_2.0.tar.gz"), undefined, "the blocked tarball is not downloadable");
    assert.ok(repo.tarball(r.served, "omega_1.0.tar.gz"));
  });

  it("does not open archived tarballs of versions the checks block anyway", async () => {
    const pub = await serve({ current: [pkg("widget", "3.0", 300)], archive: [pkg("widget", "2.0", 400), pkg("widget", "1.0", 500)] });
    const repo = repository(
      { cran: { repo: pub.url, internal: [] } },
      blockingChecker({ "widget@3.0": "RSEC-X", "widget@2.0": "RSEC-X", "widget@1.0": "RSEC-X" }),
    );
    const r = await repo.resolve(install(["widget"]));
    assert.equal(r.resolution.blocked, true);
    assert.ok(!pub.requests.some((q) => q.path.includes("/Archive/widget/widget_")), JSON.stringify(pub.requests.map((q) => q.path)));
    assert.match(resolutionMessages(r).blocks.join("\n"), /widget 3\.0: osv: RSEC-X/);
  });

  it("applies the policy's licence rules to CRAN's License field", async () => {
    const pub = await serve({
      current: [
        pkg("gplpkg", "2.0", 300, { license: "GPL-3" }),
        pkg("mitpkg", "1.0", 300, { license: "MIT + file LICENSE" }),
        pkg("either", "1.0", 300, { license: "GPL-3 | MIT + file LICENSE" }),
      ],
      archive: [pkg("gplpkg", "1.0", 400, { license: "GPL-2" })],
    });
    const repo = repository({ cran: { repo: pub.url, internal: [] }, licenses: { deny: ["GPL-3*"] } });
    const r = await repo.resolve(install(["gplpkg", "mitpkg", "either"]));
    const chosen = Object.fromEntries(r.resolution.outcomes.map((o) => [o.name, o.chosen?.version]));
    assert.deepEqual(chosen, { gplpkg: "1.0", mitpkg: "1.0", either: "1.0" });
    assert.match(resolutionMessages(r).held[0]!.text, /gplpkg 2\.0 held back: license: licence GPL-3\.0-only \(from License\) is not allowed by policy; using 1\.0 from the archive/);
  });

  it("blocks the install when a dependency pulled in transitively is denied", async () => {
    const pub = await serve({
      current: [pkg("gamma", "1.0", 300, { imports: "mid" }), pkg("mid", "1.0", 300, { imports: "delta (>= 0.5)" }), pkg("delta", "1.0", 300)],
    });
    const repo = repository({ cran: { repo: pub.url, internal: [] } }, blockingChecker({}, ["delta"]));
    const r = await repo.resolve(install(["gamma"]));
    assert.equal(r.resolution.blocked, true);
    assert.equal(r.served.size, 0, "nothing of a blocked install is served");
    const blocks = resolutionMessages(r).blocks.join("\n");
    assert.match(blocks, /delta: deny: denied by policy \(delta\) \(needed by mid 1\.0\)/);
    assert.match(blocks, /mid 1\.0: needs delta, which is blocked/);
    assert.match(blocks, /gamma 1\.0: needs mid, which is blocked/);

    // update.packages goes ahead without them instead.
    const u = await repo.resolve({ ...install(["gamma", "alpha0"]), strict: false });
    assert.equal(u.resolution.blocked, false);
    assert.equal(u.served.size, 0);
  });

  it("lets version requirements steer the choice, and says when the policy cannot meet one", async () => {
    const pub = await serve({
      current: [pkg("alpha", "2.0", 1), pkg("theta", "1.0", 300, { imports: "alpha (>= 2.0)" }), pkg("iota", "1.0", 300, { imports: "alpha (< 2.0)" })],
      archive: [pkg("alpha", "1.0", 400)],
    });
    const repo = repository({ cran: { repo: pub.url, internal: [] } });
    const theta = await repo.resolve(install(["theta"]));
    assert.equal(theta.resolution.blocked, true);
    const blocks = resolutionMessages(theta).blocks.join("\n");
    assert.match(blocks, /alpha 2\.0: age: published 1 day ago/);
    assert.match(blocks, /alpha: theta 1\.0 needs alpha \(>= 2\.0\)/);
    assert.equal(theta.served.size, 0);

    const iota = await repository({ cran: { repo: pub.url, internal: [] }, minAgeMs: 0 }).resolve(install(["iota"]));
    assert.equal(iota.resolution.outcomes.find((o) => o.name === "alpha")?.chosen?.version, "1.0");
  });

  it("follows Suggests only for requested packages with dependencies = TRUE, and skips base and recommended packages", async () => {
    const pub = await serve({
      current: [
        pkg("kappa", "1.0", 300, { imports: "methods, Matrix, lambda", suggests: "mu" }),
        pkg("lambda", "1.0", 300, { suggests: "nu" }),
        pkg("mu", "1.0", 300),
        pkg("nu", "1.0", 300),
      ],
    });
    const repo = repository({ cran: { repo: pub.url, internal: [] } });
    const names = async (deps: string) => (await repo.resolve(install(["kappa"], deps))).resolution.outcomes.map((o) => o.name).sort();
    assert.deepEqual(await names("NA"), ["kappa", "lambda"]);
    assert.deepEqual(await names("TRUE"), ["kappa", "lambda", "mu"]);
    assert.deepEqual(await names("FALSE"), ["kappa"]);
  });

  it("takes public packages from the dated snapshot of today minus minAge", async () => {
    // now = 2026-03-17T12:00Z, minAge 7d → cutoff 2026-03-10T12:00Z → the last whole day is 03-09.
    const snap = await serve({ current: [pkg("fresh", "1.0", 1)] }, "/cran/2026-03-09");
    const template = snap.url.replace("2026-03-09", "{date}");
    const repo = repository({ cran: { repo: "https://cloud.r-project.org", internal: [], snapshot: template } });
    assert.equal(repo.snapshotDate, "2026-03-09");
    const r = await repo.resolve(install(["fresh"]));
    assert.equal(r.resolution.outcomes[0]?.chosen?.version, "1.0", "the snapshot vouches for the age");

    const older = repository({ cran: { repo: "https://cloud.r-project.org", internal: [], snapshot: template }, snapshot: new Date("2026-03-01T00:00:00Z") });
    assert.equal(older.snapshotDate, "2026-02-28");
  });

  it("fails closed, naming the upstream without its credentials, when an index is unreachable or unreadable", async () => {
    const down = repository({ cran: { repo: "http://user:s3cret@127.0.0.1:1", internal: [] } });
    await assert.rejects(down.resolve(install(["alpha"])), (err: unknown) => {
      assert.ok(err instanceof SafePipError);
      assert.equal(err.code, "UNAVAILABLE");
      assert.ok(!err.message.includes("s3cret"), err.message);
      assert.match(err.message, /127\.0\.0\.1:1/);
      return true;
    });
    const html = await serve({ current: [], rawIndex: "<html><body>Welcome to our proxy</body></html>\n" });
    await assert.rejects(repository({ cran: { repo: html.url, internal: [] } }).resolve(install(["alpha"])), /not a valid PACKAGES index/);
  });

  it("lists binaries only of exactly the allowed version, from the same repository", async () => {
    const dir = "bin/windows/contrib/4.2";
    const pub = await serve({
      current: [pkg("epsilon", "1.0", 300), pkg("zeta", "1.1", 300)],
      binaries: { [dir]: [pkg("epsilon", "1.0", 300), pkg("zeta", "1.0", 300)] },
    });
    const repo = repository({ cran: { repo: pub.url, internal: [] } });
    const r = await repo.resolve(install(["epsilon", "zeta"]));
    const bin = await repo.binaryIndex(r.served, dir);
    assert.deepEqual(bin.records, [{ Package: "epsilon", Version: "1.0", File: "epsilon_1.0.zip" }]);
    assert.deepEqual([...bin.files.keys()], ["epsilon_1.0.zip"]);
    assert.deepEqual((await repo.binaryIndex(r.served, "bin/macosx/contrib/4.2")).records, []);
  });
});
