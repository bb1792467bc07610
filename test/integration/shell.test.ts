/**
 * Shell integration for real: bash, zsh and fish load the functions with the same line a user's rc
 * file holds, then real pip installs go through the built safe-pip against a fake index. A bad
 * extra index in the environment proves each call went through safe-pip (which removes it and says
 * so), and the version installed (1.0: 2.0 is too new for the policy, 9.9 is only on the bad index)
 * proves the policy applied. zsh and fish tests skip, with a message, where those shells are missing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { makeVenv } from "../helpers/venv.js";

const CLI = `'${process.execPath}' '${join(packageRoot(), "dist", "cli.js")}'`;
// pip run by safe-pip names safe-pip's own index and nothing else (plain pip here would list
// pypi.org and the extra index from PIP_EXTRA_INDEX_URL).
const ROUTED = /^Looking in indexes: http:\/\/127\.0\.0\.1:\d+\/simple\/$/gm;
const REMOVED = /ignored extra-index-url/g;
let idx: FakeIndex;
let evil: FakeIndex;
let policy: string;
let realPipVersion: string;

before(async () => {
  idx = await startFakeIndex({ projects: { demo: [{ version: "1.0", uploadTime: daysAgo(30) }, { version: "2.0", uploadTime: daysAgo(1) }] } });
  evil = await startFakeIndex({ projects: { demo: [{ version: "9.9", uploadTime: daysAgo(30) }] } });
  policy = writePolicy({ index: idx.url, osv: { source: "off" } });
  const r = await execa("python3", ["-m", "pip", "--version"], { env: env(), extendEnv: false });
  realPipVersion = String(r.stdout).trim();
});
after(async () => {
  await Promise.all([idx.close(), evil.close()]);
  cleanupAll();
});

function env(): Record<string, string> {
  return isolatedEnv({ SAFE_PIP_CONFIG: policy, PIP_EXTRA_INDEX_URL: evil.url, PIP_ROOT_USER_ACTION: "ignore" }).env;
}

async function which(shell: string): Promise<string | undefined> {
  const r = await execa("sh", ["-c", `command -v ${shell}`], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
}

const SHELLS = [
  // What `safe-pip setup shell` writes, minus the marker comment.
  { name: "bash", init: `eval "$(${CLI} shell-init bash)"`, status: "$?", activate: (v: string) => `. ${v}/bin/activate` },
  { name: "zsh", init: `eval "$(${CLI} shell-init zsh)"`, status: "$?", activate: (v: string) => `. ${v}/bin/activate` },
  { name: "fish", init: `${CLI} shell-init fish | source`, status: "$status", activate: (v: string) => `source ${v}/bin/activate.fish` },
] as const;

describe("shells with the init line", { concurrency: true }, async () => {
  for (const sh of SHELLS) {
    const path = await which(sh.name);
    const skip = path ? false : `${sh.name} is not installed (Debian: apt-get install ${sh.name})`;
    it(`${sh.name}: pip, python3 -m pip and (in a venv) pip3 install through safe-pip; python3 -c, pip --version and exit codes as before`, { skip }, async () => {
      const [t1, t3, t4] = [tempDir(), tempDir(), tempDir()];
      const venv = skip ? undefined : await makeVenv(join(tempDir(), "venv"));
      const lines = [
        sh.init,
        `pip install --target ${t1} demo`,
        `python3 -m pip install --target ${t3} demo`,
        `python3 -c 'print(40 + 2)'`,
        `pip --version`,
        `python3 -c 'import sys; sys.exit(3)'; echo "python-exit=${sh.status}"`,
      ];
      // pip's own exit code comes back through safe-pip and the function (once is enough).
      if (sh.name === "bash") lines.push(`pip install --target ${t4} no-such-project; echo "pip-exit=${sh.status}"`);
      // A cluster ending in m (issue 11: it ran the real pip), once is enough too.
      if (sh.name === "zsh") lines.push(`python3 -Im pip install --target ${t4} demo`);
      // An activated venv: pip3 is the venv's, so the install lands in the venv.
      lines.push(sh.activate(venv?.dir ?? ""), "pip3 install demo", `python -c 'import demo; print("venv-demo=" + demo.__version__)'`);
      const r = await execa(path!, ["-c", lines.join("\n")], { env: env(), extendEnv: false, reject: false, all: true, timeout: 300_000 });
      const out = String(r.all);
      assert.equal(r.exitCode, 0, out);
      for (const t of [t1, t3]) assert.equal(installedVersions(t).demo, "1.0", out);
      assert.match(out, /^venv-demo=1\.0$/m);
      const routed = sh.name === "fish" ? 3 : 4;
      assert.equal(out.match(ROUTED)?.length, routed, out);
      assert.equal(out.match(REMOVED)?.length, routed, out);
      if (sh.name === "zsh") assert.equal(installedVersions(t4).demo, "1.0", out);
      assert.match(out, /^42$/m);
      assert.ok(out.split("\n").includes(realPipVersion), `pip --version should print "${realPipVersion}"\n${out}`);
      assert.doesNotMatch(out, /^safe-pip \d/m, "pip --version is pip's alone");
      assert.match(out, /^python-exit=3$/m);
      if (sh.name === "bash") {
        assert.match(out, /No matching distribution found for no-such-project/);
        assert.match(out, /^pip-exit=1$/m);
      }
    });
  }

  it("PATH shims: non-interactive sh (Makefiles, CI, IDEs) installs through safe-pip, and undo removes them", async () => {
    const e = env();
    const dir = join(tempDir(), "shims");
    const setup = await safePip(["setup", "path", "--dir", dir], { env: e });
    assert.equal(setup.code, 0, setup.stderr);
    assert.equal(setup.stdout, `export PATH=${dir}:"$PATH" # safe-pip PATH shims`);
    assert.ok(existsSync(join(dir, "pip")) && existsSync(join(dir, "pip3")) && existsSync(join(dir, ".safe-pip-shims")));
    assert.ok(!existsSync(join(e.HOME!, ".bashrc")), "without --rc no rc file is touched");
    const target = tempDir();
    const run = await execa("sh", ["-c", `${setup.stdout.trim()}\npip install --target ${target} demo\npip3 --version`], { env: e, extendEnv: false, reject: false, all: true });
    const out = String(run.all);
    assert.equal(run.exitCode, 0, out);
    assert.equal(out.match(ROUTED)?.length, 1, out);
    assert.ok(out.split("\n").includes(realPipVersion), out);
    assert.equal(installedVersions(target).demo, "1.0");
    const undo = await safePip(["setup", "path", "--dir", dir, "--undo"], { env: e });
    assert.equal(undo.code, 0, undo.stderr);
    assert.ok(!existsSync(dir));
  });
});

describe("setup shell and setup path --rc", { concurrency: true }, () => {
  it("bash: one line in ~/.bashrc, idempotent; --undo gives the file back byte for byte", async () => {
    const e = env();
    const rc = join(e.HOME!, ".bashrc");
    const original = "# my settings\nalias ll='ls -l'\n";
    writeFileSync(rc, original);
    for (let i = 0; i < 2; i++) assert.equal((await safePip(["setup", "shell", "bash"], { env: e })).code, 0);
    const text = readFileSync(rc, "utf8");
    assert.equal(text, `${original}eval "$(${CLI.replace(/'/g, "")} shell-init bash)" # safe-pip shell-init: \`safe-pip setup shell --undo\` removes it\n`);
    // The line works: an interactive bash reading this rc file routes pip.
    const bash = await execa("bash", ["-ic", "type -t pip; type -t python3; python3 -c 'print(7)'"], { env: e, extendEnv: false, reject: false, stdin: "ignore" });
    assert.equal(String(bash.stdout), "function\nfunction\n7", String(bash.stderr));
    const undo = await safePip(["setup", "shell", "bash", "--undo"], { env: e });
    assert.match(undo.stderr, /removed the safe-pip line from .*\.bashrc/);
    assert.equal(readFileSync(rc, "utf8"), original);
  });

  it("takes the shell from $SHELL; fish gets its own conf.d file; setup path --rc adds the PATH line there", async () => {
    const e: Record<string, string> = { ...env(), SHELL: "/usr/bin/fish" };
    const conf = join(e.XDG_CONFIG_HOME!, "fish", "conf.d", "safe-pip.fish");
    assert.equal((await safePip(["setup", "shell"], { env: e })).code, 0);
    const dir = join(tempDir(), "shims");
    const r = await safePip(["setup", "path", "--dir", dir, "--rc"], { env: e });
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(conf, "utf8").split("\n");
    assert.match(lines[0]!, /^status is-interactive; and .* shell-init fish \| source # safe-pip shell-init/);
    assert.equal(lines[1], `fish_add_path --global --path --prepend --move ${dir} # safe-pip PATH shims`);
    await safePip(["setup", "path", "--dir", dir, "--undo"], { env: e });
    await safePip(["setup", "shell", "--undo"], { env: e });
    assert.ok(!existsSync(conf));
  });

  it("prints PowerShell code, and refuses an unknown shell", async () => {
    const ps = await safePip(["shell-init", "powershell"], { env: env() });
    assert.equal(ps.code, 0);
    assert.match(ps.stdout, /^function global:pip \{/m);
    const bad = await safePip(["shell-init", "tcsh"], { env: env() });
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /unknown shell "tcsh"/);
  });
});
