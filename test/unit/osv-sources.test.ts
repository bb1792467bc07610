import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafePipError } from "../../src/core/errors.js";
import { HttpClient } from "../../src/core/http.js";
import { packageRoot } from "../../src/core/paths.js";
import { DEFAULT_POLICY, type OsvPolicy } from "../../src/policy/schema.js";
import { OsvApiSource, cacheFileName } from "../../src/checks/osv/api.js";
import { OsvOfflineSource, readZip } from "../../src/checks/osv/offline.js";
import { createOsvSource } from "../../src/checks/osv/source.js";
import { updateOfflineDatabase } from "../../src/checks/osv/update.js";
import type { OsvRecord } from "../../src/checks/osv/types.js";
import { buildZip, loadFixtureRecords, startOsvServer, type OsvServer } from "../helpers/osv-server.js";

const records = loadFixtureRecords();
const FIXTURES = join(packageRoot(), "test", "fixtures", "osv");
const http = new HttpClient({ timeoutMs: 5000, maxBytes: 32 * 1024 * 1024 });
const tmpRoots: string[] = [];
const servers: OsvServer[] = [];

after(async () => {
  await http.close();
  for (const s of servers) await s.close();
  for (const d of tmpRoots) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "safe-pip-osv-"));
  tmpRoots.push(d);
  return d;
}

async function server(opts: Parameters<typeof startOsvServer>[1] = {}): Promise<OsvServer> {
  const s = await startOsvServer(records, opts);
  servers.push(s);
  return s;
}

function policy(over: Partial<OsvPolicy> = {}): OsvPolicy {
  return { ...DEFAULT_POLICY.osv, ...over };
}

const ids = (rs: OsvRecord[]) => rs.map((r) => r.id).sort();

async function rejectsUnavailable(p: Promise<unknown>, pattern: RegExp): Promise<SafePipError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SafePipError, `expected SafePipError, got ${String(err)}`);
    assert.equal(err.code, "UNAVAILABLE");
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), "one line");
    return err;
  }
  assert.fail("expected a rejection");
}

// ---------------------------------------------------------------------------------------------
// API source
// ---------------------------------------------------------------------------------------------

test("api: /v1/query per project, following next_page_token", async () => {
  const s = await server({ pageSize: 1 });
  const src = new OsvApiSource(policy({ url: s.url }), http, await tmp());
  assert.deepEqual(ids(await src.advisories("PyPI", "Django")), ["PYSEC-2014-19", "PYSEC-2015-11"]);
  assert.equal(s.requests.length, 2);
  assert.deepEqual(s.requests[0], { method: "POST", path: "/v1/query", body: { package: { name: "django", ecosystem: "PyPI" } } });
  assert.equal(typeof (s.requests[1]!.body as { page_token?: unknown }).page_token, "string");
});

test("api: a page holding only a token is followed", async () => {
  const s = await server({ tokenOnlyFirstPage: true });
  const src = new OsvApiSource(policy({ url: s.url }), http, await tmp());
  assert.deepEqual(ids(await src.advisories("CRAN", "png")), ["RSEC-2026-1"]);
  assert.equal(s.requests.length, 2);
});

