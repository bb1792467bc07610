import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

let publicIdx: FakeIndex;
let htmlIdx: FakeIndex;
let htmlWithApi: FakeIndex;
let authIdx: FakeIndex;
let evilIdx: FakeIndex;

before(async () => {
  publicIdx = await startFakeIndex({
    projects: {
      requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }],
      "sp-build-helper": [{ version: "1.0", uploadTime: daysAgo(400) }],
      fresh: [
        { version: "1.0", uploadTime: daysAgo(30) },
        { version: "2.0", uploadTime: daysAgo(1) },
      ],
      yanky: [
        { version: "1.0", uploadTime: daysAgo(30) },
        { version: "1.1", uploadTime: daysAgo(20), yanked: "broken" },
      ],
    },
  });
  htmlIdx = await startFakeIndex({ format: "html", projects: { undated: [{ version: "1.0", uploadTime: daysAgo(30) }] } });
  htmlWithApi = await startFakeIndex({ format: "html", jsonApi: true, projects: { undated: [{ version: "1.0", uploadTime: daysAgo(30) }] } });
  authIdx = await startFakeIndex({ auth: { user: "deploy", password: "s3cr3t-t0ken" }, projects: { "corp-tool": [{ version: "3.0", uploadTime: daysAgo(1) }] } });
  evilIdx = await startFakeIndex({ projects: { "sp-build-helper": [{ version: "9.9", uploadTime: daysAgo(60) }], requests: [{ version: "99.0", uploadTime: daysAgo(60) }] } });
});

after(async () => {
  await Promise.all([publicIdx, htmlIdx, htmlWithApi, authIdx, evilIdx].map((i) => i.close()));
  cleanupAll();
});

function run(policy: Record<string, unknown>, extra: Record<string, string> = {}) {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ osv: { source: "off" }, ...policy }), ...extra });
  return { env: iso.env, target: tempDir("safe-pip-target-") };
}

