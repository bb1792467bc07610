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
import { fishQuote, shQuote } from "../../src/shell/command.js";
import { shellInit } from "../../src/shell/init.js";
import { writeShims } from "../../src/shell/pathshims.js";
import { tempDir } from "../helpers/env.js";
import { limiter, realPython } from "../helpers/python.js";

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
    ["python3 -X utf8 -m pip install e", `SAFE-PIP py=${bin}/python3 nus= safe= args=install|e|`],
    ["python3 -Im pip install e2", `SAFE-PIP py=${bin}/python3 nus=1 safe=1 args=install|e2|`],
    ["python3 -sEmpip install e3", `SAFE-PIP py=${bin}/python3 nus=1 safe= args=install|e3|`],
    ["python3 -W -m pip install e4", `REAL ${bin}/python3 -W -m pip install e4`],
    ["python3 -m pipx install f", `REAL ${bin}/python3 -m pipx install f`],
    ["python3 -c 'print(1)'", `REAL ${bin}/python3 -c print(1)`],
    ["python3 script.py -m pip install g", `REAL ${bin}/python3 script.py -m pip install g`],
    ["python3 -m pip", `REAL ${bin}/python3 -m pip`],
    ["python3 -m pip --version", `REAL ${bin}/python3 -m pip --version`],
    ["pip --version", `REAL ${bin}/python3 -m pip --version`],
    ["pip", `REAL ${bin}/python3 -m pip`],
    [`python3 -c 'import sys; sys.exit(3)'; echo "exit=${status}"`, "exit=3"],
    [`STUB_EXIT=5 pip install h; echo "exit=${status}"`, "exit=5"],
    // stderr joins stdout here, so the message can't land in another case's section.
    [`pip3.9 install i 2>&1; echo "exit=${status}"`, "exit=127"],
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

/**
 * Interpreter options before `-m pip`, checked against CPython itself. Each case is a list of
 * arguments where MOD stands for the module. The real python3 runs it with MOD = site (`-m site`
 * prints ENABLE_USER_SITE and sys.path, so it shows whether the module ran and what -s/-I/-P did);
 * each shell then runs it with MOD = pip and must route exactly when CPython ran the module, with
 * pip's arguments intact and the user-site and safe-path settings CPython would have used.
 */
const PY_RUN: string[][] = [
  // Clusters ending in m, with the module attached or next (issue 11: these ran the real pip).
  ["-Im", "MOD"], ["-sm", "MOD"], ["-Esm", "MOD"], ["-ImMOD"], ["-sEmMOD"], ["-IsEm", "MOD"],
  ["-OO", "-m", "MOD"], ["-bb", "-mMOD"], ["-I", "-u", "-m", "MOD"], ["-IPBuRxdqvESi", "-m", "MOD"],
  ["-S", "-m", "MOD"], ["-P", "-m", "MOD"], ["-i", "-m", "MOD"], ["-sBm", "MOD"],
  // Options with a value: the rest of the cluster, else the next argument, whatever it looks like.
  ["-W", "default", "-m", "MOD"], ["-Wdefault", "-m", "MOD"], ["-sWdefault", "-Im", "MOD"],
  ["-X", "utf8", "-m", "MOD"], ["-Xutf8", "-sm", "MOD"], ["-Wm", "-m", "MOD"], ["-Xm", "-m", "MOD"],
  ["-Wignore", "-Xdev", "-Im", "MOD"], ["--check-hash-based-pycs", "always", "-m", "MOD"],
];
/** Python runs something else, or nothing: untouched. */
const PY_NOT_RUN: string[][] = [
  ["-W", "-m", "MOD"], ["-X", "-m", "MOD"], ["-Xm", "MOD"], ["--check-hash-based-pycs", "-m", "MOD"],
  ["-c", "pass", "-m", "MOD"], ["-Ic", "pass", "-m", "MOD"], ["-cm", "MOD"], ["-sc", "pass", "-sm", "MOD"],
  ["-V", "-m", "MOD"], ["-IV", "-m", "MOD"], ["-h", "-m", "MOD"], ["-?", "-m", "MOD"],
  ["-J", "-m", "MOD"], ["-IZm", "MOD"], ["--version", "-m", "MOD"], ["--help", "-m", "MOD"],
  ["--", "-m", "MOD"], ["-", "-m", "MOD"], ["script.py", "-m", "MOD"], ["-m", "MODx"], ["-mMODx"],
  ["-m", "x", "-m", "MOD"],
];

/** More cases from a fixed seed: clusters of flags, value options and stoppers in any order. */
function randomPyCases(n: number, seed: number): string[][] {
  let x = seed;
  const rnd = (k: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return Math.floor((x / 2147483648) * k);
  };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const out: string[][] = [];
  for (let c = 0; c < n; c++) {
    const args: string[] = [];
    // Once -m has its module, the rest is the module's: the case ends there.
    let module = false;
    for (let k = 1 + rnd(3); k > 0 && !module; k--) {
      let cl = "-";
      for (let j = rnd(4); j > 0; j--) cl += pick("bBdEiIOPqRsSuvxIsI".split(""));
      if (rnd(12) === 0) cl += pick(["c", "V", "h", "J", "Z"]);
      const end = rnd(5);
      if (end === 0) {
        const opt = pick(["Wdefault", "Xutf8", "mMOD"]);
        args.push(cl + opt);
        module = opt.startsWith("m");
      } else if (end === 1) {
        const opt = pick(["W", "X", "m"]);
        args.push(cl + opt, pick(["ignore", "dev", "MOD", "-m"]));
        module = opt === "m";
      } else if (cl.length > 1) args.push(cl);
    }
    if (!module && (rnd(4) > 0 || args.length === 0)) args.push("-m", "MOD");
    out.push(args);
  }
  return out;
}

