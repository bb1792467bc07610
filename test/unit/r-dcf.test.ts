import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DcfError, flatValue, parseDcf, writeDcf } from "../../src/r/dcf.js";

describe("R DCF (PACKAGES, DESCRIPTION)", () => {
  it("reads records, continuation lines and CRLF", () => {
    const text = "Package: alpha\r\nVersion: 1.0\r\nImports: beta (>= 1.0),\r\n    gamma\r\n\r\n\r\nPackage: beta\nVersion: 0.5-1\n";
    const recs = parseDcf(text);
    assert.equal(recs.length, 2);
    assert.deepEqual(recs[0], { Package: "alpha", Version: "1.0", Imports: "beta (>= 1.0),\ngamma" });
    assert.equal(flatValue(recs[0]!.Imports), "beta (>= 1.0), gamma");
    assert.equal(recs[1]!.Version, "0.5-1");
  });

  it("refuses text that is not DCF instead of guessing", () => {
    assert.throws(() => parseDcf("Package: a\nthis is not a field\n"), DcfError);
    assert.throws(() => parseDcf("  leading continuation\n"), DcfError);
    assert.throws(() => parseDcf("<html><body>Not Found</body></html>\n"), DcfError);
  });

  it("writes values so they cannot start a record or a field of their own", () => {
    const evil = { Package: "alpha", Version: "1.0", License: "MIT\n\nPackage: evil\nVersion: 9.9" };
    const text = writeDcf([evil]);
    const back = parseDcf(text);
    assert.equal(back.length, 1, text);
    assert.equal(back[0]!.Package, "alpha");
    assert.ok(!/^Package: evil/m.test(text));
  });

  it("round-trips several records", () => {
    const recs: Array<Record<string, string>> = [
      { Package: "a", Version: "1.0", Depends: "R (>= 4.0)" },
      { Package: "b", Version: "2.0", Path: "Archive/b" },
    ];
    assert.deepEqual(parseDcf(writeDcf(recs)), recs);
  });
});
