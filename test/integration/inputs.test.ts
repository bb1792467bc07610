/**
 * Every input pip reads is read by safe-pip first, with real pip: a local project's
 * pyproject.toml, pip's full list of archive suffixes, and (with a pip that has them, from
 * SAFE_PIP_TEST_PIP_WHEELS) `--group`, `--requirements-from-script` and `-r pylock.toml`. A
 * direct reference in any of them is blocked before pip runs, so no code of it runs: each
 * "evil" project here records in a marker file when its build backend is imported.
 * Also `--lock pylock.toml`, the PEP 751 form of the lock written from the verdict.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { compare } from "@renovatebot/pep440";
import { parse } from "smol-toml";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { realPython } from "../helpers/python.js";

const run = promisify(execFile);
const TIMEOUT = 180_000;
let idx: FakeIndex;
let policyFile: string;

before(async () => {
  idx = await startFakeIndex({
    projects: {
      fresh: [
        { version: "1.0", uploadTime: daysAgo(30), requires: ["helper"] },
        { version: "2.0", uploadTime: daysAgo(1), requires: ["helper"] },
      ],
      helper: [{ version: "1.0", uploadTime: daysAgo(100) }],
    },
  });
  policyFile = writePolicy({ index: idx.url, minAge: "7d", osv: { source: "off" } });
});

after(async () => {
  await idx?.close();
  cleanupAll();
});

function envFor(python?: string): Record<string, string> {
  return isolatedEnv({ SAFE_PIP_CONFIG: policyFile, ...(python ? { SAFE_PIP_PYTHON: python } : {}) }).env;
}

/**
 * A project directory whose in-tree build backend appends to `marker` when pip imports it, so a
 * test can tell whether pip ever started building it.
 */
function project(dir: string, name: string, marker: string, extra = "", requires = "[]"): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pyproject.toml"), `[build-system]\nrequires = ${requires}\nbuild-backend = "backend"\nbackend-path = ["."]\n\n[project]\nname = "${name}"\nversion = "1.0"\n${extra}`);
  writeFileSync(
    join(dir, "backend.py"),
    `open(${JSON.stringify(marker)}, "a").write("${name} built\\n")\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\ndef prepare_metadata_for_build_wheel(d, config_settings=None):\n    raise RuntimeError("${name}: stop here")\ndef build_wheel(d, config_settings=None, metadata_directory=None):\n    raise RuntimeError("${name}: stop here")\n`,
  );
  return dir;
}

