import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { probePip } from "../../src/pip/locate.js";
import { cleanupAll, tempDir } from "../helpers/env.js";
import { makeVenv, type Venv } from "../helpers/venv.js";

after(cleanupAll);

/**
 * The probe cache, with a real Python: a launcher script that counts its starts and hands over to
 * a venv's interpreter, so "was the probe run?" is read from the count.
 */
describe("pip probe cache", () => {
  let venv: Venv;
  let dir: string;
  let launcher: string;
  let log: string;
  let env: Record<string, string>;
  const starts = (): number => readFileSync(log, "utf8").split("\n").filter(Boolean).length;

  before(async () => {
    dir = tempDir();
    venv = await makeVenv(join(dir, "venv"));
    log = join(dir, "starts.log");
    writeFileSync(log, "");
    launcher = join(dir, "python");
    writeFileSync(launcher, `#!/bin/sh\necho start >> "${log}"\nexec "${venv.python}" "$@"\n`);
    chmodSync(launcher, 0o755);
    env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_CACHE_HOME: join(dir, "cache") };
  });

  const distInfo = (): string => {
    const site = join(venv.dir, "lib", readdirSync(join(venv.dir, "lib"))[0]!, "site-packages");
    return join(site, readdirSync(site).find((f) => /^pip-.*\.dist-info$/.test(f))!);
  };
  const bump = (p: string): void => {
    const t = statSync(p).mtime.getTime() / 1000 + 10;
    utimesSync(p, t, t);
  };

  it("probes once, then answers from the cache with the same result", async () => {
    const first = await probePip(launcher, env, dir);
    assert.equal(starts(), 1);
    assert.match(first.versionLine ?? "", /^pip \d+\.\d+(\.\d+)? from .+ \(python 3\.\d+\)$/);
    const second = await probePip(launcher, env, dir);
    assert.equal(starts(), 1, "second probe ran Python");
    assert.deepEqual(second, first);
    assert.equal(first.sysPrefix, venv.dir);
  });

  it("probes again when the interpreter's mtime changes", async () => {
    const before = starts();
    bump(launcher);
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 1);
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 1);
  });

  it("probes again when pip's dist-info changes (an upgrade or reinstall)", async () => {
    const before = starts();
    bump(distInfo());
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 1);
  });

  it("keys a launcher script by the directory's version file (pyenv/asdf choose per directory)", async () => {
    const before = starts();
    writeFileSync(join(dir, ".python-version"), "3.11\n");
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 1);
  });

  it("ignores a corrupt or foreign cache entry and rewrites it", async () => {
    const cache = join(dir, "cache", "safe-pip", "pip-probe");
    for (const f of readdirSync(cache)) writeFileSync(join(cache, f), "{not json");
    const before = starts();
    const pip = await probePip(launcher, env, dir);
    assert.equal(starts(), before + 1);
    assert.equal(pip.sysPrefix, venv.dir);
    for (const f of readdirSync(cache)) writeFileSync(join(cache, f), JSON.stringify({ python: launcher, pip: { python: 1 } }));
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 2);
    await probePip(launcher, env, dir);
    assert.equal(starts(), before + 2);
  });
});
