import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatOption, parsePipArgs } from "../../src/pip/argv.js";
import { SafePipError } from "../../src/core/errors.js";

const names = (opts: Array<{ spec: { name: string }; value?: string | undefined }>) => opts.map((o) => (o.value === undefined ? o.spec.name : `${o.spec.name}=${o.value}`));

describe("pip argv parsing (optparse rules)", () => {
  it("reads general options before the subcommand", () => {
    const p = parsePipArgs(["-v", "--isolated", "install", "x"]);
    assert.equal(p.command, "install");
    assert.deepEqual(names(p.general), ["verbose", "isolated"]);
    assert.deepEqual(p.args, ["x"]);
  });

  it("accepts every value form: --opt=v, --opt v, -xV, -x V", () => {
    const p = parsePipArgs(["install", "--index-url=A", "--extra-index-url", "B", "-iC", "-f", "D", "pkg"]);
    assert.deepEqual(names(p.options), ["index-url=A", "extra-index-url=B", "index-url=C", "find-links=D"]);
    assert.deepEqual(p.args, ["pkg"]);
  });

  it("resolves unambiguous long prefixes like pip does", () => {
    const p = parsePipArgs(["install", "--extra-ind=E", "--trusted=h", "pkg"]);
    assert.deepEqual(names(p.options), ["extra-index-url=E", "trusted-host=h"]);
  });

  it("refuses ambiguous prefixes and unknown options instead of guessing", () => {
    assert.throws(() => parsePipArgs(["install", "--no-b", "x"]), (e: unknown) => e instanceof SafePipError && e.code === "USAGE" && /ambiguous/.test(e.message));
    assert.throws(() => parsePipArgs(["install", "--frobnicate", "x"]), /unknown option --frobnicate/);
  });

  it("splits clustered short flags and lets a value-taking flag swallow the rest", () => {
    const p = parsePipArgs(["install", "-Uqt/tmp/x", "pkg"]);
    assert.deepEqual(names(p.options), ["upgrade", "quiet", "target=/tmp/x"]);
  });

  it("treats everything after -- as requirements, never as options", () => {
    const p = parsePipArgs(["install", "--", "--index-url=http://evil/"]);
    assert.deepEqual(p.options, []);
    assert.deepEqual(p.args, ["--index-url=http://evil/"]);
  });

  it("leaves commands it does not wrap untouched", () => {
    const p = parsePipArgs(["show", "--files", "requests"]);
    assert.equal(p.command, "show");
    assert.deepEqual(p.rest, ["--files", "requests"]);
  });

  it("rebuilds options in canonical, unambiguous form", () => {
    const p = parsePipArgs(["install", "-t", "--weird dir", "--no-dep", "x"]);
    assert.deepEqual(p.options.map(formatOption), ["--target=--weird dir", "--no-deps"]);
  });

  it("complains about a missing value", () => {
    assert.throws(() => parsePipArgs(["install", "-r"]), /-r needs a value/);
  });
});