describe("inputs pip reads, read first (machine pip)", () => {
  it("a local archive named pkg-1.0.tar.lz (pip's xz/lzma suffixes) is blocked, never built as a name", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-tlz-");
    const marker = join(work, "marker");
    project(join(work, "src", "pkg-1.0"), "pkg", marker);
    // pip opens every XZ_EXTENSIONS file with tarfile's xz mode.
    await run(realPython(), ["-c", "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:xz') as t: t.add(sys.argv[2], arcname='pkg-1.0')", join(work, "pkg-1.0.tar.lz"), join(work, "src", "pkg-1.0")]);
    const r = await safePip(["install", "--target", join(work, "t"), "pkg-1.0.tar.lz"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /"pkg-1\.0\.tar\.lz" \(a local archive, from the command line\)/);
    assert.equal(existsSync(marker), false, "pip never unpacked or built the archive");
  });

  it("a direct reference in a named project's [build-system] requires is blocked before any build", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-bsr-");
    const marker = join(work, "marker");
    const evil = project(join(work, "evil"), "evil", marker);
    project(join(work, "proj"), "proj", marker, "", `["evil @ file://${evil}"]`);
    const r = await safePip(["install", "--target", join(work, "t"), "./proj"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /"evil @ file:\/\/.*" \(a direct URL, from .*proj\/pyproject\.toml \[build-system\] requires\)/);
    assert.equal(existsSync(marker), false, `no backend ran: ${existsSync(marker) ? readFileSync(marker, "utf8") : ""}`);
  });

  it("a direct reference in [project] dependencies or an asked-for extra of -e . is blocked before pip builds it", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-deps-");
    const marker = join(work, "marker");
    const evil = project(join(work, "evil"), "evil", marker);
    project(join(work, "plain"), "plain", marker, `dependencies = ["helper", "evil @ file://${evil}"]\n`);
    const plain = await safePip(["install", "--target", join(work, "t"), "./plain"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(plain.code, 65, plain.stderr);
    assert.match(plain.stderr, /plain\/pyproject\.toml \[project\] dependencies/);
    const proj = project(join(work, "proj"), "proj", marker, `dependencies = ["helper"]\n[project.optional-dependencies]\nextra = ["evil @ file://${evil}"]\n`);
    const r = await safePip(["install", "--target", join(work, "t"), "-e", ".[extra]"], { env: envFor(), cwd: proj, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /pyproject\.toml \[project\.optional-dependencies\] extra/);
    assert.equal(existsSync(marker), false, "the project's own backend never ran either: the block came first");
  });

  it("an sdist from the index whose [build-system] requires names a file: directory: refused in pip's build-isolation pip, never built", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-sdist-bsr-");
    const marker = join(work, "marker");
    const evil = project(join(work, "evil"), "evil", marker);
    // The index reads the sdist's PKG-INFO (static, clean); the build requirement is only in its
    // pyproject.toml, which pip hands to a child pip as that pip's own command line.
    const src = project(join(work, "src", "sdistpkg-1.0"), "sdistpkg", marker, "", `["evil @ file://${evil}"]`);
    writeFileSync(join(src, "PKG-INFO"), "Metadata-Version: 2.1\nName: sdistpkg\nVersion: 1.0\n");
    const sdist = join(work, "sdistpkg-1.0.tar.gz");
    await run(realPython(), ["-c", "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t: t.add(sys.argv[2], arcname='sdistpkg-1.0')", sdist, src]);
    const own = await startFakeIndex({ projects: { sdistpkg: [{ version: "1.0", uploadTime: daysAgo(30), file: { filename: "sdistpkg-1.0.tar.gz", data: readFileSync(sdist) } }] } });
    try {
      const env = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: own.url, minAge: "7d", osv: { source: "off" } }) }).env;
      const r = await safePip(["install", "--target", join(work, "t"), "sdistpkg"], { env, cwd: work, timeoutMs: TIMEOUT });
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, /blocked: a build requirement "evil ?@ file:\/\/.*\/evil" bypasses the index/);
      assert.doesNotMatch(existsSync(marker) ? readFileSync(marker, "utf8") : "", /evil built/, "evil's backend never ran");
    } finally {
      await own.close();
    }
  });

  it("--group on a pip without it (the machine's pip < 25.1) is passed on, so pip itself refuses it", { timeout: TIMEOUT }, async (t) => {
    const { stdout } = await run(realPython(), ["-m", "pip", "--version"]);
    const version = /^pip (\S+)/.exec(stdout)?.[1] ?? "0";
    if (compare(version, "25.1") >= 0) return t.skip(`the machine's pip ${version} has --group`);
    const work = tempDir("safe-pip-inputs-oldgroup-");
    writeFileSync(join(work, "pyproject.toml"), '[dependency-groups]\ndev = ["fresh"]\n');
    const r = await safePip(["install", "--target", join(work, "t"), "--group", "dev"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no such option: --group/);
  });

  it("a local project's pyproject.toml that isn't TOML is a usage error naming the file", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-badtoml-");
    mkdirSync(join(work, "proj"));
    writeFileSync(join(work, "proj", "pyproject.toml"), "[project\nname = 1\n");
    const r = await safePip(["install", "--target", join(work, "t"), "./proj"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /proj\/pyproject\.toml is not valid TOML \(line 1/);
  });

  it("--lock pylock.toml writes a PEP 751 lock of what was installed, from the upstream, never 127.0.0.1", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-pylock-out-");
    const r = await safePip(["install", "--target", join(work, "t"), "--lock", "pylock.toml", "fresh"], { env: envFor(), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(join(work, "pylock.toml"), "utf8");
    const lock = parse(text) as { "lock-version": string; "created-by": string; packages: Array<{ name: string; version: string; index: string; wheels: Array<{ name: string; url: string; hashes: { sha256: string } }> }> };
    assert.equal(lock["lock-version"], "1.0");
    assert.deepEqual(lock.packages.map((p) => `${p.name} ${p.version}`), ["fresh 1.0", "helper 1.0"]);
    for (const p of lock.packages) {
      assert.equal(p.index, idx.url);
      assert.equal(p.wheels.length, 1);
      assert.ok(p.wheels[0]!.url.startsWith(idx.root), p.wheels[0]!.url);
      assert.equal(p.wheels[0]!.hashes.sha256, idx.wheel(p.name, p.version)!.sha256);
    }
    // safe-pip's own index also listens on 127.0.0.1, on another port: none of its URLs are kept.
    for (const m of text.matchAll(/https?:\/\/[^"\s]+/g)) assert.ok(m[0].startsWith(idx.root), `an upstream URL: ${m[0]}`);
  });
});

// Tests for inputs that only newer pips read: one venv holding the newest pip wheel available.
const wheelDir = process.env.SAFE_PIP_TEST_PIP_WHEELS;
const newest = wheelDir
  ? readdirSync(wheelDir)
      .map((f) => ({ file: join(wheelDir, f), version: /^pip-([^-]+)-py3-none-any\.whl$/.exec(f)?.[1] }))
      .filter((w): w is { file: string; version: string } => w.version !== undefined && compare(w.version, "26.1") >= 0)
      .sort((a, b) => compare(b.version, a.version))[0]
  : undefined;
if (!newest) console.log(`inputs (pip 26.1+ part) skipped: ${wheelDir ? `no pip-26.1+ wheel in ${wheelDir}` : "SAFE_PIP_TEST_PIP_WHEELS is not set"}`);

describe(`inputs only newer pips read (pip ${newest?.version ?? "26.1+"})`, { skip: newest ? false : "needs a pip 26.1+ wheel in SAFE_PIP_TEST_PIP_WHEELS" }, () => {
  let python: string;
  before(async () => {
    if (!newest) return;
    const dir = join(tempDir("safe-pip-inputs-venv-"), "venv");
    const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
    await run(realPython(), ["-m", "venv", "--without-pip", dir], { env: iso.env });
    python = join(dir, "bin", "python");
    await run(python, [join(newest.file, "pip"), "install", "-q", "--no-index", newest.file], { env: iso.env, timeout: TIMEOUT });
  });

  it("--group: a direct reference in the dependency group is blocked before pip reads the group", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-group-");
    const marker = join(work, "marker");
    const evil = project(join(work, "evil"), "evil", marker);
    writeFileSync(join(work, "pyproject.toml"), `[dependency-groups]\ndev = [{include-group = "base"}]\nbase = ["evil @ file://${evil}"]\n`);
    const r = await safePip(["install", "--target", join(work, "t"), "--group", "dev"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /"evil @ file:\/\/.*" \(a direct URL, from .*pyproject\.toml \[dependency-groups\] base\)/);
    assert.equal(existsSync(marker), false, "evil was never built");
  });

  it("--group: the group's names are judged by the index like command-line ones", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-group-ok-");
    writeFileSync(join(work, "pyproject.toml"), '[dependency-groups]\ndev = ["fresh"]\n');
    const target = join(work, "t");
    const r = await safePip(["install", "--target", target, "--group", "pyproject.toml:dev"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { fresh: "1.0", helper: "1.0" });
    assert.match(r.stderr, /fresh 2\.0 hidden: uploaded .* \(minimum age 7d\)/);
  });

  it("--requirements-from-script: the PEP 723 block is read first, and a direct reference there is blocked", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-script-");
    const marker = join(work, "marker");
    const evil = project(join(work, "evil"), "evil", marker);
    writeFileSync(join(work, "tool.py"), `# /// script\n# dependencies = ["fresh", "evil @ file://${evil}"]\n# ///\nprint("hi")\n`);
    const r = await safePip(["install", "--target", join(work, "t"), "--requirements-from-script", "tool.py"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /tool\.py # \/\/\/ script dependencies/);
    assert.equal(existsSync(marker), false, "evil was never built");
    writeFileSync(join(work, "ok.py"), `# /// script\n# dependencies = ["fresh"]\n# ///\n`);
    const ok = await safePip(["install", "--target", join(work, "t2"), "--requirements-from-script", "ok.py"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(installedVersions(join(work, "t2")), { fresh: "1.0", helper: "1.0" });
  });

  it("-r pylock.toml: index entries install as hash-pinned pins through the index; a directory entry is blocked", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-pylock-in-");
    // The lock names the files by an address pip must not use: only the index may serve them.
    const entry = (name: string, v: string) =>
      `[[packages]]\nname = "${name}"\nversion = "${v}"\n[[packages.wheels]]\nurl = "http://127.0.0.9:1/${name}-${v}-py3-none-any.whl"\nhashes = { sha256 = "${idx.wheel(name, v)!.sha256}" }\n`;
    writeFileSync(join(work, "pylock.toml"), `lock-version = "1.0"\ncreated-by = "test"\n\n${entry("fresh", "1.0")}\n${entry("helper", "1.0")}`);
    const target = join(work, "t");
    const r = await safePip(["install", "--target", target, "-r", "pylock.toml"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { fresh: "1.0", helper: "1.0" });

    const marker = join(work, "marker");
    project(join(work, "evil"), "evil", marker);
    mkdirSync(join(work, "d"));
    writeFileSync(join(work, "d", "pylock.toml"), `lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "evil"\ndirectory = { path = "../evil" }\n`);
    const blocked = await safePip(["install", "--target", join(work, "t2"), "-r", "d/pylock.toml"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(blocked.code, 65, blocked.stderr);
    assert.match(blocked.stderr, /"evil @ file:\/\/.*\/evil" \(a direct URL, from .*pylock\.toml packages\[0\]\)/);
    assert.equal(existsSync(marker), false, "evil was never built");
  });

  it("-r pylock.toml pinning a release the policy hides is blocked with the reason", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-pylock-young-");
    writeFileSync(join(work, "pylock.toml"), `lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "fresh"\nversion = "2.0"\n[[packages.wheels]]\nurl = "${idx.root}files/fresh/fresh-2.0-py3-none-any.whl"\nhashes = {}\n`);
    const r = await safePip(["install", "--target", join(work, "t"), "-r", "pylock.toml"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /fresh 2\.0.*uploaded .* \(minimum age 7d\)/);
  });

  it("plain pip replays the pylock.toml safe-pip wrote, from the upstream", { timeout: TIMEOUT }, async () => {
    const work = tempDir("safe-pip-inputs-pylock-replay-");
    const made = await safePip(["install", "--target", join(work, "t"), "--lock", "pylock.toml", "fresh"], { env: envFor(python), cwd: work, timeoutMs: TIMEOUT });
    assert.equal(made.code, 0, made.stderr);
    const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
    const replay = join(work, "replay");
    await run(python, ["-m", "pip", "install", "-q", "--target", replay, "--index-url", idx.url, "-r", "pylock.toml"], { env: iso.env, cwd: work, timeout: TIMEOUT });
    assert.deepEqual(installedVersions(replay), { fresh: "1.0", helper: "1.0" });
  });
});
