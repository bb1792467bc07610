import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileMetadata, hiddenMetadata, judgeCoreMetadata, metadataDifference, readZipEntry, Spool } from "../../src/index/gate.js";
import { parseCoreMetadata } from "../../src/index/core-metadata.js";
import { DEFAULT_POLICY } from "../../src/policy/schema.js";
import { buildWheel } from "../helpers/wheel.js";

function spoolOf(data: Buffer, memoryLimit?: number): Spool {
  const s = new Spool(memoryLimit);
  for (let i = 0; i < data.length; i += 100) s.add(data.subarray(i, i + 100));
  return s;
}

describe("the index gate", () => {
  it("blocks a direct reference whatever its marker, and an unreadable dependency; allows them when the policy does", () => {
    const meta = "Name: a\nVersion: 1\nRequires-Dist: b>=1\nRequires-Dist: c @ https://u:p@h/c.whl ; extra == 'x'\nRequires-Dist: (weird)\n";
    const reasons = judgeCoreMetadata(meta, DEFAULT_POLICY);
    assert.equal(reasons.length, 2);
    assert.match(reasons[0]!.message, /depends on "c @ https:\/\/\*\*\*\*@h\/c\.whl"/);
    assert.match(reasons[1]!.message, /cannot read/);
    assert.deepEqual(judgeCoreMetadata(meta, { ...DEFAULT_POLICY, directReferences: "allow" }), []);
  });

  it("judges the licence only when there are licence rules", () => {
    const meta = "Name: a\nVersion: 1\nLicense-Expression: GPL-3.0-only\n";
    assert.deepEqual(judgeCoreMetadata(meta, DEFAULT_POLICY), []);
    assert.equal(judgeCoreMetadata(meta, { ...DEFAULT_POLICY, licenses: { deny: ["GPL-*"] } })[0]!.check, "license");
  });

  it("the stand-in metadata keeps the version and changes the name, so pip discards the candidate", () => {
    const m = parseCoreMetadata(hiddenMetadata("a", "1.0", [{ check: "direct", verdict: "block", message: "x\ny" }]));
    assert.equal(m.get("Version"), "1.0");
    assert.notEqual(m.get("Name"), "a");
    assert.match(m.get("Name")!, /^a 1\.0 hidden by safe-pip: x y$/);
  });

  it("compares metadata field by field, ignoring the order of repeated fields and the name's spelling", () => {
    const a = "Name: Foo_Bar\nVersion: 1\nRequires-Dist: x\nRequires-Dist: y\n\nbody";
    assert.equal(metadataDifference(a, "Name: foo-bar\nVersion: 1\nRequires-Dist: y\nRequires-Dist: x\n"), undefined);
    assert.equal(metadataDifference(a, "Name: foo-bar\nVersion: 1\nRequires-Dist: y\n"), "requires-dist");
    assert.equal(metadataDifference(a + "\n", "Name: foo-bar\nVersion: 1\nRequires-Dist: x\nRequires-Dist: y\nLicense: GPL\n"), "license");
  });

  it("reads a wheel's METADATA from memory and from a spool that went to disk", async () => {
    const w = buildWheel({ name: "zz-top", version: "2.0", requires: ["a @ file:///x"] });
    for (const limit of [undefined, 50]) {
      const s = spoolOf(w.data, limit);
      try {
        assert.equal(await fileMetadata(w.filename, s), w.metadata);
        assert.equal(readZipEntry(s, (n) => n.endsWith("/WHEEL")).length, 1);
      } finally {
        s.dispose();
      }
    }
    const junk = spoolOf(Buffer.from("not a zip"));
    await assert.rejects(fileMetadata("x-1-py3-none-any.whl", junk), /not a zip/);
  });
});
