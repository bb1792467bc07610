/**
 * R package versions (`package_version`): two or more non-negative integers joined by `.` or `-`,
 * so `1.2-3` equals `1.2.3`. Not semver and not PEP 440: `1.10 > 1.9`, and missing trailing
 * components count as zero (R itself says `1.2 == 1.2.0`).
 */
const VERSION = /^\d+(?:[.-]\d+)+$/;

export function isValidRVersion(text: string): boolean {
  return VERSION.test(text.trim());
}

/** The integer components; throws on text that is not an R package version. */
export function parseRVersion(text: string): number[] {
  const t = text.trim();
  if (!VERSION.test(t)) throw new Error(`"${text}" is not an R package version`);
  return t.split(/[.-]/).map(Number);
}

/** <0, 0, >0 like a sort comparator. Invalid versions sort below every valid one (as osv.dev does). */
export function compareRVersions(a: string, b: string): number {
  const va = isValidRVersion(a) ? parseRVersion(a) : undefined;
  const vb = isValidRVersion(b) ? parseRVersion(b) : undefined;
  if (!va || !vb) return va ? 1 : vb ? -1 : a.localeCompare(b);
  for (let i = 0; i < Math.max(va.length, vb.length); i++) {
    const d = (va[i] ?? 0) - (vb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export type ConstraintOp = ">=" | ">" | "<=" | "<" | "==" | "!=";

/** One `(op version)` clause from a dependency field. */
export interface VersionConstraint {
  op: ConstraintOp;
  version: string;
}

export function satisfies(version: string, c: VersionConstraint): boolean {
  const d = compareRVersions(version, c.version);
  switch (c.op) {
    case ">=":
      return d >= 0;
    case ">":
      return d > 0;
    case "<=":
      return d <= 0;
    case "<":
      return d < 0;
    case "==":
      return d === 0;
    case "!=":
      return d !== 0;
  }
}

export function formatConstraint(c: VersionConstraint): string {
  return `${c.op} ${c.version}`;
}
