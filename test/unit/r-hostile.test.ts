/** Hostile upstream indexes, without R: a `File:` field naming another archive is never used. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { PASS_ALL } from "../../src/checks/release.js";
import { resolvePolicy } from "../../src/policy/merge.js";
import { dependencyMode } from "../../src/r/deps.js";
import { UnifiedRepository } from "../../src/r/repository.js";
import { readFileFromTarGz } from "../../src/r/tar.js";
import { archiveDescription } from "../../src/r/verify.js";
import { execa } from "execa";
import { gunzipSync } from "node:zlib";
import { makeFakeCranDir, makeTarGz, makeTarGzEntries, serveStatic, repositorySuite } from "../helpers/cran.js";
import { tempDir } from "../helpers/env.js";
import { zipFiles } from "../helpers/zip.js";

const NOW = Date.parse("2026-03-17T12:00:00Z");
const old = new Date(NOW - 300 * 86400e3);
const { servers, http } = repositorySuite();

const install = (pkgs: string[]) => ({ pkgs, dependencies: dependencyMode("NA"), strict: true });

describe("R: hostile upstream indexes", () => {
  it("a PACKAGES File naming another tarball blocks that release with the reason", async () => {
    const rawIndex = "Package: alpha\nVersion: 1.0\nLicense: MIT\nDate/Publication: 2025-01-01 00:00:00 UTC\nFile: ../../evil_6.6.tar.gz\n";
    const s = await serveStatic(makeFakeCranDir({ current: [{ name: "alpha", version: "1.0", published: old }], rawIndex }));
    servers.push(s);
    const repo = new UnifiedRepository({ policy: resolvePolicy({ minAgeMs: 0, cran: { repo: s.url, internal: [] } }), checker: PASS_ALL, http, now: () => NOW });
    const r = await repo.resolve(install(["alpha"]));
    assert.equal(r.resolution.blocked, true);
    assert.match(r.resolution.outcomes[0]!.problems.join("\n"), /alpha 1\.0: source: .*PACKAGES names the file \.\.\/\.\.\/evil_6\.6\.tar\.gz for alpha 1\.0; only alpha_1\.0\.tar\.gz is accepted/);
    assert.equal(r.served.size, 0);
  });

  it("a binary index File naming another archive is not listed (R falls back to the checked source)", async () => {
    const dir = "bin/macosx/contrib/4.2";
    const root = makeFakeCranDir({ current: [{ name: "alpha", version: "1.0", published: old }], binaries: { [dir]: [{ name: "alpha", version: "1.0" }] } });
    writeFileSync(join(root, dir, "PACKAGES"), "Package: alpha\nVersion: 1.0\nFile: evil_6.6.tgz\n");
    const s = await serveStatic(root);
    servers.push(s);
    const repo = new UnifiedRepository({ policy: resolvePolicy({ minAgeMs: 0, cran: { repo: s.url, internal: [] } }), checker: PASS_ALL, http, now: () => NOW });
    const r = await repo.resolve(install(["alpha"]));
    assert.equal(r.served.size, 1);
    assert.deepEqual((await repo.binaryIndex(r.served, dir)).records, []);
  });

  it("the whole-archive read refuses two top-level DESCRIPTIONs (one package per archive)", async () => {
    const tgz = makeTarGz({ "alpha/DESCRIPTION": "Package: alpha\nVersion: 1.0\n", "evil/DESCRIPTION": "Package: evil\nVersion: 6.6\n" });
    await assert.rejects(
      readFileFromTarGz(Readable.from([tgz]), (p) => /^[^/]+\/DESCRIPTION$/.test(p), 1 << 20, { whole: true }),
      /holds both alpha\/DESCRIPTION and evil\/DESCRIPTION/,
    );
  });

  it("reads DESCRIPTION from .tar.xz, .tar.bz2 and .zip, refusing duplicates, damage and other forms", async () => {
    const dir = tempDir("safe-pip-archives-");
    const desc = (name: string, v = "1.0") => `Package: ${name}\nVersion: ${v}\n`;
    const tar = (entries: Array<[string, string]>) => gunzipSync(makeTarGzEntries(entries));
    writeFileSync(join(dir, "ok_1.0.tar"), tar([["ok/DESCRIPTION", desc("ok")], ["ok/NAMESPACE", ""]]));
    await execa("xz", ["-z", join(dir, "ok_1.0.tar")]);
    assert.equal((await archiveDescription(join(dir, "ok_1.0.tar.xz"), "ok_1.0.tar.xz")).Package, "ok");
    writeFileSync(join(dir, "dup_1.0.tar"), tar([["dup/DESCRIPTION", desc("dup")], ["dup/DESCRIPTION", desc("evil", "6.6")]]));
    await execa("bzip2", ["-z", join(dir, "dup_1.0.tar")]);
    await assert.rejects(archiveDescription(join(dir, "dup_1.0.tar.bz2"), "dup_1.0.tar.bz2"), /holds dup\/DESCRIPTION twice/);
    writeFileSync(join(dir, "bad_1.0.tar.xz"), "not xz at all");
    await assert.rejects(archiveDescription(join(dir, "bad_1.0.tar.xz"), "bad_1.0.tar.xz"), /bad_1\.0\.tar\.xz: xz cannot decompress it/);
    writeFileSync(join(dir, "two_1.0.zip"), zipFiles([{ name: "two/DESCRIPTION", data: desc("two") }, { name: "evil/DESCRIPTION", data: desc("evil") }]));
    await assert.rejects(archiveDescription(join(dir, "two_1.0.zip"), "two_1.0.zip"), /holds two\/DESCRIPTION and evil\/DESCRIPTION/);
    writeFileSync(join(dir, "z_1.0.zip"), zipFiles([{ name: "z/DESCRIPTION", data: desc("z") }]));
    assert.equal((await archiveDescription(join(dir, "z_1.0.zip"), "z_1.0.zip")).Package, "z");
    writeFileSync(join(dir, "x_1.0.tar.zst"), "");
    await assert.rejects(archiveDescription(join(dir, "x_1.0.tar.zst"), "x_1.0.tar.zst"), /not a package archive safe-pip can read/);
  });
});
