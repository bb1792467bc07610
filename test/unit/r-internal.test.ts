/** Internal CRAN names remembered across sessions (src/r/internal-names.ts) and `allowShrink`. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { SafePipError } from "../../src/core/errors.js";
import { PASS_ALL } from "../../src/checks/release.js";
import { mergeLayers, resolvePolicy } from "../../src/policy/merge.js";
import { parseLayer } from "../../src/policy/schema.js";
import { dependencyMode } from "../../src/r/deps.js";
import { InternalNames, internalNamesFile } from "../../src/r/internal-names.js";
import { UnifiedRepository } from "../../src/r/repository.js";
import { repoRef } from "../../src/r/upstream.js";
import { makeFakeCranDir, serveStatic, repositorySuite } from "../helpers/cran.js";
import { tempDir } from "../helpers/env.js";

const NOW = Date.parse("2026-03-17T12:00:00Z");
const old = new Date(NOW - 300 * 86400e3);
const { servers, http } = repositorySuite();
const install = (pkgs: string[]) => ({ pkgs, dependencies: dependencyMode("NA"), strict: true });

describe("R: internal names stay internal", () => {
  it("parses cran.internal[].allowShrink (CRAN only, a boolean)", () => {
    const { layer } = parseLayer({ cran: { internal: [{ url: "https://r.example/", allowShrink: true }] } });
    assert.equal(layer.cran?.internal?.[0]?.allowShrink, true);
    const keyOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return `${(err as { key?: string }).key}: ${(err as Error).message}`;
      }
      return "no error";
    };
    assert.equal(keyOf(() => parseLayer({ internal: [{ url: "https://pypi.example/simple", allowShrink: true }] })), "internal[0].allowShrink: is not a known key");
    assert.equal(keyOf(() => parseLayer({ cran: { internal: [{ url: "https://r.example/", allowShrink: "yes" }] } })), "cran.internal[0].allowShrink: must be true or false");
  });

  it("a user layer cannot add allowShrink when the system policy sets the internal repositories", () => {
    const system = parseLayer({ cran: { internal: [{ url: "https://r.example/" }] } }).layer;
    const user = parseLayer({ cran: { internal: [{ url: "https://r.example/", allowShrink: true }] } }).layer;
    const warnings: string[] = [];
    const merged = mergeLayers(system, user, warnings);
    assert.equal(merged.cran?.internal?.[0]?.allowShrink, undefined);
    assert.match(warnings.join("\n"), /cran\.internal/);
  });

  it("remembers names without credentials, refuses a shrunken index, and accepts it with allowShrink", () => {
    const file = internalNamesFile(tempDir("safe-pip-state-"));
    const repo = repoRef("https://user:s3cret@r.example/", "internal");
    new InternalNames(file).observe(repo, ["a", "b"], false);
    assert.ok(!readFileSync(file, "utf8").includes("s3cret"));
    const names = new InternalNames(file);
    assert.throws(
      () => names.observe(repo, ["a"], false),
      (err: unknown) => err instanceof SafePipError && err.code === "UNAVAILABLE" && /no longer lists b/.test(err.message) && !err.message.includes("s3cret"),
    );
    names.observe(repo, ["a", "c"], true);
    assert.deepEqual([...new InternalNames(file).known(repo)].sort(), ["a", "b", "c"]);
    writeFileSync(file, "{broken");
    assert.throws(() => new InternalNames(file).observe(repo, ["a"], false), (err: unknown) => err instanceof SafePipError && err.code === "CONFIG");
  });

  it("a name an internal repository listed before is never resolved from the public one", async () => {
    const state = tempDir("safe-pip-state-");
    const internalRoot = makeFakeCranDir({ current: [{ name: "beta", version: "0.4", published: old }] });
    const internal = await serveStatic(internalRoot);
    const pub = await serveStatic(makeFakeCranDir({ current: [{ name: "beta", version: "0.5", published: old }] }));
    servers.push(internal, pub);
    const repo = (allowShrink: boolean) =>
      new UnifiedRepository({
        policy: resolvePolicy({ minAgeMs: 0, cran: { repo: pub.url, internal: [{ url: internal.url, packages: [], allowShrink }] } }),
        checker: PASS_ALL,
        http,
        now: () => NOW,
        stateDir: state,
      });
    assert.equal((await repo(false).resolve(install(["beta"]))).served.get("beta")?.version, "0.4");
    writeFileSync(join(internalRoot, "src", "contrib", "PACKAGES"), "");
    writeFileSync(join(internalRoot, "src", "contrib", "PACKAGES.gz"), gzipSync(""));
    await assert.rejects(repo(false).resolve(install(["beta"])), /lists no packages, not even beta/);
    const r = await repo(true).resolve(install(["beta"]));
    assert.equal(r.resolution.blocked, true);
    assert.match(r.resolution.outcomes[0]!.problems.join("\n"), /reserved for .*the public 0\.5 is never used/);
  });
});
