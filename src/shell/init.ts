import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../core/paths.js";
import { fishQuote, psQuote, shQuote } from "./command.js";

export const SHELLS = ["bash", "zsh", "fish", "powershell"] as const;
export type Shell = (typeof SHELLS)[number];

/** The minor versions whose pip3.X / python3.X commands get a function (3.6 to 3.20). */
const MINORS = Array.from({ length: 15 }, (_, i) => i + 6);

/** pip, pip3, pip3.6 … pip3.20: each runs safe-pip with the interpreter it belongs to. */
export const PIP_NAMES: readonly string[] = ["pip", "pip3", ...MINORS.map((m) => `pip3.${m}`)];
/** python, python3, python3.6 … python3.20: `-m pip` goes to safe-pip, everything else runs as is. */
export const PYTHON_NAMES: readonly string[] = ["python", "python3", ...MINORS.map((m) => `python3.${m}`)];

/**
 * How `python [options] -m pip ARGS` is recognised: the way CPython's own parser
 * (Python/getopt.c) reads its options, so no spelling of it runs the real pip.
 * - Options are read from each argument in turn until one isn't an option (a script, `-`, `--`).
 * - An argument is a cluster: `-Im`, `-sEm pip`, `-OO`. Letters in PY_FLAGS take no value.
 * - A letter in PY_VALUE_OPTS takes a value: the rest of the cluster (`-Wdefault`, `-Xutf8`,
 *   `-mpip`) or, when nothing is left, the next argument (`-W default`, `-m pip`).
 * - `-m MOD` ends the options: MOD `pip` (or `pip.__main__`, which runs the same code) is routed.
 * - `--check-hash-based-pycs MODE` is the only long option that doesn't exit.
 * - Any other letter means Python doesn't run a module: `-c` (a command), `-h`/`-?`/`--help`
 *   and `-V` (print and exit), `-J` and unknown letters (an error). Those commands run untouched.
 * The options that change which packages pip sees reach safe-pip's pip as their environment
 * variables: -s/-I (no user site), -P/-I (no script directory on sys.path), and -B and -u too.
 * The rest (-E, -O, -i, -q, -v, -b, -d, -x, -R, -S, -W, -X) only matter to Python itself and are
 * dropped. Letters CPython added later (-P in 3.11) are routed on every version: routing is the
 * safe side.
 */
export const PY_FLAGS = "bBdEiIOPqRsSuvx";
export const PY_VALUE_OPTS = "mWX";
/** Module names after `-m` that run pip. */
export const PIP_MODULES: readonly string[] = ["pip", "pip.__main__"];

/** The POSIX function shared with the PATH shims (shims/sh/python-for-pip.sh). */
export function pythonForPipSnippet(): string {
  return readFileSync(join(packageRoot(), "shims", "sh", "python-for-pip.sh"), "utf8");
}

/**
 * bash and zsh. Every user-facing command is declared with the `function` keyword, so an alias of
 * the same name (alias pip=pip3) can't break the definition and still applies when typed.
 * `__safe_pip_exe` finds executables only (never these functions).
 */
