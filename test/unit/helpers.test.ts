/**
 * Proves the test helpers against the real thing: Python's zipfile, pip 23.2 and venv.
 * Everything runs offline on 127.0.0.1.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { zipFiles } from "../helpers/zip.js";
import { buildWheel } from "../helpers/wheel.js";
import { negotiate, SIMPLE_HTML, SIMPLE_JSON, startFakeIndex, type FakeIndex } from "../helpers/pypi-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../helpers/env.js";
import { makeVenv } from "../helpers/venv.js";

after(cleanupAll);

/** The exact Accept header pip 23.2 sends (standards §4.4). */
const PIP_ACCEPT =
  "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

/** pip with no machine config at all: only what the test passes. */
function pipEnv(extra: Record<string, string> = {}): Record<string, string> {
  return isolatedEnv({ PIP_CONFIG_FILE: "/dev/null", ...extra }).env;
}

async function python(args: string[], env: Record<string, string>) {
  return execa("python3", args, { env, extendEnv: false, reject: false, all: true });
}

/** `{module: __version__}` for modules importable from `dir`. */
async function installedVersions(dir: string, modules: string[]): Promise<Record<string, string>> {
  const code = `import importlib, json; print(json.dumps({m: importlib.import_module(m).__version__ for m in ${JSON.stringify(modules)}}))`;
  const r = await python(["-c", code], pipEnv({ PYTHONPATH: dir }));
  assert.equal(r.exitCode, 0, r.all);
  return JSON.parse(r.stdout) as Record<string, string>;
}

describe("zipFiles", () => {
  test("Python's zipfile reads names and contents and the CRCs check out", async () => {
    const dir = tempDir();
    const file = join(dir, "t.zip");
    writeFileSync(file, zipFiles([{ name: "a.txt", data: "hello\n" }, { name: "d/ü.bin", data: Buffer.from([0, 1, 2, 255]) }, { name: "empty", data: "" }]));
    const code = [
      "import sys, zipfile, json",
      "z = zipfile.ZipFile(sys.argv[1])",
      "assert z.testzip() is None",
      "print(json.dumps({i.filename: list(z.read(i)) for i in z.infolist()}))",
    ].join("\n");
    const r = await python(["-c", code, file], pipEnv());
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(JSON.parse(r.stdout), {
      "a.txt": [...Buffer.from("hello\n")],
      "d/ü.bin": [0, 1, 2, 255],
      empty: [],
    });
  });
});

describe("buildWheel", () => {
  test("real pip installs the wheel and the module reports its version", async () => {
    const w = buildWheel({
      name: "My.Cool-pkg",
      version: "1.2.0",
      requiresPython: ">=3.8",
      licenseExpression: "MIT",
      classifiers: ["Programming Language :: Python :: 3"],
      files: { "my_cool_pkg/extra.py": "X = 1\n" },
    });
    assert.equal(w.filename, "My_Cool_pkg-1.2.0-py3-none-any.whl");
    assert.match(w.sha256, /^[0-9a-f]{64}$/);
    assert.match(w.metadata, /^License-Expression: MIT$/m);
    assert.deepEqual(buildWheel({ name: "My.Cool-pkg", version: "1.2.0", requiresPython: ">=3.8", licenseExpression: "MIT", classifiers: ["Programming Language :: Python :: 3"], files: { "my_cool_pkg/extra.py": "X = 1\n" } }).data, w.data, "deterministic");

    const dir = tempDir();
    writeFileSync(join(dir, w.filename), w.data);
    const target = join(dir, "site");
    const r = await python(["-m", "pip", "install", "--no-index", "--no-deps", "--target", target, join(dir, w.filename)], pipEnv());
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(await installedVersions(target, ["my_cool_pkg"]), { my_cool_pkg: "1.2.0" });
    assert.ok(existsSync(join(target, "my_cool_pkg", "extra.py")));
    assert.ok(existsSync(join(target, "My_Cool_pkg-1.2.0.dist-info", "RECORD")));
  });
});

