import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runR } from "../../src/commands/r.js";
import type { CommandContext } from "../../src/commands/context.js";
import { SafePipError } from "../../src/core/errors.js";
import { PASS_ALL, type ReleaseChecker } from "../../src/checks/release.js";
import { makeFakeCranDir, serveStatic, type StaticRepo } from "../helpers/cran.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

const servers: StaticRepo[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cleanupAll();
});

function context(env: Record<string, string>): { ctx: CommandContext; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = "";
  let e = "";
  stdout.on("data", (c: Buffer) => (o += c.toString()));
  stderr.on("data", (c: Buffer) => (e += c.toString()));
  return { ctx: { env, cwd: process.cwd(), stdout, stderr, isTTY: false, quiet: false }, out: () => o, err: () => e };
}

async function policyEnv(policy: Record<string, unknown>): Promise<Record<string, string>> {
  const dir = tempDir();
  writeFileSync(join(dir, "policy.json"), JSON.stringify(policy));
  writeFileSync(join(dir, "system.json"), "{}");
  return { HOME: dir, SAFE_PIP_CONFIG: join(dir, "policy.json"), SAFE_PIP_SYSTEM_POLICY: join(dir, "system.json") };
}

const blockOmega: ReleaseChecker = {
  checkName: () => [],
  checkReleases: async (rs) =>
    new Map(rs.map((r) => [r.version, r.name === "omega" ? [{ check: "osv", verdict: "block", id: "RSEC-T", message: "RSEC-T: test" }] : []])),
};

describe("safe-pip r / setup r commands", () => {
  it("r check prints the verdicts as JSON and exits 65 when something is blocked", async () => {
    const up = await serveStatic(
      makeFakeCranDir({ current: [{ name: "alpha", version: "1.0", published: new Date("2020-01-01") }, { name: "omega", version: "1.0", published: new Date("2020-01-01") }] }),
    );
    servers.push(up);
    const env = await policyEnv({ cran: { repo: up.url }, osv: { source: "off" } });
    const ok = context(env);
    assert.equal(await runR(["r", "check", "alpha"], ok.ctx, { createChecker: () => blockOmega }), 0);
    const json = JSON.parse(ok.out()) as { blocked: boolean; packages: Array<{ name: string; status: string; version: string }> };
    assert.equal(json.blocked, false);
    assert.deepEqual(json.packages.map((p) => [p.name, p.status, p.version]), [["alpha", "ok", "1.0"]]);

    const bad = context(env);
    assert.equal(await runR(["r", "check", "omega"], bad.ctx, { createChecker: () => blockOmega }), 65);
    assert.match(JSON.stringify(JSON.parse(bad.out()).messages.blocks), /omega 1\.0: osv: RSEC-T: test/);
  });

  it("r serve writes its URL and token to the port file, and the reason there when it cannot start", async () => {
    const env = await policyEnv({ cran: { repo: "http://127.0.0.1:1" } });
    const portFile = join(tempDir(), "port.dcf");
    const c = context(env);
    const running = runR(["r", "serve", "--port-file", portFile], c.ctx, { createChecker: () => PASS_ALL });
    while (!existsSync(portFile)) await new Promise((r) => setTimeout(r, 20));
    const text = readFileSync(portFile, "utf8");
    const m = /^URL: (http:\/\/127\.0\.0\.1:\d+)\nToken: ([0-9a-f]{32})\n$/.exec(text);
    assert.ok(m, text);
    const res = await fetch(`${m[1]}/__safe-pip/shutdown?token=${m[2]}`, { method: "POST" });
    assert.equal(res.status, 200);
    assert.equal(await running, 0);
    assert.ok(!existsSync(portFile), "the port file is removed on exit");

    const broken = await policyEnv({});
    writeFileSync(broken.SAFE_PIP_CONFIG!, "{ not json");
    const errFile = join(tempDir(), "port.dcf");
    await assert.rejects(runR(["r", "serve", "--port-file", errFile], context(broken).ctx), (err: unknown) => err instanceof SafePipError && err.code === "CONFIG");
    assert.match(readFileSync(errFile, "utf8"), /^Error: policy file .* is not valid JSON/);
  });

  it("setup r edits the user's profile; --site only prints the line for administrators", async () => {
    const home = tempDir();
    const c = context({ HOME: home });
    assert.equal(await runR(["setup", "r"], c.ctx), 0);
    assert.match(readFileSync(join(home, ".Rprofile"), "utf8"), /shims\/r\/safe-pip\.R.*# safe-pip R hook/);
    const site = context({ HOME: tempDir() });
    assert.equal(await runR(["setup", "r", "--site"], site.ctx), 0);
    // The site line sources the hook, and without it points repos at nothing usable (fails closed).
    assert.match(site.out(), /Rprofile\.site[\s\S]*source\(".*shims\/r\/safe-pip\.R"\)/);
    assert.match(site.out(), /safe-pip-hook-missing/);
    assert.equal(await runR(["setup", "r", "--undo"], c.ctx), 0);
    assert.ok(!existsSync(join(home, ".Rprofile")));
  });

  it("rejects unknown commands and options as usage errors", async () => {
    const c = context({});
    await assert.rejects(runR(["r", "frobnicate"], c.ctx), (e: unknown) => e instanceof SafePipError && e.code === "USAGE");
    await assert.rejects(runR(["r", "serve", "--port"], c.ctx), (e: unknown) => e instanceof SafePipError && e.code === "USAGE");
    await assert.rejects(runR(["setup", "r", "--force"], c.ctx), (e: unknown) => e instanceof SafePipError && e.code === "USAGE");
  });
});