function posix(cmd: string[], shell: "bash" | "zsh"): string {
  const sp = cmd.map(shQuote).join(" ");
  const exe = shell === "bash" ? 'type -P -- "$1"' : 'whence -p -- "$1"';
  const out = [
    `# safe-pip shell-init (${shell}): pip, pip3, pip3.X and python/python3[.X] -m pip run safe-pip`,
    "# with the Python the plain command would have used. Everything else runs untouched.",
    "# Remove the line that loads this with `safe-pip setup shell --undo`.",
    `export SAFE_PIP_SHELL_INIT=${shell}`,
    `__safe_pip_exe() { ${exe}; }`,
    pythonForPipSnippet().trimEnd(),
    "# __safe_pip_pip NAME ARGS: NAME ARGS through safe-pip, inside a pip that safe-pip runs the real NAME.",
    "__safe_pip_pip() {",
    "  local __sp_name=$1 __sp_py",
    "  shift",
    '  if [ -n "${SAFE_PIP_ACTIVE:-}" ]; then command "$__sp_name" "$@"; return; fi',
    '  if ! __sp_py=$(__safe_pip_python "$__sp_name"); then',
    '    echo "safe-pip: no Python found for $__sp_name" >&2',
    "    return 127",
    "  fi",
    "  # A bare pip and pip --version print what they always printed: nothing to install.",
    '  case $#:${1:-} in 0:|1:--version|1:-V) command "$__sp_py" -m pip "$@"; return ;; esac',
    `  SAFE_PIP_PYTHON=$__sp_py ${sp} "$@"`,
    "}",
    "# __safe_pip_py NAME ARGS: `NAME [options] -m pip ARGS` through safe-pip, anything else as NAME ARGS.",
    "# The options are read the way CPython reads them (see PY_FLAGS in src/shell/init.ts):",
    "# __sp_st is '' while reading options, m/v when the next argument is -m's module or another",
    "# option's value, mod once the module is known, stop when Python won't run a module.",
    "__safe_pip_py() {",
    "  local __sp_name=$1 __sp_a __sp_n=0 __sp_st= __sp_mod= __sp_flags= __sp_rest __sp_c __sp_next= __sp_py",
    "  shift",
    '  if [ -z "${SAFE_PIP_ACTIVE:-}" ]; then',
    '    for __sp_a in "$@"; do',
    '      if [ "$__sp_st" = mod ]; then __sp_next=$__sp_a; break; fi',
    "      __sp_n=$((__sp_n + 1))",
    '      case $__sp_st in',
    "        m) __sp_mod=$__sp_a; __sp_st=mod; continue ;;",
    "        v) __sp_st=; continue ;;",
    "      esac",
    "      case $__sp_a in",
    "        --check-hash-based-pycs) __sp_st=v; continue ;;",
    "        -[!-]*) ;;",
    "        *) __sp_st=stop; break ;;",
    "      esac",
    "      __sp_rest=${__sp_a#-}",
    '      while [ -n "$__sp_rest" ]; do',
    '        __sp_c=${__sp_rest%"${__sp_rest#?}"}',
    "        __sp_rest=${__sp_rest#?}",
    "        case $__sp_c in",
    `          [${PY_FLAGS}]) __sp_flags=$__sp_flags$__sp_c ;;`,
    '          m) if [ -n "$__sp_rest" ]; then __sp_mod=$__sp_rest; __sp_st=mod; else __sp_st=m; fi; break ;;',
    '          [WX]) [ -n "$__sp_rest" ] || __sp_st=v; break ;;',
    "          *) __sp_st=stop; break ;;",
    "        esac",
    "      done",
    '      if [ "$__sp_st" = stop ]; then break; fi',
    "    done",
    "    # Routed: -m pip with arguments, other than a lone --version or -V (nothing to install).",
    '    if [ "$__sp_st" = mod ] && { [ "$__sp_mod" = pip ] || [ "$__sp_mod" = pip.__main__ ]; } && [ "$#" -gt "$__sp_n" ] &&',
    '      { [ "$#" -gt $((__sp_n + 1)) ] || { [ "$__sp_next" != --version ] && [ "$__sp_next" != -V ]; }; } &&',
    '      __sp_py=$(__safe_pip_exe "$__sp_name" 2>/dev/null); then',
    '      shift "$__sp_n"',
    "      case $__sp_flags in *[sI]*) local -x PYTHONNOUSERSITE=1 ;; esac",
    "      case $__sp_flags in *[PI]*) local -x PYTHONSAFEPATH=1 ;; esac",
    "      case $__sp_flags in *B*) local -x PYTHONDONTWRITEBYTECODE=1 ;; esac",
    "      case $__sp_flags in *u*) local -x PYTHONUNBUFFERED=1 ;; esac",
    `      SAFE_PIP_PYTHON=$__sp_py ${sp} "$@"`,
    "      return",
    "    fi",
    "  fi",
    '  command "$__sp_name" "$@"',
    "}",
  ];
  for (const pip of PIP_NAMES) out.push(`function ${pip} { __safe_pip_pip ${pip} "$@"; }`);
  for (const py of PYTHON_NAMES) out.push(`function ${py} { __safe_pip_py ${py} "$@"; }`);
  return out.join("\n") + "\n";
}

