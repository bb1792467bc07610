/**
 * Running real R and safe-pip's R commands from the R integration tests, in a pinned environment:
 * a fresh HOME whose own startup files are the only ones R reads, and nothing of the machine's.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { isolatedEnv, tempDir } from "./env.js";

/** safe-pip as the hook starts it (SAFE_PIP_BIN): this checkout's built CLI. */
export const rSafePipBin = [process.execPath, join(packageRoot(), "dist", "cli.js")];

/** An environment for R with `h` as its home: its .Rprofile, .Renviron and user library. */
export function rEnv(h: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...isolatedEnv().env,
    HOME: h,
    R_PROFILE_USER: join(h, ".Rprofile"),
    R_ENVIRON_USER: join(h, ".Renviron"),
    R_LIBS_USER: join(h, "R-user-lib"),
    LANGUAGE: "en",
    no_proxy: "127.0.0.1,localhost",
    SAFE_PIP_BIN: rSafePipBin.join(" "),
    ...extra,
  };
}

export async function safePipR(args: string[], e: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(rSafePipBin[0]!, [...rSafePipBin.slice(1), ...args], { env: e, extendEnv: false, reject: false, stdin: "ignore" });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Rscript -e CODE; stdout and stderr together, since R's messages and errors go to stderr. */
export async function rscript(code: string, e: Record<string, string>): Promise<{ code: number; out: string }> {
  const r = await execa("Rscript", ["-e", code], { env: e, extendEnv: false, reject: false, stdin: "ignore", timeout: 180_000 });
  return { code: r.exitCode ?? -1, out: `${String(r.stdout)}\n${String(r.stderr)}` };
}

/** An empty library directory of its own. */
export function newLib(): string {
  const lib = join(tempDir("safe-pip-rlib-"), "lib");
  mkdirSync(lib);
  return lib;
}

export const rStr = (s: string): string => JSON.stringify(s);
