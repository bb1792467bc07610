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
 * Interpreter options that may come before `-m pip` and still have it routed: ones without a value
 * that change nothing about which pip runs or where it installs. -s/-I (no user site), -P/-I (no
 * script directory on sys.path), -B and -u reach safe-pip's pip as their environment variables;
 * the others (-E, -O, -q, -v, -b, -d) only matter to Python itself and are dropped. With any other
 * option first (-X, -W, -c, …) the command runs untouched.
 */
const PY_FLAGS = "bBdEIOPqsuv";

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
    "__safe_pip_py() {",
    "  local __sp_name=$1 __sp_a __sp_n=0 __sp_mod= __sp_flags= __sp_next= __sp_py",
    "  shift",
    '  if [ -z "${SAFE_PIP_ACTIVE:-}" ]; then',
    '    for __sp_a in "$@"; do',
    '      if [ "$__sp_mod" = pip ]; then __sp_next=$__sp_a; break; fi',
    "      __sp_n=$((__sp_n + 1))",
    '      if [ "$__sp_mod" = m ]; then',
    '        if [ "$__sp_a" = pip ]; then __sp_mod=pip; continue; fi',
    "        break",
    "      fi",
    "      case $__sp_a in",
    "        -m) __sp_mod=m ;;",
    "        -mpip) __sp_mod=pip ;;",
    `        -[${PY_FLAGS}]*)`,
    `          case \${__sp_a#-} in *[!${PY_FLAGS}]*) break ;; esac`,
    "          __sp_flags=$__sp_flags$__sp_a ;;",
    "        *) break ;;",
    "      esac",
    "    done",
    "    # Routed: -m pip with arguments, other than a lone --version or -V (nothing to install).",
    '    if [ "$__sp_mod" = pip ] && [ "$#" -gt "$__sp_n" ] &&',
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
    "function __safe_pip_py",
    "    set -l name $argv[1]",
    "    set -l args $argv[2..-1]",
    '    if test -z "$SAFE_PIP_ACTIVE"',
    "        set -l n 0",
    "        set -l mod",
    "        set -l flags",
    "        set -l next",
    "        for a in $args",
    '            if test "$mod" = pip',
    "                set next $a",
    "                break",
    "            end",
    "            set n (math $n + 1)",
    '            if test "$mod" = m',
    '                if test "$a" = pip',
    "                    set mod pip",
    "                    continue",
    "                end",
    "                break",
    "            end",
    "            switch $a",
    "                case -m",
    "                    set mod m",
    "                case -mpip",
    "                    set mod pip",
    "                case '-*'",
    `                    string match -qr -- '^-[${PY_FLAGS}]+$' "$a"; or break`,
    '                    set flags "$flags$a"',
    "                case '*'",
    "                    break",
    "            end",
    "        end",
    "        set -l py (command -s $name 2>/dev/null)",
    "        # Routed: -m pip with arguments, other than a lone --version or -V (nothing to install).",
    '        if test "$mod" = pip; and test $n -lt (count $args); and test -n "$py"; and begin',
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
    "function global:__SafePipPython([string]$Name, [object[]]$PyArgs) {",
    "  $exe = __SafePipExe $Name",
    "  if (-not $env:SAFE_PIP_ACTIVE -and $exe) {",
    "    $i = 0; $flags = ''",
    `    while ($i -lt $PyArgs.Count -and "$($PyArgs[$i])" -cmatch '^-[${PY_FLAGS}]+$') { $flags += "$($PyArgs[$i])"; $i++ }`,
    "    $skip = -1",
    "    if ($i -lt $PyArgs.Count -and \"$($PyArgs[$i])\" -ceq '-mpip') { $skip = $i + 1 }",
    "    elseif ($i + 1 -lt $PyArgs.Count -and \"$($PyArgs[$i])\" -ceq '-m' -and \"$($PyArgs[$i + 1])\" -ceq 'pip') { $skip = $i + 2 }",
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
    "    $sel = @(); $i = 0",
    "    if ($args.Count -gt 0 -and \"$($args[0])\" -match '^-(\\d|V:)') { $sel = @($args[0]); $i = 1 }",
    "    if ($i + 2 -lt $args.Count -and \"$($args[$i])\" -ceq '-m' -and \"$($args[$i + 1])\" -ceq 'pip') {",
    "      $py = \"$(& $exe @sel -c 'import sys; print(sys.executable)' | Select-Object -Last 1)\".Trim()",
    "      if ($LASTEXITCODE -eq 0 -and $py) { __SafePipInvoke $py @($args | Select-Object -Skip ($i + 2)) @{}; return }",
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
