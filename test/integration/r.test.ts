/**
 * Real R through the hook: `safe-pip setup r` writes the profile line, then `Rscript -e
 * 'install.packages(...)'` runs as a user would, against CRAN-like repositories on 127.0.0.1
 * holding small packages built with `R CMD build`. Every outcome is checked in the library
 * directory, not only in exit codes (install.packages only warns when it fails).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { newLib, rEnv, rStr, safePipR as safePip, rscript as runR } from "../helpers/r-run.js";
import { cleanupAll, tempDir } from "../helpers/env.js";
import { buildRPackages, hasRscript, installedRPackages, makeCranDir, serveStatic, type StaticRepo } from "../helpers/cran.js";

const R_AVAILABLE = await hasRscript();
const day = 86400e3;
const ago = (n: number) => new Date(Date.now() - n * day);

/** The safe-pip command the hook runs: the built CLI, exactly as a user's hook would call it. */
let pub: StaticRepo;
let internal: StaticRepo;
let evil: StaticRepo;
let home: string;
let env: Record<string, string>;
let tarballs: Map<string, string>;


/** Rscript -e CODE in this suite's environment unless another is given. */
const rscript = (code: string, e: Record<string, string> = env) => runR(code, e);

describe("R: install.packages() through the safe-pip hook", { skip: R_AVAILABLE ? false : "Rscript is not on PATH; R tests skipped" }, () => {
  before(async () => {
    tarballs = await buildRPackages([
      { name: "alpha", version: "1.0", published: ago(400) },
      { name: "alpha", version: "2.0", published: ago(1) },
      { name: "theta", version: "1.0", imports: "alpha (>= 1.0)", published: ago(300) },
      { name: "beta", version: "0.5", published: ago(300), marker: "public beta" },
      { name: "beta", version: "0.4", marker: "internal beta" },
      { name: "readxl", version: "1.0.0", published: ago(3000) },
      { name: "gamma", version: "1.0", imports: "delta", published: ago(300) },
      { name: "delta", version: "1.0", published: ago(300) },
      { name: "epsilon", version: "1.0", published: ago(300) },
      { name: "epsilon", version: "9.9", published: ago(300), marker: "evil" },
      { name: "zeta", version: "1.0", published: ago(400) },
      { name: "zeta", version: "1.1", published: ago(300) },
    ]);
    const t = (k: string) => tarballs.get(k)!;
    // PACKAGES written by R itself: no Date/Publication, so safe-pip reads the tarballs' DESCRIPTION.
    pub = await serveStatic(
      await makeCranDir({
        current: [t("alpha_2.0"), t("theta_1.0"), t("beta_0.5_public beta"), t("readxl_1.0.0"), t("gamma_1.0"), t("delta_1.0"), t("epsilon_1.0"), t("zeta_1.1")],
        archive: [t("alpha_1.0"), t("zeta_1.0")],
      }),
    );
    internal = await serveStatic(await makeCranDir({ current: [t("beta_0.4_internal beta")] }));
    evil = await serveStatic(await makeCranDir({ current: [t("epsilon_9.9_evil")] }));

    const policyDir = tempDir("safe-pip-rpolicy-");
    const policyFile = join(policyDir, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        cran: { repo: pub.url, internal: [{ url: internal.url, packages: ["acme*"] }] },
        minAge: "7d",
        deny: ["delta"],
        // The real RSEC-2023-0 record (readxl < 1.1.0), copied into the test fixtures.
        osv: { source: "offline", database: join(packageRoot(), "test", "fixtures", "osv", "cran"), maxStaleness: "36500d" },
      }),
    );
    const systemPolicy = join(policyDir, "system.json");
    writeFileSync(systemPolicy, "{}");
    home = tempDir("safe-pip-rhome-");
    env = rEnv(home, { SAFE_PIP_CONFIG: policyFile, SAFE_PIP_SYSTEM_POLICY: systemPolicy });
    const setup = await safePip(["setup", "r"], env);
    assert.equal(setup.code, 0, setup.stderr);
  });

  after(async () => {
    await Promise.all([pub, internal, evil].map((s) => s?.close()));
    cleanupAll();
  });

  it("setup r adds one line to an existing profile, R then has the shims, and --undo takes them away", async () => {
    const h = tempDir("safe-pip-rhome-");
    const e = rEnv(h, { SAFE_PIP_CONFIG: env.SAFE_PIP_CONFIG!, SAFE_PIP_SYSTEM_POLICY: env.SAFE_PIP_SYSTEM_POLICY! });
    const profile = join(h, ".Rprofile");
    writeFileSync(profile, "options(safe.pip.test = 42)\n");
    assert.equal((await safePip(["setup", "r"], e)).code, 0);
    assert.equal((await safePip(["setup", "r"], e)).code, 0);
    const text = readFileSync(profile, "utf8");
    assert.equal(text.split("\n").filter((l) => l.includes("safe-pip R hook")).length, 1, text);
    assert.ok(text.startsWith("options(safe.pip.test = 42)\n"));

    const probe = 'cat(getOption("safe.pip.test"), "safe-pip:shims" %in% search(), getOption("repos")[["CRAN"]], "\\n")';
    const on = await rscript(probe, e);
    assert.match(on.out, /^42 TRUE http:\/\/127\.0\.0\.1:1\/safe-pip-repository-not-started/m, "the machine's CRAN mirror is replaced");

    assert.equal((await safePip(["setup", "r", "--undo"], e)).code, 0);
    assert.equal(readFileSync(profile, "utf8"), "options(safe.pip.test = 42)\n");
    const off = await rscript(probe, e);
    assert.match(off.out, /^42 FALSE /m);
  });

  it("installs the newest old-enough version from Archive/ when the newest is too young, dependencies included", async () => {
    const lib = newLib();
    const r = await rscript(`install.packages("theta", lib = ${rStr(lib)}); install.packages("epsilon", lib = ${rStr(lib)})`);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { alpha: "1.0", theta: "1.0", epsilon: "1.0" });
    assert.match(r.out, /safe-pip: alpha 2\.0 held back: age: published 1 day ago \(minimum age 7d\); using 1\.0 from the archive/);
    // R itself never fetched the young tarball (safe-pip read its DESCRIPTION, as "safe-pip").
    const young = pub.requests.filter((q) => q.path.endsWith("/alpha_2.0.tar.gz"));
    assert.ok(young.every((q) => q.userAgent === "safe-pip"), JSON.stringify(young));
  });

  it("installs the internal package, not the higher public version of the same name", async () => {
    const lib = newLib();
    const r = await rscript(`install.packages("beta", lib = ${rStr(lib)}); library(beta, lib.loc = ${rStr(lib)}); cat("MARK:", f(), "\\n")`);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { beta: "0.4" });
    assert.match(r.out, /MARK: internal beta/);
    assert.match(r.out, /safe-pip: beta: using internal 0\.4 from http:\/\/127\.0\.0\.1:\d+; public 0\.5 ignored/);
  });

  it("blocks a release with a real R advisory (RSEC-2023-0) with an R error, installing nothing", async () => {
    const lib = newLib();
    const r = await rscript(`install.packages("readxl", lib = ${rStr(lib)})`);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /Error: safe-pip blocked readxl; nothing was installed:/);
    assert.match(r.out, /readxl 1\.0\.0: osv: RSEC-2023-0: /);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("blocks a package whose dependency is denied, and installs neither", async () => {
    const lib = newLib();
    const r = await rscript(`install.packages("gamma", lib = ${rStr(lib)})`);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /delta: deny: denied by policy \(delta\) \(needed by gamma 1\.0\)/);
    assert.match(r.out, /gamma 1\.0: needs delta, which is blocked/);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("replaces a repos= argument and options(repos) pointing elsewhere, saying so in one line", async () => {
    const lib1 = newLib();
    const lib2 = newLib();
    const r = await rscript(
      [
        `install.packages("epsilon", lib = ${rStr(lib1)}, repos = ${rStr(evil.url)})`,
        `options(repos = c(CRAN = ${rStr(evil.url)}))`,
        `install.packages("epsilon", lib = ${rStr(lib2)})`,
      ].join("; "),
    );
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib1), { epsilon: "1.0" });
    assert.deepEqual(installedRPackages(lib2), { epsilon: "1.0" });
    const lines = r.out.split("\n").filter((l) => l.startsWith("safe-pip: installing from the safe-pip repository instead of"));
    assert.deepEqual(lines, Array(2).fill(`safe-pip: installing from the safe-pip repository instead of ${evil.url}`));
    assert.deepEqual(evil.requests, [], "the other repository was never contacted");
  });

  it("blocks local files installed with repos = NULL (a direct reference), as pip does", async () => {
    const lib = newLib();
    const file = tarballs.get("epsilon_1.0")!;
    const r = await rscript(
      [
        `tryCatch(install.packages(${rStr(file)}, repos = NULL, lib = ${rStr(lib)}), error = function(e) cat("ERR1:", conditionMessage(e), "\\n"))`,
        `tryCatch(install.packages(${rStr(file)}, lib = ${rStr(lib)}), error = function(e) cat("ERR2:", conditionMessage(e), "\\n"))`,
      ].join("; "),
    );
    assert.match(r.out, /ERR1: safe-pip blocked .*epsilon_1\.0\.tar\.gz; nothing was installed:\n.*direct: .*directReferences: "block"/);
    assert.match(r.out, /ERR2: safe-pip blocked /, "repos = NULL inferred from a tarball name is caught too");
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("fails closed when safe-pip cannot be run, even for a qualified utils::install.packages", async () => {
    const lib = newLib();
    const e = { ...env, SAFE_PIP_BIN: "/nonexistent/safe-pip" };
    const r = await rscript(
      [
        `tryCatch(install.packages("epsilon", lib = ${rStr(lib)}), error = function(e) cat("ERR:", conditionMessage(e), "\\n"))`,
        `suppressWarnings(utils::install.packages("epsilon", lib = ${rStr(lib)}))`,
      ].join("; "),
      e,
    );
    assert.match(r.out, /ERR: safe-pip: SAFE_PIP_BIN is set to "\/nonexistent\/safe-pip", which is not a command that exists\nnothing was installed/);
    assert.deepEqual(installedRPackages(lib), {});
  });

  it("update.packages() updates through the repository", async () => {
    const lib = newLib();
    const pre = await execa("R", ["CMD", "INSTALL", "-l", lib, tarballs.get("zeta_1.0")!], {
      env: { ...env, R_PROFILE_USER: "" },
      extendEnv: false,
      reject: false,
    });
    assert.equal(pre.exitCode, 0, String(pre.stderr));
    assert.deepEqual(installedRPackages(lib), { zeta: "1.0" });
    const r = await rscript(`update.packages(lib.loc = ${rStr(lib)}, ask = FALSE)`);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(installedRPackages(lib), { zeta: "1.1" });
  });
});
