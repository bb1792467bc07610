/**
 * safe-pip as a process: stopped by SIGINT/SIGTERM in the middle of resolution, run twice at once
 * over the same cache and state directories, and given index URLs with credentials.
 *
 * - A signal must stop pip, stop the unified index (its port refuses connections afterwards),
 *   remove every temporary file, install nothing, and exit 128+n.
 * - Concurrent runs must both succeed and leave one well-formed audit line each.
 * - A password in an index URL must never be written anywhere: output, pip's --report,
 *   SAFE_PIP_REPORT, or any file under HOME (caches, audit log, settings).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { loadFixtureRecords, startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";
import { realPython } from "../helpers/python.js";

const OLD = daysAgo(400);
const USER = "deploy";
const SECRET = "s3cr3t-t0ken-Q7x";

let publicIdx: FakeIndex;
let authIdx: FakeIndex;
let osv: OsvServer;

before(async () => {
  publicIdx = await startFakeIndex({
    projects: {
      requests: [{ version: "2.31.0", uploadTime: OLD }],
      idna: [{ version: "3.6", uploadTime: OLD }],
    },
  });
  authIdx = await startFakeIndex({
    auth: { user: USER, password: SECRET },
    projects: { "corp-tool": [{ version: "3.0", uploadTime: daysAgo(1), requires: ["corp-dep"] }], "corp-dep": [{ version: "1.1", uploadTime: daysAgo(1) }] },
  });
  osv = await startOsvServer(loadFixtureRecords());
});

after(async () => {
  await Promise.all([publicIdx.close(), authIdx.close(), osv.close()]);
  cleanupAll();
});

/** Processes whose command line holds every one of `parts` (Linux /proc). */
function processesWith(parts: string[]): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue;
    }
    if (parts.every((p) => argv.some((a) => a.includes(p)))) out.push({ pid: Number(entry), argv });
  }
  return out;
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

