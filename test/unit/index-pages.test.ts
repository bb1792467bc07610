import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSimpleHtml } from "../../src/index/upstream/html.js";
import { parseSimpleJson, jsonApiUrl } from "../../src/index/upstream/simple.js";
import { renderHtml, renderJson, wantsJson } from "../../src/index/render.js";
import { versionFromFilename } from "../../src/index/model.js";
import { buildProject } from "../../src/index/project.js";
import { PASS_ALL } from "../../src/checks/release.js";
import { DEFAULT_POLICY } from "../../src/policy/schema.js";
import { HttpClient } from "../../src/core/http.js";

describe("reading upstream pages", () => {
  it("reads PEP 503 anchors with hashes, requires-python, yanked and metadata", () => {
    const html = `<html><body>
      <a href="../../files/foo-1.0-py3-none-any.whl#sha256=ABC" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=def">foo-1.0-py3-none-any.whl</a>
      <a href="https://files.example/foo-0.9.tar.gz" data-yanked="broken build">foo-0.9.tar.gz</a>
      <a>no href</a></body></html>`;
    const files = parseSimpleHtml(html, "https://idx.example/simple/foo/");
    assert.equal(files.length, 2);
    assert.deepEqual(files[0], {
      filename: "foo-1.0-py3-none-any.whl",
      url: "https://idx.example/files/foo-1.0-py3-none-any.whl",
      hashes: { sha256: "abc" },
      requiresPython: ">=3.8",
      coreMetadata: { sha256: "def" },
    });
    assert.equal(files[1]!.yanked, "broken build");
  });

  it("survives hostile markup in linear time", () => {
    const hostile = "<a href='x'".repeat(200_000);
    const t = Date.now();
    assert.deepEqual(parseSimpleHtml(hostile, "https://x/"), []);
    assert.ok(Date.now() - t < 1000);
  });

  it("reads PEP 691 JSON and rejects malformed pages", () => {
    const page = parseSimpleJson(
      JSON.stringify({ meta: { "api-version": "1.1" }, name: "foo", files: [{ filename: "foo-1.0.tar.gz", url: "foo-1.0.tar.gz", hashes: { sha256: "AA" }, "upload-time": "2024-01-01T00:00:00Z", yanked: false, size: 3 }] }),
      "https://idx/simple/foo/",
      "foo",
    );
    assert.equal(page.files[0]!.url, "https://idx/simple/foo/foo-1.0.tar.gz");
    assert.equal(page.files[0]!.uploadTime, "2024-01-01T00:00:00Z");
    assert.throws(() => parseSimpleJson("{nope", "https://idx/simple/foo/", "foo"), /malformed PEP 691 JSON/);
    assert.throws(() => parseSimpleJson('{"meta":{"api-version":"2.0"},"files":[]}', "https://idx/simple/foo/", "foo"), /api-version 2\.0/);
    assert.throws(() => parseSimpleJson('{"files":[{"filename":1}]}', "https://idx/simple/foo/", "foo"), /without filename/);
  });

  it("finds versions in wheel and sdist names, legacy hyphenated names included", () => {
    assert.equal(versionFromFilename("Foo_Bar-1.0.post1-py3-none-any.whl", "foo-bar"), "1.0.post1");
    assert.equal(versionFromFilename("foo-bar-2.0rc1.tar.gz", "foo-bar"), "2.0rc1");
    assert.equal(versionFromFilename("foo-1.0-1-py3-none-any.whl", "foo"), "1.0");
    assert.equal(versionFromFilename("foo-1.0.exe", "foo"), undefined);
  });

  it("knows where PyPI-style indexes keep their JSON API", () => {
    assert.equal(jsonApiUrl("https://pypi.org/simple/", "foo"), "https://pypi.org/pypi/foo/json");
    assert.equal(jsonApiUrl("https://host/repo/", "foo"), undefined);
  });
});

