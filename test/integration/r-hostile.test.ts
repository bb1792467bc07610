/**
 * Real R, issue 13: hostile upstream repositories and tarballs. What is served (or installed
 * directly) must be the package that was judged: a `File:` field in PACKAGES may not point
 * elsewhere, the DESCRIPTION inside a served tarball must name the judged package and version,
 * and a tarball holding DESCRIPTION twice (R installs the last copy) is refused. An internal
 * repository that comes back empty must not hand its names to a public shadow. With
 * directReferences allowed, a URL or file given with repos = NULL is fetched, read (.tar.gz,
 * .tar.xz, .tar.bz2, .zip) and judged before R installs that same copy.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { zipFiles } from "../helpers/zip.js";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { newLib, rEnv, rStr, safePipR as safePip, rscript } from "../helpers/r-run.js";
import { cleanupAll, tempDir } from "../helpers/env.js";
import {
  descriptionText,
  hasRscript,
  installedRPackages,
  makeTarGzEntries,
  rPackageEntries,
  serveStatic,
  type RPackageSpec,
  type StaticRepo,
} from "../helpers/cran.js";

const R_AVAILABLE = await hasRscript();
const ago = (n: number) => new Date(Date.now() - n * 86400e3);

let hostile: StaticRepo;
let policyDir: string;
let files: string;

async function homeWith(policy: Record<string, unknown>): Promise<Record<string, string>> {
  const file = join(tempDir("safe-pip-rpolicy-"), "policy.json");
  writeFileSync(
    file,
    JSON.stringify({
      cran: { repo: hostile.url, internal: [] },
      minAge: "0d",
      osv: { source: "offline", database: join(packageRoot(), "test", "fixtures", "osv", "cran"), maxStaleness: "36500d" },
      deny: ["evil"],
      ...policy,
    }),
  );
  const e = rEnv(tempDir("safe-pip-rhome-"), { SAFE_PIP_CONFIG: file, SAFE_PIP_SYSTEM_POLICY: join(policyDir, "system.json") });
  const setup = await safePip(["setup", "r"], e);
  assert.equal(setup.code, 0, setup.stderr);
  return e;
}

/** A PACKAGES record with a date (as PPM-like indexes carry), so nothing is read from the tarball to judge it. */
function record(p: RPackageSpec, extra = ""): string {
  const lines = descriptionText(p)
    .split("\n")
    .filter((l) => /^(Package|Version|License|Imports|Date\/Publication):/.test(l));
  return lines.join("\n") + (extra ? `\n${extra}` : "") + "\n";
}

