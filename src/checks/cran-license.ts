/**
 * CRAN's `License:` field as an SPDX expression. The vocabulary is R's own
 * share/licenses/license.db (what `R CMD check` accepts): a family given by name or abbreviation,
 * optionally with a version specification (`GPL (>= 2)`, `LGPL (>= 2.1)`, `Apache License (== 2.0)`),
 * or a versioned short form (`GPL-2`, `LGPL-2.1`, `AGPL-3`, `Artistic-2.0`); alternatives joined by
 * `|`; `+ file LICENSE` adding terms; `file LICENSE` alone meaning "read the file".
 *
 * A version range becomes the SPDX `-only`/`-or-later` ids it covers, so `GPL (>= 2)` is
 * `GPL-2.0-or-later` and a `GPL-*` rule matches it. What cannot be read as a licence is left out
 * of the expression rather than passed through under a made-up id: an alternative safe-pip cannot
 * name never makes a package acceptable, and a field with no readable alternative is "unknown"
 * (the policy's unknownLicense decides).
 */

interface Family {
  /** SPDX id stem per version, in ascending version order. */
  versions: Array<{ v: string; id: string }>;
  /** `-only`/`-or-later` suffixes exist (the GNU licences). */
  gnu: boolean;
}

const FAMILIES: Record<string, Family> = {
  GPL: { gnu: true, versions: [{ v: "1", id: "GPL-1.0" }, { v: "2", id: "GPL-2.0" }, { v: "3", id: "GPL-3.0" }] },
  LGPL: { gnu: true, versions: [{ v: "2", id: "LGPL-2.0" }, { v: "2.1", id: "LGPL-2.1" }, { v: "3", id: "LGPL-3.0" }] },
  AGPL: { gnu: true, versions: [{ v: "3", id: "AGPL-3.0" }] },
  Artistic: { gnu: false, versions: [{ v: "1.0", id: "Artistic-1.0" }, { v: "2.0", id: "Artistic-2.0" }] },
  Apache: { gnu: false, versions: [{ v: "1.1", id: "Apache-1.1" }, { v: "2.0", id: "Apache-2.0" }] },
  MPL: { gnu: false, versions: [{ v: "1.0", id: "MPL-1.0" }, { v: "1.1", id: "MPL-1.1" }, { v: "2.0", id: "MPL-2.0" }] },
  CPL: { gnu: false, versions: [{ v: "1.0", id: "CPL-1.0" }] },
  EPL: { gnu: false, versions: [{ v: "1.0", id: "EPL-1.0" }, { v: "2.0", id: "EPL-2.0" }] },
  EUPL: { gnu: false, versions: [{ v: "1.1", id: "EUPL-1.1" }, { v: "1.2", id: "EUPL-1.2" }] },
  LPL: { gnu: false, versions: [{ v: "1.02", id: "LPL-1.02" }] },
  CeCILL: { gnu: false, versions: [{ v: "2", id: "CECILL-2.0" }, { v: "2.1", id: "CECILL-2.1" }] },
  BSL: { gnu: false, versions: [{ v: "1.0", id: "BSL-1.0" }] },
};

/** Names (lower case, spaces collapsed) and abbreviations of the families above. */
const FAMILY_NAMES: Record<string, string> = {
  gpl: "GPL",
  "gnu general public license": "GPL",
  lgpl: "LGPL",
  "gnu lesser general public license": "LGPL",
  "gnu library general public license": "LGPL",
  agpl: "AGPL",
  "gnu affero general public license": "AGPL",
  artistic: "Artistic",
  "artistic license": "Artistic",
  apache: "Apache",
  "apache license": "Apache",
  mpl: "MPL",
  "mozilla public license": "MPL",
  cpl: "CPL",
  "common public license": "CPL",
  epl: "EPL",
  "eclipse public license": "EPL",
  eupl: "EUPL",
  "european union public license": "EUPL",
  "lucent public license": "LPL",
  cecill: "CeCILL",
  bsl: "BSL",
  "boost software license": "BSL",
};

/** Licences without versions, by R's name or abbreviation (lower case). */
const FIXED: Record<string, string> = {
  mit: "MIT",
  "mit license": "MIT",
  bsd: "BSD-3-Clause",
  "modified bsd license": "BSD-3-Clause",
  bsd_2_clause: "BSD-2-Clause",
  "bsd 2-clause license": "BSD-2-Clause",
  bsd_3_clause: "BSD-3-Clause",
  "bsd 3-clause license": "BSD-3-Clause",
  freebsd: "BSD-2-Clause-FreeBSD",
  "freebsd license": "BSD-2-Clause-FreeBSD",
  "cc by 4.0": "CC-BY-4.0",
  "cc by-sa 4.0": "CC-BY-SA-4.0",
  "cc by-nc 4.0": "CC-BY-NC-4.0",
  "cc by-nc-sa 4.0": "CC-BY-NC-SA-4.0",
  "cc by-nc-nd 4.0": "CC-BY-NC-ND-4.0",
  cc0: "CC0-1.0",
  zlib: "Zlib",
  "zlib license": "Zlib",
  // CRAN's "no restrictions" has no SPDX id; this LicenseRef is what policy rules name.
  unlimited: "LicenseRef-CRAN-Unlimited",
  acm: "LicenseRef-CRAN-ACM",
  "acm software license agreement": "LicenseRef-CRAN-ACM",
};

