/**
 * Start-up costs: `safe-pip --version` (no Python start once the probe is cached) and a no-op
 * install (`install pip`, already satisfied: pip answers without asking the index for anything
 * it needs), each against plain pip doing the same.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { probePip } from "../../src/pip/locate.js";
import { isolatedEnv } from "../../test/helpers/env.js";
import { CLI, policyFile, type Setup } from "./installs.js";
import { run } from "./proc.js";
import { summarize, type Summary } from "./stats.js";

export interface StartupResult {
  version: Summary;
  pipVersion: Summary;
  noop: Summary;
  pipNoop: Summary;
}

/** A pip-probe cache for this interpreter, filled once: what every run after a user's first has. */
export async function makeProbeCache(python: string): Promise<string> {
  const iso = isolatedEnv();
  await probePip(python, iso.env);
  const dir = join(iso.env.XDG_CACHE_HOME!, "safe-pip", "pip-probe");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function measureStartup(setup: Setup, runs: number): Promise<StartupResult> {
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null", PIP_CACHE_DIR: setup.pipCache, SAFE_PIP_PYTHON: setup.python });
  const env = { ...iso.env, SAFE_PIP_CONFIG: policyFile(setup, false) };
  const times = async (cmd: string, args: string[]): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const r = await run(cmd, args, { env });
      if (r.code !== 0) throw new Error(`${[cmd, ...args].join(" ")} failed (exit ${r.code}): ${r.stderr.slice(-300)}`);
      if (i > 0) out.push(r.wallMs); // the first run fills the probe cache
    }
    return out;
  };
  try {
    return {
      version: summarize(await times(process.execPath, [CLI, "--version"])),
      pipVersion: summarize(await times(setup.python, ["-m", "pip", "--version"])),
      noop: summarize(await times(process.execPath, [CLI, "install", "--quiet", "pip"])),
      pipNoop: summarize(await times(setup.python, ["-m", "pip", "install", "--quiet", `--index-url=${setup.upstreamUrl}`, "pip"])),
    };
  } finally {
    iso.cleanup();
  }
}
