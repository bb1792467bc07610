import { it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readInstallReport } from "../../src/pip/report.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

// pip 22.2 (the oldest pip with --report, and the oldest safe-pip supports) writes format "0";
// pip 23.0 declared the same layout stable as "1". Both must be read.
it("reads pip 22.2's installation report (format \"0\") like format \"1\"", () => {
  const dir = tempDir();
  const item = {
    download_info: { url: "http://127.0.0.1:1/files/fresh/fresh-1.0-py3-none-any.whl", archive_info: { hash: "sha256=" + "a".repeat(64) } },
    is_direct: false,
    requested: true,
    metadata: { name: "Fresh", version: "1.0", requires_dist: ["helper"] },
  };
  for (const version of ["0", "1"]) {
    const file = join(dir, `report-${version}.json`);
    writeFileSync(file, JSON.stringify({ version, pip_version: "22.2.2", install: [item], environment: {} }));
    const [got] = readInstallReport(file);
    assert.equal(got?.name, "fresh");
    assert.equal(got?.version, "1.0");
    assert.equal(got?.sha256, "a".repeat(64));
    assert.deepEqual(got?.requires, ["helper"]);
  }
  const unknown = join(dir, "report-2.json");
  writeFileSync(unknown, JSON.stringify({ version: "2", install: [] }));
  assert.throws(() => readInstallReport(unknown), /unknown format 2/);
  cleanupAll();
});