test("api: cache hit on a second run sends nothing; TTL expiry refetches", async () => {
  const s = await server();
  const cache = await tmp();
  const first = new OsvApiSource(policy({ url: s.url }), http, cache);
  assert.deepEqual(ids(await first.advisories("PyPI", "requests")), ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"]);
  assert.equal(s.requests.length, 1);
  const second = new OsvApiSource(policy({ url: s.url }), http, cache);
  assert.deepEqual(ids(await second.advisories("PyPI", "Requests")), ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"]);
  assert.equal(s.requests.length, 1, "second run answered from the cache");
  const later = new OsvApiSource(policy({ url: s.url }), http, cache, { now: () => Date.now() + DEFAULT_POLICY.osv.cacheTtlMs + 1000 });
  await later.advisories("PyPI", "requests");
  assert.equal(s.requests.length, 2, "expired entry refetched");
  // The cache of another OSV server is not used.
  const s2 = await server();
  await new OsvApiSource(policy({ url: s2.url }), http, cache).advisories("PyPI", "requests");
  assert.equal(s2.requests.length, 1);
});

test("api: a corrupt cache file is ignored, refetched and replaced", async () => {
  const s = await server();
  const cache = await tmp();
  await new OsvApiSource(policy({ url: s.url }), http, cache).advisories("CRAN", "igraph");
  const file = join(cache, "osv", "CRAN", cacheFileName("igraph"));
  await writeFile(file, '{"format":1,"records":[{"id":'); // torn
  const again = new OsvApiSource(policy({ url: s.url }), http, cache);
  assert.deepEqual(ids(await again.advisories("CRAN", "igraph")), ["RSEC-2023-4"]);
  assert.equal(s.requests.length, 2);
  JSON.parse(await readFile(file, "utf8")); // rewritten whole
  // No temp files left behind.
  assert.deepEqual((await readdir(join(cache, "osv", "CRAN"))).filter((n) => n.endsWith(".tmp")), []);
});

test("api: concurrent lookups of one project share a request; parallel runs share the cache safely", async () => {
  const s = await server({ fault: "slow", delayMs: 100 });
  const cache = await tmp();
  const src = new OsvApiSource(policy({ url: s.url }), http, cache);
  const results = await Promise.all(Array.from({ length: 5 }, () => src.advisories("PyPI", "django")));
  assert.equal(s.requests.length, 1);
  for (const r of results) assert.equal(r.length, 2);
  // Two "runs" writing the same cache entries at once: every file stays valid JSON.
  const a = new OsvApiSource(policy({ url: s.url }), http, cache, { now: () => Date.now() + 1e12 });
  const b = new OsvApiSource(policy({ url: s.url }), http, cache, { now: () => Date.now() + 1e12 });
  await Promise.all([a.advisories("PyPI", "py"), b.advisories("PyPI", "py"), a.advisories("PyPI", "beaker"), b.advisories("PyPI", "beaker")]);
  for (const n of await readdir(join(cache, "osv", "PyPI"))) {
    assert.ok(!n.endsWith(".tmp"));
    JSON.parse(await readFile(join(cache, "osv", "PyPI", n), "utf8"));
  }
});

test("api: prefetch uses /v1/querybatch, then GET /v1/vulns or /v1/query; later lookups are free", async () => {
  const s = await server();
  const src = new OsvApiSource(policy({ url: s.url }), http, await tmp());
  const names = ["requests", "Django", "flask", "safepip-fixture-evil", "numpy", "django"];
  await src.prefetch("PyPI", names);
  const paths = s.requests.map((r) => r.path).sort();
  // 1 batch; requests and django (2 advisories each) → one /v1/query each; evil (1) → one GET.
  assert.deepEqual(paths, ["/v1/query", "/v1/query", "/v1/querybatch", "/v1/vulns/MAL-0000-0001"]);
  const batch = s.requests.find((r) => r.path === "/v1/querybatch")!.body as { queries: unknown[] };
  assert.equal(batch.queries.length, 5, "duplicates (Django/django) asked once");
  const before = s.requests.length;
  assert.deepEqual(ids(await src.advisories("PyPI", "requests")), ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"]);
  assert.deepEqual(ids(await src.advisories("PyPI", "safepip_fixture_evil")), ["MAL-0000-0001"]);
  assert.deepEqual(await src.advisories("PyPI", "numpy"), []);
  assert.equal(s.requests.length, before);
});

test("api: querybatch per-result pagination and the 1,000-query limit", async () => {
  const s = await server({ batchPageSize: 1 });
  const src = new OsvApiSource(policy({ url: s.url }), http, await tmp());
  const names = ["django", ...Array.from({ length: 1500 }, (_, i) => `clean-project-${i}`)];
  await src.prefetch("PyPI", names);
  const batches = s.requests.filter((r) => r.path === "/v1/querybatch").map((r) => (r.body as { queries: Array<{ page_token?: string }> }).queries);
  assert.ok(batches.every((q) => q.length <= 1000));
  assert.equal(batches.filter((q) => q.every((x) => x.page_token === undefined)).reduce((n, q) => n + q.length, 0), 1501);
  const followUps = batches.filter((q) => q.some((x) => x.page_token !== undefined));
  assert.equal(followUps.length, 1, "django's second page asked for alone");
  assert.equal(followUps[0]!.length, 1);
  assert.equal((await src.advisories("PyPI", "django")).length, 2);
});

test("api: a stale cache entry is revalidated by the batch without refetching records", async () => {
  const s = await server();
  const cache = await tmp();
  await new OsvApiSource(policy({ url: s.url }), http, cache).prefetch("PyPI", ["django", "requests"]);
  const n = s.requests.length;
  const later = new OsvApiSource(policy({ url: s.url }), http, cache, { now: () => Date.now() + 1e10 });
  await later.prefetch("PyPI", ["django", "requests"]);
  assert.deepEqual(s.requests.slice(n).map((r) => r.path), ["/v1/querybatch"]);
  assert.equal((await later.advisories("PyPI", "django")).length, 2);
});

test("api: unreachable, malformed, HTTP 500 and slow answers are UNAVAILABLE", async () => {
  const down = await server({ fault: "down" });
  await rejectsUnavailable(
    new OsvApiSource(policy({ url: down.url }), http, await tmp()).advisories("PyPI", "requests"),
    /^OSV API http:\/\/127\.0\.0\.1:\d+\/v1\/query: connection refused$/,
  );
  const bad = await server({ fault: "malformed" });
  await rejectsUnavailable(new OsvApiSource(policy({ url: bad.url }), http, await tmp()).advisories("PyPI", "requests"), /answer is not valid JSON/);
  await rejectsUnavailable(new OsvApiSource(policy({ url: bad.url }), http, await tmp()).prefetch("PyPI", ["a", "b"]), /querybatch: answer is not valid JSON/);
  const err = await server({ fault: "500" });
  await rejectsUnavailable(new OsvApiSource(policy({ url: err.url }), http, await tmp()).advisories("PyPI", "requests"), /: HTTP 500/);
  const slow = await server({ fault: "slow", delayMs: 1500 });
  const impatient = new HttpClient({ timeoutMs: 200, maxBytes: 1024 * 1024 });
  try {
    await rejectsUnavailable(new OsvApiSource(policy({ url: slow.url }), impatient, await tmp()).advisories("PyPI", "requests"), /timed out/);
  } finally {
    await impatient.close();
  }
});

test("api: a failed lookup is retried on the next call, and credentials never reach messages", async () => {
  const s = await server({ fault: "500" });
  const src = new OsvApiSource(policy({ url: s.url }), http, await tmp());
  await rejectsUnavailable(src.advisories("PyPI", "py"), /HTTP 500/);
  s.options.fault = undefined;
  assert.equal((await src.advisories("PyPI", "py")).length, 1);
  const down = await server({ fault: "down" });
  const withCreds = down.url.replace("http://", "http://alice:s3cret@");
  const e = await rejectsUnavailable(new OsvApiSource(policy({ url: withCreds }), http, await tmp()).advisories("PyPI", "py"), /connection refused/);
  assert.ok(!e.message.includes("s3cret"), e.message);
});

test("api: cache file names are safe and case-distinct", () => {
  assert.equal(cacheFileName("requests"), "requests.json");
  assert.notEqual(cacheFileName("Rcpp"), cacheFileName("rcpp"));
  assert.match(cacheFileName("../../etc/passwd"), /^_[0-9a-f]+\.json$/);
});

// ---------------------------------------------------------------------------------------------
// Offline source
// ---------------------------------------------------------------------------------------------

async function fixtureDir(): Promise<string> {
  const d = join(await tmp(), "db");
  await cp(FIXTURES, d, { recursive: true });
  await rm(join(d, "README.md"));
  return d;
}

function fixtureZip(store = false): Buffer {
  return buildZip(records.map((r) => ({ name: `${r.id}.json`, data: JSON.stringify(r) })), { store });
}

async function expectFixtureAnswers(src: OsvOfflineSource): Promise<void> {
  assert.deepEqual(ids(await src.advisories("PyPI", "Requests")), ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"]);
  assert.deepEqual(ids(await src.advisories("PyPI", "safepip_fixture.hijacked")), ["MAL-0000-0002"]);
  assert.deepEqual(ids(await src.advisories("CRAN", "png")), ["RSEC-2026-1"]);
  assert.deepEqual(await src.advisories("CRAN", "PNG"), []);
  assert.deepEqual(ids(await src.advisories("Bioconductor", "SafePipFixture")), ["SAFEPIP-TEST-1"]);
  assert.deepEqual(await src.advisories("PyPI", "numpy"), []);
}

test("offline: a directory of records in per-ecosystem subdirectories", async () => {
  const src = new OsvOfflineSource(policy({ source: "offline", database: await fixtureDir() }));
  await expectFixtureAnswers(src);
  assert.equal(src.size, records.length);
});

test("offline: all.zip with deflated and with stored entries", async () => {
  for (const store of [false, true]) {
    const file = join(await tmp(), "all.zip");
    await writeFile(file, fixtureZip(store));
    await expectFixtureAnswers(new OsvOfflineSource(policy({ source: "offline", database: file })));
  }
});

test("offline: truncated or damaged zips and bad JSON are UNAVAILABLE naming the file", async () => {
  const zip = fixtureZip();
  const dir = await tmp();
  const truncated = join(dir, "truncated.zip");
  await writeFile(truncated, zip.subarray(0, Math.floor(zip.length * 0.8)));
  await rejectsUnavailable(
    new OsvOfflineSource(policy({ source: "offline", database: truncated })).advisories("PyPI", "requests"),
    new RegExp(`^offline OSV database ${truncated.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not a valid zip archive: `),
  );
  const damaged = Buffer.from(zip);
  damaged[60] = damaged[60]! ^ 0xff; // inside the first entry's compressed data
  const damagedFile = join(dir, "damaged.zip");
  await writeFile(damagedFile, damaged);
  await rejectsUnavailable(new OsvOfflineSource(policy({ source: "offline", database: damagedFile })).advisories("PyPI", "x"), /damaged\.zip is not a valid zip archive: .*(CRC|deflate|bytes)/);
  const notZip = join(dir, "all.zip");
  await writeFile(notZip, "this is not a zip file at all");
  await rejectsUnavailable(new OsvOfflineSource(policy({ source: "offline", database: notZip })).advisories("PyPI", "x"), /neither a directory nor a zip/);
  const db = await fixtureDir();
  await writeFile(join(db, "pypi", "PYSEC-9999-1.json"), '{"id": "PYSEC-9999-1", "affected": [');
  await rejectsUnavailable(new OsvOfflineSource(policy({ source: "offline", database: db })).advisories("PyPI", "x"), /PYSEC-9999-1\.json is not valid JSON/);
  const empty = await tmp();
  await rejectsUnavailable(new OsvOfflineSource(policy({ source: "offline", database: empty })).advisories("PyPI", "x"), /holds no OSV records/);
  await rejectsUnavailable(new OsvOfflineSource(policy({ source: "offline", database: join(empty, "nope") })).advisories("PyPI", "x"), /does not exist/);
});

test("offline: readZip rejects every truncation of a valid archive", () => {
  const zip = buildZip([{ name: "A-1.json", data: JSON.stringify({ id: "A-1" }) }, { name: "A-2.json", data: "{}" }]);
  assert.equal(readZip(zip).length, 2);
  const zip64 = buildZip([{ name: "A-1.json", data: "{}" }, { name: "dir/", data: "" }, { name: "B.json", data: "[]" }], { zip64: true });
  assert.deepEqual(readZip(zip64).map((e) => e.name), ["A-1.json", "B.json"]);
  for (let cut = 0; cut < zip.length; cut++) assert.throws(() => readZip(zip.subarray(0, cut)), `cut at ${cut}`);
});

test("offline: a stale database is UNAVAILABLE; the update stamp counts over the mtime", async () => {
  const dir = await tmp();
  const file = join(dir, "all.zip");
  await writeFile(file, fixtureZip());
  const old = new Date(Date.now() - 10 * 86400e3);
  await utimes(file, old, old);
  await rejectsUnavailable(
    new OsvOfflineSource(policy({ source: "offline", database: file })).advisories("PyPI", "requests"),
    /all\.zip is 10 days old \(max 7 days\)$/,
  );
  await writeFile(`${file}.safe-pip-updated`, JSON.stringify({ updatedAt: new Date().toISOString() }));
  assert.equal((await new OsvOfflineSource(policy({ source: "offline", database: file })).advisories("PyPI", "requests")).length, 2);
  // A long-lived source goes stale while running: refused once the clock passes the limit.
  let clock = Date.now();
  const running = new OsvOfflineSource(policy({ source: "offline", database: file }), { now: () => clock });
  assert.equal((await running.advisories("PyPI", "requests")).length, 2);
  clock += 8 * 86400e3;
  await rejectsUnavailable(running.advisories("PyPI", "requests"), /is 8 days old \(max 7 days\)$/);
  // maxStaleness 0 disables the check.
  await writeFile(`${file}.safe-pip-updated`, JSON.stringify({ updatedAt: old.toISOString() }));
  await new OsvOfflineSource(policy({ source: "offline", database: file, maxStalenessMs: 0 })).advisories("PyPI", "requests");
});

// ---------------------------------------------------------------------------------------------
// osv update, createOsvSource
// ---------------------------------------------------------------------------------------------

test("update: per-ecosystem exports into a directory, atomically, with a stamp", async () => {
  const s = await server();
  const db = join(await tmp(), "osv-db");
  const p = policy({ source: "offline", database: db, exportUrl: `${s.url}/export/{ecosystem}/all.zip` });
  const summary = await updateOfflineDatabase(p, http);
  assert.match(summary, /^updated offline OSV database .*osv-db: \d+ PyPI, 4 CRAN, 1 Bioconductor records from http:\/\/127\.0\.0\.1:\d+\/export\/\{ecosystem\}\/all\.zip$/);
  assert.deepEqual((await readdir(db)).sort(), [".safe-pip-updated", "Bioconductor", "CRAN", "PyPI"]);
  const stamp = JSON.parse(await readFile(join(db, ".safe-pip-updated"), "utf8")) as { updatedAt: string };
  assert.ok(Date.now() - Date.parse(stamp.updatedAt) < 60_000);
  await expectFixtureAnswers(new OsvOfflineSource(p));

  // A failed update leaves the previous database in place.
  s.options.fault = "500";
  await rejectsUnavailable(updateOfflineDatabase(p, http), /^OSV export http:\/\/127\.0\.0\.1:\d+\/export\/PyPI\/all\.zip: HTTP 500$/);
  await expectFixtureAnswers(new OsvOfflineSource(p));
  s.options.fault = "malformed";
  await rejectsUnavailable(updateOfflineDatabase(p, http), /not a usable OSV export/);
  await expectFixtureAnswers(new OsvOfflineSource(p));
  assert.deepEqual((await readdir(join(db, "PyPI"))).sort(), ["all.zip"], "no temp files left");
});

test("update: a missing Bioconductor export is skipped, a missing PyPI one fails", async () => {
  const s = await server({ missingExports: ["Bioconductor"] });
  const db = join(await tmp(), "db");
  const p = policy({ source: "offline", database: db, exportUrl: `${s.url}/export/{ecosystem}/all.zip` });
  assert.match(await updateOfflineDatabase(p, http), /\d+ PyPI, 4 CRAN records \(Bioconductor: no export published\) from /);
  s.options.missingExports = ["PyPI"];
  await rejectsUnavailable(updateOfflineDatabase(p, http), /export\/PyPI\/all\.zip: HTTP 404$/);
});

test("update: a single .zip database", async () => {
  const s = await server();
  const file = join(await tmp(), "nested", "pypi.zip");
  const p = policy({ source: "offline", database: file, exportUrl: `${s.url}/export/{ecosystem}/all.zip` });
  assert.match(await updateOfflineDatabase(p, http), /: \d+ PyPI records from /);
  const src = new OsvOfflineSource(p);
  assert.equal((await src.advisories("PyPI", "requests")).length, 2);
  assert.deepEqual(await src.advisories("CRAN", "png"), []); // a single zip holds one ecosystem
});

test("createOsvSource picks the source from the policy", async () => {
  assert.equal(createOsvSource(policy({ source: "off" }), http, await tmp()), undefined);
  assert.ok(createOsvSource(policy({ source: "api" }), http, await tmp()) instanceof OsvApiSource);
  const dir = await tmp();
  await mkdir(join(dir, "x"));
  const off = createOsvSource(policy({ source: "offline", database: dir }), http, dir);
  assert.ok(off instanceof OsvOfflineSource);
  assert.match(off.describe(), /^offline OSV database /);
  assert.throws(() => createOsvSource(policy({ source: "offline", database: undefined }), http, dir), /osv\.database is required/);
});
