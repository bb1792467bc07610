import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

const CLI = [process.execPath, join(packageRoot(), "dist", "cli.js")];
const cli = CLI.map((c) => `'${c}'`).join(" ");
let idx: FakeIndex;
let evil: FakeIndex;

before(async () => {
  idx = await startFakeIndex({ projects: { demo: [{ version: "1.0", uploadTime: daysAgo(30) }, { version: "2.0", uploadTime: daysAgo(1) }] } });
  evil = await startFakeIndex({ projects: { demo: [{ version: "9.9", uploadTime: daysAgo(30) }] } });
});
after(async () => {
  await Promise.all([idx.close(), evil.close()]);
  cleanupAll();
});

function env(): Record<string, string> {
  // The extra index in the environment proves each call went through safe-pip (which removes it).
  return isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "off" } }), PIP_EXTRA_INDEX_URL: evil.url, PIP_ROOT_USER_ACTION: "ignore" }).env;
}

async function has(shell: string): Promise<boolean> {
  return (await execa("sh", ["-c", `command -v ${shell}`], { reject: false })).exitCode === 0;
}

const SHELLS: Array<{ name: "bash" | "zsh" | "fish"; init: string; status: string }> = [
  { name: "bash", init: `eval "$(${cli} shell-init bash)"`, status: "$?" },
  { name: "zsh", init: `eval "$(${cli} shell-init zsh)"`, status: "$?" },
  { name: "fish", init: `${cli} shell-init fish | source`, status: "$status" },
];

for (const sh of SHELLS) {
  describe(`${sh.name} with the init line`, async () => {
    const available = await has(sh.name);
    it("routes pip, pip3 and python3 -m pip through safe-pip; leaves other calls and exit codes alone", { skip: available ? false : `${sh.name} is not installed` }, async () => {
      const t1 = tempDir();
      const t2 = tempDir();
      const t3 = tempDir();
      const script = [
        sh.init,
        `pip install --target ${t1} demo`,
        `pip3 install --target ${t2} demo`,
        `python3 -m pip install --target ${t3} demo`,
        `python3 -c 'print(40 + 2)'`,
        `pip --version`,
        `python3 -c 'import sys; sys.exit(3)'`,
        `echo "exit=${sh.status}"`,
      ].join("\n");
      const r = await execa(sh.name, ["-c", script], { env: env(), extendEnv: false, reject: false, all: true });
      const out = String(r.all);
      assert.equal(r.exitCode, 0, out);
      for (const t of [t1, t2, t3]) assert.equal(installedVersions(t).demo, "1.0", out);
      assert.equal(out.match(/resolving through the unified index/g)?.length, 3, out);
      assert.equal(out.match(/ignored extra-index-url/g)?.length, 3, out);
      assert.match(out, /^42$/m);
      assert.match(out, /^pip \d+\.\d+/m);
      assert.match(out, /^exit=3$/m);
    });
  });
}

describe("PATH shims", () => {
  it("cover non-interactive sh (Makefiles, CI, IDEs) and never call themselves", async () => {
    const e = env();
    const dir = join(tempDir(), "shims");
    const r = await safePip(["setup", "path", "bash", "--dir", dir], { env: e });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, "pip")) && existsSync(join(dir, "pip3")) && existsSync(join(dir, ".safe-pip-shims")));
    const target = tempDir();
    const run = await execa("sh", ["-c", `PATH=${dir}:"$PATH" pip install --target ${target} demo && PATH=${dir}:"$PATH" pip3 --version`], { env: e, extendEnv: false, reject: false, all: true });
    assert.equal(run.exitCode, 0, String(run.all));
    assert.match(String(run.all), /resolving through the unified index/);
    assert.match(String(run.all), /^pip \d+/m);
    assert.equal(installedVersions(target).demo, "1.0");
    const rc = readFileSync(join(e.HOME!, ".bashrc"), "utf8");
    assert.match(rc, /export PATH=.*shims:"\$PATH" # safe-pip PATH shims/);
    const undo = await safePip(["setup", "path", "bash", "--dir", dir, "--undo"], { env: e });
    assert.equal(undo.code, 0);
    assert.ok(!existsSync(join(dir, "pip")));
    assert.ok(!existsSync(join(e.HOME!, ".bashrc")));
  });
});

describe("setup shell", () => {
  it("adds one line to the rc file, idempotently, and --undo removes only that line", async () => {
    const e = env();
    const rc = join(e.HOME!, ".bashrc");
    writeFileSync(rc, "# my settings\nalias ll='ls -l'\n");
    for (let i = 0; i < 2; i++) assert.equal((await safePip(["setup", "shell", "bash"], { env: e })).code, 0);
    const text = readFileSync(rc, "utf8");
    assert.equal(text.match(/safe-pip shell-init/g)?.length, 1);
    assert.ok(text.startsWith("# my settings\nalias ll='ls -l'\n"));
    await safePip(["setup", "shell", "bash", "--undo"], { env: e });
    assert.equal(readFileSync(rc, "utf8"), "# my settings\nalias ll='ls -l'\n");
  });

  it("prints PowerShell code too, and refuses an unknown shell", async () => {
    const ps = await safePip(["shell-init", "powershell"], { env: env() });
    assert.equal(ps.code, 0);
    assert.match(ps.stdout, /function global:pip /);
    const bad = await safePip(["shell-init", "tcsh"], { env: env() });
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /unknown shell "tcsh"/);
  });
});