describe("signals during resolution", { concurrency: true }, () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal}: pip and the index stop, temporary files go, nothing is installed, exit ${code}`, async () => {
      // The upstream never answers and the policy would wait two minutes: safe-pip is held mid-resolution.
      const hanging = await startFakeIndex({ projects: { requests: [{ version: "2.31.0", uploadTime: OLD }] } });
      hanging.fault = { kind: "hang" };
      try {
        const tmp = tempDir("safe-pip-sigtmp-");
        const target = tempDir("safe-pip-target-");
        const iso = isolatedEnv({
          SAFE_PIP_CONFIG: writePolicy({ index: hanging.url, osv: { source: "off" }, timeout: "120s" }),
          SAFE_PIP_PYTHON: realPython(),
          TMPDIR: tmp,
        });
        const child = execa(process.execPath, [join(packageRoot(), "dist", "cli.js"), "install", "--target", target, "requests"], {
          env: iso.env,
          extendEnv: false,
          reject: false,
          stdin: "ignore",
          timeout: 110_000,
        });
        let exited: unknown;
        void child.then((res) => (exited = res));
        await until("pip to ask the index for requests", () => {
          if (exited) assert.fail(`safe-pip ended early: ${JSON.stringify(exited)}`);
          return hanging.requests.some((q) => q.path.startsWith("/simple/requests"));
        }, 75_000);

        // pip's command line names the unified index: that is the port that must close.
        const pips = processesWith([`--target=${target}`, "--index-url=http://127.0.0.1:"]);
        assert.ok(pips.length > 0, "pip is running");
        const port = Number(/--index-url=http:\/\/127\.0\.0\.1:(\d+)\//.exec(pips[0]!.argv.find((a) => a.startsWith("--index-url="))!)![1]);
        assert.equal(await refusesConnections(port), false, "the unified index is listening before the signal");
        assert.ok(readdirSync(tmp).some((n) => n.startsWith("safe-pip-")), "safe-pip made its temporary directory in TMPDIR");

        const sentAt = Date.now();
        child.kill(signal);
        const r = await child;
        assert.equal(r.signal, undefined, `safe-pip exited by itself, not killed by ${String(r.signal)}`);
        assert.equal(r.exitCode, code, String(r.stderr));
        assert.ok(Date.now() - sentAt < 30_000, "it stopped promptly, not after the 120 s upstream timeout");
        assert.doesNotMatch(String(r.stderr), /^\s+at \S.*:\d+:\d+\)?$|internal error/m);

        await until("pip to be gone", () => pips.every((p) => !running(p.pid)), 10_000);
        assert.equal(await refusesConnections(port), true, "the unified index no longer accepts connections");
        assert.deepEqual(readdirSync(tmp), [], "no temporary file is left behind (safe-pip's or pip's)");
        assert.deepEqual(readdirSync(target), [], "nothing installed");
      } finally {
        await hanging.close();
      }
    });
  }
});

describe("two runs at once", () => {
  it("share the cache and state directories; both succeed; the audit log has two well-formed lines", async () => {
    const iso = isolatedEnv({
      SAFE_PIP_CONFIG: writePolicy({ index: publicIdx.url, osv: { source: "api", url: osv.url }, timeout: "20s" }),
      SAFE_PIP_PYTHON: realPython(),
    });
    const targets = [tempDir("safe-pip-target-"), tempDir("safe-pip-target-")];
    const [a, b] = await Promise.all([
      safePip(["install", "--target", targets[0]!, "requests", "idna"], { env: iso.env, timeoutMs: 85_000 }),
      safePip(["install", "--target", targets[1]!, "idna", "requests"], { env: iso.env, timeoutMs: 85_000 }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    for (const t of targets) assert.deepEqual(installedVersions(t), { idna: "3.6", requests: "2.31.0" });
    const audit = readFileSync(join(iso.home, ".local", "state", "safe-pip", "audit.jsonl"), "utf8");
    assert.ok(audit.endsWith("\n"));
    const lines = audit.slice(0, -1).split("\n");
    assert.equal(lines.length, 2, audit);
    for (const line of lines) {
      const rec = JSON.parse(line) as { outcome: string; exitCode: number; installed: string[] };
      assert.equal(rec.outcome, "installed");
      assert.equal(rec.exitCode, 0);
      assert.deepEqual([...rec.installed].sort(), ["idna==3.6 (public)", "requests==2.31.0 (public)"]);
    }
    // The OSV cache both wrote to holds whole JSON files only.
    const osvCache = join(iso.home, ".cache", "safe-pip", "osv");
    for (const f of filesUnder(osvCache)) assert.doesNotThrow(() => JSON.parse(readFileSync(f, "utf8")), f);
  });
});

describe("credentials in index URLs", () => {
  it("never appear in output, pip's --report, SAFE_PIP_REPORT or any file under HOME", async () => {
    const withCreds = authIdx.url.replace("http://", `http://${USER}:${SECRET}@`);
    const reports = tempDir("safe-pip-reports-");
    const project = tempDir("safe-pip-proj-");
    writeFileSync(join(project, "requirements.txt"), `--extra-index-url ${withCreds}\ncorp-tool\n`);
    const iso = isolatedEnv({
      SAFE_PIP_CONFIG: writePolicy({ index: publicIdx.url, internal: [{ url: withCreds, packages: ["corp-*"] }], osv: { source: "api", url: osv.url } }),
      SAFE_PIP_PYTHON: realPython(),
      SAFE_PIP_REPORT: join(reports, "decisions.json"),
      PIP_EXTRA_INDEX_URL: withCreds,
    });
    // Temporary files live under HOME for this test, so the scan below sees them too if left.
    const tmp = join(iso.home, "tmp");
    mkdirSync(tmp);
    iso.env.TMPDIR = tmp;
    const target = tempDir("safe-pip-target-");
    const ok = await safePip(
      ["install", "--target", target, "--report", join(reports, "pip-report.json"), "--index-url", withCreds, "-r", "requirements.txt", "requests"],
      { env: iso.env, cwd: project, timeoutMs: 85_000 },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(installedVersions(target), { corp_dep: "1.1", corp_tool: "3.0", requests: "2.31.0" });
    assert.ok(authIdx.requests.some((q) => q.authorization !== undefined), "the internal index was reached with the credentials");
    assert.match(ok.stderr, /http:\/\/\*\*\*\*@127\.0\.0\.1/, "the URL is shown, with the credentials masked");

    // A failing run names the URL in its error: masked too.
    const down = writePolicy({ index: publicIdx.url, internal: [{ url: `http://${USER}:${SECRET}@127.0.0.1:9/simple/`, packages: ["corp-*"] }], osv: { source: "off" } });
    const failed = await safePip(["install", "--target", target, "--index-url", withCreds, "corp-tool"], { env: { ...iso.env, SAFE_PIP_CONFIG: down }, cwd: project, timeoutMs: 85_000 });
    assert.equal(failed.code, 69, failed.stderr);
    assert.match(failed.stderr, /internal index http:\/\/\*\*\*\*@127\.0\.0\.1:9\/simple\/ is unavailable/);

    const basic = Buffer.from(`${USER}:${SECRET}`).toString("base64");
    const leaks = (text: string) => text.includes(SECRET) || text.includes(basic);
    for (const [what, text] of [
      ["stdout", ok.stdout + failed.stdout],
      ["stderr", ok.stderr + failed.stderr],
    ] as const)
      assert.equal(leaks(text), false, `the password appears in ${what}`);
    const files = [...filesUnder(reports), ...filesUnder(iso.home)];
    assert.ok(files.some((f) => f.endsWith("pip-report.json")) && files.some((f) => f.endsWith("decisions.json")) && files.some((f) => f.endsWith("audit.jsonl")));
    for (const f of files) assert.equal(leaks(readFileSync(f).toString("latin1")), false, `the password appears in ${f}`);
    assert.ok(existsSync(join(iso.home, ".local", "state", "safe-pip", "audit.jsonl")));
  });
});
