import { existsSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Env } from "../core/env.js";
import { packageRoot } from "../core/paths.js";
import { HOOK_MARKER, userProfilePath } from "./profile.js";

/** One line of `safe-pip doctor` (the same shape as the command's own findings). */
export interface RFinding {
  status: "ok" | "warn" | "fail";
  area: string;
  finding: string;
  fix?: string | undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The hook file a profile's safe-pip line loads (`file.exists("…")` in the line), if any. */
export function hookFileOf(text: string): string | undefined {
  const line = text.split(/\r?\n/).find((l) => l.includes(HOOK_MARKER));
  const m = line && /file\.exists\("((?:[^"\\]|\\.)*)"\)/.exec(line);
  return m ? m[1]!.replace(/\\"/g, '"') : undefined;
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * Whether a project profile still loads the hook: it holds the hook line itself, sources the
 * user's ~/.Rprofile, or sources the hook file.
 */
function loadsHook(text: string, home: string): boolean {
  if (text.includes(HOOK_MARKER)) return true;
  for (const m of text.matchAll(/source\s*\(\s*(?:file\s*=\s*)?["']([^"']+)["']/g)) {
    const target = m[1]!.replace(/^~(?=\/|$)/, home);
    if (/safe-pip\.R$/.test(target) || samePath(target, join(home, ".Rprofile"))) return true;
  }
  return false;
}

/**
 * `safe-pip doctor`'s R findings: whether the profile R reads has the hook line, whether the
 * hook file that line loads still exists (an npm upgrade, nvm switch or uninstall moves it; R
 * then has install.packages() switched off), and whether a project `./.Rprofile` in `cwd`
 * (renv writes one) hides the user's profile: R reads only the first of R_PROFILE_USER,
 * ./.Rprofile and ~/.Rprofile.
 */
export function rDoctorFindings(env: Env, cwd: string): RFinding[] {
  const out: RFinding[] = [];
  const home = env.HOME || homedir();
  const profile = userProfilePath(env);
  const site = env.R_PROFILE;
  const where = [profile, site].filter((f): f is string => Boolean(f)).find((f) => readText(f)?.includes(HOOK_MARKER));
  if (!where) {
    out.push({ status: "fail", area: "R", finding: "R is installed but install.packages() is not routed through safe-pip", fix: "safe-pip setup r" });
    return out;
  }
  const hook = hookFileOf(readText(where) ?? "");
  const current = join(packageRoot(), "shims", "r", "safe-pip.R");
  if (hook && !existsSync(hook))
    out.push({
      status: "fail",
      area: "R",
      finding: `the hook line in ${where} loads ${hook}, which does not exist (safe-pip moved or was removed): install.packages() is switched off in R`,
      fix: where === profile ? "safe-pip setup r" : "safe-pip setup r --site, and replace the line in that file",
    });
  else if (hook && !samePath(hook, current))
    out.push({
      status: "warn",
      area: "R",
      finding: `the hook line in ${where} loads ${hook}, not this safe-pip's ${current}`,
      fix: where === profile ? "safe-pip setup r" : "safe-pip setup r --site, and replace the line in that file",
    });
  else out.push({ status: "ok", area: "R", finding: `hook loaded from ${where}` });

  // A project profile replaces the user profile (never the site one) when R_PROFILE_USER is unset.
  const project = join(cwd, ".Rprofile");
  if (!env.R_PROFILE_USER && where === profile && existsSync(project) && !samePath(project, profile)) {
    const text = readText(project) ?? "";
    if (!loadsHook(text, home))
      out.push({
        status: "fail",
        area: "R project",
        finding: `${project} (renv writes one) replaces ${profile} for R started in ${cwd}, and it does not load the hook: install.packages() there is not checked`,
        fix: `R_PROFILE_USER=${project} safe-pip setup r  (adds the hook line to the project profile)`,
      });
    else out.push({ status: "ok", area: "R project", finding: `${project} loads the hook too` });
  }
  return out;
}
