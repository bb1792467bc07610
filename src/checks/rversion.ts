/**
 * R's package_version order: numbers separated by "." or "-", compared numerically component by
 * component (1.2-3 == 1.2.3; 1.10 > 1.9). Shared by the R repository, OSV matching for CRAN and
 * allow/deny entries for R packages.
 */
export function parseRVersion(v: string): number[] | undefined {
  const t = v.trim();
  if (!/^\d+([.-]\d+)*$/.test(t)) return undefined;
  return t.split(/[.-]/).map(Number);
}

export function compareRVersions(a: string, b: string): number {
  const pa = parseRVersion(a);
  const pb = parseRVersion(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1;
    const y = pb[i] ?? -1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** R-style constraints: ">= 1.2", "< 2.0", "== 1.0-3", comma-separated for several. */
export function rVersionSatisfies(version: string, spec: string): boolean {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .every((clause) => {
      const m = /^(>=|<=|==|!=|>|<)?\s*(\S+)$/.exec(clause);
      if (!m) return false;
      const c = compareRVersions(version, m[2]!);
      switch (m[1] ?? "==") {
        case ">=":
          return c >= 0;
        case "<=":
          return c <= 0;
        case ">":
          return c > 0;
        case "<":
          return c < 0;
        case "!=":
          return c !== 0;
        default:
          return c === 0;
      }
    });
}
