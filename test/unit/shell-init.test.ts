import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { fishQuote, psQuote, safePipCommand, shQuote } from "../../src/shell/command.js";
import { PIP_NAMES, PY_FLAGS, PYTHON_NAMES, shellInit } from "../../src/shell/init.js";
import { initLine, pathLine, pickShell, rcFile } from "../../src/shell/rcfile.js";
import { shimScript } from "../../src/shell/pathshims.js";
import { tempDir } from "../helpers/env.js";

const CMD = ["/opt/node/bin/node", "/opt/safe pip/dist/cli.js"];

describe("shell-init text", () => {
  it("bash and zsh: a function per pip and python name, calling safe-pip by absolute path", () => {
    for (const shell of ["bash", "zsh"] as const) {
      const code = shellInit(shell, CMD);
      assert.match(code, new RegExp(`^export SAFE_PIP_SHELL_INIT=${shell}$`, "m"));
      for (const pip of PIP_NAMES) assert.ok(code.includes(`\nfunction ${pip} { __safe_pip_pip ${pip} "$@"; }\n`), pip);
      for (const py of PYTHON_NAMES) assert.ok(code.includes(`\nfunction ${py} { __safe_pip_py ${py} "$@"; }\n`), py);
      assert.ok(PIP_NAMES.includes("pip3.11") && PYTHON_NAMES.includes("python3.13"));
      // The command is quoted once, and runs with the interpreter the plain command would have used.
      assert.equal(code.split(`SAFE_PIP_PYTHON=$__sp_py /opt/node/bin/node '/opt/safe pip/dist/cli.js' "$@"`).length, 3);
      // Inside a pip that safe-pip runs, the real commands.
      assert.match(code, /if \[ -n "\$\{SAFE_PIP_ACTIVE:-\}" \]; then command "\$__sp_name" "\$@"; return; fi/);
      assert.match(code, /if \[ -z "\$\{SAFE_PIP_ACTIVE:-\}" \]; then/);
      // The interpreter lookup is shared with the PATH shims, and finds executables only.
      assert.ok(code.includes(snippet()));
      assert.match(code, shell === "bash" ? /__safe_pip_exe\(\) \{ type -P -- "\$1"; \}/ : /__safe_pip_exe\(\) \{ whence -p -- "\$1"; \}/);
      // No aliases of its own: a user's alias of the same name keeps working.
      assert.doesNotMatch(code, /^\s*alias /m);
    }
  });

  it("fish: the same functions, fish syntax and fish quoting", () => {
    const code = shellInit("fish", CMD);
    assert.match(code, /^set -gx SAFE_PIP_SHELL_INIT fish$/m);
    for (const pip of PIP_NAMES) assert.ok(code.includes(`\nfunction ${pip}\n    __safe_pip_pip ${pip} $argv\nend\n`), pip);
    for (const py of PYTHON_NAMES) assert.ok(code.includes(`\nfunction ${py}\n    __safe_pip_py ${py} $argv\nend\n`), py);
    assert.ok(code.includes("env SAFE_PIP_PYTHON=$py[1] /opt/node/bin/node '/opt/safe pip/dist/cli.js' $args\n"));
    assert.ok(code.includes("env $envs /opt/node/bin/node '/opt/safe pip/dist/cli.js' $args[(math $n + 1)..-1]\n"));
    assert.match(code, /if test -n "\$SAFE_PIP_ACTIVE"\n\s+command \$name \$args/);
  });

  it("PowerShell: pip, pip3, python, python3 and the py launcher", () => {
    const code = shellInit("powershell", ["C:\\Program Files\\nodejs\\node.exe", "C:\\Users\\o'brien\\safe-pip\\dist\\cli.js"]);
    for (const name of ["pip", "pip3", "python", "python3", "py"]) assert.match(code, new RegExp(`^function global:${name} \\{`, "m"), name);
    assert.ok(code.includes(`try { & 'C:\\Program Files\\nodejs\\node.exe' 'C:\\Users\\o''brien\\safe-pip\\dist\\cli.js' @PipArgs }`));
    assert.match(code, /^\$env:SAFE_PIP_SHELL_INIT = 'powershell'$/m);
    // pwsh isn't installable here (no Debian package), so the option parser is checked as text:
    // clusters read letter by letter like CPython (shell-routing.test.ts runs the same rules for
    // real in bash, zsh and fish), used by python, python3 and the py launcher alike.
    assert.ok(code.includes(`if (-not ($a -cmatch '^-([${PY_FLAGS}]*)(.*)$')) { break }`));
    assert.ok(code.includes("if ($a -ceq '--check-hash-based-pycs') { $i++; continue }"));
    assert.ok(code.includes("if (@('pip', 'pip.__main__') -ccontains $value) { return @{ Skip = $i; Flags = $flags } }"));
    assert.ok(code.includes("if ($opt -cmatch '^[WX]$') { if ($value -eq '') { $i++ }; continue }"));
    assert.equal(code.split("__SafePipPyArgs $").length, 3, "python/python3 and py share the parser");
    assert.deepEqual([...PY_FLAGS].sort(), [..."bBdEiIOPqRsSuvx"].sort());
    assert.ok(code.includes("if ($env:SAFE_PIP_ACTIVE) {"));
    assert.ok(code.includes("Get-Command -Name $Name -CommandType Application"));
    // Balanced braces and parentheses: a cheap syntax check where pwsh isn't installed.
    for (const [open, close] of [["{", "}"], ["(", ")"]] as const) assert.equal(code.split(open).length, code.split(close).length, `${open}${close}`);
  });
});

