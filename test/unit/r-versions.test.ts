import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareRVersions, isValidRVersion, satisfies } from "../../src/r/versions.js";
import { dependencyMode, parseDependencies } from "../../src/r/deps.js";

describe("R package versions", () => {
  it("compares like package_version (numeric, '-' = '.', trailing zeros equal)", () => {
    const cases: Array<[string, string, number]> = [
      ["1.10", "1.9", 1],
      ["1.2-3", "1.2.3", 0],
      ["1.2", "1.2.0", 0],
      ["1.2.0.1", "1.2", 1],
      ["0.1-9", "0.1-10", -1],
      ["1.02", "1.2", 0],
      ["2.0", "10.0", -1],
    ];
    for (const [a, b, want] of cases) assert.equal(compareRVersions(a, b), want, `${a} vs ${b}`);
  });

  it("accepts only R version syntax", () => {
    assert.ok(isValidRVersion("1.0"));
    assert.ok(isValidRVersion("0.1-3"));
    assert.ok(!isValidRVersion("1"));
    assert.ok(!isValidRVersion("1.0rc1"));
    assert.ok(!isValidRVersion("1.0; rm -rf"));
  });

  it("evaluates dependency constraints", () => {
    assert.ok(satisfies("2.0", { op: ">=", version: "2.0" }));
    assert.ok(!satisfies("1.9", { op: ">=", version: "2.0" }));
    assert.ok(satisfies("1.9", { op: "<", version: "2.0" }));
    assert.ok(satisfies("1.2-2", { op: "==", version: "1.2.2" }));
    assert.ok(!satisfies("1.2-2", { op: "!=", version: "1.2.2" }));
  });
});

describe("R dependency fields", () => {
  it("reads names and constraints, skipping R itself", () => {
    const deps = parseDependencies(
      { Depends: "R (>= 4.0), methods", Imports: "alpha (>= 1.0),\nbeta,gamma(<2.0)", Suggests: "testthat" },
      ["Depends", "Imports"],
    );
    assert.deepEqual(
      deps.map((d) => [d.name, d.field, d.constraint?.op, d.constraint?.version]),
      [
        ["methods", "Depends", undefined, undefined],
        ["alpha", "Imports", ">=", "1.0"],
        ["beta", "Imports", undefined, undefined],
        ["gamma", "Imports", "<", "2.0"],
      ],
    );
  });

  it("refuses entries it cannot read rather than guessing a name", () => {
    assert.throws(() => parseDependencies({ Imports: "alpha (>= one)" }, ["Imports"]));
    assert.throws(() => parseDependencies({ Imports: "alpha beta" }, ["Imports"]));
  });

  it("decodes install.packages' dependencies argument", () => {
    assert.deepEqual(dependencyMode("NA"), { top: ["Depends", "Imports", "LinkingTo"], rest: ["Depends", "Imports", "LinkingTo"] });
    assert.deepEqual(dependencyMode("TRUE"), { top: ["Depends", "Imports", "LinkingTo", "Suggests"], rest: ["Depends", "Imports", "LinkingTo"] });
    assert.deepEqual(dependencyMode("FALSE"), { top: [], rest: [] });
    assert.deepEqual(dependencyMode("Depends,Suggests"), { top: ["Depends", "Suggests"], rest: ["Depends", "Suggests"] });
    assert.throws(() => dependencyMode("Everything"));
  });
});
