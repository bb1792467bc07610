/**
 * The TOML inputs pip reads (PEP 735 dependency groups, PEP 723 scripts, PEP 751 lock files, a
 * local project's pyproject.toml) and pip's full list of archive suffixes: each read by safe-pip
 * before pip runs, so a direct reference in any of them is judged like one on the command line.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HttpClient } from "../../src/core/http.js";
import { parsePipArgs } from "../../src/pip/argv.js";
import { directReferences, isNamedLocalProject, prepareInvocation, renderOptions, type PipInvocation } from "../../src/pip/invocation.js";
import { dependencyGroup, localProjectRequirements, splitGroupOption } from "../../src/pip/pyproject.js";
import { isPylockName, pylockEntries } from "../../src/pip/pylock.js";
import type { ReportItem } from "../../src/pip/report.js";
import { classifyPep508, classifyRequirement } from "../../src/pip/requirement.js";
import { scriptRequirements } from "../../src/pip/script.js";
import { buildPylock } from "../../src/report/pylock.js";
import { parse } from "smol-toml";
import { cleanupAll, tempDir } from "../helpers/env.js";

after(cleanupAll);

const noHttp = { get: async () => ({ status: 404, url: "", contentType: "", body: Buffer.from("") }), close: async () => undefined } as unknown as HttpClient;

async function prepare(argv: string[], cwd: string, pipVersion = "26.3"): Promise<PipInvocation> {
  const env = { HOME: join(cwd, "home"), XDG_CONFIG_DIRS: join(cwd, "xdg"), PIP_CONFIG_FILE: "/dev/null" };
  const pip = { python: "python3", version: pipVersion, sysPrefix: join(cwd, "prefix") };
  return (await prepareInvocation(parsePipArgs(argv), { env, cwd, pip, makeHttp: () => noHttp })).invocation;
}

describe("pip's archive suffixes", () => {
  for (const suffix of [".tar.lz", ".tlz", ".tar.lzma", ".tar.xz", ".txz", ".tar.bz2", ".tbz", ".tar", ".tgz", ".zip", ".whl"]) {
    it(`a file named pkg-1.0${suffix} is a local archive, not a project name`, () => {
      const dir = tempDir();
      writeFileSync(join(dir, `pkg-1.0${suffix}`), "x");
      const req = classifyRequirement(`pkg-1.0${suffix}`, dir);
      assert.equal(req.kind, "direct");
      assert.equal(req.kind === "direct" && req.why, "a local archive");
    });
  }
  it("a missing pkg-1.0.tar.lz is still an archive pip would look for, never the name pkg-1.0.tar.lz", () => {
    assert.equal(classifyRequirement("pkg-1.0.tar.lz", tempDir()).kind, "direct");
    assert.equal(classifyRequirement("pkg-1.0.tar.lzma[extra]", tempDir()).kind, "direct", "with extras, as pip reads it");
  });
});

describe("dependency groups (--group, PEP 735)", () => {
  it("splits [PATH:]NAME on the last colon, with ./pyproject.toml as the default", () => {
    assert.deepEqual(splitGroupOption("dev", "/w"), { file: "/w/pyproject.toml", group: "dev" });
    assert.deepEqual(splitGroupOption("sub/pyproject.toml:test", "/w"), { file: "/w/sub/pyproject.toml", group: "test" });
    assert.throws(() => splitGroupOption("setup.cfg:dev", "/w"), /must name a pyproject\.toml/);
    assert.throws(() => splitGroupOption("pylock.toml:dev", "/w"), /pylock\.toml are not supported/);
    assert.throws(() => splitGroupOption("pyproject.toml:", "/w"), /no group name/);
  });

  it("expands include-group, compares names normalised, and refuses cycles and unknown groups", async () => {
    const dir = tempDir();
    const file = join(dir, "pyproject.toml");
    writeFileSync(file, '[dependency-groups]\nTest_Deps = ["pytest>=8", {include-group = "lint"}]\nlint = ["ruff"]\nloop = [{include-group = "loop"}]\n');
    assert.deepEqual((await dependencyGroup(file, "test-deps", "t")).map((r) => r.text), ["pytest>=8", "ruff"]);
    await assert.rejects(dependencyGroup(file, "loop", "t"), /includes itself/);
    await assert.rejects(dependencyGroup(file, "docs", "t"), /no dependency group "docs"/);
  });

  it("a group's direct reference is blocked like a command-line one, and its names go into the flattened file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pyproject.toml"), '[dependency-groups]\ndev = ["requests>=2", "evil @ file:///tmp/evil"]\n');
    const inv = await prepare(["install", "--group", "dev"], dir);
    assert.deepEqual(inv.inputs.requirementLines, ["requests>=2", "evil @ file:///tmp/evil"]);
    assert.deepEqual(directReferences(inv).map((d) => d.req.text), ["evil @ file:///tmp/evil"]);
    assert.match(directReferences(inv)[0]!.origin, /pyproject\.toml \[dependency-groups\] dev/);
    assert.ok(!renderOptions(inv.options).some((o) => o.startsWith("--group")), "pip never reads the group itself");
  });

  it("a pip without --group gets the option as given, so pip itself refuses it", async () => {
    const dir = tempDir();
    const inv = await prepare(["install", "--group", "dev"], dir, "24.3.1");
    assert.deepEqual(renderOptions(inv.options), ["--group=dev"]);
    assert.deepEqual(inv.inputs.requirementLines, []);
  });

  it("a pyproject.toml that isn't TOML is a usage error naming the file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pyproject.toml"), "[dependency-groups\ndev = [\n");
    await assert.rejects(prepare(["install", "--group", "dev"], dir), (err: Error & { exitCode?: number }) => {
      assert.match(err.message, /pyproject\.toml is not valid TOML \(line 1/);
      assert.equal(err.exitCode, 64);
      return true;
    });
  });
});

describe("PEP 723 scripts (--requirements-from-script)", () => {
  it("reads the dependencies of the script block, and only that block", async () => {
    const dir = tempDir();
    const script = join(dir, "run.py");
    writeFileSync(script, '#!/usr/bin/env python\n# /// other\n# dependencies = ["nope"]\n# ///\nimport os\n# /// script\n# requires-python = ">=3.9"\n# dependencies = [\n#   "rich",\n#   "x @ https://example.test/x.whl",\n# ]\n# ///\nprint(1)\n');
    assert.deepEqual((await scriptRequirements(script, "t")).map((r) => r.text), ["rich", "x @ https://example.test/x.whl"]);
    const inv = await prepare(["install", "--requirements-from-script", "run.py"], dir);
    assert.deepEqual(directReferences(inv).map((d) => d.req.text), ["x @ https://example.test/x.whl"]);
    assert.deepEqual(inv.inputs.requirementLines, ["rich", "x @ https://example.test/x.whl"]);
  });

  it("refuses a script without a block, two blocks, a second --requirements-from-script, and bad TOML", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "none.py"), "print(1)\n");
    writeFileSync(join(dir, "two.py"), '# /// script\n# dependencies = []\n# ///\nx = 1\n# /// script\n# dependencies = []\n# ///\n');
    writeFileSync(join(dir, "bad.py"), "# /// script\n# dependencies = [\n# ///\n");
    await assert.rejects(scriptRequirements(join(dir, "none.py"), "t"), /no "# \/\/\/ script" metadata block/);
    await assert.rejects(scriptRequirements(join(dir, "two.py"), "t"), /more than one/);
    await assert.rejects(scriptRequirements(join(dir, "bad.py"), "t"), /bad\.py \(its "# \/\/\/ script" block\) is not valid TOML/);
    await assert.rejects(prepare(["install", "--requirements-from-script", "two.py", "--requirements-from-script", "none.py"], dir), /more than one|only be given once/);
  });

  it("a path or bare URL in a TOML input is not a PEP 508 requirement", () => {
    assert.throws(() => classifyPep508("./local", "w"), /w: invalid requirement/);
    assert.throws(() => classifyPep508("https://x.test/a.whl", "w"), /not a PEP 508 requirement/);
    assert.equal(classifyPep508("a[b]>=1 ; python_version >= '3.8'", "w").kind, "index");
  });
});

describe("a local project's pyproject.toml", () => {
  function project(dir: string, toml: string): string {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "pyproject.toml"), toml);
    return dir;
  }

  it("reads build requirements, dependencies and only the extras asked for", async () => {
    const dir = project(join(tempDir(), "proj"), '[build-system]\nrequires = ["setuptools>=61"]\n[project]\nname = "p"\ndependencies = ["a"]\n[project.optional-dependencies]\nFast = ["b"]\nslow = ["c"]\n');
    assert.deepEqual((await localProjectRequirements(dir, ["fast"], "t")).map((r) => r.text), ["setuptools>=61", "a", "b"]);
  });

  it("a direct reference in [build-system] requires, dependencies or an asked-for extra blocks `pip install .`", async () => {
    const work = tempDir();
    project(work, '[build-system]\nrequires = ["hatchling @ git+https://example.test/hatch"]\n[project]\nname = "p"\ndependencies = ["d @ file:///tmp/d"]\n[project.optional-dependencies]\nx = ["e @ https://example.test/e.whl"]\ny = ["f @ file:///f"]\n');
    const inv = await prepare(["install", ".[x]"], work);
    assert.deepEqual(directReferences(inv).map((d) => d.req.text), ["hatchling @ git+https://example.test/hatch", "d @ file:///tmp/d", "e @ https://example.test/e.whl"]);
    assert.deepEqual(inv.inputs.requirementLines, [`${work}[x]`]);
    const editable = await prepare(["install", "-e", "."], work);
    assert.equal(directReferences(editable).length, 2, "-e . reads the same pyproject.toml");
  });

  it("only a directory the user named may be installed from disk", async () => {
    const work = tempDir();
    const named = project(join(work, "named"), '[project]\nname = "named"\n');
    const inv = await prepare(["install", "./named"], work);
    const item = (url: string): ReportItem => ({ name: "x", version: "1", url, isDirect: true, editable: false, localDir: true, requested: false, requires: [], licenseText: "" });
    assert.equal(isNamedLocalProject(inv, item(`file://${named}`)), true);
    assert.equal(isNamedLocalProject(inv, item(`file://${join(work, "other")}`)), false);
    assert.equal(isNamedLocalProject(inv, { ...item(`file://${named}`), localDir: false }), false, "an archive is never a named project");
  });
});

describe("pylock.toml given to -r (pip 26.1+)", () => {
  const lock = (body: string) => `lock-version = "1.0"\ncreated-by = "test"\n${body}`;
  const sha = "a".repeat(64);

  it("recognises pip's lock file names, case-sensitively", () => {
    for (const n of ["pylock.toml", "x/pylock.dev.toml", "https://h.test/a/pylock.toml?x=1"]) assert.ok(isPylockName(n), n);
    for (const n of ["Pylock.toml", "pylock.a.b.toml", "requirements.txt", "pylock.toml.txt"]) assert.ok(!isPylockName(n), n);
  });

  it("index entries become hash-pinned exact pins; vcs, directory and archive entries are direct references", async () => {
    const entries = await pylockEntries(
      lock(`
[[packages]]
name = "fresh"
version = "2.0"
marker = "python_version >= '3.8'"
wheels = [{ url = "https://files.test/fresh-2.0-py3-none-any.whl", hashes = { sha256 = "${sha}" } }]
[[packages]]
name = "repo"
vcs = { type = "git", url = "https://example.test/repo.git", commit-id = "abc123" }
[[packages]]
name = "local"
directory = { path = "../src/local" }
[[packages]]
name = "tarball"
archive = { url = "https://example.test/t.tar.gz", hashes = { sha256 = "${sha}" } }
`),
      "/w/pylock.toml",
      "/w",
    );
    assert.deepEqual(
      entries.map((e) => [e.text, e.direct, e.hashes.length]),
      [
        ["fresh==2.0 ; python_version >= '3.8'", false, 1],
        ["repo @ git+https://example.test/repo.git@abc123", true, 0],
        ["local @ file:///src/local", true, 0],
        ["tarball @ https://example.test/t.tar.gz", true, 1],
      ],
    );
  });

  it("-r pylock.toml is flattened into pins (pip never reads the lock or its URLs); older pips read it as requirements", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pylock.toml"), lock(`[[packages]]\nname = "fresh"\nversion = "2.0"\nsdist = { url = "https://files.test/fresh-2.0.tar.gz", hashes = { sha256 = "${sha}" } }\n`));
    const inv = await prepare(["install", "-r", "pylock.toml"], dir);
    assert.deepEqual(inv.inputs.requirementLines, [`fresh==2.0 --hash=sha256:${sha}`]);
    await assert.rejects(prepare(["install", "-r", "pylock.toml"], dir, "25.3"), /invalid requirement/);
    await assert.rejects(prepare(["install", "-r", "pylock.toml[extra]"], dir), /extras of a pylock\.toml are not supported/);
  });

  it("refuses what it can't judge: entries selected by extra or group, no version, bad TOML, unknown lock-version", async () => {
    await assert.rejects(pylockEntries(lock('[[packages]]\nname = "a"\nversion = "1"\nmarker = "\'dev\' in dependency_groups"\n'), "f"), /selected by extra or dependency group/);
    await assert.rejects(pylockEntries(lock('[[packages]]\nname = "a"\n'), "f"), /has no version/);
    await assert.rejects(pylockEntries("lock-version = [", "f"), /f is not valid TOML/);
    await assert.rejects(pylockEntries('lock-version = "2.0"\n', "f"), /lock-version "2\.0"/);
  });
});

describe("--lock pylock.toml (PEP 751 output)", () => {
  const item = (name: string, version: string, url: string, extra: Partial<ReportItem> = {}): ReportItem => ({
    name, version, url, sha256: "b".repeat(64), isDirect: false, editable: false, localDir: false, requested: true, requires: [], licenseText: "", ...extra,
  });

  it("writes wheels and sdists by their upstream URL, the upstream index, and lists what can't be locked", () => {
    const text = buildPylock(
      [
        { item: item("zlib-tool", "1.0", "http://127.0.0.1:9/files/zlib-tool/zlib_tool-1.0.tar.gz"), index: "https://pypi.corp.example/simple/", file: { url: "https://files.corp.example/zlib_tool-1.0.tar.gz", uploadTime: "2024-01-02T03:04:05.5Z", size: 10 } },
        { item: item("attrs", "23.1.0", "http://127.0.0.1:9/files/attrs/attrs-23.1.0-py3-none-any.whl"), index: "https://pypi.org/simple/", file: { url: "https://files.pythonhosted.org/attrs-23.1.0-py3-none-any.whl", uploadTime: "not a date" } },
        { item: item("mine", "0.1", "file:///src/mine", { localDir: true, isDirect: true }) },
        { item: item("nohash", "1", "http://127.0.0.1:9/files/nohash/nohash-1-py3-none-any.whl", { sha256: undefined }), file: { url: "https://x/nohash-1-py3-none-any.whl" } },
      ],
      ["generated by a test"],
      "safe-pip",
    );
    const doc = parse(text) as { "lock-version": string; packages: Array<Record<string, unknown>> };
    assert.equal(doc["lock-version"], "1.0");
    assert.deepEqual(doc.packages.map((p) => p.name), ["attrs", "zlib-tool"], "sorted, only what an index served");
    type Locked = { index: string; wheels: unknown[]; sdist: { url: string; size: number; "upload-time": unknown } };
    const [attrs, zlib] = doc.packages as unknown as [Locked, Locked];
    assert.equal(attrs.index, "https://pypi.org/simple/");
    assert.deepEqual(JSON.parse(JSON.stringify(attrs.wheels)), [{ name: "attrs-23.1.0-py3-none-any.whl", url: "https://files.pythonhosted.org/attrs-23.1.0-py3-none-any.whl", hashes: { sha256: "b".repeat(64) } }]);
    assert.equal(zlib.sdist.url, "https://files.corp.example/zlib_tool-1.0.tar.gz");
    assert.equal(zlib.sdist.size, 10);
    assert.ok(zlib.sdist["upload-time"] instanceof Date, "a TOML date-time");
    assert.match(text, /# not locked \(local project\): mine 0\.1/);
    assert.match(text, /# not locked \(no sha256\): nohash 1/);
    assert.doesNotMatch(text, /127\.0\.0\.1/);
  });
});