describe("fake index", () => {
  const servers: FakeIndex[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  async function start(...args: Parameters<typeof startFakeIndex>): Promise<FakeIndex> {
    const s = await startFakeIndex(...args);
    servers.push(s);
    return s;
  }
  const t0 = new Date("2024-03-01T12:00:00Z");

  test("real pip resolves a dependency through it", async () => {
    const idx = await start({
      projects: {
        Alpha: [{ version: "1.0", requires: ["beta-lib<2"], uploadTime: t0 }],
        "Beta_Lib": [{ version: "1.5", uploadTime: t0 }, { version: "2.0", uploadTime: t0 }],
      },
    });
    const target = tempDir();
    const r = await python(["-m", "pip", "install", "--target", target, "-i", idx.url, "alpha"], pipEnv());
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(await installedVersions(target, ["alpha", "beta_lib"]), { alpha: "1.0", beta_lib: "1.5" });
    const pages = idx.requests.filter((q) => q.path.startsWith("/simple/"));
    assert.ok(pages.some((q) => q.path === "/simple/alpha/" && q.accept === PIP_ACCEPT), JSON.stringify(pages));
    assert.ok(pages.some((q) => q.path === "/simple/beta-lib/"));
  });

  test("JSON negotiation carries upload-time; HTML pages carry hashes and attributes", async () => {
    const idx = await start({
      projects: {
        pkg: [
          { version: "1.0", uploadTime: t0, requiresPython: ">=3.8,<4" },
          { version: "1.1", uploadTime: null, yanked: "broken" },
        ],
      },
    });
    const json = await fetch(idx.url + "pkg/", { headers: { Accept: PIP_ACCEPT } });
    assert.equal(json.headers.get("content-type"), SIMPLE_JSON);
    const body = (await json.json()) as { name: string; versions: string[]; files: Array<Record<string, unknown>> };
    assert.equal(body.name, "pkg");
    assert.deepEqual(body.versions, ["1.0", "1.1"]);
    assert.equal(body.files[0]?.["upload-time"], "2024-03-01T12:00:00.000000Z");
    assert.equal(body.files[0]?.["requires-python"], ">=3.8,<4");
    assert.equal(body.files[0]?.yanked, false);
    assert.ok(!("upload-time" in (body.files[1] ?? {})), "unknown upload time is omitted");
    assert.equal(body.files[1]?.yanked, "broken");
    const wheel = idx.wheel("pkg", "1.0");
    assert.deepEqual(body.files[0]?.hashes, { sha256: wheel?.sha256 });

    const html = await fetch(idx.url + "pkg/", { headers: { Accept: "text/html" } });
    assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
    const text = await html.text();
    assert.ok(text.includes(`#sha256=${wheel?.sha256}`));
    assert.ok(text.includes('data-requires-python="&gt;=3.8,&lt;4"'));
    assert.ok(text.includes('data-yanked="broken"'));
    assert.ok(text.includes("data-core-metadata=\"sha256="));

    // The file and its PEP 658 metadata are served and match the advertised hash.
    const file = await fetch(String(body.files[0]?.url));
    assert.equal(Buffer.from(await file.arrayBuffer()).equals(wheel?.data ?? Buffer.alloc(0)), true);
    const meta = await fetch(String(body.files[0]?.url) + ".metadata");
    assert.equal(await meta.text(), wheel?.metadata);
  });

  test("HTML-only mode ignores Accept and has no upload times", async () => {
    const idx = await start({ projects: { pkg: [{ version: "1.0", uploadTime: t0 }] }, format: "html" });
    const res = await fetch(idx.url + "pkg/", { headers: { Accept: SIMPLE_JSON } });
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const text = await res.text();
    assert.ok(text.includes("pkg-1.0-py3-none-any.whl"));
    assert.ok(!/upload/i.test(text));
  });

  test("negotiation honours q-values, wildcards and 'latest'", () => {
    assert.equal(negotiate(PIP_ACCEPT), SIMPLE_JSON);
    assert.equal(negotiate("text/html"), "text/html");
    assert.equal(negotiate(undefined), "text/html");
    assert.equal(negotiate("application/vnd.pypi.simple.v1+json;q=0.2, text/html"), "text/html");
    assert.equal(negotiate("application/vnd.pypi.simple.latest+html"), SIMPLE_HTML);
    // Ties and no-match fall back to text/html, as on PyPI.
    assert.equal(negotiate("*/*"), "text/html");
    assert.equal(negotiate("application/*"), SIMPLE_HTML);
    assert.equal(negotiate("text/html;q=0, application/vnd.pypi.simple.v1+html;q=0, */*"), SIMPLE_JSON);
    assert.equal(negotiate("application/xml"), "text/html");
  });

  test("root listing, redirects to the normalized name, 404s and the PyPI JSON API", async () => {
    const idx = await start({ projects: { "Foo.Bar": [{ version: "2.0", uploadTime: t0 }] }, jsonApi: true });
    const root = (await (await fetch(idx.url, { headers: { Accept: SIMPLE_JSON } })).json()) as { projects: Array<{ name: string }> };
    assert.deepEqual(root.projects, [{ name: "Foo.Bar" }]);
    assert.ok((await (await fetch(idx.url)).text()).includes('href="/simple/foo-bar/"'));
    const moved = await fetch(idx.url + "Foo_Bar/", { redirect: "manual" });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get("location"), "/simple/foo-bar/");
    assert.equal((await fetch(idx.url + "foo-bar", { redirect: "manual" })).status, 301);
    assert.equal((await fetch(idx.url + "nope/")).status, 404);
    const api = (await (await fetch(idx.root + "pypi/Foo.Bar/json")).json()) as {
      info: { version: string };
      releases: Record<string, Array<{ upload_time_iso_8601: string }>>;
    };
    assert.equal(api.info.version, "2.0");
    assert.equal(api.releases["2.0"]?.[0]?.upload_time_iso_8601, "2024-03-01T12:00:00.000000Z");
  });

  test("basic auth: 401 without credentials, real pip installs with them in the URL", async () => {
    const idx = await start({ projects: { secret: [{ version: "3.0" }] }, auth: { user: "u", password: "p@ss" } });
    assert.equal((await fetch(idx.url)).status, 401);
    const url = idx.url.replace("http://", "http://u:p%40ss@");
    const target = tempDir();
    const r = await python(["-m", "pip", "install", "--target", target, "-i", url, "secret"], pipEnv());
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(await installedVersions(target, ["secret"]), { secret: "3.0" });
    assert.ok(idx.requests.some((q) => q.authorization === "Basic " + Buffer.from("u:p@ss").toString("base64")));
  });

  test("faults: status, hang (close still finishes), huge, wrong-hash makes pip fail", async () => {
    const idx = await startFakeIndex({ projects: { pkg: [{ version: "1.0" }] } });
    try {
      idx.fault = { kind: "status", status: 503 };
      assert.equal((await fetch(idx.url + "pkg/")).status, 503);

      idx.fault = { kind: "huge", bytes: 3_000_000 };
      const huge = await fetch(idx.url + "pkg/", { headers: { Accept: SIMPLE_JSON } });
      assert.equal((await huge.arrayBuffer()).byteLength, 3_000_000);

      idx.fault = { kind: "reset" };
      await assert.rejects(fetch(idx.url + "pkg/"));

      idx.fault = { kind: "wrong-hash" };
      const target = tempDir();
      const r = await python(["-m", "pip", "install", "--target", target, "-i", idx.url, "pkg"], pipEnv());
      assert.notEqual(r.exitCode, 0);
      assert.match(r.all ?? "", /THESE PACKAGES DO NOT MATCH THE HASHES/);

      idx.fault = { kind: "hang" };
      await assert.rejects(fetch(idx.url + "pkg/", { signal: AbortSignal.timeout(200) }));
      // Also leave one request hanging on an open socket when closing.
      void fetch(idx.url + "pkg/").catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await idx.close();
    }
  });
});

