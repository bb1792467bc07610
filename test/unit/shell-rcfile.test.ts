import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PATH_MARKER, removeMarkedLine, SHELL_MARKER, setMarkedLine } from "../../src/shell/rcfile.js";
import { removeShims, shimNames, writeShims } from "../../src/shell/pathshims.js";
import { tempDir } from "../helpers/env.js";

const LINE = `eval "$(/usr/bin/node /opt/sp/dist/cli.js shell-init bash)" ${SHELL_MARKER}: x`;
const MOVED = `eval "$(/usr/bin/node /srv/sp/dist/cli.js shell-init bash)" ${SHELL_MARKER}: x`;

describe("the rc-file line", () => {
  it("is added once, refreshed in place, and --undo gives back the file byte for byte", () => {
    const file = join(tempDir(), ".bashrc");
    const original = "# ~/.bashrc\nalias ll='ls -l'\nexport EDITOR=vi\n\n";
    writeFileSync(file, original);
    assert.equal(setMarkedLine(file, LINE, SHELL_MARKER), "added");
    assert.equal(readFileSync(file, "utf8"), `${original}${LINE}\n`);
    assert.equal(setMarkedLine(file, LINE, SHELL_MARKER), "unchanged");
    assert.equal(readFileSync(file, "utf8"), `${original}${LINE}\n`);
    // The user adds lines after ours; a moved safe-pip refreshes our line where it is.
    writeFileSync(file, `${original}${LINE}\nexport LATER=1\n`);
    assert.equal(setMarkedLine(file, MOVED, SHELL_MARKER), "updated");
    assert.equal(readFileSync(file, "utf8"), `${original}${MOVED}\nexport LATER=1\n`);
    assert.equal(removeMarkedLine(file, SHELL_MARKER), "removed");
    assert.equal(readFileSync(file, "utf8"), `${original}export LATER=1\n`);
    assert.equal(removeMarkedLine(file, SHELL_MARKER), "absent");
  });

  it("keeps CRLF files CRLF and leaves them byte for byte after undo", () => {
    const file = join(tempDir(), "profile.ps1");
    const original = "Set-Alias ll Get-ChildItem\r\n$x = 1\r\n";
    writeFileSync(file, original);
    setMarkedLine(file, "iex stuff # safe-pip shell-init", SHELL_MARKER);
    assert.equal(readFileSync(file, "utf8"), `${original}iex stuff # safe-pip shell-init\r\n`);
    removeMarkedLine(file, SHELL_MARKER);
    assert.equal(readFileSync(file, "utf8"), original);
  });

  it("puts a file's missing last newline before its line (undo keeps that newline)", () => {
    const file = join(tempDir(), ".zshrc");
    writeFileSync(file, "setopt autocd");
    setMarkedLine(file, LINE, SHELL_MARKER);
    assert.equal(readFileSync(file, "utf8"), `setopt autocd\n${LINE}\n`);
    removeMarkedLine(file, SHELL_MARKER);
    assert.equal(readFileSync(file, "utf8"), "setopt autocd\n");
  });

  it("collapses duplicates into one line", () => {
    const file = join(tempDir(), ".bashrc");
    writeFileSync(file, `a\n${LINE}\nb\n${LINE}\nc\n`);
    assert.equal(setMarkedLine(file, LINE, SHELL_MARKER), "updated");
    assert.equal(readFileSync(file, "utf8"), `a\n${LINE}\nb\nc\n`);
  });

  it("creates a missing file and its directory (fish conf.d), and removes it when only our line was in it", () => {
    const file = join(tempDir(), "fish", "conf.d", "safe-pip.fish");
    assert.equal(setMarkedLine(file, "x | source # safe-pip shell-init", SHELL_MARKER), "added");
    assert.equal(setMarkedLine(file, `fish_add_path /s ${PATH_MARKER}`, PATH_MARKER), "added");
    assert.equal(readFileSync(file, "utf8"), `x | source # safe-pip shell-init\nfish_add_path /s ${PATH_MARKER}\n`);
    removeMarkedLine(file, SHELL_MARKER);
    assert.equal(readFileSync(file, "utf8"), `fish_add_path /s ${PATH_MARKER}\n`, "the other marker's line stays");
    removeMarkedLine(file, PATH_MARKER);
    assert.ok(!existsSync(file));
  });

  it("writes through a symlinked rc file and keeps its mode", () => {
    const dir = tempDir();
    const target = join(dir, "dotfiles-bashrc");
    writeFileSync(target, "export A=1\n");
    chmodSync(target, 0o600);
    const link = join(dir, ".bashrc");
    symlinkSync(target, link);
    setMarkedLine(link, LINE, SHELL_MARKER);
    assert.equal(readFileSync(target, "utf8"), `export A=1\n${LINE}\n`);
    assert.equal(statSync(target).mode & 0o777, 0o600);
    removeMarkedLine(link, SHELL_MARKER);
    assert.equal(readFileSync(target, "utf8"), "export A=1\n");
  });
});

describe("PATH shim files", () => {
  it("pip, pip3 and pip3.X for each python3.X on PATH, shim directories left out", () => {
    const root = tempDir();
    const a = join(root, "a");
    const b = join(root, "b");
    const shims = join(root, "shims");
    for (const d of [a, b, shims]) mkdirSync(d);
    for (const [d, n] of [[a, "python3.12"], [a, "python3.9"], [b, "python3.12"], [b, "python3-config"], [shims, "python3.7"]] as const) writeFileSync(join(d, n), "");
    writeFileSync(join(shims, ".safe-pip-shims"), "");
    assert.deepEqual(shimNames({ PATH: `${shims}:${a}:${b}:/nonexistent` }), ["pip", "pip3", "pip3.9", "pip3.12"]);
  });

  it("are written executable with the marker, and undo removes only them", () => {
    const dir = join(tempDir(), "shims");
    const files = writeShims(dir, ["pip", "pip3"], ["/usr/bin/safe-pip"]);
    assert.deepEqual(files, [join(dir, "pip"), join(dir, "pip3")]);
    for (const f of files) assert.equal(statSync(f).mode & 0o111, 0o111);
    assert.ok(existsSync(join(dir, ".safe-pip-shims")));
    writeFileSync(join(dir, "mine"), "#!/bin/sh\necho mine\n");
    assert.deepEqual(removeShims(dir), ["pip", "pip3"]);
    assert.ok(existsSync(join(dir, "mine")) && existsSync(join(dir, ".safe-pip-shims")));
    // Once nothing but safe-pip's files is left, the directory goes too.
    writeShims(dir, ["pip"], ["/usr/bin/safe-pip"]);
    rmSync(join(dir, "mine"));
    assert.deepEqual(removeShims(dir), ["pip"]);
    assert.ok(!existsSync(dir));
  });
});
