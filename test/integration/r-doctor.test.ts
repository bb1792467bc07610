/**
 * `safe-pip doctor`, R side (issue 13): a profile line whose hook file has gone, and a project
 * `./.Rprofile` (renv writes one) that hides the user's ~/.Rprofile, since R reads only the first
 * of R_PROFILE_USER, ./.Rprofile and ~/.Rprofile. Each finding is cross-checked with real R.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { hookLine } from "../../src/r/profile.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { safePip, writePolicy } from "../helpers/cli.js";
import { hasRscript } from "../helpers/cran.js";

const R_AVAILABLE = await hasRscript();
after(() => cleanupAll());

interface Finding {
  status: string;
  area: string;
  finding: string;
  fix?: string;
}

async function doctor(env: Record<string, string>, cwd?: string): Promise<{ code: number; findings: Finding[] }> {
  const r = await safePip(["doctor", "--json"], { env, ...(cwd ? { cwd } : {}) });
  return { code: r.code, findings: (JSON.parse(r.stdout) as Finding[]).filter((f) => f.area.startsWith("R")) };
}

/** What R started in `cwd` sees: whether the hook's shims are attached, and where repos points. */
async function rSees(env: Record<string, string>, cwd: string): Promise<string> {
  const r = await execa("Rscript", ["-e", 'cat("SHIMS:", "safe-pip:shims" %in% search(), getOption("repos")[["CRAN"]], "\\n")'], {
    env: { ...env, LANGUAGE: "en" },
    extendEnv: false,
    cwd,
    reject: false,
    stdin: "ignore",
  });
  return `${String(r.stdout)}\n${String(r.stderr)}`;
}

describe("safe-pip doctor: R", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  const policy = () => writePolicy({ index: "http://127.0.0.1:9/simple/", osv: { source: "off" } });

  it("fails when the profile line's hook file has gone (R then has install.packages() switched off)", async () => {
    const { env, home } = isolatedEnv({ SAFE_PIP_CONFIG: policy() });
    assert.equal((await safePip(["setup", "r"], { env })).code, 0);
    let d = await doctor(env);
    assert.equal(d.findings.find((f) => f.area === "R")?.status, "ok");
    const moved = join(home, "old-node", "safe-pip", "shims", "r", "safe-pip.R");
    writeFileSync(join(home, ".Rprofile"), hookLine(moved) + "\n");
    d = await doctor(env);
    assert.equal(d.code, 1);
    const f = d.findings.find((x) => x.area === "R");
    assert.equal(f?.status, "fail");
    assert.match(f?.finding ?? "", /loads .*old-node\/safe-pip\/shims\/r\/safe-pip\.R, which does not exist/);
    assert.equal(f?.fix, "safe-pip setup r");
    assert.match(await rSees(env, home), /SHIMS: FALSE http:\/\/127\.0\.0\.1:1\/safe-pip-hook-missing/);
    // The fix it names repairs it.
    assert.equal((await safePip(["setup", "r"], { env })).code, 0);
    assert.equal((await doctor(env)).findings.find((x) => x.area === "R")?.status, "ok");
  });

  it("fails on a project .Rprofile (renv's) that hides ~/.Rprofile, and its fix makes R load the hook there", async () => {
    const { env } = isolatedEnv({ SAFE_PIP_CONFIG: policy() });
    assert.equal((await safePip(["setup", "r"], { env })).code, 0);
    const project = tempDir("safe-pip-rproject-");
    mkdirSync(join(project, "renv"));
    writeFileSync(join(project, "renv", "activate.R"), "invisible(NULL)\n");
    writeFileSync(join(project, ".Rprofile"), 'source("renv/activate.R")\n');
    assert.match(await rSees(env, project), /SHIMS: FALSE/);
    const d = await doctor(env, project);
    assert.equal(d.code, 1);
    const f = d.findings.find((x) => x.area === "R project");
    assert.equal(f?.status, "fail");
    assert.match(f?.finding ?? "", /\.Rprofile \(renv writes one\) replaces .*\.Rprofile for R started in .*, and it does not load the hook/);
    assert.match(f?.fix ?? "", /^R_PROFILE_USER=\S+\/\.Rprofile safe-pip setup r/);

    assert.equal((await safePip(["setup", "r"], { env: { ...env, R_PROFILE_USER: join(project, ".Rprofile") } })).code, 0);
    assert.match(await rSees(env, project), /SHIMS: TRUE/);
    assert.equal((await doctor(env, project)).findings.find((x) => x.area === "R project")?.status, "ok");
  });

  it("accepts a project .Rprofile that sources ~/.Rprofile", async () => {
    const { env } = isolatedEnv({ SAFE_PIP_CONFIG: policy() });
    assert.equal((await safePip(["setup", "r"], { env })).code, 0);
    const project = tempDir("safe-pip-rproject-");
    writeFileSync(join(project, ".Rprofile"), 'source("~/.Rprofile")\noptions(digits = 4)\n');
    assert.match(await rSees(env, project), /SHIMS: TRUE/);
    const d = await doctor(env, project);
    assert.equal(d.findings.find((x) => x.area === "R project")?.status, "ok");
  });
});
