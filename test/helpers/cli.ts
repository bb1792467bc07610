import { execa } from "execa";
import { readdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { tempDir } from "./env.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built safe-pip (dist/cli.js) as a user would, with exactly the given environment. */
export async function safePip(args: string[], opts: { env: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<CliResult> {
  const r = await execa(process.execPath, [join(packageRoot(), "dist", "cli.js"), ...args], {
    env: opts.env,
    extendEnv: false,
    reject: false,
    cwd: opts.cwd ?? packageRoot(),
    timeout: opts.timeoutMs ?? 120_000,
    stdin: "ignore",
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Writes a policy file and returns its path. */
export function writePolicy(policy: Record<string, unknown>, dir = tempDir("safe-pip-policy-")): string {
  const file = join(dir, "policy.json");
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return file;
}

/** What `pip install --target DIR` put there: import name → __version__. */
export function installedVersions(target: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(target)) return out;
  for (const entry of readdirSync(target)) {
    const init = join(target, entry, "__init__.py");
    if (!existsSync(init)) continue;
    const m = /__version__\s*=\s*"([^"]+)"/.exec(readFileSync(init, "utf8"));
    if (m) out[entry] = m[1]!;
  }
  return out;
}

export const daysAgo = (n: number): Date => new Date(Date.now() - n * 86400e3);
