/**
 * The generated shell code and the PATH shims, run by the real shells against stand-ins: a fake
 * safe-pip that prints what it was given, and fake pythons/pips that say they ran. Fast (no pip, no
 * node per call), hermetic (PATH holds only the fakes and `env`), and it pins every routing rule:
 * which calls reach safe-pip, with which interpreter, and which run untouched with their exit code.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { shellInit } from "../../src/shell/init.js";
import { writeShims } from "../../src/shell/pathshims.js";
import { tempDir } from "../helpers/env.js";

function script(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}

interface Fixture {
  root: string;
  bin: string;
  venv: string;
  stub: string;
  env: Record<string, string>;
}

function fixture(): Fixture {
  const root = tempDir("safe-pip-shell-");
  const bin = join(root, "bin");
  const venv = join(root, "venv", "bin");
  const tools = join(root, "tools");
  // A space in the path proves the command is quoted wherever it is embedded.
  const stubDir = join(root, "safe pip");
  for (const d of [bin, venv, tools, stubDir]) mkdirSync(d, { recursive: true });
  symlinkSync("/usr/bin/env", join(tools, "env"));
  const stub = join(stubDir, "safe-pip");
  script(
    stub,
    `#!/bin/sh\nprintf 'SAFE-PIP py=%s nus=%s safe=%s args=' "$SAFE_PIP_PYTHON" "\${PYTHONNOUSERSITE:-}" "\${PYTHONSAFEPATH:-}"\nprintf '%s|' "$@"\necho\nexit "\${STUB_EXIT:-0}"\n`,
  );
  const fakePython = `#!/bin/sh\necho "REAL $0 $*"\ncase "$*" in *"sys.exit(3)"*) exit 3 ;; esac\nexit 0\n`;
  for (const py of ["python", "python3", "python3.12"]) script(join(bin, py), fakePython);
  // pip names its interpreter on the #! line (like pip's own launchers); pip3 doesn't (like a
  // wrapper), so its sibling python3 is the one; there is no pip3.12, so python3.12 on PATH is.
  script(join(bin, "pip"), `#!${bin}/python3\n`);
  script(join(bin, "pip3"), "#!/bin/sh\necho \"REAL pip3 $*\"\n");
  script(join(venv, "python"), fakePython);
  script(join(venv, "pip"), "#!/bin/sh\necho \"REAL venv pip $*\"\n");
  const env = { PATH: `${bin}:${tools}`, HOME: root, LANG: "C.UTF-8" };
  return { root, bin, venv, stub, env };
}

/** The same checks in every shell; `status` is how the shell spells the last exit code. */
function checks(f: Fixture, status: string, setPath: (dir: string) => string): Array<[command: string, expected: string]> {
  const { bin, venv } = f;
  return [
    ["pip install x", `SAFE-PIP py=${bin}/python3 nus= safe= args=install|x|`],
    ["pip3 install y", `SAFE-PIP py=${bin}/python3 nus= safe= args=install|y|`],
    ["pip3.12 install z", `SAFE-PIP py=${bin}/python3.12 nus= safe= args=install|z|`],
    ["python -m pip install a", `SAFE-PIP py=${bin}/python nus= safe= args=install|a|`],
    ["python3 -m pip install --target 'with space' b", `SAFE-PIP py=${bin}/python3 nus= safe= args=install|--target|with space|b|`],
    ["python3.12 -mpip list --outdated", `SAFE-PIP py=${bin}/python3.12 nus= safe= args=list|--outdated|`],
    ["python3 -I -u -m pip install c", `SAFE-PIP py=${bin}/python3 nus=1 safe=1 args=install|c|`],
    ["python3 -s -m pip install d", `SAFE-PIP py=${bin}/python3 nus=1 safe= args=install|d|`],
    ["python3 -X utf8 -m pip install e", `REAL ${bin}/python3 -X utf8 -m pip install e`],
    ["python3 -m pipx install f", `REAL ${bin}/python3 -m pipx install f`],
    ["python3 -c 'print(1)'", `REAL ${bin}/python3 -c print(1)`],
    ["python3 script.py -m pip install g", `REAL ${bin}/python3 script.py -m pip install g`],
    ["python3 -m pip", `REAL ${bin}/python3 -m pip`],
    ["python3 -m pip --version", `REAL ${bin}/python3 -m pip --version`],
    ["pip --version", `REAL ${bin}/python3 -m pip --version`],
    ["pip", `REAL ${bin}/python3 -m pip`],
    [`python3 -c 'import sys; sys.exit(3)'; echo "exit=${status}"`, "exit=3"],
    [`STUB_EXIT=5 pip install h; echo "exit=${status}"`, "exit=5"],
    [`pip3.9 install i; echo "exit=${status}"`, "exit=127"],
    ["SAFE_PIP_ACTIVE=1 pip install j", `REAL ${bin}/python3 ${bin}/pip install j`],
    ["SAFE_PIP_ACTIVE=1 python3 -m pip install k", `REAL ${bin}/python3 -m pip install k`],
    [`${setPath(venv)}; pip install l`, `SAFE-PIP py=${venv}/python nus= safe= args=install|l|`],
  ];
}

