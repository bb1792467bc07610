import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cranLicenseToSpdx } from "../../src/checks/cran-license.js";
import { checkLicense, licenseFromCran } from "../../src/checks/license.js";

describe("CRAN License field as SPDX (R's license.db vocabulary)", () => {
  const cases: Array<[string, string | undefined]> = [
    ["GPL (>= 2)", "GPL-2.0-or-later"],
    ["GPL (>= 2.0)", "GPL-2.0-or-later"],
    ["GPL (>= 3)", "GPL-3.0-or-later"],
    ["GPL (== 2)", "GPL-2.0-only"],
    ["GPL", "GPL-1.0-or-later"],
    ["GPL-2", "GPL-2.0-only"],
    ["GPL-3", "GPL-3.0-only"],
    ["GPL-2 | GPL-3", "GPL-2.0-only OR GPL-3.0-only"],
    ["GPL (>= 2) | file LICENSE", "GPL-2.0-or-later"],
    ["AGPL (>= 3)", "AGPL-3.0-or-later"],
    ["AGPL-3", "AGPL-3.0-only"],
    ["LGPL (>= 2.1)", "LGPL-2.1-or-later"],
    ["LGPL-2", "LGPL-2.0-only"],
    ["LGPL-2.1", "LGPL-2.1-only"],
    ["LGPL (>= 2, < 3)", "LGPL-2.0-only OR LGPL-2.1-only"],
    ["MIT + file LICENSE", "MIT"],
    ["BSD_3_clause + file LICENSE", "BSD-3-Clause"],
    ["BSD_2_clause + file LICENCE", "BSD-2-Clause"],
    ["Artistic-2.0", "Artistic-2.0"],
    ["Apache License 2.0", "Apache-2.0"],
    ["Apache License (== 2.0)", "Apache-2.0"],
    ["Apache License (>= 2)", "Apache-2.0"],
    ["MPL-2.0", "MPL-2.0"],
    ["Mozilla Public License 2.0", "MPL-2.0"],
    ["CC BY 4.0", "CC-BY-4.0"],
    ["CC BY-NC-SA 4.0", "CC-BY-NC-SA-4.0"],
    ["CC0", "CC0-1.0"],
    ["Unlimited", "LicenseRef-CRAN-Unlimited"],
    ["file LICENSE", undefined],
    ["Proprietary, see the web site", undefined],
    ["GPL (>= 4)", undefined],
  ];
  for (const [field, want] of cases) it(`${field} → ${want ?? "unknown"}`, () => assert.equal(cranLicenseToSpdx(field), want));

  it("a GPL-* deny rule matches CRAN's commonest licence, GPL (>= 2)", () => {
    const r = checkLicense(licenseFromCran("GPL (>= 2)"), { deny: ["GPL-*"] }, "allow");
    assert.equal(r[0]?.verdict, "block");
    assert.deepEqual(checkLicense(licenseFromCran("MIT + file LICENSE"), { allow: ["MIT"], deny: [] }, "block"), []);
  });

  it("an alternative that cannot be read never makes a package acceptable", () => {
    const r = checkLicense(licenseFromCran("GPL-3 | file LICENSE"), { deny: ["GPL-*"] }, "allow");
    assert.equal(r[0]?.verdict, "block");
    assert.equal(checkLicense(licenseFromCran("file LICENSE"), { deny: ["GPL-*"] }, "block")[0]?.verdict, "block");
  });
});