/** shims/sh/python-for-pip.sh as shipped (the generators embed it without its last newline). */
function snippet(): string {
  return readFileSync(join(packageRoot(), "shims", "sh", "python-for-pip.sh"), "utf8").trimEnd();
}

describe("the command generated code calls", () => {
  it("is this installation's node and dist/cli.js, or SAFE_PIP_BIN (a path, or a command line)", () => {
    assert.deepEqual(safePipCommand({}), [process.execPath, join(packageRoot(), "dist", "cli.js")]);
    assert.deepEqual(safePipCommand({ SAFE_PIP_BIN: "node /opt/x/cli.js" }), ["node", "/opt/x/cli.js"]);
    const withSpace = join(tempDir(), "my safe-pip");
    writeFileSync(withSpace, "");
    assert.deepEqual(safePipCommand({ SAFE_PIP_BIN: withSpace }), [withSpace]);
  });

  it("is quoted for each shell", () => {
    assert.equal(shQuote("/usr/bin/node"), "/usr/bin/node");
    assert.equal(shQuote("/a b/it's"), `'/a b/it'\\''s'`);
    assert.equal(fishQuote("/a b/it's\\x"), `'/a b/it\\'s\\\\x'`);
    assert.equal(psQuote("C:\\it's"), `'C:\\it''s'`);
  });
});

describe("rc files and lines", () => {
  it("picks the shell named, else $SHELL's; refuses others", () => {
    assert.equal(pickShell(undefined, { SHELL: "/usr/bin/zsh" }), "zsh");
    assert.equal(pickShell("fish", { SHELL: "/bin/bash" }), "fish");
    assert.equal(pickShell(undefined, { SHELL: "/usr/local/bin/pwsh" }), "powershell");
    assert.throws(() => pickShell("tcsh", {}), /unknown shell "tcsh"/);
    assert.throws(() => pickShell(undefined, { SHELL: "/bin/sh" }), /can't tell the shell from \$SHELL \(\/bin\/sh\)/);
  });

  it("knows each shell's rc file", () => {
    const env = { HOME: "/home/u" };
    assert.equal(rcFile("bash", env), "/home/u/.bashrc");
    assert.equal(rcFile("zsh", env), "/home/u/.zshrc");
    assert.equal(rcFile("zsh", { ...env, ZDOTDIR: "/home/u/.config/zsh" }), "/home/u/.config/zsh/.zshrc");
    assert.equal(rcFile("fish", env), "/home/u/.config/fish/conf.d/safe-pip.fish");
    assert.equal(rcFile("fish", { ...env, XDG_CONFIG_HOME: "/x" }), "/x/fish/conf.d/safe-pip.fish");
    assert.equal(rcFile("powershell", env, "linux"), "/home/u/.config/powershell/Microsoft.PowerShell_profile.ps1");
    assert.match(rcFile("powershell", { USERPROFILE: "C:\\Users\\u" }, "win32"), /Documents.PowerShell.Microsoft\.PowerShell_profile\.ps1$/);
  });

  it("writes one marked line per shell", () => {
    assert.equal(
      initLine("bash", CMD),
      `eval "$(/opt/node/bin/node '/opt/safe pip/dist/cli.js' shell-init bash)" # safe-pip shell-init: \`safe-pip setup shell --undo\` removes it`,
    );
    assert.match(initLine("zsh", CMD), /^eval "\$\(.* shell-init zsh\)" # safe-pip shell-init/);
    assert.equal(
      initLine("fish", CMD),
      `status is-interactive; and /opt/node/bin/node '/opt/safe pip/dist/cli.js' shell-init fish | source # safe-pip shell-init: \`safe-pip setup shell --undo\` removes it`,
    );
    assert.match(initLine("powershell", CMD), /^\(& '\/opt\/node\/bin\/node' '\/opt\/safe pip\/dist\/cli\.js' shell-init powershell\) -join \[Environment\]::NewLine \| Invoke-Expression # safe-pip shell-init/);
    assert.equal(pathLine("sh", "/home/u/.local/share/safe-pip/shims"), `export PATH=/home/u/.local/share/safe-pip/shims:"$PATH" # safe-pip PATH shims`);
    assert.equal(pathLine("fish", "/a b"), `fish_add_path --global --path --prepend --move '/a b' # safe-pip PATH shims`);
  });
});

describe("PATH shim text", () => {
  it("is the sh template with the name, the command and the shared interpreter lookup filled in", () => {
    const text = shimScript("pip3.12", CMD);
    assert.ok(text.startsWith("#!/bin/sh\n# safe-pip PATH shim for pip3.12: "));
    assert.doesNotMatch(text, /@[A-Z_]+@/);
    assert.ok(text.includes(snippet()));
    assert.ok(text.includes(`exec /opt/node/bin/node '/opt/safe pip/dist/cli.js' "$@"\n`));
    assert.ok(text.includes(`if [ -n "\${SAFE_PIP_ACTIVE:-}" ]; then`));
    assert.ok(text.includes(`[ -f "$__sp_d/.safe-pip-shims" ]`));
    assert.throws(() => shimScript("rm -rf", CMD), /not a pip command name/);
  });
});