async function runShell(shell: string[], file: string, env: Record<string, string>): Promise<string> {
  const r = await execa(shell[0]!, [...shell.slice(1), file], { env, extendEnv: false, reject: false, all: true, timeout: 30_000 });
  return String(r.all);
}

/** The shell's absolute path (the tests' PATH holds only the fakes), or undefined when it's missing. */
async function which(shell: string): Promise<string | undefined> {
  const r = await execa("sh", ["-c", `command -v ${shell}`], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
}

const SHELLS = [
  { name: "bash", argv: ["bash", "--norc", "--noprofile"], status: "$?", source: (f: string) => `. '${f}'`, setPath: (d: string) => `export PATH='${d}':"$PATH"` },
  { name: "zsh", argv: ["zsh", "-f"], status: "$?", source: (f: string) => `. '${f}'`, setPath: (d: string) => `export PATH='${d}':"$PATH"` },
  { name: "fish", argv: ["fish", "--no-config"], status: "$status", source: (f: string) => `source '${f}'`, setPath: (d: string) => `set -gx PATH '${d}' $PATH` },
] as const;

for (const sh of SHELLS) {
  describe(`${sh.name}: shell-init routing`, async () => {
    const path = await which(sh.name);
    const skip = path ? false : `${sh.name} is not installed (Debian: apt-get install ${sh.name})`;
    const argv = [path ?? sh.name, ...sh.argv.slice(1)];

    it("routes pip, pip3, pip3.X and python -m pip with the right interpreter; everything else runs untouched", { skip }, async () => {
      const f = fixture();
      const init = join(f.root, `init.${sh.name}`);
      writeFileSync(init, shellInit(sh.name, [f.stub]));
      const cases = checks(f, sh.status, sh.setPath);
      // One shell run, each case between markers, so a failure names the case.
      const body = cases.map(([cmd], i) => `echo "--- ${i}"\n${cmd}`).join("\n");
      const file = join(f.root, `run.${sh.name}`);
      writeFileSync(file, `${sh.source(init)}\n${body}\necho "--- end"\n`);
      const out = await runShell(argv, file, f.env);
      const sections = out.split(/^--- /m).slice(1);
      assert.equal(sections.length, cases.length + 1, out);
      cases.forEach(([cmd, expected], i) => {
        const got = sections[i]!.replace(/^\d+\n/, "").trim();
        assert.ok(got.split("\n").includes(expected), `${sh.name}: ${cmd}\n  expected line: ${expected}\n  got: ${got}`);
      });
      const missing = sections[cases.findIndex(([c]) => c.startsWith("pip3.9"))]!;
      assert.match(missing, /safe-pip: no Python found for pip3\.9/);
    });

    it("leaves the user's aliases in place, and they still reach the functions", { skip }, async () => {
      const f = fixture();
      const init = join(f.root, "init");
      writeFileSync(init, shellInit(sh.name, [f.stub]));
      const pre = sh.name === "bash" ? "shopt -s expand_aliases\n" : "";
      const file = join(f.root, "alias-run");
      // bash/zsh: the alias comes first, as in an rc file that loads safe-pip at its end. fish
      // reads conf.d/safe-pip.fish before config.fish, so there the alias (a function in fish)
      // comes after and replaces ours; it still reaches the python3 function.
      const alias = "alias python=python3";
      const lines = sh.name === "fish" ? [sh.source(init), alias] : [pre + alias, sh.source(init)];
      writeFileSync(file, `${lines.join("\n")}\npython -m pip install a\npython -c 'print(2)'\n`);
      const out = await runShell(argv, file, f.env);
      assert.match(out, new RegExp(`^SAFE-PIP py=${f.bin}/python3 nus= safe= args=install\\|a\\|$`, "m"), out);
      assert.match(out, new RegExp(`^REAL ${f.bin}/python3 -c print\\(2\\)$`, "m"), out);
    });
  });
}

describe("PATH shims under plain sh", () => {
  it("route pip/pip3/pip3.X, drop their own directory from PATH, and run the real pip inside safe-pip's pip", async () => {
    const f = fixture();
    const shims = join(f.root, "shims");
    writeShims(shims, ["pip", "pip3", "pip3.12"], [f.stub]);
    // A second shim directory (another user's, an old install) is skipped as well.
    const other = join(f.root, "old-shims");
    writeShims(other, ["pip"], [f.stub]);
    const env = { ...f.env, PATH: `${shims}:${other}:${f.env.PATH}` };
    const run = async (cmd: string) => {
      const r = await execa("/bin/sh", ["-c", cmd], { env, extendEnv: false, reject: false, all: true });
      return { code: r.exitCode, out: String(r.all) };
    };
    assert.equal((await run("pip install x")).out, `SAFE-PIP py=${f.bin}/python3 nus= safe= args=install|x|`);
    assert.equal((await run("pip3 install y")).out, `SAFE-PIP py=${f.bin}/python3 nus= safe= args=install|y|`);
    assert.equal((await run("pip3.12 install z")).out, `SAFE-PIP py=${f.bin}/python3.12 nus= safe= args=install|z|`);
    assert.equal((await run("pip --version")).out, `REAL ${f.bin}/python3 -m pip --version`);
    assert.equal((await run("SAFE_PIP_ACTIVE=1 pip install j")).out, `REAL ${f.bin}/python3 ${f.bin}/pip install j`);
    assert.equal((await run("SAFE_PIP_ACTIVE=1 pip3.12 install j")).out, `REAL ${f.bin}/python3.12 -m pip install j`);
    const failing = await run("STUB_EXIT=7 pip install x");
    assert.equal(failing.code, 7);
    // The PATH safe-pip (and so pip) sees has no shim directory left in it.
    script(f.stub, `#!/bin/sh\necho "PATH=$PATH"\n`);
    assert.equal((await run("pip install x")).out, `PATH=${f.env.PATH}`);
  });

  it("say so when there is no Python for the name", async () => {
    const f = fixture();
    const shims = join(f.root, "shims");
    writeShims(shims, ["pip3.9"], [f.stub]);
    const r = await execa("/bin/sh", ["-c", "pip3.9 install x"], { env: { ...f.env, PATH: `${shims}:${f.env.PATH}` }, extendEnv: false, reject: false, all: true });
    assert.equal(r.exitCode, 127);
    assert.match(String(r.all), /safe-pip: no Python found for pip3\.9/);
  });
});
