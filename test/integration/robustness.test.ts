/**
 * Robustness: every way the world can let safe-pip down — upstream indexes that refuse, hang,
 * fail, reset, lie about sizes and hashes, or redirect; an internal index that is down or broken;
 * OSV unreachable, slow, malformed or truncated; broken policies; hostile requirement strings —
 * must end the same way: one clear error line, a documented exit code (64 usage, 65 blocked,
 * 69 unavailable, 78 config), nothing installed, no stack trace, and never a fallback to a source
 * the policy did not choose.
 *
 * Each case gets its own fake index (faults are per server), so the cases run concurrently.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeIndex, type Fault, type FakeIndex, type FakeIndexOptions } from "../helpers/pypi-server.js";
import { buildZip, loadFixtureRecords, startOsvServer, type OsvServer } from "../helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { daysAgo, safePip, writePolicy, type CliResult } from "../helpers/cli.js";
import { buildWheel } from "../helpers/wheel.js";
import { limiter, realPython } from "../helpers/python.js";

/** A port nothing listens on (discard): connection refused. */
const CLOSED = "http://127.0.0.1:9/simple/";
const OLD = daysAgo(400);

let publicIdx: FakeIndex;
let internalIdx: FakeIndex;
let evilIdx: FakeIndex;
const servers: Array<{ close(): Promise<void> }> = [];
/** Real pip runs are heavy: a few at a time keeps the machine (and the timings) sane. */
const slot = limiter(5);

before(async () => {
  publicIdx = await startFakeIndex({
    projects: {
      requests: [{ version: "2.31.0", uploadTime: OLD }],
      "acme-lib": [{ version: "99.0", uploadTime: OLD }],
      "corp-only": [{ version: "99.0", uploadTime: OLD }],
    },
  });
  internalIdx = await startFakeIndex({ projects: { "acme-lib": [{ version: "1.0", uploadTime: daysAgo(1) }] } });
  evilIdx = await startFakeIndex({ projects: { requests: [{ version: "66.6", uploadTime: OLD }], "acme-lib": [{ version: "666.0", uploadTime: OLD }] } });
  servers.push(publicIdx, internalIdx, evilIdx);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cleanupAll();
});

async function index(opts: Partial<FakeIndexOptions> = {}, fault?: Fault): Promise<FakeIndex> {
  const idx = await startFakeIndex({ projects: { requests: [{ version: "2.31.0", uploadTime: OLD }] }, ...opts });
  idx.fault = fault;
  servers.push(idx);
  return idx;
}

async function osvServer(...args: Parameters<typeof startOsvServer>): Promise<OsvServer> {
  const s = await startOsvServer(...args);
  servers.push(s);
  return s;
}

interface Run extends CliResult {
  target: string;
  home: string;
}

/** `safe-pip <args>` (install into a fresh --target by default) under a policy with a 2 s timeout. */
async function run(
  args: string[],
  policy: Record<string, unknown>,
  opts: { env?: Record<string, string>; command?: string[]; rawPolicy?: string; cwd?: string } = {},
): Promise<Run> {
  const dir = tempDir("safe-pip-policy-");
  let policyFile: string;
  if (opts.rawPolicy !== undefined) {
    policyFile = join(dir, "policy.json");
    writeFileSync(policyFile, opts.rawPolicy);
  } else policyFile = writePolicy({ index: publicIdx.url, osv: { source: "off" }, timeout: "2s", ...policy }, dir);
  const iso = isolatedEnv({ SAFE_PIP_CONFIG: policyFile, SAFE_PIP_PYTHON: realPython(), ...opts.env });
  const target = tempDir("safe-pip-target-");
  const argv = [...(opts.command ?? ["install", "--target", target]), ...args];
  const r = await slot(() => safePip(argv, { env: iso.env, timeoutMs: 85_000, ...(opts.cwd ? { cwd: opts.cwd } : {}) }));
  return { ...r, target, home: iso.home };
}

/** The error line: the last "safe-pip: " line that is not a hint, a trailer or progress. */
function errorLine(stderr: string): string | undefined {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("safe-pip: "))
    .filter((l) => !/^safe-pip: (hint:|cause:|nothing was installed|set SAFE_PIP_DEBUG|warning:|resolving through)/.test(l))
    .at(-1);
}

/** One clear error line matching `message`, the exit code, nothing installed, no stack trace. */
function assertFailsCleanly(r: Run, code: number, message: RegExp): void {
  const context = `exit ${r.code}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`;
  assert.equal(r.code, code, context);
  const line = errorLine(r.stderr);
  assert.ok(line, `no safe-pip error line\n${context}`);
  assert.match(line, message, context);
  assert.doesNotMatch(r.stderr + r.stdout, /^\s+at \S.*:\d+:\d+\)?$|Traceback \(most recent call last\)|internal error/m, context);
  assert.deepEqual(existsSync(r.target) ? readdirSync(r.target) : [], [], "nothing installed");
}