function fish(cmd: string[]): string {
  const sp = cmd.map(fishQuote).join(" ");
  const out = [
    "# safe-pip shell-init (fish): pip, pip3, pip3.X and python/python3[.X] -m pip run safe-pip",
    "# with the Python the plain command would have used. Everything else runs untouched.",
    "# Remove the line that loads this with `safe-pip setup shell --undo`.",
    "set -gx SAFE_PIP_SHELL_INIT fish",
    "# The Python a pip command would have run: its #! line, else a python next to it, else on PATH.",
    "function __safe_pip_python",
    "    set -l name $argv[1]",
    "    set -l names",
    "    switch $name",
    "        case pip",
    "            set names python python3",
    "        case pip3",
    "            set names python3 python",
    "        case '*'",
    "            set names python(string replace -r -- '^pip' '' \"$name\")",
    "    end",
    "    set -l pip (command -s $name 2>/dev/null)",
    '    if test -n "$pip"; and test -f "$pip[1]"; and test -r "$pip[1]"',
    "        set -l line",
    "        read -l line <$pip[1]",
    "        set -l m (string match -r -- '^#! ?(/\\S+)' \"$line\")",
    '        if test -n "$m[2]"; and string match -q -- \'python*\' (string replace -r -- \'.*/\' \'\' "$m[2]"); and test -x $m[2]',
    "            echo $m[2]",
    "            return 0",
    "        end",
    "        set -l dir (string replace -r -- '/[^/]*$' '' \"$pip[1]\")",
    "        for n in $names",
    "            if test -x $dir/$n",
    "                echo $dir/$n",
    "                return 0",
    "            end",
    "        end",
    "    end",
    "    for n in $names",
    "        set -l p (command -s $n 2>/dev/null)",
    '        if test -n "$p"',
    "            echo $p[1]",
    "            return 0",
    "        end",
    "    end",
    "    return 1",
    "end",
    "function __safe_pip_pip",
    "    set -l name $argv[1]",
    "    set -l args $argv[2..-1]",
    '    if test -n "$SAFE_PIP_ACTIVE"',
    "        command $name $args",
    "        return $status",
    "    end",
    "    set -l py (__safe_pip_python $name)",
    '    if test -z "$py"',
    '        echo "safe-pip: no Python found for $name" >&2',
    "        return 127",
    "    end",
    "    # A bare pip and pip --version print what they always printed: nothing to install.",
    "    if test (count $args) -eq 0; or begin; test (count $args) -eq 1; and contains -- \"$args[1]\" --version -V; end",
    "        command $py[1] -m pip $args",
    "        return $status",
    "    end",
    `    env SAFE_PIP_PYTHON=$py[1] ${sp} $args`,
    "end",
    "# Options are read the way CPython reads them (see PY_FLAGS in src/shell/init.ts): st is '' while",
    "# reading options, m/v when the next argument is -m's module or another option's value, mod once",
    "# the module is known, stop when Python won't run a module.",
    "function __safe_pip_py",
    "    set -l name $argv[1]",
    "    set -l args $argv[2..-1]",
    '    if test -z "$SAFE_PIP_ACTIVE"',
    "        set -l n 0",
    "        set -l st ''",
    "        set -l mod",
    "        set -l flags",
    "        set -l next",
    "        for a in $args",
    '            if test "$st" = mod',
    "                set next $a",
    "                break",
    "            end",
    "            set n (math $n + 1)",
    '            if test "$st" = m',
    "                set mod $a",
    "                set st mod",
    "                continue",
    '            else if test "$st" = v',
    "                set st ''",
    "                continue",
    "            else if test \"$a\" = --check-hash-based-pycs",
    "                set st v",
    "                continue",
    "            else if not string match -qr -- '^-[^-]' \"$a\"",
    "                set st stop",
    "                break",
    "            end",
    "            # The cluster: letters without a value, then at most one that takes the rest as its value.",
    `            set -l fl (string match -r -- '^-[${PY_FLAGS}]*' "$a")`,
    "            set flags \"$flags$fl\"",
    "            set -l rest (string sub -s (math (string length -- \"$fl\") + 1) -- \"$a\")",
    '            switch "$rest"',
    "                case ''",
    "                case 'm*'",
    "                    set mod (string sub -s 2 -- \"$rest\")",
    "                    if test -n \"$mod\"",
    "                        set st mod",
    "                    else",
    "                        set st m",
    "                    end",
    "                case 'W*' 'X*'",
    "                    test (string length -- \"$rest\") -eq 1; and set st v",
    "                case '*'",
    "                    set st stop",
    "                    break",
    "            end",
    "        end",
    "        set -l py (command -s $name 2>/dev/null)",
    "        # Routed: -m pip with arguments, other than a lone --version or -V (nothing to install).",
    '        if test "$st" = mod; and contains -- "$mod" pip pip.__main__; and test $n -lt (count $args); and test -n "$py"; and begin',
    "                test (count $args) -gt (math $n + 1); or not contains -- \"$next\" --version -V",
    "            end",
    "            set -l envs SAFE_PIP_PYTHON=$py[1]",
    "            string match -qr -- '[sI]' \"$flags\"; and set -a envs PYTHONNOUSERSITE=1",
    "            string match -qr -- '[PI]' \"$flags\"; and set -a envs PYTHONSAFEPATH=1",
    "            string match -qr -- 'B' \"$flags\"; and set -a envs PYTHONDONTWRITEBYTECODE=1",
    "            string match -qr -- 'u' \"$flags\"; and set -a envs PYTHONUNBUFFERED=1",
    `            env $envs ${sp} $args[(math $n + 1)..-1]`,
    "            return $status",
    "        end",
    "    end",
    "    command $name $args",
    "end",
  ];
  for (const pip of PIP_NAMES) out.push(`function ${pip}`, `    __safe_pip_pip ${pip} $argv`, "end");
  for (const py of PYTHON_NAMES) out.push(`function ${py}`, `    __safe_pip_py ${py} $argv`, "end");
  return out.join("\n") + "\n";
}

