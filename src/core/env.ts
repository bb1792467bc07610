/**
 * Every environment variable safe-pip itself reads, in one place, so README and `doctor` can list
 * them and nothing else in src/ touches process.env for safe-pip settings.
 */
export const SAFE_PIP_ENV = {
  /** A policy file that replaces the user's settings (the system policy still applies as floors). */
  CONFIG: "SAFE_PIP_CONFIG",
  /** Where the system policy lives; default /etc/safe-pip/policy.json. */
  SYSTEM_POLICY: "SAFE_PIP_SYSTEM_POLICY",
  /** A Python interpreter whose `-m pip` is the real pip. */
  PYTHON: "SAFE_PIP_PYTHON",
  /** Write the decisions of every run as JSON to this file (like --report). */
  REPORT: "SAFE_PIP_REPORT",
  /** Show causes of errors (never stacks unless set to "stack"). */
  DEBUG: "SAFE_PIP_DEBUG",
  /** The safe-pip executable the R hook and shell shims call. */
  BIN: "SAFE_PIP_BIN",
  /** Set by safe-pip in the environment of the pip it runs, so a shim never wraps twice. */
  ACTIVE: "SAFE_PIP_ACTIVE",
  /** Exported by the shell functions (`safe-pip shell-init`), so `doctor` can see they are loaded. */
  SHELL_INIT: "SAFE_PIP_SHELL_INIT",
  /** Read by the R hook only: seconds to wait for `safe-pip r serve` to start. */
  R_START_TIMEOUT: "SAFE_PIP_R_START_TIMEOUT",
  /** A snapshot date for this run (CI jobs), merged like --snapshot: it can only tighten. */
  SNAPSHOT: "SAFE_PIP_SNAPSHOT",
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

export function envValue(env: Env, key: keyof typeof SAFE_PIP_ENV): string | undefined {
  const v = env[SAFE_PIP_ENV[key]];
  return v === undefined || v === "" ? undefined : v;
}
