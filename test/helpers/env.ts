/**
 * Clean environments and temp directories for tests that run pip or safe-pip as a subprocess.
 *
 * The machine's own pip settings (PIP_FIND_LINKS, extra index URLs in /etc/xdg/pip/pip.conf, …)
 * must not leak into tests by accident: tests that check how safe-pip neutralises them add them
 * explicitly. So the environment is built from scratch rather than copied and filtered.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cleanups: Array<() => void> = [];

/** Runs `fn` at `cleanupAll()` (and at process exit, as a safety net), newest first. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

export function cleanupAll(): void {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      fn?.();
    } catch {
      // A failed cleanup must not hide the test result or skip the other cleanups.
    }
  }
}
process.once("exit", cleanupAll);

/** A fresh directory under the OS temp dir, removed at cleanup. */
export function tempDir(prefix = "safe-pip-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface IsolatedEnv {
  env: Record<string, string>;
  home: string;
  /** Removes the temp HOME now (it is also removed at cleanupAll / exit). */
  cleanup(): void;
}

/**
 * PATH from this process, a temp HOME with the XDG dirs inside it, and quiet, deterministic
 * Python/pip output. No PIP_* variable from the machine is copied. SAFE_PIP_SYSTEM_POLICY is left
 * unset; tests point SAFE_PIP_CONFIG (via `extra`) at their own policy.
 */
export function isolatedEnv(extra: Record<string, string> = {}): IsolatedEnv {
  const home = tempDir("safe-pip-home-");
  const xdg = {
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local", "state"),
  };
  for (const d of Object.values(xdg)) mkdirSync(d, { recursive: true });

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    ...xdg,
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    NO_COLOR: "1",
    LANG: "C.UTF-8",
  };
  // These only choose *which* interpreter and temp dir to use, so tests run the same Python
  // as the developer's shell; none of them carries pip settings.
  for (const key of ["PYENV_ROOT", "PYENV_VERSION", "TMPDIR"]) {
    const v = process.env[key];
    if (v !== undefined && v !== "") env[key] = v;
  }
  Object.assign(env, extra);
  return { env, home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}