/**
 * PowerShell (pwsh on any OS, Windows PowerShell 5.1): pip, pip3, python, python3 and the Windows
 * `py` launcher (`py [-3.12] -m pip`). A pip's interpreter is the python next to it (a venv's
 * Scripts\ or bin\, or the install directory above Scripts\), else the one on PATH.
 */
function powershell(cmd: string[]): string {
  const [exe, ...rest] = cmd;
  const call = `& ${psQuote(exe!)}${rest.map((r) => ` ${psQuote(r)}`).join("")} @PipArgs`;
  const out = [
    "# safe-pip shell-init (PowerShell): pip, pip3, python/python3 -m pip and py -m pip run safe-pip",
    "# with the Python the plain command would have used. Everything else runs untouched.",
    "# Remove the line that loads this with `safe-pip setup shell powershell --undo`.",
    "$env:SAFE_PIP_SHELL_INIT = 'powershell'",
    "function global:__SafePipExe([string]$Name) {",
    "  $c = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1",
    "  if ($c) { $c.Source }",
    "}",
    "function global:__SafePipInvoke([string]$Python, [object[]]$PipArgs, [hashtable]$Extra) {",
    "  $vars = @{ SAFE_PIP_PYTHON = $Python } + $Extra",
    "  $saved = @{}",
    "  foreach ($k in $vars.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $vars[$k]) }",
    `  try { ${call} } finally { foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) } }`,
    "}",
    "function global:__SafePipPip([string]$Name, [string[]]$Pythons, [object[]]$PipArgs) {",
    "  $real = __SafePipExe $Name",
    "  if ($env:SAFE_PIP_ACTIVE) {",
    "    if ($real) { & $real @PipArgs } else { Write-Error \"${Name}: not found\"; $global:LASTEXITCODE = 127 }",
    "    return",
    "  }",
    "  $py = $null",
    "  if ($real) {",
    "    $dir = Split-Path -Parent $real",
    "    foreach ($d in @($dir, (Split-Path -Parent $dir))) {",
    "      foreach ($n in $Pythons) {",
    "        foreach ($f in @((Join-Path $d $n), (Join-Path $d \"$n.exe\"))) { if (-not $py -and (Test-Path -LiteralPath $f -PathType Leaf)) { $py = $f } }",
    "      }",
    "    }",
    "  }",
    "  if (-not $py) { foreach ($n in $Pythons) { if (-not $py) { $py = __SafePipExe $n } } }",
    "  if (-not $py) { Write-Error \"safe-pip: no Python found for $Name\"; $global:LASTEXITCODE = 127; return }",
    "  # A bare pip and pip --version print what they always printed: nothing to install.",
    "  if ($PipArgs.Count -eq 0 -or ($PipArgs.Count -eq 1 -and @('--version', '-V') -ccontains \"$($PipArgs[0])\")) { & $py -m pip @PipArgs; return }",
    "  __SafePipInvoke $py $PipArgs @{}",
    "}",
    "# __SafePipPyArgs ARGS: where pip's arguments start in `python [options] -m pip ARGS` (-1: Python",
    "# won't run pip), and the option letters seen. Options are read the way CPython reads them (see",
    "# PY_FLAGS in src/shell/init.ts): clusters, and values attached or in the next argument.",
    "function global:__SafePipPyArgs([object[]]$PyArgs) {",
    "  $i = 0; $flags = ''",
    "  while ($i -lt $PyArgs.Count) {",
    "    $a = \"$($PyArgs[$i])\"; $i++",
    "    if ($a -ceq '--check-hash-based-pycs') { $i++; continue }",
    "    if ($a -cnotmatch '^-[^-]') { break }",
    `    if (-not ($a -cmatch '^-([${PY_FLAGS}]*)(.*)$')) { break }`,
    "    $flags += $Matches[1]; $rest = $Matches[2]",
    "    if ($rest -eq '') { continue }",
    "    $opt = $rest.Substring(0, 1); $value = $rest.Substring(1)",
    "    if ($opt -ceq 'm') {",
    "      if ($value -eq '') { if ($i -ge $PyArgs.Count) { break }; $value = \"$($PyArgs[$i])\"; $i++ }",
    "      if (@('pip', 'pip.__main__') -ccontains $value) { return @{ Skip = $i; Flags = $flags } }",
    "      break",
    "    }",
    "    if ($opt -cmatch '^[WX]$') { if ($value -eq '') { $i++ }; continue }",
    "    break",
    "  }",
    "  @{ Skip = -1; Flags = $flags }",
    "}",
    "function global:__SafePipPython([string]$Name, [object[]]$PyArgs) {",
    "  $exe = __SafePipExe $Name",
    "  if (-not $env:SAFE_PIP_ACTIVE -and $exe) {",
    "    $parsed = __SafePipPyArgs $PyArgs",
    "    $skip = $parsed.Skip; $flags = $parsed.Flags",
    "    $lone = $skip -gt 0 -and $skip -eq $PyArgs.Count - 1 -and @('--version', '-V') -ccontains \"$($PyArgs[$PyArgs.Count - 1])\"",
    "    if ($skip -gt 0 -and $skip -lt $PyArgs.Count -and -not $lone) {",
    "      $extra = @{}",
    "      if ($flags -cmatch '[sI]') { $extra.PYTHONNOUSERSITE = '1' }",
    "      if ($flags -cmatch '[PI]') { $extra.PYTHONSAFEPATH = '1' }",
    "      if ($flags -cmatch 'B') { $extra.PYTHONDONTWRITEBYTECODE = '1' }",
    "      if ($flags -cmatch 'u') { $extra.PYTHONUNBUFFERED = '1' }",
    "      __SafePipInvoke $exe @($PyArgs | Select-Object -Skip $skip) $extra",
    "      return",
    "    }",
    "  }",
    "  if ($exe) { & $exe @PyArgs } else { Write-Error \"${Name}: not found\"; $global:LASTEXITCODE = 127 }",
    "}",
    "function global:pip { __SafePipPip 'pip' @('python', 'python3') $args }",
    "function global:pip3 { __SafePipPip 'pip3' @('python3', 'python') $args }",
    "function global:python { __SafePipPython 'python' $args }",
    "function global:python3 { __SafePipPython 'python3' $args }",
    "function global:py {",
    "  $exe = __SafePipExe 'py'",
    "  if (-not $env:SAFE_PIP_ACTIVE -and $exe) {",
    "    $sel = @(); $rest = @($args)",
    "    if ($args.Count -gt 0 -and \"$($args[0])\" -match '^-(\\d|V:)') { $sel = @($args[0]); $rest = @($args | Select-Object -Skip 1) }",
    "    $parsed = __SafePipPyArgs $rest",
    "    if ($parsed.Skip -gt 0 -and $parsed.Skip -lt $rest.Count) {",
    "      $py = \"$(& $exe @sel -c 'import sys; print(sys.executable)' | Select-Object -Last 1)\".Trim()",
    "      if ($LASTEXITCODE -eq 0 -and $py) { __SafePipInvoke $py @($rest | Select-Object -Skip $parsed.Skip) @{}; return }",
    "    }",
    "  }",
    "  if ($exe) { & $exe @args } else { Write-Error 'py: not found'; $global:LASTEXITCODE = 127 }",
    "}",
  ];
  return out.join("\n") + "\n";
}

/** What `safe-pip shell-init SHELL` prints: code for that shell's rc file to eval. */
export function shellInit(shell: Shell, cmd: string[]): string {
  switch (shell) {
    case "bash":
    case "zsh":
      return posix(cmd, shell);
    case "fish":
      return fish(cmd);
    case "powershell":
      return powershell(cmd);
  }
}
