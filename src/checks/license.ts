import type { Reason } from "./types.js";
import { cranLicenseToSpdx } from "./cran-license.js";

/**
 * Licence checks read the licence from package metadata only (never by running package code):
 * PEP 639 `License-Expression`, else the `License` field when it is a recognisable SPDX id, else
 * the trove classifiers; for CRAN, the DESCRIPTION `License` field (`GPL-2 | GPL-3`, `MIT + file LICENSE`).
 */

/** Trove classifiers and common free-text spellings → SPDX ids. */
const CLASSIFIERS: Record<string, string> = {
  "MIT License": "MIT",
  "MIT No Attribution License (MIT-0)": "MIT-0",
  "Apache Software License": "Apache-2.0",
  "BSD License": "BSD-3-Clause",
  "ISC License (ISCL)": "ISC",
  "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
  "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
  "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
  "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
  "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
  "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
  "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
  "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
  "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
  "GNU Affero General Public License v3": "AGPL-3.0-only",
  "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
  "Python Software Foundation License": "PSF-2.0",
  "The Unlicense (Unlicense)": "Unlicense",
  "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
  "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
};

const FREE_TEXT: Record<string, string> = {
  mit: "MIT",
  "mit license": "MIT",
  "apache 2.0": "Apache-2.0",
  "apache-2.0": "Apache-2.0",
  "apache license 2.0": "Apache-2.0",
  "apache software license": "Apache-2.0",
  "apache license, version 2.0": "Apache-2.0",
  bsd: "BSD-3-Clause",
  "bsd license": "BSD-3-Clause",
  "bsd-3-clause": "BSD-3-Clause",
  "bsd-2-clause": "BSD-2-Clause",
  "3-clause bsd": "BSD-3-Clause",
  isc: "ISC",
  "mpl-2.0": "MPL-2.0",
  "gpl-2": "GPL-2.0-only",
  "gpl-3": "GPL-3.0-only",
  "gpl-2.0": "GPL-2.0-only",
  "gpl-3.0": "GPL-3.0-only",
  gplv3: "GPL-3.0-only",
  gplv2: "GPL-2.0-only",
  "agpl-3": "AGPL-3.0-only",
  "agpl-3.0": "AGPL-3.0-only",
  "lgpl-2.1": "LGPL-2.1-only",
  "lgpl-3": "LGPL-3.0-only",
  "lgpl-3.0": "LGPL-3.0-only",
  psf: "PSF-2.0",
  unlicense: "Unlicense",
};

export interface LicenseInfo {
  /** SPDX-style expression we evaluated, e.g. "MIT OR Apache-2.0". */
  expression: string;
  /** Where it was read from, for messages. */
  from: string;
}

/** Reads the licence out of a core metadata file (METADATA / PKG-INFO, RFC 822 style). */
export function licenseFromMetadata(metadata: string): LicenseInfo | undefined {
  const headers = metadata.split(/\r?\n\r?\n/)[0] ?? "";
  const fields: Array<[string, string]> = [];
  for (const line of headers.split(/\r?\n/)) {
    if (/^\s/.test(line) && fields.length) fields[fields.length - 1]![1] += ` ${line.trim()}`;
    else {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields.push([m[1]!.toLowerCase(), m[2]!.trim()]);
    }
  }
  const get = (k: string) => fields.filter(([key]) => key === k).map(([, v]) => v);
  const expr = get("license-expression")[0];
  if (expr) return { expression: expr, from: "License-Expression" };
  const classifiers = get("classifier")
    .filter((c) => c.startsWith("License ::"))
    .map((c) => CLASSIFIERS[c.split("::").pop()!.trim()])
    .filter((x): x is string => x !== undefined);
  const text = get("license")[0];
  const mapped = text ? spdxFromText(text) : undefined;
  if (mapped) return { expression: mapped, from: "License" };
  if (classifiers.length) return { expression: [...new Set(classifiers)].join(" OR "), from: "classifiers" };
  return undefined;
}

function spdxFromText(text: string): string | undefined {
  const t = text.trim();
  if (!t || t.length > 100 || t.toUpperCase() === "UNKNOWN") return undefined;
  return FREE_TEXT[t.toLowerCase()] ?? (/^[A-Za-z0-9.+-]+(\s+(OR|AND|WITH)\s+[A-Za-z0-9.+-]+)*$/.test(t) ? t : undefined);
}

/** CRAN's License field (R's license.db vocabulary: `GPL (>= 2)`, `MIT + file LICENSE`, ...) as SPDX. */
export function licenseFromCran(field: string | undefined): LicenseInfo | undefined {
  if (!field?.trim()) return undefined;
  const expression = cranLicenseToSpdx(field);
  return expression ? { expression, from: "License" } : undefined;
}

function patternMatches(pattern: string, id: string): boolean {
  const re = new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$", "i");
  return re.test(id);
}

/**
 * Evaluates an expression against allow/deny patterns. OR alternatives: the package is usable if
 * any alternative is acceptable; AND (and WITH) terms: every id in the alternative must be.
 */
export function checkLicense(
  info: LicenseInfo | undefined,
  rules: { allow?: string[] | undefined; deny: string[] },
  unknown: "allow" | "block",
): Reason[] {
  if (!rules.allow && rules.deny.length === 0) return [];
  if (!info) {
    return unknown === "block"
      ? [{ check: "license", verdict: "block", message: "licence unknown (unknownLicense: block)" }]
      : [{ check: "license", verdict: "warn", message: "licence unknown; not checked (unknownLicense: allow)" }];
  }
  const alternatives = info.expression
    .replace(/[()]/g, " ")
    .split(/\s+OR\s+/i)
    .map((alt) => alt.split(/\s+(?:AND|WITH)\s+/i).map((s) => s.trim()).filter(Boolean));
  const acceptable = (ids: string[]) =>
    ids.every((id) => !rules.deny.some((p) => patternMatches(p, id))) && (!rules.allow || ids.every((id) => rules.allow!.some((p) => patternMatches(p, id))));
  if (alternatives.some(acceptable)) return [];
  return [{ check: "license", verdict: "block", message: `licence ${info.expression} (from ${info.from}) is not allowed by policy` }];
}
