/**
 * safe-pip across pip versions: one throwaway venv per pip wheel in SAFE_PIP_TEST_PIP_WHEELS
 * (`.ci/run` downloads one per major, 22.2 → 26, when PyPI is reachable), each checked against
 * the same local fake indexes. Hermetic given the wheels: the venv is made `--without-pip` and
 * pip is installed from the wheel file itself, with no index.
 *
 * Features are detected from each pip's own help, not guessed from version numbers, so a skip
 * says exactly what that pip lacks.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { compare } from "@renovatebot/pep440";
import { startFakeIndex, isoUploadTime, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, safePip, writePolicy } from "../helpers/cli.js";
import { realPython } from "../helpers/python.js";

const run = promisify(execFile);
const wheelDir = process.env.SAFE_PIP_TEST_PIP_WHEELS;
const wheels = wheelDir
  ? readdirSync(wheelDir)
      .map((f) => ({ file: join(wheelDir, f), version: /^pip-([^-]+)-py3-none-any\.whl$/.exec(f)?.[1] }))
      .filter((w): w is { file: string; version: string } => w.version !== undefined)
      .sort((a, b) => compare(a.version, b.version))
  : [];
if (!wheelDir) console.log("pip-compat skipped: SAFE_PIP_TEST_PIP_WHEELS is not set (.ci/run sets it when PyPI is reachable)");
else if (wheels.length === 0) console.log(`pip-compat skipped: no pip-*.whl in ${wheelDir}`);

const PIP_TIMEOUT = 180_000;
let publicIdx: FakeIndex;
let internalIdx: FakeIndex;
let policyFile: string;

before(async () => {
  if (wheels.length === 0) return;
  // The same graph for every pip: an internal name shadowed by a higher public version, a
  // release too young for minAge, and a dependency of both.
  publicIdx = await startFakeIndex({
    projects: {
      "acme-lib": [{ version: "99.0", uploadTime: daysAgo(60) }],
      fresh: [
        { version: "0.9", uploadTime: daysAgo(60), requires: ["helper"] },
        { version: "1.0", uploadTime: daysAgo(30), requires: ["helper"] },
        { version: "2.0", uploadTime: daysAgo(1), requires: ["helper"] },
      ],
      helper: [{ version: "1.0", uploadTime: daysAgo(100) }],
    },
  });
  internalIdx = await startFakeIndex({ projects: { "acme-lib": [{ version: "1.0", uploadTime: daysAgo(1), requires: ["fresh"] }] } });
  policyFile = writePolicy({
    index: publicIdx.url,
    internal: [{ url: internalIdx.url, packages: ["acme-*"] }],
    minAge: "7d",
    osv: { source: "off" },
  });
});

after(async () => {
  await Promise.all([publicIdx?.close(), internalIdx?.close()]);
  cleanupAll();
});

interface PipVenv {
  python: string;
  help: string;
  hasLock: boolean;
}

/** A venv holding exactly this pip, installed from its wheel with no index and no pip config. */
async function venvWithPip(wheel: string): Promise<PipVenv> {
  const dir = join(tempDir("safe-pip-compat-"), "venv");
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  await run(realPython(), ["-m", "venv", "--without-pip", dir], { env: iso.env });
  const python = join(dir, "bin", "python");
  // A pip wheel runs from its own file: `python pip.whl/pip install pip.whl`.
  await run(python, [join(wheel, "pip"), "install", "-q", "--no-index", wheel], { env: iso.env, timeout: PIP_TIMEOUT });
  const help = (await run(python, ["-m", "pip", "install", "--help"], { env: iso.env })).stdout;
  const hasLock = await run(python, ["-m", "pip", "lock", "--help"], { env: iso.env }).then(
    () => true,
    () => false,
  );
  return { python, help, hasLock };
}

function installed(python: string): Promise<Record<string, string>> {
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  return run(python, ["-m", "pip", "list", "--format=json"], { env: iso.env }).then(({ stdout }) => {
    const rows = JSON.parse(stdout) as Array<{ name: string; version: string }>;
    return Object.fromEntries(rows.filter((r) => !["pip", "setuptools", "wheel"].includes(r.name)).map((r) => [r.name.toLowerCase(), r.version]));
  });
}

