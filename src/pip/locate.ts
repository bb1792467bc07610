import { execFile, type ExecFileException } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { delimiter, dirname, join } from "node:path";
import semver from "semver";
import { SafePipError } from "../core/errors.js";
import { envValue, type Env } from "../core/env.js";
import { cacheDir } from "../core/paths.js";

/** A marker file in safe-pip's PATH-shim directory: that directory is never searched for Python. */
export const SHIM_MARKER = ".safe-pip-shims";

export interface RealPip {
  python: string;
  /** pip's version, as pip reports it. */
  version: string;
  /** sys.prefix of that Python: where pip's "site" configuration file lives. */
  sysPrefix: string;
  /** The line `python -m pip --version` prints, so `safe-pip --version` needs no Python start. */
  versionLine?: string | undefined;
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

// pip's own --version line is "pip <version> from <package dir> (python <major.minor>)"; the
// dist-info path is there so an upgrade or reinstall of pip (which replaces it) voids the cache.
const PROBE = [
  "import sys, os, pip",
  "print(pip.__version__); print(sys.prefix); print(sys.executable)",
  "print('pip %s from %s (python %d.%d)' % (pip.__version__, os.path.abspath(os.path.dirname(pip.__file__)), *sys.version_info[:2]))",
  // Never let this line fail the probe: without a dist-info path the result is just not cached.
  "try:\n  from importlib.metadata import distribution; print(os.path.abspath(str(distribution('pip')._path)))\nexcept Exception:\n  print('')",
].join("\n");

/** Variables that change which pip a given interpreter imports: part of the cache key. */
const KEY_VARS = ["PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONUSERBASE", "PYTHONSAFEPATH", "PYTHONPLATLIBDIR"];

interface ProbeCacheEntry {
  python: string;
  realPath: string;
  realMtimeMs: number;
  distInfo: string;
  distInfoMtimeMs: number;
  pip: RealPip;
}

function mtimeOf(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Variables and files a version manager's launcher (pyenv, asdf) uses to choose the Python. */
const SHIM_VARS = ["PYENV_VERSION", "PYENV_ROOT", "ASDF_PYTHON_VERSION", "ASDF_DATA_DIR"];
const SHIM_FILES = [".python-version", ".tool-versions"];

function isScript(p: string): boolean {
  try {
    return readFileSync(p).subarray(0, 2).toString("latin1") === "#!";
  } catch {
    return false;
  }
}

/**
 * A launcher script (a pyenv or asdf shim) picks the interpreter from the directory and the
 * environment on every start, so its cache key includes what it reads: the selecting variables and
 * the nearest version files from cwd upwards (their content, read here; a few small files).
 */
function launcherKey(cwd: string, env: Env): string {
  const parts = SHIM_VARS.map((k) => `${k}=${env[k] ?? ""}`);
  parts.push(`cwd=${cwd}`);
  for (let dir = cwd; ; dir = dirname(dir)) {
    for (const f of SHIM_FILES) {
      try {
        parts.push(`${join(dir, f)}=${readFileSync(join(dir, f), "utf8")}`);
      } catch {
        /* absent */
      }
    }
    if (dirname(dir) === dir) break;
  }
  return parts.join("\0");
}

function probeCacheFile(python: string, env: Env, cwd: string): string {
  const h = createHash("sha256").update(python);
  for (const k of KEY_VARS) h.update(`\0${k}=${env[k] ?? ""}`);
  if (isScript(python)) h.update(`\0${launcherKey(cwd, env)}`);
  return join(cacheDir(env), "pip-probe", `${h.digest("hex").slice(0, 32)}.json`);
}

/**
 * The probe result stored for this interpreter, if still valid: same interpreter file (real path
 * and mtime: a rebuilt venv or upgraded Python changes them) and pip's dist-info unchanged. Any
 * doubt (missing, corrupt, another shape) means "not cached", never an error.
 */
export function cachedProbe(python: string, env: Env, cwd = process.cwd()): RealPip | undefined {
  try {
    const e = JSON.parse(readFileSync(probeCacheFile(python, env, cwd), "utf8")) as Partial<ProbeCacheEntry>;
    if (e.python !== python || typeof e.realPath !== "string" || typeof e.distInfo !== "string" || !e.distInfo) return undefined;
    const p = e.pip;
    if (!p || typeof p.python !== "string" || typeof p.version !== "string" || typeof p.sysPrefix !== "string") return undefined;
    if (realpathSync(python) !== e.realPath || mtimeOf(e.realPath) !== e.realMtimeMs) return undefined;
    if (mtimeOf(e.distInfo) !== e.distInfoMtimeMs || !isExecutable(p.python)) return undefined;
    return { python: p.python, version: p.version, sysPrefix: p.sysPrefix, versionLine: typeof p.versionLine === "string" ? p.versionLine : undefined };
  } catch {
    return undefined;
  }
}

/** Written to a temporary name and renamed, so a concurrent run never reads half a file. */
function storeProbe(python: string, env: Env, cwd: string, pip: RealPip, distInfo: string): void {
  try {
    const realPath = realpathSync(python);
    const realMtimeMs = mtimeOf(realPath);
    const distInfoMtimeMs = mtimeOf(distInfo);
    if (realMtimeMs === undefined || distInfoMtimeMs === undefined) return;
    const file = probeCacheFile(python, env, cwd);
    mkdirSync(join(file, ".."), { recursive: true });
    const entry: ProbeCacheEntry = { python, realPath, realMtimeMs, distInfo, distInfoMtimeMs, pip };
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, file);
  } catch {
    // A cache that cannot be written only costs the next run a probe.
  }
}

/** The probe, from the cache when it is still valid (it costs a Python start, 0.3 s or more). */
export async function probePip(python: string, env: Env, cwd = process.cwd()): Promise<RealPip> {
  return cachedProbe(python, env, cwd) ?? runProbe(python, env, cwd);
}

async function runProbe(python: string, env: Env, cwd: string): Promise<RealPip> {
  // node:child_process, not execa: execa's ~100 modules take about 0.1 s to load.
  const r = await new Promise<{ exitCode: number | undefined; signal: string | undefined; timedOut: boolean; stdout: string; stderr: string }>((resolve) => {
    const env2 = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    execFile(python, ["-c", PROBE], { env: env2, timeout: 30_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      if (!err) return resolve({ exitCode: 0, signal: undefined, timedOut: false, stdout, stderr });
      const e = err as ExecFileException;
      const exitCode = typeof e.code === "number" ? e.code : undefined;
      // A child that could not start at all (ENOENT, EACCES) has no stderr of its own.
      const why = typeof e.code === "string" ? `${e.code}` : "";
      resolve({ exitCode, signal: e.signal ?? undefined, timedOut: e.killed === true && e.signal === "SIGTERM", stdout, stderr: stderr || why });
    });
  });
  if (r.exitCode !== 0) {
    const why = r.timedOut
      ? "it did not answer within 30s"
      : /No module named pip/.test(r.stderr)
        ? "pip is not installed there"
        : r.stderr.trim().split("\n").pop() || (r.signal ? `stopped by ${r.signal}` : `exit code ${r.exitCode ?? "?"}`);
    throw new SafePipError("TOOL_NOT_FOUND", `cannot run pip with ${python}: ${why}`, {
      hint: `install pip (${python} -m ensurepip) or set SAFE_PIP_PYTHON`,
    });
  }
  const [version = "", sysPrefix = "", executable = "", versionLine = "", distInfo = ""] = String(r.stdout).trim().split("\n");
  // Run pip with the interpreter itself rather than the launcher we were given: a pyenv or asdf
  // shim re-resolves the version on every start (about 1 s here), and it resolves to this file.
  const real = executable.trim();
  const pip: RealPip = {
    python: real && isExecutable(real) ? real : python,
    version: version.trim(),
    sysPrefix: sysPrefix.trim(),
    versionLine: versionLine.trim() || undefined,
  };
  if (distInfo.trim() && pip.version) storeProbe(python, env, cwd, pip, distInfo.trim());
  return pip;
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