describe("isolatedEnv", () => {
  test("fresh HOME and XDG dirs, no machine PIP_* settings", () => {
    const iso = isolatedEnv({ EXTRA: "1" });
    assert.ok(existsSync(iso.env.XDG_CONFIG_HOME ?? ""));
    assert.equal(iso.env.HOME, iso.home);
    assert.equal(iso.env.EXTRA, "1");
    assert.deepEqual(Object.keys(iso.env).filter((k) => k.startsWith("PIP_")), ["PIP_DISABLE_PIP_VERSION_CHECK"]);
    assert.equal(iso.env.SAFE_PIP_SYSTEM_POLICY, undefined);
    iso.cleanup();
    assert.ok(!existsSync(iso.home));
  });
});

describe("makeVenv", () => {
  test("a venv with its own working pip, copied from the template", async () => {
    const v1 = await makeVenv(join(tempDir(), "v1"));
    const started = Date.now();
    const v2 = await makeVenv(join(tempDir(), "v2"));
    const copyMs = Date.now() - started;
    for (const v of [v1, v2]) {
      const r = await execa(v.python, ["-c", "import sys, pip; print(sys.prefix); print(pip.__file__)"], { env: pipEnv(), extendEnv: false });
      const [prefix, pipFile] = r.stdout.split("\n");
      assert.equal(prefix, v.dir);
      assert.ok(pipFile?.startsWith(v.dir), pipFile);
    }
    const pipScript = await execa(join(v2.dir, "bin", "pip"), ["--version"], { env: pipEnv(), extendEnv: false });
    assert.ok(pipScript.stdout.includes(v2.dir), pipScript.stdout);
    assert.ok(copyMs < 4000, `copy took ${copyMs} ms`);
  });
});