interface PyVerdict {
  args: string[];
  ran: boolean;
  userSite?: boolean;
  safePath?: boolean;
}

/** What CPython does with the options: runs `-m site` or not, and with which settings. */
async function cpython(args: string[], cwd: string): Promise<PyVerdict> {
  const r = await execa(realPython(), args.map((a) => a.replace(/MOD/g, "site")), {
    cwd, env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" }, extendEnv: false, reject: false, stdin: "ignore", timeout: 20_000,
  });
  const out = String(r.stdout);
  const site = /^ENABLE_USER_SITE: (\w+)$/m.exec(out);
  // Given arguments of its own, `-m site` prints its usage instead: it ran, settings unseen.
  if (!site) return { args, ran: out.includes("[--user-base] [--user-site]") };
  const first = /^sys\.path = \[\n\s+'([^']*)'/m.exec(out)?.[1];
  return { args, ran: true, userSite: site[1] === "None" ? undefined : site[1] === "True", safePath: first !== cwd };
}

describe("python [options] -m pip: options read the way CPython reads them", async () => {
  const cwd = tempDir("safe-pip-pyopts-");
  const limit = limiter(4);
  const cases = [...PY_RUN, ...PY_NOT_RUN, ...randomPyCases(60, 11)];
  const verdicts = await Promise.all(cases.map((c) => limit(() => cpython(c, cwd))));

  it("CPython agrees with what the cases are meant to show", () => {
    const ran = (c: string[]) => verdicts.find((v) => v.args === c)!.ran;
    for (const c of PY_RUN) assert.ok(ran(c), `CPython runs the module for ${c.join(" ")}`);
    for (const c of PY_NOT_RUN) assert.ok(!ran(c), `CPython runs no module for ${c.join(" ")}`);
  });

  for (const sh of SHELLS) {
    const path = await which(sh.name);
    const skip = path ? false : `${sh.name} is not installed (Debian: apt-get install ${sh.name})`;
    it(`${sh.name}: routes exactly the calls where CPython runs -m pip`, { skip }, async () => {
      const f = fixture();
      const init = join(f.root, `init.${sh.name}`);
      writeFileSync(init, shellInit(sh.name, [f.stub]));
      const quote = sh.name === "fish" ? fishQuote : shQuote;
      const argvOf = (v: PyVerdict) => [...v.args.map((a) => a.replace(/MOD/g, "pip")), "install", "x"];
      const body = verdicts.map((v, i) => `echo "--- ${i}"\npython3 ${argvOf(v).map(quote).join(" ")}`).join("\n");
      const file = join(f.root, `py.${sh.name}`);
      writeFileSync(file, `${sh.source(init)}\n${body}\necho "--- end"\n`);
      const out = await runShell([path!, ...sh.argv.slice(1)], file, f.env);
      const sections = out.split(/^--- /m).slice(1);
      assert.equal(sections.length, verdicts.length + 1, out);
      verdicts.forEach((v, i) => {
        const got = sections[i]!.replace(/^\d+\n/, "").trim();
        const what = `${sh.name}: python3 ${argvOf(v).join(" ")}`;
        if (!v.ran) {
          assert.equal(got, `REAL ${f.bin}/python3 ${argvOf(v).join(" ")}`, what);
          return;
        }
        const m = /^SAFE-PIP py=(\S*) nus=(\S*) safe=(\S*) args=(.*)$/.exec(got);
        assert.ok(m, `${what}\n  expected safe-pip, got: ${got}`);
        assert.equal(m[1], `${f.bin}/python3`, what);
        assert.equal(m[4], "install|x|", what);
        if (v.userSite !== undefined) assert.equal(m[2], v.userSite ? "" : "1", `${what}: user site`);
        if (v.safePath !== undefined) assert.equal(m[3], v.safePath ? "1" : "", `${what}: safe path`);
      });
    });
  }

  const bash = await which("bash");
  it("routes -m pip.__main__ too (it runs the same pip)", { skip: bash ? false : "no bash" }, async () => {
    const f = fixture();
    const init = join(f.root, "init.bash");
    writeFileSync(init, shellInit("bash", [f.stub]));
    const file = join(f.root, "main.bash");
    writeFileSync(file, `. '${init}'\npython3 -Im pip.__main__ install x\npython3 -m pip.__main__x install x\n`);
    const out = await runShell([bash!, "--norc", "--noprofile"], file, f.env);
    assert.equal(out.trim(), `SAFE-PIP py=${f.bin}/python3 nus=1 safe=1 args=install|x|\nREAL ${f.bin}/python3 -m pip.__main__x install x`);
  });
});

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
