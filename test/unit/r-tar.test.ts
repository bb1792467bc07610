import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { readFileFromTarGz } from "../../src/r/tar.js";
import { makeTarGz } from "../helpers/cran.js";

const stream = (b: Buffer) => Readable.from([b.subarray(0, 100), b.subarray(100)]);

describe("reading DESCRIPTION out of a package tarball", () => {
  it("finds the file after other entries, across chunk boundaries", async () => {
    const gz = makeTarGz({ "alpha/NAMESPACE": "export(f)\n", "alpha/R/f.R": "x".repeat(5000), "alpha/DESCRIPTION": "Package: alpha\nVersion: 1.0\n" });
    const data = await readFileFromTarGz(stream(gz), (p) => p === "alpha/DESCRIPTION", 1e6);
    assert.equal(data?.toString(), "Package: alpha\nVersion: 1.0\n");
  });

  it("understands GNU long names", async () => {
    const long = `alpha/${"d".repeat(120)}/DESCRIPTION`;
    const gz = makeTarGz({ [long]: "Package: alpha\n" });
    const data = await readFileFromTarGz(stream(gz), (p) => p === long, 1e6);
    assert.equal(data?.toString(), "Package: alpha\n");
  });

  it("returns undefined when the file is absent, and refuses oversized archives", async () => {
    const gz = makeTarGz({ "alpha/NAMESPACE": "export(f)\n" });
    assert.equal(await readFileFromTarGz(stream(gz), (p) => p === "alpha/DESCRIPTION", 1e6), undefined);
    const big = makeTarGz({ "alpha/blob": Buffer.alloc(200_000), "alpha/DESCRIPTION": "Package: alpha\n" });
    await assert.rejects(readFileFromTarGz(stream(big), (p) => p === "alpha/DESCRIPTION", 50_000), /larger than/);
  });

  it("rejects data that is not gzip", async () => {
    await assert.rejects(readFileFromTarGz(Readable.from([Buffer.from("<html>not found</html>")]), () => true, 1e6));
  });
});
