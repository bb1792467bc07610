/**
 * safe-pip as a process among others: stopped by Ctrl-C or SIGTERM in the middle of a resolution,
 * run twice at once over the same caches, and handed credentials that must never be written down.
 *
 * The signal tests hold safe-pip mid-resolution with a fake upstream that never answers, then
 * stop it and check what it leaves behind: exit 128+n, its index's port closed, no temporary file
 * (TMPDIR is a private directory, so pip's own leftovers would show too), no pip still running,
 * nothing in the --target directory.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { packageRoot } from "../../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { loadFixtureRecords, startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, installedVersions, safePip, writePolicy } from "../helpers/cli.js";

const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cleanupAll();
});

const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

/**
 * A Python that is not safe-pip's direct child, like pyenv's shim (a bash script that runs python
 * and then rehashes): a signal for safe-pip's child alone would not reach pip.
 */
function wrappedPython(): string {
  const file = join(tempDir("safe-pip-wrapper-"), "python3");
  writeFileSync(file, `#!/bin/sh\n"${python}" "$@"\nstatus=$?\nexit $status\n`);
  chmodSync(file, 0o755);
  return file;
}

const STACK = /^\s+at .+[(:]\d+:\d+\)?$/m;

async function until(what: string, cond: () => boolean, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** The process and its descendants (Linux /proc; empty elsewhere, where that check is skipped). */
function processTree(root: number): number[] {
  if (!existsSync("/proc")) return [];
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  return tree;
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

function describeProcess(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return String(pid);
  }
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startSafePip(args: string[], env: Record<string, string>, detached: boolean): Started {
  const child = spawn(process.execPath, [join(packageRoot(), "dist", "cli.js"), ...args], {
    env,
    cwd: packageRoot(),
    stdio: ["ignore", "pipe", "pipe"],
    detached,
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe("stopped by a signal in the middle of a resolution", { concurrency: true }, () => {
  const cases = [
    { title: "Ctrl-C in a terminal (SIGINT to the whole process group)", signal: "SIGINT", group: true, code: 130 },
    { title: "SIGINT to safe-pip alone", signal: "SIGINT", group: false, code: 130 },
    { title: "SIGTERM to safe-pip alone (a supervisor, a CI timeout)", signal: "SIGTERM", group: false, code: 143 },
  ] as const;

  for (const c of cases) {
    it(`${c.title}: exit ${c.code}, index closed, temporary files gone, pip stopped, nothing installed`, async () => {
      const idx = await startFakeIndex({ projects: { tinypkg: [{ version: "1.0", uploadTime: daysAgo(30) }] } });
      servers.push(idx);
      idx.fault = { kind: "hang" };
      const tmp = tempDir("safe-pip-tmpdir-");
      const target = tempDir("safe-pip-target-");
      const { env } = isolatedEnv({
        SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "off" }, timeout: "60s" }),
        SAFE_PIP_PYTHON: wrappedPython(),
        TMPDIR: tmp,
      });
      // -v: pip prints "Looking in indexes: <the unified index>", which tells us its port.
      const run = startSafePip(["install", "-v", "--target", target, "tinypkg"], env, c.group);
      let port = 0;
      try {
        await until("pip to ask for tinypkg", () => idx.requests.some((q) => q.path.includes("tinypkg")) && /Looking in indexes: http:\/\/127\.0\.0\.1:\d+\//.test(run.stdout()));
        port = Number(/Looking in indexes: http:\/\/127\.0\.0\.1:(\d+)\//.exec(run.stdout())![1]);
        assert.ok(await accepts(port), "the unified index is up while pip resolves");
        assert.ok(readdirSync(tmp).some((n) => n.startsWith("safe-pip-")), "safe-pip made its temporary directory in TMPDIR");
      } catch (err) {
        run.child.kill("SIGKILL");
        throw new Error(`${(err as Error).message}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
      }
      const tree = processTree(run.child.pid!);
      const t0 = Date.now();
      if (c.group) process.kill(-run.child.pid!, c.signal);
      else run.child.kill(c.signal);
      const timer = setTimeout(() => run.child.kill("SIGKILL"), 30_000);
      const exit = await run.exit;
      clearTimeout(timer);
      const detail = `\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`;

      assert.deepEqual(exit, { code: c.code, signal: null }, `exit ${JSON.stringify(exit)} after ${Date.now() - t0} ms${detail}`);
      assert.ok(Date.now() - t0 < 15_000, `stopping took ${Date.now() - t0} ms`);
      assert.equal(await accepts(port), false, "the index's port no longer accepts connections");
      assert.deepEqual(readdirSync(tmp), [], `TMPDIR is empty again${detail}`);
      assert.deepEqual(readdirSync(target), [], "nothing installed");
      const left = tree.filter(running);
      assert.deepEqual(left.map(describeProcess), [], "no pip (or wrapper) left running");
      assert.doesNotMatch(run.stderr(), STACK);
      assert.doesNotMatch(run.stderr(), /^safe-pip: internal error/m);
    });
  }
});

describe("two runs at once over the same caches", () => {
  let idx: FakeIndex;
  let osv: OsvServer;
  before(async () => {
    idx = await startFakeIndex({
      projects: {
        "spconc-app": [{ version: "1.0", uploadTime: daysAgo(100), requires: ["spconc-dep-one>=1", "spconc-dep-two"] }],
        "spconc-tool": [{ version: "2.0", uploadTime: daysAgo(100), requires: ["spconc-dep-one", "spconc-dep-three"] }],
        "spconc-dep-one": [
          { version: "1.0", uploadTime: daysAgo(200) },
          { version: "1.1", uploadTime: daysAgo(150) },
        ],
        "spconc-dep-two": [{ version: "0.5", uploadTime: daysAgo(90) }],
        "spconc-dep-three": [{ version: "3.1", uploadTime: daysAgo(90) }],
      },
    });
    osv = await startOsvServer(loadFixtureRecords());
    servers.push(idx, osv);
  });

  it("both succeed, and the caches they share stay readable", async () => {
    // One HOME: XDG_CACHE_HOME (safe-pip's OSV cache) and pip's cache dir are shared.
    const shared = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ index: idx.url, osv: { source: "api", url: osv.url } }), SAFE_PIP_PYTHON: python });
    const { home } = shared;
    const env = { ...shared.env, PIP_CACHE_DIR: join(home, ".cache", "pip") };
    const [t1, t2] = [tempDir("safe-pip-target-"), tempDir("safe-pip-target-")];
    const [a, b] = await Promise.all([
      safePip(["install", "--target", t1, "spconc-app", "spconc-tool"], { env }),
      safePip(["install", "--target", t2, "spconc-tool", "spconc-app"], { env }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const expected = { spconc_app: "1.0", spconc_tool: "2.0", spconc_dep_one: "1.1", spconc_dep_two: "0.5", spconc_dep_three: "3.1" };
    assert.deepEqual(installedVersions(t1), expected);
    assert.deepEqual(installedVersions(t2), expected);
    const osvCache = join(home, ".cache", "safe-pip", "osv", "PyPI");
    const files = readdirSync(osvCache);
    assert.ok(files.includes("spconc-dep-one.json"), files.join(" "));
    assert.ok(!files.some((f) => f.endsWith(".tmp")), "no temporary cache file left");
    for (const f of files) JSON.parse(readFileSync(join(osvCache, f), "utf8"));
    // The audit log has both runs, one whole line each.
    const audit = readFileSync(join(home, ".local", "state", "safe-pip", "audit.jsonl"), "utf8").trim().split("\n");
    assert.equal(audit.length, 2);
    for (const line of audit) assert.equal((JSON.parse(line) as { outcome: string }).outcome, "installed");
  });
});

describe("credentials in index URLs", () => {
  const USER = "deploy";
  const SECRET = "s3cr3t-T0KEN-q7z";
  const forms = [SECRET, Buffer.from(`${USER}:${SECRET}`).toString("base64"), Buffer.from(SECRET).toString("base64")];
  let pub: FakeIndex;
  let internal: FakeIndex;
  let hanging: FakeIndex;
  before(async () => {
    const auth = { user: USER, password: SECRET };
    pub = await startFakeIndex({ auth, projects: { requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }] } });
    internal = await startFakeIndex({ auth, projects: { "corp-tool": [{ version: "3.0", uploadTime: daysAgo(1), requires: ["requests"] }] } });
    hanging = await startFakeIndex({ auth, projects: { "corp-tool": [{ version: "3.0", uploadTime: daysAgo(1) }] } });
    hanging.fault = { kind: "hang" };
    servers.push(pub, internal, hanging);
  });
  const withCreds = (url: string) => url.replace("http://", `http://${USER}:${SECRET}@`);

  function assertNoSecret(text: string | Buffer, where: string): void {
    const hay = Buffer.isBuffer(text) ? text : Buffer.from(text);
    for (const f of forms) assert.equal(hay.includes(f), false, `${where} holds the credential (${f === SECRET ? "plain" : "base64"})`);
  }

  function walk(dir: string): string[] {
    const out: string[] = [];
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) out.push(...walk(p));
      else if (st.isFile()) out.push(p);
    }
    return out;
  }

  it("never appear in output, in pip's --report, in SAFE_PIP_REPORT or in any file under HOME", async () => {
    const dir = tempDir();
    const { env, home } = isolatedEnv({
      SAFE_PIP_CONFIG: writePolicy({ index: withCreds(pub.url), internal: [{ url: withCreds(internal.url), packages: ["corp-*"] }], osv: { source: "off" } }),
      SAFE_PIP_PYTHON: python,
      SAFE_PIP_REPORT: join(dir, "decisions.json"),
      PIP_EXTRA_INDEX_URL: withCreds(internal.url),
    });
    const target = tempDir("safe-pip-target-");
    writeFileSync(join(dir, "req.txt"), `--index-url ${withCreds(pub.url)}\ncorp-tool\n`);
    const r = await safePip(["install", "-v", "--target", target, "--report", join(dir, "pip-report.json"), "--extra-index-url", withCreds(pub.url), "-r", join(dir, "req.txt")], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(installedVersions(target), { corp_tool: "3.0", requests: "2.31.0" });
    assert.ok(pub.requests.some((q) => q.authorization !== undefined), "the credentials were used upstream");
    assert.match(r.stderr, /ignored --extra-index-url http:\/\/\*\*\*\*@127\.0\.0\.1/);
    assertNoSecret(r.stdout, "stdout");
    assertNoSecret(r.stderr, "stderr");
    const files = [join(dir, "pip-report.json"), join(dir, "decisions.json"), ...walk(home)];
    assert.ok(files.some((f) => f.endsWith("audit.jsonl")), "the audit log was written");
    for (const f of files) assertNoSecret(readFileSync(f), f);
  });

  it("never appear in an error either", async () => {
    const { env, home } = isolatedEnv({
      SAFE_PIP_CONFIG: writePolicy({ index: withCreds(pub.url), internal: [{ url: withCreds(hanging.url), packages: ["corp-*"] }], osv: { source: "off" }, timeout: "2s" }),
      SAFE_PIP_PYTHON: python,
    });
    const target = tempDir("safe-pip-target-");
    const r = await safePip(["install", "--target", target, "corp-tool"], { env });
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, /^safe-pip: internal index http:\/\/\*\*\*\*@127\.0\.0\.1:\d+\/simple\/ is unavailable \(no answer within 2s \(timed out\)\)/m);
    assertNoSecret(r.stdout + r.stderr, "output");
    for (const f of walk(home)) assertNoSecret(readFileSync(f), f);
  });
});
