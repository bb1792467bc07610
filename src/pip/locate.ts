import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { execa } from "execa";
import semver from "semver";
import { SafePipError } from "../core/errors.js";
import { envValue, type Env } from "../core/env.js";

/** A marker file in safe-pip's PATH-shim directory: that directory is never searched for Python. */
export const SHIM_MARKER = ".safe-pip-shims";

export interface RealPip {
  python: string;
  /** pip's version, as pip reports it. */
  version: string;
  /** sys.prefix of that Python: where pip's "site" configuration file lives. */
  sysPrefix: string;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Python whose `-m pip` is the real pip: SAFE_PIP_PYTHON, else the active virtualenv or conda
 * environment, else python3/python on PATH. Running `python -m pip` (never a `pip` executable)
 * means a `pip` shim that calls safe-pip can never be picked up again.
 */
export function findPython(env: Env): string {
  const explicit = envValue(env, "PYTHON");
  if (explicit) {
    const found = explicit.includes("/") ? explicit : searchPath(explicit, env);
    if (!found || !isExecutable(found))
      throw new SafePipError("TOOL_NOT_FOUND", `SAFE_PIP_PYTHON names ${explicit}, which is not an executable Python`);
    return found;
  }
  for (const prefix of [env.VIRTUAL_ENV, env.CONDA_PREFIX]) {
    if (!prefix) continue;
    for (const name of ["python", "python3"]) {
      const p = join(prefix, "bin", name);
      if (isExecutable(p)) return p;
    }
  }
  for (const name of ["python3", "python"]) {
    const p = searchPath(name, env);
    if (p) return p;
  }
  throw new SafePipError("TOOL_NOT_FOUND", "no Python found (looked at SAFE_PIP_PYTHON, VIRTUAL_ENV, CONDA_PREFIX and PATH)", {
    hint: "activate an environment or set SAFE_PIP_PYTHON=/path/to/python",
  });
}

function searchPath(name: string, env: Env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir || existsSync(join(dir, SHIM_MARKER))) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

const PROBE = "import sys, pip; print(pip.__version__); print(sys.prefix); print(sys.executable)";

export async function probePip(python: string, env: Env): Promise<RealPip> {
  const r = await execa(python, ["-c", PROBE], { env: { ...env }, extendEnv: false, reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) {
    const why = r.timedOut
      ? "it did not answer within 30s"
      : /No module named pip/.test(String(r.stderr))
        ? "pip is not installed there"
        : String(r.stderr).trim().split("\n").pop() || (r.signal ? `stopped by ${r.signal}` : `exit code ${r.exitCode ?? "?"}`);
    throw new SafePipError("TOOL_NOT_FOUND", `cannot run pip with ${python}: ${why ?? "failed"}`, {
      hint: `install pip (${python} -m ensurepip) or set SAFE_PIP_PYTHON`,
    });
  }
  const [version = "", sysPrefix = "", executable = ""] = String(r.stdout).trim().split("\n");
  // Run pip with the interpreter itself rather than the launcher we were given: a pyenv or asdf
  // shim re-resolves the version on every start (about 1 s here), and it resolves to this file.
  const real = executable.trim();
  return { python: real && isExecutable(real) ? real : python, version: version.trim(), sysPrefix: sysPrefix.trim() };
}

/** `pip install --dry-run --report` exists from pip 22.2; safe-pip needs it to see the resolution. */
export function requirePipFeatures(pip: RealPip): void {
  const v = semver.coerce(pip.version);
  if (!v || semver.lt(v, "22.2.0")) {
    throw new SafePipError("TOOL_NOT_FOUND", `pip ${pip.version} at ${pip.python} is too old: safe-pip needs pip 22.2 or newer`, {
      hint: `${pip.python} -m pip install --upgrade pip (through safe-pip)`,
    });
  }
}

export function pipHasCommand(pip: RealPip, command: string): boolean {
  const v = semver.coerce(pip.version);
  if (!v) return false;
  if (command === "lock") return semver.gte(v, "25.1.0");
  if (command === "index") return semver.gte(v, "21.2.0");
  return true;
}
