import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOOK_MARKER, hookLine, installHook, removeHook, userProfilePath } from "../../src/r/profile.js";
import { tempDir } from "../helpers/env.js";

describe("~/.Rprofile hook line", () => {
  it("adds one line, keeps the existing profile, is idempotent, and undo restores it", () => {
    const dir = tempDir();
    const file = join(dir, ".Rprofile");
    const original = 'options(width = 120)\nlocal({ r <- getOption("repos") })';
    writeFileSync(file, original);
    assert.equal(installHook(file, "/opt/safe-pip/shims/r/safe-pip.R"), "added");
    const after = readFileSync(file, "utf8");
    assert.equal(after, `${original}\n${hookLine("/opt/safe-pip/shims/r/safe-pip.R")}\n`);
    assert.equal(installHook(file, "/opt/safe-pip/shims/r/safe-pip.R"), "unchanged");
    assert.equal(readFileSync(file, "utf8"), after);
    assert.equal(installHook(file, "/new/place/safe-pip.R"), "updated");
    assert.equal(readFileSync(file, "utf8").split(HOOK_MARKER).length, 2, "still exactly one hook line");
    assert.equal(removeHook(file), "removed");
    // Every line the user wrote is back; the file now ends with a newline.
    assert.equal(readFileSync(file, "utf8"), `${original}\n`);
    assert.equal(removeHook(file), "absent");
  });

  it("creates a missing profile and removes it again when it held only the hook", () => {
    const file = join(tempDir(), ".Rprofile");
    assert.equal(installHook(file, "/x/safe-pip.R"), "added");
    assert.match(readFileSync(file, "utf8"), /^local\(\{ if \(!file\.exists\("\/x\/safe-pip\.R"\) \|\| inherits\(try\(source\("\/x\/safe-pip\.R"\), silent = TRUE\), "try-error"\)\) .*# safe-pip R hook/);
    removeHook(file);
    assert.ok(!existsSync(file));
  });

  it("writes through a symlinked profile instead of replacing the link", () => {
    const dir = tempDir();
    const target = join(dir, "dotfiles-Rprofile");
    writeFileSync(target, "options(digits = 4)\n");
    const link = join(dir, ".Rprofile");
    symlinkSync(target, link);
    installHook(link, "/x/safe-pip.R");
    assert.match(readFileSync(target, "utf8"), /safe-pip R hook/);
  });

  it("targets R_PROFILE_USER when set, else ~/.Rprofile", () => {
    assert.equal(userProfilePath({ HOME: "/home/u" }), "/home/u/.Rprofile");
    assert.equal(userProfilePath({ HOME: "/home/u", R_PROFILE_USER: "/etc/r/me.R" }), "/etc/r/me.R");
  });

  it("escapes the path as an R string", () => {
    assert.match(hookLine('C:\\Program Files\\safe "pip"\\safe-pip.R'), /"C:\/Program Files\/safe \\"pip\\"\/safe-pip\.R"/);
  });
});