describe("R: hostile repositories and tarballs (issue 13)", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  before(async () => {
    const root = tempDir("safe-pip-hostile-");
    const contrib = join(root, "src", "contrib");
    mkdirSync(contrib, { recursive: true });
    const old = ago(300);
    const evil: RPackageSpec = { name: "evil", version: "6.6", published: old, marker: "evil" };
    const spec = (name: string): RPackageSpec => ({ name, version: "1.0", published: old });
    const write = (file: string, entries: Array<[string, string]>) => writeFileSync(join(contrib, file), makeTarGzEntries(entries));
    // A File field pointing at another package's tarball.
    write("evil_6.6.tar.gz", rPackageEntries(evil));
    // The right file name, another package inside.
    write("swapped_1.0.tar.gz", rPackageEntries(evil));
    // DESCRIPTION twice: the first is judged by a reader that stops there, R installs the last.
    write("twice_1.0.tar.gz", [...rPackageEntries(spec("twice")), ["twice/DESCRIPTION", descriptionText({ ...evil, name: "evil" })]]);
    write("good_1.0.tar.gz", rPackageEntries(spec("good")));
    const index = [
      record(spec("filepkg"), "File: evil_6.6.tar.gz"),
      record(spec("swapped")),
      record(spec("twice")),
      record(spec("good")),
    ].join("\n");
    writeFileSync(join(contrib, "PACKAGES"), index);
    writeFileSync(join(contrib, "PACKAGES.gz"), gzipSync(index));
    hostile = await serveStatic(root);

    files = tempDir("safe-pip-rfiles-");
    writeFileSync(join(files, "dup_1.0.tar.gz"), makeTarGzEntries([...rPackageEntries(spec("dup")), ["dup/DESCRIPTION", descriptionText(evil)]]));
    policyDir = tempDir("safe-pip-rpolicy-");
    writeFileSync(join(policyDir, "system.json"), "{}");
  });

  after(async () => {
    await hostile?.close();
    cleanupAll();
  });

  it("a File: field naming another tarball is refused, and that tarball is never fetched", async () => {
    const e = await homeWith({});
    const lib = newLib();
    const r = await rscript(`install.packages("filepkg", lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /filepkg 1\.0: source: .*PACKAGES names the file evil_6\.6\.tar\.gz for filepkg 1\.0; only filepkg_1\.0\.tar\.gz is accepted/);
    assert.deepEqual(installedRPackages(lib), {});
    assert.equal(hostile.requests.filter((q) => q.path.endsWith("/evil_6.6.tar.gz")).length, 0);
  });

  it("a served tarball holding another package than the one judged is refused with the reason", async () => {
    const e = await homeWith({});
    const lib = newLib();
    const r = await rscript(`install.packages("swapped", lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /safe-pip refused swapped_1\.0\.tar\.gz: .*holds evil 6\.6, not swapped 1\.0/);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("a served tarball holding DESCRIPTION twice is refused (R would install the last copy)", async () => {
    const e = await homeWith({});
    const lib = newLib();
    const r = await rscript(`install.packages("twice", lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /safe-pip refused twice_1\.0\.tar\.gz: .*holds twice\/DESCRIPTION twice/);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("an honest tarball still installs through the same check", async () => {
    const e = await homeWith({});
    const lib = newLib();
    const r = await rscript(`install.packages("good", lib = ${rStr(lib)}); library(good, lib.loc = ${rStr(lib)}); cat("F:", f(), "\\n")`, e);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { good: "1.0" });
    assert.match(r.out, /F: good 1\.0/);
  });

  it("a direct tarball holding DESCRIPTION twice is blocked, not judged on the first copy", async () => {
    const e = await homeWith({ directReferences: "allow" });
    const lib = newLib();
    const r = await rscript(`install.packages(${rStr(join(files, "dup_1.0.tar.gz"))}, repos = NULL, lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /dup_1\.0\.tar\.gz.*holds dup\/DESCRIPTION twice/);
    assert.deepEqual(installedRPackages(lib), {});
  });
});

describe("R: internal names stay internal when the internal repository shrinks (issue 13)", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  let internal: StaticRepo;
  let pub: StaticRepo;
  let contrib: string;
  let sysDir: string;
  const old = ago(300);
  const writeIndex = (records: string[]) => {
    const index = records.join("\n");
    writeFileSync(join(contrib, "PACKAGES"), index);
    writeFileSync(join(contrib, "PACKAGES.gz"), gzipSync(index));
  };
  const shadowInternal: RPackageSpec = { name: "shadow", version: "0.4", published: old, marker: "internal shadow" };

  before(async () => {
    const iroot = tempDir("safe-pip-internal-");
    contrib = join(iroot, "src", "contrib");
    mkdirSync(contrib, { recursive: true });
    writeFileSync(join(contrib, "shadow_0.4.tar.gz"), makeTarGzEntries(rPackageEntries(shadowInternal)));
    writeIndex([record(shadowInternal)]);
    internal = await serveStatic(iroot);
    const proot = tempDir("safe-pip-public-");
    const pc = join(proot, "src", "contrib");
    mkdirSync(pc, { recursive: true });
    const shadowPublic: RPackageSpec = { name: "shadow", version: "9.0", published: old, marker: "public shadow" };
    const other: RPackageSpec = { name: "other", version: "1.0", published: old };
    writeFileSync(join(pc, "shadow_9.0.tar.gz"), makeTarGzEntries(rPackageEntries(shadowPublic)));
    writeFileSync(join(pc, "other_1.0.tar.gz"), makeTarGzEntries(rPackageEntries(other)));
    writeFileSync(join(pc, "PACKAGES"), [record(shadowPublic), record(other)].join("\n"));
    pub = await serveStatic(proot);
    sysDir = tempDir("safe-pip-rpolicy-");
    writeFileSync(join(sysDir, "system.json"), "{}");
  });

  after(async () => {
    await Promise.all([internal, pub].map((s) => s?.close()));
    cleanupAll();
  });

  it("an internal repository that comes back empty is an error naming it (credentials redacted); with allowShrink the name stays internal", async () => {
    const h = tempDir("safe-pip-rhome-");
    const iurl = internal.url.replace("http://", "http://user:s3cret@");
    const policyFile = (allowShrink: boolean) => {
      const file = join(tempDir("safe-pip-rpolicy-"), "policy.json");
      const entry = allowShrink ? { url: iurl, allowShrink } : { url: iurl };
      writeFileSync(file, JSON.stringify({ cran: { repo: pub.url, internal: [entry] }, minAge: "0d", osv: { source: "off" } }));
      return rEnv(h, { SAFE_PIP_CONFIG: file, SAFE_PIP_SYSTEM_POLICY: join(sysDir, "system.json"), XDG_STATE_HOME: join(h, "state") });
    };
    const e = policyFile(false);
    assert.equal((await safePip(["setup", "r"], e)).code, 0);
    const load = (lib: string) => `install.packages("shadow", lib = ${rStr(lib)}); library(shadow, lib.loc = ${rStr(lib)}); cat("MARK:", f(), "\\n")`;

    const lib1 = newLib();
    const first = await rscript(load(lib1), e);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /MARK: internal shadow/);

    // The internal repository now answers with an empty index (a broken proxy, a wiped mirror).
    writeIndex([""]);
    const lib2 = newLib();
    const publicBefore = pub.requests.filter((q) => q.path.endsWith("shadow_9.0.tar.gz")).length;
    const second = await rscript(load(lib2), e);
    assert.equal(second.code, 1, second.out);
    assert.match(second.out, /internal repository http:\/\/\S*127\.0\.0\.1:\d+ lists no packages, not even shadow, which it listed before/);
    assert.ok(!second.out.includes("s3cret"), second.out);
    assert.deepEqual(installedRPackages(lib2), {});
    assert.equal(pub.requests.filter((q) => q.path.endsWith("shadow_9.0.tar.gz")).length, publicBefore);

    const check = await safePip(["r", "check", "shadow"], e);
    assert.equal(check.code, 69, check.stderr);
    assert.match(check.stderr, /internal repository \S*127\.0\.0\.1:\d+ lists no packages/);
    assert.ok(!`${check.stdout}${check.stderr}`.includes("s3cret"));

    // allowShrink: no error, but the name seen once is still never served from public.
    const e2 = policyFile(true);
    const third = await rscript(load(lib2), e2);
    assert.equal(third.code, 1, third.out);
    assert.match(third.out, /shadow: internal: reserved for \S*127\.0\.0\.1:\d+; the public 9\.0 is never used for an internal name/);
    assert.deepEqual(installedRPackages(lib2), {});
    const fourth = await rscript(`install.packages("other", lib = ${rStr(lib2)})`, e2);
    assert.equal(fourth.code, 0, fourth.out);
    assert.deepEqual(installedRPackages(lib2), { other: "1.0" });
  });
});

describe("R: direct references are fetched, read and judged when allowed (issue 13)", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  let site: StaticRepo;
  let dir: string;
  let sysDir: string;
  const old = ago(300);
  const evil: RPackageSpec = { name: "evil", version: "6.6", published: old, marker: "evil" };
  const good = (name: string): RPackageSpec => ({ name, version: "1.0", published: old });

  before(async () => {
    const root = tempDir("safe-pip-site-");
    dir = join(root, "files");
    mkdirSync(dir);
    const tgz = (p: RPackageSpec) => makeTarGzEntries(rPackageEntries(p));
    writeFileSync(join(dir, "fromurl_1.0.tar.gz"), tgz(good("fromurl")));
    writeFileSync(join(dir, "nice_1.0.tar.gz"), tgz(evil)); // an innocent name, a denied package inside
    writeFileSync(join(dir, "garbage_1.0.tar.gz"), "<html>not found</html>\n");
    const plain = (p: RPackageSpec, file: string) => writeFileSync(join(dir, file), gunzipSync(tgz(p)));
    plain(evil, "xzpkg_1.0.tar");
    await execa("xz", ["-z", join(dir, "xzpkg_1.0.tar")]);
    plain(good("bzpkg"), "bzpkg_1.0.tar");
    await execa("bzip2", ["-z", join(dir, "bzpkg_1.0.tar")]);
    writeFileSync(join(dir, "zippkg_1.0.zip"), zipFiles(rPackageEntries(evil).map(([name, data]) => ({ name, data }))));
    site = await serveStatic(root);
    sysDir = tempDir("safe-pip-rpolicy-");
    writeFileSync(join(sysDir, "system.json"), "{}");
  });

  after(async () => {
    await site?.close();
    cleanupAll();
  });

  async function allowHome(): Promise<Record<string, string>> {
    const file = join(tempDir("safe-pip-rpolicy-"), "policy.json");
    writeFileSync(file, JSON.stringify({ cran: { repo: site.url, internal: [] }, minAge: "0d", osv: { source: "off" }, deny: ["evil"], directReferences: "allow" }));
    const e = rEnv(tempDir("safe-pip-rhome-"), { SAFE_PIP_CONFIG: file, SAFE_PIP_SYSTEM_POLICY: join(sysDir, "system.json") });
    assert.equal((await safePip(["setup", "r"], e)).code, 0);
    return e;
  }
  const attempt = (what: string, lib: string) =>
    `tryCatch(install.packages(${rStr(what)}, repos = NULL, lib = ${rStr(lib)}), error = function(e) cat("ERR:", conditionMessage(e), "\\n"))`;

  it("a URL is fetched by safe-pip, judged, and R installs that copy (R never fetches it itself)", async () => {
    const e = await allowHome();
    const lib = newLib();
    const r = await rscript(`install.packages(${rStr(`${site.url}/files/fromurl_1.0.tar.gz`)}, repos = NULL, lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { fromurl: "1.0" });
    const hits = site.requests.filter((q) => q.path === "/files/fromurl_1.0.tar.gz");
    assert.equal(hits.length, 1, JSON.stringify(hits));
    assert.equal(hits[0]!.userAgent, "safe-pip", "fetched by safe-pip's HTTP client, not by R");
  });

  it("a URL whose tarball holds a denied package under an innocent name is blocked", async () => {
    const e = await allowHome();
    const lib = newLib();
    const r = await rscript(attempt(`${site.url}/files/nice_1.0.tar.gz`, lib), e);
    assert.match(r.out, /ERR: safe-pip blocked .*nice_1\.0\.tar\.gz; nothing was installed:\n.*evil 6\.6 .*deny/);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("reads .tar.xz, .tar.bz2 and .zip: a denied package inside is blocked, an allowed one installs", async () => {
    const e = await allowHome();
    const lib = newLib();
    const r = await rscript(
      [attempt(join(dir, "xzpkg_1.0.tar.xz"), lib), attempt(join(dir, "zippkg_1.0.zip"), lib), `install.packages(${rStr(join(dir, "bzpkg_1.0.tar.bz2"))}, repos = NULL, lib = ${rStr(lib)})`].join("; "),
      e,
    );
    assert.match(r.out, /ERR: safe-pip blocked .*xzpkg_1\.0\.tar\.xz; nothing was installed:\n.*evil 6\.6 .*deny/);
    assert.match(r.out, /ERR: safe-pip blocked .*zippkg_1\.0\.zip; nothing was installed:\n.*evil 6\.6 .*deny/);
    assert.deepEqual(installedRPackages(lib), { bzpkg: "1.0" });
  });

  it("an archive whose DESCRIPTION cannot be read is blocked, not installed unchecked", async () => {
    const e = await allowHome();
    const lib = newLib();
    const r = await rscript(attempt(`${site.url}/files/garbage_1.0.tar.gz`, lib), e);
    assert.match(r.out, /ERR: safe-pip blocked .*garbage_1\.0\.tar\.gz; nothing was installed:\n.*direct: .*cannot be read as a package archive/);
    assert.doesNotMatch(r.out, /installed unchecked/);
    assert.deepEqual(installedRPackages(lib), {});
  });
});

describe("R: a refused tarball leaves nothing installed", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  let repo: StaticRepo;
  let contrib: string;
  let sysDir: string;
  const old = ago(300);
  const honest = (name: string, version: string): RPackageSpec => ({ name, version, published: old });
  const writeRepo = (packages: Array<[spec: RPackageSpec, entries: Array<[string, string]>]>) => {
    for (const [p, entries] of packages) writeFileSync(join(contrib, `${p.name}_${p.version}.tar.gz`), makeTarGzEntries(entries));
    const index = packages.map(([p]) => record(p)).join("\n");
    writeFileSync(join(contrib, "PACKAGES"), index);
    writeFileSync(join(contrib, "PACKAGES.gz"), gzipSync(index));
  };
  // DESCRIPTION twice: judged as evil 1.0, R would install the last copy (another package).
  const twice = (p: RPackageSpec): Array<[string, string]> => [
    ...rPackageEntries(p),
    [`${p.name}/DESCRIPTION`, descriptionText({ name: "other", version: "9.9", published: old })],
  ];

  before(async () => {
    const root = tempDir("safe-pip-partial-");
    contrib = join(root, "src", "contrib");
    mkdirSync(contrib, { recursive: true });
    repo = await serveStatic(root);
    sysDir = tempDir("safe-pip-rpolicy-");
    writeFileSync(join(sysDir, "system.json"), "{}");
  });

  after(async () => {
    await repo?.close();
    cleanupAll();
  });

  async function home(): Promise<Record<string, string>> {
    const file = join(tempDir("safe-pip-rpolicy-"), "policy.json");
    writeFileSync(file, JSON.stringify({ cran: { repo: repo.url, internal: [] }, minAge: "0d", osv: { source: "off" } }));
    const e = rEnv(tempDir("safe-pip-rhome-"), { SAFE_PIP_CONFIG: file, SAFE_PIP_SYSTEM_POLICY: join(sysDir, "system.json") });
    assert.equal((await safePip(["setup", "r"], e)).code, 0);
    return e;
  }

  it("install.packages(c(clean, evil)) with evil's tarball hostile: an error naming evil's file, and clean is not installed either", async () => {
    const clean = honest("clean", "1.0");
    const evil = honest("evil", "1.0");
    writeRepo([[clean, rPackageEntries(clean)], [evil, twice(evil)]]);
    const e = await home();
    const lib = newLib();
    const r = await rscript(`install.packages(c("clean", "evil"), lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(installedRPackages(lib), {}, r.out);
    assert.match(r.out, /safe-pip refused evil_1\.0\.tar\.gz: .*holds evil\/DESCRIPTION twice/);
    assert.match(r.out, /nothing was installed/);
    // Refused before R's installer ran: R itself asked for no tarball at all.
    assert.doesNotMatch(r.out, /trying URL/);
  });

  it("update.packages() with one updated tarball hostile updates nothing", async () => {
    const e = await home();
    const lib = newLib();
    writeRepo([[honest("upd", "1.0"), rPackageEntries(honest("upd", "1.0"))], [honest("bad", "1.0"), rPackageEntries(honest("bad", "1.0"))]]);
    const first = await rscript(`install.packages(c("upd", "bad"), lib = ${rStr(lib)})`, e);
    assert.equal(first.code, 0, first.out);
    assert.deepEqual(installedRPackages(lib), { bad: "1.0", upd: "1.0" });
    writeRepo([[honest("upd", "2.0"), rPackageEntries(honest("upd", "2.0"))], [honest("bad", "2.0"), twice(honest("bad", "2.0"))]]);
    const r = await rscript(`update.packages(lib.loc = ${rStr(lib)}, ask = FALSE)`, e);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(installedRPackages(lib), { bad: "1.0", upd: "1.0" }, r.out);
    assert.match(r.out, /safe-pip refused bad_2\.0\.tar\.gz: .*holds bad\/DESCRIPTION twice/);
  });
});