describe("serving pages", () => {
  it("negotiates PEP 691 like pip expects", () => {
    assert.ok(wantsJson("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"));
    assert.ok(!wantsJson("text/html"));
    assert.ok(!wantsJson(undefined));
    assert.ok(!wantsJson("application/vnd.pypi.simple.v1+json;q=0.1, text/html"));
  });

  it("renders escaped HTML and JSON with the upstream hashes and PEP 700 fields intact", () => {
    const files = [{ filename: "foo-1.0-py3-none-any.whl", url: "https://u/x", hashes: { sha256: "ab" }, requiresPython: ">=3.8", yanked: "bad <release>", uploadTime: "2024-01-01T00:00:00Z", size: 10 }];
    const html = renderHtml("foo", files);
    assert.match(html, /href="..\/..\/files\/foo\/foo-1.0-py3-none-any.whl#sha256=ab"/);
    assert.match(html, /data-requires-python="&gt;=3.8"/);
    assert.match(html, /data-yanked="bad &lt;release&gt;"/);
    const json = JSON.parse(renderJson("foo", files, ["1.0"])) as { files: Array<Record<string, unknown>>; versions: string[] };
    assert.deepEqual(json.versions, ["1.0"]);
    assert.equal(json.files[0]!["upload-time"], "2024-01-01T00:00:00Z");
    assert.equal(json.files[0]!.yanked, "bad <release>");
    assert.deepEqual(json.files[0]!.hashes, { sha256: "ab" });
  });
});

describe("filtering a project page", () => {
  const now = new Date("2025-01-10T00:00:00Z");
  const http = new HttpClient({ timeoutMs: 1000, maxBytes: 1000 });
  const file = (filename: string, uploadTime?: string, yanked?: boolean) => ({ filename, url: `https://u/${filename}`, hashes: { sha256: "00" }, uploadTime, yanked });
  const routed = (files: ReturnType<typeof file>[], source: "internal" | "public" = "public") => ({
    route: { source, indexUrl: "https://idx/repo/", why: source },
    page: { name: "foo", files, url: "https://idx/repo/foo/" },
  });

  it("hides too-young files per file, keeps yanked flags, and drops versions left empty", async () => {
    const served = await buildProject(
      "foo",
      routed([
        file("foo-1.0-py3-none-any.whl", "2024-12-01T00:00:00Z", true),
        file("foo-1.0.tar.gz", "2025-01-09T00:00:00Z"),
        file("foo-2.0-py3-none-any.whl", "2025-01-09T12:00:00Z"),
        file("foo-1.5-py3-none-any.whl"),
      ]),
      { policy: DEFAULT_POLICY, http, checker: PASS_ALL, now },
    );
    assert.deepEqual(served.files.map((f) => f.filename), ["foo-1.0-py3-none-any.whl"]);
    assert.equal(served.files[0]!.yanked, true);
    const v = Object.fromEntries(served.decision.versions.map((d) => [d.version, d]));
    assert.equal(v["2.0"]!.served, false);
    assert.match(v["2.0"]!.reasons[0]!.message, /uploaded 12 hours ago \(minimum age 7d\)/);
    assert.match(v["1.5"]!.reasons[0]!.message, /upload time unknown/);
  });

  it("exempts internal sources by default, and honours unknownAge allow", async () => {
    const internal = await buildProject("foo", routed([file("foo-2.0-py3-none-any.whl", "2025-01-09T12:00:00Z")], "internal"), { policy: DEFAULT_POLICY, http, checker: PASS_ALL, now });
    assert.equal(internal.files.length, 1);
    const unknown = await buildProject("foo", routed([file("foo-1.5-py3-none-any.whl")]), { policy: { ...DEFAULT_POLICY, unknownAge: "allow" }, http, checker: PASS_ALL, now });
    assert.equal(unknown.files.length, 1);
    assert.equal(unknown.decision.versions[0]!.reasons[0]!.verdict, "warn");
  });

  it("never proxies non-http URLs or path-like filenames from a hostile page", async () => {
    const served = await buildProject(
      "foo",
      routed([
        { ...file("foo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"), url: "file:///etc/passwd" },
        file("../foo-1.1-py3-none-any.whl", "2024-01-01T00:00:00Z"),
      ]),
      { policy: DEFAULT_POLICY, http, checker: PASS_ALL, now },
    );
    assert.deepEqual(served.files, []);
  });
});
