/**
 * Real R, issue 13: the R side fails closed. Each test here failed on the main branch before the
 * fix it covers (licences in CRAN's own forms, a missing hook file, inherited variables, qualified
 * utils::install.packages with its own repos=, hostile upstream indexes, duplicate DESCRIPTIONs).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { hookLine } from "../../src/r/profile.js";
import { newLib, rEnv, rStr, safePipR as safePip, rscript as runR } from "../helpers/r-run.js";
import { cleanupAll, tempDir } from "../helpers/env.js";
import { buildRPackages, hasRscript, installedRPackages, makeCranDir, serveStatic, type StaticRepo } from "../helpers/cran.js";

const R_AVAILABLE = await hasRscript();
const ago = (n: number) => new Date(Date.now() - n * 86400e3);

let pub: StaticRepo;
let evil: StaticRepo;
let env: Record<string, string>;
let policyDir: string;
let tarballs: Map<string, string>;

/** A home whose profile has the hook and whose policy is `policy` (cran.repo = the public repo). */
async function homeWith(policy: Record<string, unknown>): Promise<Record<string, string>> {
  const file = join(tempDir("safe-pip-rpolicy-"), "policy.json");
  writeFileSync(file, JSON.stringify({
      cran: { repo: pub.url, internal: [] },
      minAge: "0d",
      osv: { source: "offline", database: join(packageRoot(), "test", "fixtures", "osv", "cran"), maxStaleness: "36500d" },
      ...policy,
    }),);
  const e = rEnv(tempDir("safe-pip-rhome-"), { SAFE_PIP_CONFIG: file, SAFE_PIP_SYSTEM_POLICY: join(policyDir, "system.json") });
  const setup = await safePip(["setup", "r"], e);
  assert.equal(setup.code, 0, setup.stderr);
  return e;
}

/** Rscript -e CODE in this suite's environment unless another is given. */
const rscript = (code: string, e: Record<string, string> = env) => runR(code, e);

describe("R: the R side fails closed (issue 13)", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  before(async () => {
    tarballs = await buildRPackages([
      { name: "gplpkg", version: "1.0", license: "GPL (>= 2)", published: ago(300) },
      { name: "mitpkg", version: "1.0", license: "MIT + file LICENSE", published: ago(300) },
      { name: "epsilon", version: "1.0", published: ago(300) },
      { name: "epsilon", version: "9.9", published: ago(300), marker: "evil" },
    ]);
    const t = (k: string) => tarballs.get(k)!;
    pub = await serveStatic(await makeCranDir({ current: [t("gplpkg_1.0"), t("mitpkg_1.0"), t("epsilon_1.0")] }));
    evil = await serveStatic(await makeCranDir({ current: [t("epsilon_9.9_evil")] }));
    policyDir = tempDir("safe-pip-rpolicy-");
    writeFileSync(join(policyDir, "system.json"), "{}");
    env = await homeWith({});
  });

  after(async () => {
    await Promise.all([pub, evil].map((s) => s?.close()));
    cleanupAll();
  });

  it("a GPL-* deny rule blocks CRAN's GPL (>= 2), and MIT + file LICENSE passes an MIT allow list", async () => {
    const e = await homeWith({ licenses: { deny: ["GPL-*"] } });
    const lib = newLib();
    const r = await rscript(`install.packages("gplpkg", lib = ${rStr(lib)})`, e);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /gplpkg 1\.0: license: licence GPL-2\.0-or-later \(from License\) is not allowed by policy/);
    assert.deepEqual(installedRPackages(lib), {});
    const e2 = await homeWith({ licenses: { allow: ["MIT"] }, unknownLicense: "block" });
    const r2 = await rscript(`install.packages("mitpkg", lib = ${rStr(lib)})`, e2);
    assert.equal(r2.code, 0, r2.out);
    assert.deepEqual(installedRPackages(lib), { mitpkg: "1.0" });
  });

  it("a profile line whose hook file has gone points repos at nothing and says how to repair", async () => {
    const h = tempDir("safe-pip-rhome-");
    const e = rEnv(h);
    writeFileSync(join(h, ".Rprofile"), hookLine(join(h, "moved", "safe-pip.R")) + "\n");
    const lib = newLib();
    const r = await rscript(`cat("REPOS:", getOption("repos")[["CRAN"]], "\\n"); suppressWarnings(install.packages("epsilon", lib = ${rStr(lib)}, repos = getOption("repos")))`, e);
    assert.match(r.out, /safe-pip: the R hook .*moved\/safe-pip\.R is missing or broken, so install\.packages\(\) is switched off; run `safe-pip setup r` to repair/);
    assert.match(r.out, /REPOS: http:\/\/127\.0\.0\.1:1\/safe-pip-hook-missing/);
    assert.deepEqual(installedRPackages(lib), {});
    assert.equal(pub.requests.filter((q) => q.userAgent !== "safe-pip").length, 0);
  });

  it("an inherited SAFE_PIP_ACTIVE or R_INSTALL_PKG does not switch the hook off", async () => {
    const e = { ...env, SAFE_PIP_ACTIVE: "1", R_INSTALL_PKG: "foo", SAFE_PIP_R_TOKEN: "123x0abc" };
    const r = await rscript('cat("SHIMS:", "safe-pip:shims" %in% search(), getOption("repos")[["CRAN"]], "\\n")', e);
    assert.match(r.out, /SHIMS: TRUE http:\/\/127\.0\.0\.1:1\/safe-pip-repository-not-started/);
  });

  it("utils::install.packages with its own repos= (as BiocManager and pacman call it) is judged and served by safe-pip", async () => {
    const lib = newLib();
    const before = evil.requests.length;
    const r = await rscript(
      [
        `utils::install.packages("epsilon", lib = ${rStr(lib)}, repos = ${rStr(evil.url)})`,
        // What a package importing utils sees: the namespace's own function.
        `f <- get("install.packages", envir = asNamespace("utils")); cat("PATCHED:", !identical(environmentName(environment(f)), "utils"), "\\n")`,
      ].join("; "),
    );
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { epsilon: "1.0" });
    assert.match(r.out, /safe-pip: installing from the safe-pip repository instead of /);
    assert.match(r.out, /PATCHED: TRUE/);
    assert.equal(evil.requests.length, before, "the other repository was never contacted");
  });
});