describe("upload times", () => {
  it("an HTML-only upstream without upload times is blocked (unknownAge: block)", async () => {
    const { env, target } = run({ index: htmlIdx.url });
    const r = await safePip(["install", "--target", target, "undated"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /undated 1\.0: upload time unknown/);
    assert.deepEqual(readdirSync(target), []);
  });

  it("falls back to the upstream's JSON API for upload times", async () => {
    const { env, target } = run({ index: htmlWithApi.url });
    const r = await safePip(["install", "--target", target, "undated"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(htmlWithApi.requests.some((q) => q.path === "/pypi/undated/json"));
  });

  it('"unknownAge": "allow" lets it through with a warning', async () => {
    const { env, target } = run({ index: htmlIdx.url, unknownAge: "allow" });
    const r = await safePip(["install", "--target", target, "undated"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /! upload time unknown \(allowed by unknownAge\)/);
  });

  it("a pinned too-young version is blocked with the version and the rule", async () => {
    const { env, target } = run({ index: publicIdx.url });
    const r = await safePip(["install", "--target", target, "fresh==2.0"], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /fresh 2\.0: uploaded 1 day ago \(minimum age 7d\)/);
  });

  it('"minAge": "0" disables the age gate', async () => {
    const { env, target } = run({ index: publicIdx.url, minAge: "0" });
    const r = await safePip(["install", "--target", target, "fresh"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).fresh, "2.0");
  });
});

describe("yanked files stay yanked", () => {
  it("pip skips a yanked release unless pinned, and the pin still works", async () => {
    const { env, target } = run({ index: publicIdx.url });
    const r = await safePip(["install", "--target", target, "yanky"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).yanky, "1.0");
    const t2 = tempDir();
    const r2 = await safePip(["install", "--target", t2, "yanky==1.1"], { env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(installedVersions(t2).yanky, "1.1");
    assert.match(r2.stderr, /yanked/i);
  });
});

describe("a local project and build isolation", () => {
  it("installs `./project`, its dependencies and its build requirements through the unified index only", async () => {
    const proj = tempDir("safe-pip-proj-");
    copyFileSync(join(packageRoot(), "test", "fixtures", "build-backend", "backend.py"), join(proj, "backend.py"));
    writeFileSync(
      join(proj, "pyproject.toml"),
      `[build-system]\nrequires = ["sp-build-helper"]\nbuild-backend = "backend"\nbackend-path = ["."]\n\n[project]\nname = "localproj"\nversion = "0.3"\ndependencies = ["requests>=2"]\n`,
    );
    // The extra index in the environment would win on version numbers if it were ever consulted.
    const { env, target } = run({ index: publicIdx.url }, { PIP_EXTRA_INDEX_URL: evilIdx.url });
    const before = evilIdx.requests.length;
    const r = await safePip(["install", "--target", target, "."], { env, cwd: proj });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { localproj: "0.3", requests: "2.31.0" });
    assert.match(r.stderr, /localproj 0\.3\s+local/);
    assert.ok(publicIdx.requests.some((q) => q.path.includes("sp-build-helper")), "build requirement fetched through the unified index");
    assert.equal(evilIdx.requests.length, before, "the extra index was never contacted");
  });
});

describe("other pip commands", () => {
  it("download and index versions go through the index; list passes straight to pip", async () => {
    const { env } = run({ index: publicIdx.url });
    const dest = tempDir();
    const d = await safePip(["download", "--no-deps", "-d", dest, "fresh"], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(readdirSync(dest), ["fresh-1.0-py3-none-any.whl"]);
    const v = await safePip(["index", "versions", "fresh"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /fresh \(1\.0\)/);
    assert.doesNotMatch(v.stdout, /2\.0/);
    const l = await safePip(["list", "--format=json"], { env });
    assert.equal(l.code, 0, l.stderr);
    assert.ok(Array.isArray(JSON.parse(l.stdout)));
  });

  it("global options before the command work, and -q quiets safe-pip too", async () => {
    const { env, target } = run({ index: publicIdx.url });
    const r = await safePip(["-q", "install", "--target", target, "--extra-index-url", evilIdx.url, "requests"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).requests, "2.31.0");
    assert.doesNotMatch(r.stderr, /safe-pip:/);
  });
});

describe("reports and the audit log", () => {
  it("SAFE_PIP_REPORT gets the decisions as JSON, pip's --report gets a safe_pip key, and the audit log gets a line", async () => {
    const dir = tempDir();
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: publicIdx.url, osv: { source: "off" } }), SAFE_PIP_REPORT: join(dir, "decisions.json") });
    const target = tempDir();
    const r = await safePip(["install", "--target", target, "--report", join(dir, "pip-report.json"), "fresh", "--extra-index-url", evilIdx.url], { env: iso.env });
    assert.equal(r.code, 0, r.stderr);
    const decisions = JSON.parse(readFileSync(join(dir, "decisions.json"), "utf8")) as {
      outcome: string;
      install: Array<{ name: string; version: string }>;
      heldBack: Array<{ name: string; version: string }>;
      sourcesRemoved: string[];
    };
    assert.equal(decisions.outcome, "installed");
    assert.deepEqual(decisions.install.map((p) => `${p.name}==${p.version}`), ["fresh==1.0"]);
    assert.deepEqual(decisions.heldBack.map((p) => `${p.name}==${p.version}`), ["fresh==2.0"]);
    assert.equal(decisions.sourcesRemoved.length, 1);
    const pipReport = JSON.parse(readFileSync(join(dir, "pip-report.json"), "utf8")) as { version: string; install: unknown[]; safe_pip: { held_back: unknown[] } };
    assert.equal(pipReport.version, "1");
    assert.equal(pipReport.safe_pip.held_back.length, 1);
    const audit = readFileSync(join(iso.home, ".local", "state", "safe-pip", "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { outcome: string; installed: string[] });
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0]!.installed, ["fresh==1.0 (public)"]);
  });

  it("a blocked run is recorded as blocked", async () => {
    const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: publicIdx.url, osv: { source: "off" } }) });
    const r = await safePip(["install", "--target", tempDir(), "fresh==2.0"], { env: iso.env });
    assert.equal(r.code, 65);
    const line = JSON.parse(readFileSync(join(iso.home, ".local", "state", "safe-pip", "audit.jsonl"), "utf8").trim()) as { outcome: string; exitCode: number; blocked: string[] };
    assert.equal(line.outcome, "blocked");
    assert.equal(line.exitCode, 65);
    assert.match(line.blocked.join("\n"), /fresh 2\.0: uploaded 1 day ago/);
  });
});

describe("credentials", () => {
  it("authenticate to an internal index and never appear in output", async () => {
    const url = authIdx.url.replace("http://", "http://deploy:s3cr3t-t0ken@");
    const { env, target } = run({ index: publicIdx.url, internal: [{ url, packages: ["corp-*"] }] }, { PIP_EXTRA_INDEX_URL: url });
    const r = await safePip(["install", "--target", target, "corp-tool"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(installedVersions(target).corp_tool, "3.0");
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr3t/);
    assert.match(r.stderr, /ignored extra-index-url http:\/\/\*\*\*\*@127\.0\.0\.1/);
  });
});

describe("bad input", () => {
  it("a broken policy file is a configuration error naming the file (exit 78)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "p.json"), '{"minAge": "soon"}');
    const { env } = run({}, { SAFE_PIP_CONFIG: join(dir, "p.json") });
    const r = await safePip(["install", "requests"], { env });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /p\.json: key "minAge" "soon" is not a duration/);
    assert.doesNotMatch(r.stderr, /    at /);
  });

  it("a requirement smuggling an option is a usage error (exit 64)", async () => {
    const { env } = run({ index: publicIdx.url });
    const r = await safePip(["install", "--", `--index-url=${evilIdx.url}`], { env });
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /looks like an option/);
    const r2 = await safePip(["install", "--bogus-option", "x"], { env });
    assert.equal(r2.code, 64);
    assert.match(r2.stderr, /unknown option --bogus-option/);
  });

  it("a malformed requirements line names the file and line", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "req.txt"), "requests\nfoo===bar baz!!\n");
    const { env } = run({ index: publicIdx.url });
    const r = await safePip(["install", "-r", join(dir, "req.txt")], { env });
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /req\.txt:2: invalid requirement/);
  });
});