function envFor(python: string): Record<string, string> {
  return isolatedEnv({ SAFE_PIP_CONFIG: policyFile, SAFE_PIP_PYTHON: python }).env;
}

for (const wheel of wheels) {
  describe(`pip ${wheel.version}`, () => {
    let pip: PipVenv;
    before(async () => {
      pip = await venvWithPip(wheel.file);
    });

    it("install: the internal name comes from the internal index, the too-young release is held back", { timeout: PIP_TIMEOUT }, async () => {
      const r = await safePip(["install", "acme-lib"], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await installed(pip.python), { "acme-lib": "1.0", fresh: "1.0", helper: "1.0" });
      assert.match(r.stderr, /fresh 2\.0 hidden: uploaded .* \(minimum age 7d\)/);
    });

    it("a file: dependency that only a build reveals is refused inside pip, and nothing is installed", { timeout: PIP_TIMEOUT }, async () => {
      const work = tempDir("safe-pip-compat-guard-");
      const evil = join(work, "evil");
      mkdirSync(evil);
      writeFileSync(join(evil, "pyproject.toml"), '[project]\nname = "evil"\nversion = "1.0"\n');
      const proj = join(work, "proj");
      mkdirSync(proj);
      // The dependency exists only in the metadata this backend generates: no index ever sees it.
      writeFileSync(
        join(proj, "backend.py"),
        `import os\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\ndef prepare_metadata_for_build_wheel(d, config_settings=None):\n    os.makedirs(os.path.join(d, "proj-1.0.dist-info"))\n    open(os.path.join(d, "proj-1.0.dist-info", "METADATA"), "w").write("Metadata-Version: 2.1\\nName: proj\\nVersion: 1.0\\nRequires-Dist: evil @ file://${evil}\\n")\n    return "proj-1.0.dist-info"\ndef build_wheel(d, config_settings=None, metadata_directory=None):\n    raise RuntimeError("never reached")\n`,
      );
      writeFileSync(join(proj, "pyproject.toml"), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
      const r = await safePip(["install", proj], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, /blocked: proj depends on "evil ?@ file:/);
      // The venv is shared with the other tests of this pip: only these two must be absent.
      const now = await installed(pip.python);
      assert.equal(now.proj, undefined, "the local project was not installed");
      assert.equal(now.evil, undefined, "the file: dependency was not installed");
    });

    it("download: the same set, as files", { timeout: PIP_TIMEOUT }, async () => {
      const dest = tempDir("safe-pip-compat-dl-");
      const r = await safePip(["download", "-d", dest, "acme-lib"], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(dest).sort(), ["acme_lib-1.0-py3-none-any.whl", "fresh-1.0-py3-none-any.whl", "helper-1.0-py3-none-any.whl"]);
    });

    it("--dry-run --report: pip's report lists the policy's versions", { timeout: PIP_TIMEOUT }, async () => {
      const out = join(tempDir("safe-pip-compat-report-"), "report.json");
      const r = await safePip(["install", "--dry-run", "--ignore-installed", "--report", out, "fresh"], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(readFileSync(out, "utf8")) as { install: Array<{ metadata: { name: string; version: string } }>; safe_pip?: unknown };
      assert.deepEqual(report.install.map((i) => `${i.metadata.name} ${i.metadata.version}`).sort(), ["fresh 1.0", "helper 1.0"]);
      assert.ok(report.safe_pip, "safe-pip's decisions are added to pip's report");
    });

    it("--group from pyproject.toml goes through the same index", { timeout: PIP_TIMEOUT }, async (t) => {
      if (!/--group/.test(pip.help)) return t.skip(`pip ${wheel.version} has no --group (pip 25.1+)`);
      const cwd = tempDir("safe-pip-compat-group-");
      writeFileSync(join(cwd, "pyproject.toml"), '[dependency-groups]\ndev = ["acme-lib"]\n');
      const r = await safePip(["install", "--group", "dev"], { env: envFor(pip.python), cwd, timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await installed(pip.python), { "acme-lib": "1.0", fresh: "1.0", helper: "1.0" });
    });

    it("pip lock writes the policy's versions", { timeout: PIP_TIMEOUT }, async (t) => {
      if (!pip.hasLock) return t.skip(`pip ${wheel.version} has no lock command (pip 25.1+)`);
      const cwd = tempDir("safe-pip-compat-lock-");
      const r = await safePip(["lock", "-o", "pylock.toml", "acme-lib"], { env: envFor(pip.python), cwd, timeoutMs: PIP_TIMEOUT });
      assert.equal(r.code, 0, r.stderr);
      const lock = readFileSync(join(cwd, "pylock.toml"), "utf8");
      const pinned = [...lock.matchAll(/name = "([^"]+)"\s*\nversion = "([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`).sort();
      assert.deepEqual(pinned, ["acme-lib 1.0", "fresh 1.0", "helper 1.0"]);
    });

    it("-r pylock.toml can't bring in what the policy hides", { timeout: PIP_TIMEOUT }, async (t) => {
      if (!/pylock\.toml format/.test(pip.help)) return t.skip(`pip ${wheel.version} can't read pylock.toml with -r`);
      // A lock written elsewhere (plain pip against the public index) pins the too-young 2.0
      // and the public acme-lib 99.0, with their URLs.
      const cwd = tempDir("safe-pip-compat-pylock-");
      const files = (name: string, v: string) => `${publicIdx.root}files/${name}/${name.replace(/-/g, "_")}-${v}-py3-none-any.whl`;
      const pkg = (name: string, v: string) => `[[packages]]\nname = "${name}"\nversion = "${v}"\n[[packages.wheels]]\nurl = "${files(name, v)}"\nhashes = {}\n`;
      writeFileSync(join(cwd, "pylock.toml"), `lock-version = "1.0"\ncreated-by = "test"\n\n${pkg("fresh", "2.0")}\n${pkg("acme-lib", "99.0")}\n`);
      const r = await safePip(["install", "-r", "pylock.toml"], { env: envFor(pip.python), cwd, timeoutMs: PIP_TIMEOUT });
      const got = await installed(pip.python);
      assert.notEqual(got.fresh, "2.0", r.stderr);
      assert.notEqual(got["acme-lib"], "99.0", r.stderr);
      // safe-pip reads the lock itself: each entry an exact pin judged by the index, so the
      // too-young pin is blocked with its reason (exit 65), and pip never fetches the lock's URLs.
      assert.equal(r.code, 65, r.stderr);
      assert.match(r.stderr, /fresh 2\.0.*\(minimum age 7d\)/);
    });

    it("--uploaded-prior-to can narrow the policy but never loosen it", { timeout: PIP_TIMEOUT }, async (t) => {
      if (!/--uploaded-prior-to/.test(pip.help)) return t.skip(`pip ${wheel.version} has no --uploaded-prior-to (pip 26.0+)`);
      // A date in the future asks for everything: the index still hides fresh 2.0.
      const later = await safePip(["install", "--dry-run", "--ignore-installed", "--uploaded-prior-to", "2099-01-01T00:00:00Z", "fresh"], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(later.code, 0, later.stderr);
      assert.match(later.stderr, /\+ fresh 1\.0\s+public/);
      assert.doesNotMatch(later.stderr, /\+ fresh 2\.0/);
      // A stricter date than the policy's is pip's to apply, using the upload times the index passes on.
      const earlier = await safePip(["install", "--dry-run", "--ignore-installed", "--uploaded-prior-to", isoUploadTime(daysAgo(45)), "fresh"], { env: envFor(pip.python), timeoutMs: PIP_TIMEOUT });
      assert.equal(earlier.code, 0, earlier.stderr);
      assert.match(earlier.stderr, /\+ fresh 0\.9\s+public/);
    });
  });
}

// Keep node:test from reporting an empty file as a failure when there is nothing to run.
if (wheels.length === 0) {
  it("pip compatibility matrix", { skip: "SAFE_PIP_TEST_PIP_WHEELS is not set" }, () => undefined);
}

