import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDuration } from "../../src/core/duration.js";
import { redactUrl } from "../../src/core/redact.js";
import { nameMatchesPattern, normalizeName } from "../../src/core/names.js";
import { loadPolicy } from "../../src/policy/load.js";
import { SafePipError } from "../../src/core/errors.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

after(cleanupAll);

describe("durations", () => {
  it("accepts 0, s/m/h/d/w units and ISO 8601", () => {
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("36h"), 36 * 3600e3);
    assert.equal(parseDuration("7d"), 7 * 86400e3);
    assert.equal(parseDuration("2w"), 14 * 86400e3);
    assert.equal(parseDuration("P7D"), 7 * 86400e3);
    assert.equal(parseDuration("PT36H"), 36 * 3600e3);
    assert.equal(parseDuration("P1W"), 7 * 86400e3);
  });
  it("rejects what is not a duration", () => {
    for (const bad of ["7", "seven days", "-1d", "P", "PT", "7x", ""]) assert.equal(parseDuration(bad), undefined, bad);
  });
});

describe("names and secrets", () => {
  it("normalises per PEP 503 and matches reserved patterns after normalising", () => {
    assert.equal(normalizeName("Foo.Bar__baz"), "foo-bar-baz");
    assert.ok(nameMatchesPattern("ACME_Utils", "acme-*"));
    assert.ok(nameMatchesPattern("torchtriton", "torchtriton"));
    assert.ok(!nameMatchesPattern("notacme-x", "acme-*"));
  });
  it("redacts credentials in URLs", () => {
    assert.equal(redactUrl("https://user:tok3n@corp.example/simple/"), "https://****@corp.example/simple/");
    assert.equal(redactUrl("see https://tok@h/x and http://a:b@c/"), "see https://****@h/x and http://****@c/");
  });
});

function policyEnv(system: unknown, user: unknown): Record<string, string> {
  const dir = tempDir();
  const env: Record<string, string> = { HOME: dir, XDG_CONFIG_HOME: join(dir, "cfg") };
  if (system !== undefined) {
    writeFileSync(join(dir, "system.json"), typeof system === "string" ? system : JSON.stringify(system));
    env.SAFE_PIP_SYSTEM_POLICY = join(dir, "system.json");
  }
  if (user !== undefined) {
    writeFileSync(join(dir, "user.json"), typeof user === "string" ? user : JSON.stringify(user));
    env.SAFE_PIP_CONFIG = join(dir, "user.json");
  }
  return env;
}

describe("policy loading", () => {
  it("has safe defaults with no file at all", () => {
    const { policy } = loadPolicy(policyEnv(undefined, undefined));
    assert.equal(policy.index, "https://pypi.org/simple/");
    assert.equal(policy.minAgeMs, 7 * 86400e3);
    assert.equal(policy.unknownAge, "block");
    assert.equal(policy.directReferences, "block");
  });

  it("names the file and the key of a bad value, never falling back to a default", () => {
    const env = policyEnv(undefined, { minAge: "seven days" });
    assert.throws(
      () => loadPolicy(env),
      (e: unknown) => e instanceof SafePipError && e.code === "CONFIG" && /user\.json: key "minAge" "seven days" is not a duration/.test(e.message),
    );
    assert.throws(() => loadPolicy(policyEnv(undefined, "{ broken")), /user\.json is not valid JSON/);
    assert.throws(() => loadPolicy(policyEnv(undefined, { internal: [{ url: "ftp://x" }] })), /key "internal\[0\]\.url"/);
    assert.throws(() => loadPolicy(policyEnv(undefined, { unknownAge: "maybe" })), /key "unknownAge" must be one of "block", "allow"/);
  });

  it("warns about unknown keys instead of failing", () => {
    const { warnings } = loadPolicy(policyEnv(undefined, { minAge: "1d", colour: "blue" }));
    assert.match(warnings.join("\n"), /unknown key "colour" ignored/);
  });

  it("treats the system policy as floors the user cannot loosen", () => {
    const { policy, warnings } = loadPolicy(
      policyEnv(
        { minAge: "14d", unknownAge: "block", index: "https://mirror.corp/simple/", deny: ["evil"], snapshot: "2024-06-01" },
        { minAge: "1d", unknownAge: "allow", index: "https://elsewhere/simple/", deny: ["other"], snapshot: "2025-01-01", directReferences: "block" },
      ),
    );
    assert.equal(policy.minAgeMs, 14 * 86400e3);
    assert.equal(policy.unknownAge, "block");
    assert.equal(policy.index, "https://mirror.corp/simple/");
    assert.deepEqual(policy.deny.map((d) => d.name), ["evil", "other"]);
    assert.equal(policy.snapshot?.toISOString(), "2024-06-02T00:00:00.000Z");
    assert.match(warnings.join("\n"), /minAge/);
  });

  it("lets the user tighten", () => {
    const { policy } = loadPolicy(policyEnv({ minAge: "3d" }, { minAge: "2w" }));
    assert.equal(policy.minAgeMs, 14 * 86400e3);
  });

  it("fails on a named policy file that does not exist", () => {
    const env = policyEnv(undefined, undefined);
    env.SAFE_PIP_CONFIG = "/nonexistent/policy.json";
    assert.throws(() => loadPolicy(env), /policy file \/nonexistent\/policy\.json does not exist/);
  });
});