function assertNeverAsked(idx: FakeIndex, pattern: RegExp, why: string): void {
  assert.deepEqual(idx.requests.filter((q) => pattern.test(q.path)).map((q) => q.path), [], why);
}

describe("robustness", { concurrency: true }, () => {
  describe("the public upstream index fails", { concurrency: true }, () => {
    it("connection refused", async () => {
      const r = await run(["requests"], { index: CLOSED });
      assertFailsCleanly(r, 69, /^safe-pip: http:\/\/127\.0\.0\.1:9\/simple\/requests\/: connection refused$/);
    });

    it("hangs: the policy's timeout ends it", async () => {
      const idx = await index({}, { kind: "hang" });
      const r = await run(["requests"], { index: idx.url, timeout: "2s" });
      assertFailsCleanly(r, 69, /requests\/: no answer within 2s \(timed out\)$/);
    });

    it("answers HTTP 503", async () => {
      const idx = await index({}, { kind: "status", status: 503 });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /\/simple\/requests\/: answered HTTP 503$/);
    });

    it("resets the connection on a page", async () => {
      const idx = await index({}, { kind: "reset" });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests\/: connection reset$/);
    });

    it("resets the connection mid-file (promises the whole file, sends half)", async () => {
      const idx = await index({}, { kind: "truncate-file" });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests-2\.31\.0-py3-none-any\.whl(\.metadata)?(: download broke off| is smaller)/);
    });

    it("answers malformed PEP 691 JSON", async () => {
      const idx = await index({ format: "json" }, { kind: "malformed" });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests\/: answered malformed PEP 691 JSON$/);
    });

    it("answers a malformed (cut-off) PEP 503 HTML page", async () => {
      const idx = await index({ format: "html" }, { kind: "malformed" });
      const r = await run(["requests"], { index: idx.url, unknownAge: "allow" });
      assertFailsCleanly(r, 69, /requests\/: answered a PEP 503 HTML page that is cut off or malformed/);
    });

    it("answers a 50 MB page (maxPageBytes 1 MB)", async () => {
      const idx = await index({}, { kind: "huge", bytes: 50_000_000 });
      const r = await run(["requests"], { index: idx.url, maxPageBytes: 1_048_576 });
      assertFailsCleanly(r, 69, /requests\/: response of 50000000 bytes is larger than the 1048576-byte limit$/);
    });

    it("serves a file larger than its declared size", async () => {
      const idx = await index({}, { kind: "oversize-file", extra: 100_000 });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests-2\.31\.0-py3-none-any\.whl is larger than the \d+ bytes its index declared$/);
    });

    it("serves a file whose sha256 does not match", async () => {
      const idx = await index({}, { kind: "wrong-hash" });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests-2\.31\.0-py3-none-any\.whl(\.metadata)? does not match the sha256 its index declared$/);
    });

    it("redirects to another host: not followed", async () => {
      const idx = await index({}, { kind: "redirect", to: `${evilIdx.url}requests/` });
      const r = await run(["requests"], { index: idx.url });
      assertFailsCleanly(r, 69, /requests\/: redirects to another host \(http:\/\/127\.0\.0\.1:\d+\); refusing to follow$/);
      assertNeverAsked(evilIdx, /requests/, "the other host was never contacted");
    });
  });

  describe("an internal index known only by its root listing (no patterns)", { concurrency: true }, () => {
    it("down while the public index is up: an error, never the public index", async () => {
      const r = await run(["corp-only"], { internal: [{ url: CLOSED }] });
      assertFailsCleanly(r, 69, /^safe-pip: internal index http:\/\/127\.0\.0\.1:9\/simple\/ is unavailable \(connection refused\); safe-pip cannot tell whether corp-only is internal, so it is not looked up on the public index$/);
      assertNeverAsked(publicIdx, /corp/, "the public index was never asked for corp-only");
    });

    it("lists the project but its page fails: an error, never the public index", async () => {
      const idx = await index({ projects: { "corp-only": [{ version: "1.0", uploadTime: daysAgo(1) }] } }, { kind: "status", status: 500 });
      idx.faultPaths = /\/simple\/corp-only\//;
      const r = await run(["Corp_Only"], { internal: [{ url: idx.url }] });
      assertFailsCleanly(r, 69, /internal index http:\/\/127\.0\.0\.1:\d+\/simple\/ is unavailable \(answered HTTP 500\); it lists this project, so corp-only is not looked up on the public index$/);
      assertNeverAsked(publicIdx, /corp/, "the public index was never asked for corp-only");
    });

    it("answers a cut-off root listing: an error, never a partial listing", async () => {
      const idx = await index({ format: "html", projects: { "corp-only": [{ version: "1.0", uploadTime: daysAgo(1) }] } }, { kind: "malformed" });
      const r = await run(["corp.only"], { internal: [{ url: idx.url }] });
      assertFailsCleanly(r, 69, /internal index .* is unavailable \(.*cut off or malformed.*\); safe-pip cannot tell whether corp-only is internal/);
      assertNeverAsked(publicIdx, /corp/, "the public index was never asked for corp-only");
    });

    it("up: a name it lists comes from it, however the name is spelled, even with a higher public version", async () => {
      const idx = await index({ projects: { "Corp_Only": [{ version: "1.0", uploadTime: daysAgo(1) }] } });
      const r = await run(["--dry-run", "CORP.only"], { internal: [{ url: idx.url }] });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /corp-only 1\.0\s+internal/);
      assertNeverAsked(publicIdx, /corp/, "the public index was never asked for corp-only");
    });
  });

  it('names that normalise to an internal pattern go internal: Acme_Lib, acme.lib, ACME--lib vs "acme-*"', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "req.txt"), "acme.lib\n");
    const r = await run(["--dry-run", "Acme_Lib", "ACME--lib>=0.1", "-r", join(dir, "req.txt")], { internal: [{ url: internalIdx.url, packages: ["acme-*"] }] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /acme-lib 1\.0\s+internal/);
    assertNeverAsked(publicIdx, /acme/, "the public index was never asked for acme-lib");
  });

  describe("OSV fails", { concurrency: true }, () => {
    it("unreachable", async () => {
      const osv = await osvServer([], { fault: "down" });
      const r = await run(["requests"], { osv: { source: "api", url: osv.url } });
      assertFailsCleanly(r, 69, /^safe-pip: OSV API http:\/\/127\.0\.0\.1:\d+\/v1\/query: connection refused$/);
    });

    it("slow: the policy's timeout ends it", async () => {
      const osv = await osvServer(loadFixtureRecords(), { fault: "slow", delayMs: 30_000 });
      const r = await run(["requests"], { osv: { source: "api", url: osv.url }, timeout: "2s" });
      assertFailsCleanly(r, 69, /OSV API http:\/\/127\.0\.0\.1:\d+\/v1\/query: no answer within 2s \(timed out\)$/);
    });

    it("malformed answers", async () => {
      const osv = await osvServer(loadFixtureRecords(), { fault: "malformed" });
      const r = await run(["requests"], { osv: { source: "api", url: osv.url } });
      assertFailsCleanly(r, 69, /OSV API http:\/\/127\.0\.0\.1:\d+\/v1\/query: answer is not valid JSON$/);
    });

    it("a truncated offline database", async () => {
      const dir = tempDir();
      const zip = buildZip(loadFixtureRecords().map((rec) => ({ name: `${rec.id}.json`, data: JSON.stringify(rec) })));
      const database = join(dir, "all.zip");
      writeFileSync(database, zip.subarray(0, Math.floor(zip.length * 0.6)));
      const r = await run(["requests"], { osv: { source: "offline", database } });
      assertFailsCleanly(r, 69, /^safe-pip: offline OSV database .*all\.zip is not a valid zip archive: .*truncated/);
    });
  });

  describe("broken policies", { concurrency: true }, () => {
    it("broken JSON is a configuration error naming the file (78)", async () => {
      const r = await run(["requests"], {}, { rawPolicy: '{"index": "https://pypi.org/simple/", ' });
      assertFailsCleanly(r, 78, /^safe-pip: policy file .*policy\.json is not valid JSON: /);
    });

    for (const [key, value] of [
      ["minAge", "7 days"],
      ["timeout", "soon"],
      ["osv", { source: "api", cacheTtl: "forever" }],
    ] as const) {
      it(`a bad duration in "${key}" names the key (78)`, async () => {
        const r = await run(["requests"], { [key]: value });
        assertFailsCleanly(r, 78, new RegExp(`^safe-pip: policy file .*policy\\.json: key "${key === "osv" ? "osv.cacheTtl" : key}" ".*" is not a duration`));
      });
    }

    it("an unknown key is a warning; the install still works", async () => {
      const r = await run(["--dry-run", "requests"], { minimumAge: "7d", colour: "blue" });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /safe-pip: warning: .*policy\.json: unknown key "minimumAge" ignored/);
      assert.match(r.stderr, /safe-pip: warning: .*policy\.json: unknown key "colour" ignored/);
      assert.match(r.stderr, /requests 2\.31\.0\s+public/);
    });
  });

  describe("malformed requirements", { concurrency: true }, () => {
    for (const [name, text, message] of [
      ["an unclosed quote", '--only-binary "x\nrequests\n', /req\.txt:1: unclosed quote$/],
      ["a missing nested file", "requests\n-r nope.txt\n", /cannot read requirements file .*nope\.txt \(from .*req\.txt:2\): no such file$/],
      ["an empty version", "requests==\n", /req\.txt:1: invalid requirement "requests==": cannot read the version specifier/],
      ["a source option after a requirement", `requests --index-url=${"${EVIL}"}\n`, /req\.txt:1: unsupported option --index-url in a requirements file$/],
    ] as const) {
      it(`${name}: the file and line (64)`, async () => {
        const dir = tempDir();
        writeFileSync(join(dir, "req.txt"), text);
        const r = await run(["-r", join(dir, "req.txt")], {}, { env: { EVIL: evilIdx.url } });
        assertFailsCleanly(r, 64, message);
        assertNeverAsked(evilIdx, /./, "the evil index was never contacted");
      });
    }
  });

  describe("argument injection through package names", { concurrency: true }, () => {
    it("an index option smuggled as a requirement after --", async () => {
      const r = await run(["--", `-i${evilIdx.url}`, "requests"], {});
      assertFailsCleanly(r, 64, /invalid requirement "-ihttp:.*": looks like an option \(from the command line\)$/);
      const r2 = await run(["--", `--index-url=${evilIdx.url}`], {}, { command: ["index", "versions"] });
      assertFailsCleanly(r2, 64, /invalid argument "--index-url=.*" for pip index: looks like an option$/);
      assertNeverAsked(evilIdx, /./, "the evil index was never contacted");
    });

    it("sources hidden in quoted option values of a requirements file stay values", async () => {
      // Written back unquoted, `--only-binary='x --index-url=EVIL'` would be two options to pip.
      const wheels = tempDir();
      const w = buildWheel({ name: "requests", version: "77.7" });
      writeFileSync(join(wheels, w.filename), w.data);
      const dir = tempDir();
      writeFileSync(join(dir, "req.txt"), `--only-binary="x --index-url=${evilIdx.url}"\n--no-binary 'y --find-links=${wheels}'\nrequests\n`);
      const r = await run(["--dry-run", "-r", join(dir, "req.txt")], {});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /requests 2\.31\.0\s+public/);
      assertNeverAsked(evilIdx, /./, "the evil index was never contacted");
    });

    it("a ${VAR} that pip would expand again, or a value with a line break pip would split on (64)", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, "a.txt"), "--only-binary=${V1}\nrequests\n");
      writeFileSync(join(dir, "b.txt"), "--use-feature=${V3}\nrequests\n");
      const env = { V1: "${V2}", V2: `x' --index-url=${evilIdx.url} '`, V3: `truststore\x1c--index-url=${evilIdx.url}` };
      const [a, b] = await Promise.all([run(["-r", join(dir, "a.txt")], {}, { env }), run(["-r", join(dir, "b.txt")], {}, { env })]);
      assertFailsCleanly(a, 64, /a\.txt:1: "--only-binary='\$\{V2\}'" cannot be passed to pip safely: pip would expand \$\{V2\} in it again$/);
      assertFailsCleanly(b, 64, /b\.txt:1: ".*" cannot be passed to pip safely: it holds a line break$/);
      assertNeverAsked(evilIdx, /./, "the evil index was never contacted");
    });

    it("shell metacharacters are never run, only refused", async () => {
      const cwd = tempDir();
      const results = await Promise.all([
        run(["foo;touch canary|sh"], {}, { cwd }),
        run(["$(touch canary)"], {}, { cwd }),
        run(["foo[$(touch canary)]"], {}, { cwd }),
        run(["`touch canary`"], {}, { cwd }),
      ]);
      assertFailsCleanly(results[0]!, 64, /invalid requirement "foo;touch canary\|sh": cannot read the environment marker/);
      assertFailsCleanly(results[1]!, 64, /invalid requirement "\$\(touch canary\)": not a package name/);
      assertFailsCleanly(results[2]!, 64, /invalid requirement "foo\[\$\(touch canary\)\]"/);
      assertFailsCleanly(results[3]!, 64, /invalid requirement "`touch canary`"/);
      assert.deepEqual(readdirSync(cwd), [], "no shell ran the name");
    });

    it("Unicode look-alikes (Cyrillic е in rеquests), on the command line and in a file", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, "req.txt"), "r\u0435quests==2.31.0\n");
      const [cli, file] = await Promise.all([run(["r\u0435quests"], {}), run(["-r", join(dir, "req.txt")], {})]);
      assertFailsCleanly(cli, 64, /invalid requirement "r\u0435quests": package names are ASCII only \(look-alike characters\?\) \(from the command line\)$/);
      assertFailsCleanly(file, 64, /req\.txt:1: invalid requirement "r\u0435quests==2\.31\.0": package names are ASCII only/);
      assertNeverAsked(publicIdx, /%|r\u0435quests/, "nothing was looked up");
    });
  });
});