/** R-style versions compared numerically component by component ("2.1" > "2", "2.0" == "2"). */
function cmp(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function test(v: string, op: string, want: string): boolean {
  const c = cmp(v, want);
  switch (op) {
    case ">=": return c >= 0;
    case ">": return c > 0;
    case "<=": return c <= 0;
    case "<": return c < 0;
    case "==": return c === 0;
    case "!=": return c !== 0;
    default: return false;
  }
}

/** The SPDX ids of `family` whose versions satisfy every constraint; undefined if none. */
function familyIds(family: Family, constraints: Array<{ op: string; v: string }>): string[] | undefined {
  const idx = family.versions.map((x, i) => (constraints.every((c) => test(x.v, c.op, c.v)) ? i : -1)).filter((i) => i >= 0);
  if (!idx.length) return undefined;
  if (!family.gnu) return idx.map((i) => family.versions[i]!.id);
  const last = family.versions.length - 1;
  // An open range up to the newest version is what "-or-later" means; anything else is a list.
  const contiguous = idx.every((i, k) => k === 0 || i === idx[k - 1]! + 1);
  const openEnded = idx[idx.length - 1] === last && constraints.every((c) => c.op !== "<" && c.op !== "<=" && c.op !== "==");
  if (contiguous && openEnded && !(idx.length === 1 && constraints.some((c) => c.op === "=="))) {
    return [`${family.versions[idx[0]!]!.id}-or-later`];
  }
  return idx.map((i) => `${family.versions[i]!.id}-only`);
}

/** One `|` alternative, without `+ file LICENSE`, as SPDX ids (ORed); undefined when unreadable. */
function alternative(text: string): string[] | undefined {
  const t = text.replace(/\s+/g, " ").trim();
  const lower = t.toLowerCase();
  if (FIXED[lower]) return [FIXED[lower]!];
  // Versioned short forms: GPL-2, LGPL-2.1, AGPL-3, Artistic-2.0, Apache-2.0, MPL-2.0, EPL-2.0.
  let m = /^([A-Za-z]+)-(\d+(?:\.\d+)*)$/.exec(t);
  if (m) {
    const fam = FAMILIES[FAMILY_NAMES[m[1]!.toLowerCase()] ?? ""];
    return fam ? familyIds(fam, [{ op: "==", v: m[2]! }]) : undefined;
  }
  // A name with an optional version: "Apache License 2.0", "Mozilla Public License Version 2.0".
  m = /^(.*?)(?:\s+(?:version\s+|v)?(\d+(?:\.\d+)*))?(?:\s*\(([^()]*)\))?$/i.exec(t);
  if (!m) return undefined;
  const fam = FAMILIES[FAMILY_NAMES[m[1]!.trim().toLowerCase()] ?? ""];
  if (!fam) return undefined;
  const constraints: Array<{ op: string; v: string }> = [];
  if (m[2]) constraints.push({ op: "==", v: m[2] });
  if (m[3] !== undefined) {
    for (const part of m[3].split(",")) {
      const c = /^\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)\s*$/.exec(part);
      if (!c) return undefined;
      constraints.push({ op: c[1]!, v: c[2]! });
    }
  }
  return familyIds(fam, constraints);
}

/**
 * The SPDX expression for a CRAN `License:` field, or undefined when no alternative can be read
 * (`file LICENSE` alone, free text).
 */
export function cranLicenseToSpdx(field: string): string | undefined {
  const ids: string[] = [];
  for (const raw of field.split("|")) {
    // `+ file LICENSE` holds the copyright line of MIT/BSD or extra terms; the base licence is what
    // the rules name. `file LICENSE` alone cannot be judged from metadata.
    const alt = raw.replace(/\+\s*file\s+LICEN[CS]E\s*$/i, "").trim();
    if (!alt || /^file\s+LICEN[CS]E$/i.test(alt)) continue;
    const got = alternative(alt);
    if (got) for (const id of got) if (!ids.includes(id)) ids.push(id);
  }
  return ids.length ? ids.join(" OR ") : undefined;
}
