import { flatValue, type DcfRecord } from "./dcf.js";
import { isValidRVersion, type ConstraintOp, type VersionConstraint } from "./versions.js";

export type DepField = "Depends" | "Imports" | "LinkingTo" | "Suggests" | "Enhances";
export const DEP_FIELDS: readonly DepField[] = ["Depends", "Imports", "LinkingTo", "Suggests", "Enhances"];
export const HARD_DEPS: readonly DepField[] = ["Depends", "Imports", "LinkingTo"];

/**
 * install.packages' `dependencies` argument, decoded: which fields to follow for the packages
 * asked for (`top`) and for everything pulled in below them (`rest`).
 *   NA (default) → Depends/Imports/LinkingTo all the way down;
 *   TRUE         → the same plus Suggests, for the requested packages only;
 *   FALSE        → nothing;
 *   c("Depends", "Suggests") → exactly those fields, recursively.
 */
export interface DependencyMode {
  top: DepField[];
  rest: DepField[];
}

export function dependencyMode(arg: string | undefined): DependencyMode {
  const v = (arg ?? "NA").trim();
  if (v === "" || v.toUpperCase() === "NA") return { top: [...HARD_DEPS], rest: [...HARD_DEPS] };
  if (v.toUpperCase() === "TRUE") return { top: [...HARD_DEPS, "Suggests"], rest: [...HARD_DEPS] };
  if (v.toUpperCase() === "FALSE") return { top: [], rest: [] };
  const fields = v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const f of fields)
    if (!(DEP_FIELDS as readonly string[]).includes(f))
      throw new Error(`dependencies: "${f}" is not one of NA, TRUE, FALSE, ${DEP_FIELDS.join(", ")}`);
  return { top: fields as DepField[], rest: fields as DepField[] };
}

/** Packages that ship with R itself: never fetched from a repository. */
export const BASE_PACKAGES: ReadonlySet<string> = new Set([
  "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods", "parallel", "splines",
  "stats", "stats4", "tcltk", "tools", "translations", "utils",
]);

/**
 * Recommended packages ship with every standard R build, so as dependencies they are taken as
 * present (asked for by name they are resolved like any other package).
 */
export const RECOMMENDED_PACKAGES: ReadonlySet<string> = new Set([
  "KernSmooth", "MASS", "Matrix", "boot", "class", "cluster", "codetools", "foreign", "lattice",
  "mgcv", "nlme", "nnet", "rpart", "spatial", "survival",
]);

const R_NAME = /^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$/;

export function isValidRName(name: string): boolean {
  return R_NAME.test(name);
}

export interface Dependency {
  name: string;
  field: DepField;
  constraint?: VersionConstraint | undefined;
}

const ENTRY = /^([A-Za-z][A-Za-z0-9.]*)\s*(?:\(\s*(>=|<=|==|!=|>|<)\s*([^()\s]+)\s*\))?$/;

/**
 * The dependencies a record declares in `fields`. `R (>= x)` is dropped (R_version is R's own
 * filter); an entry we cannot read throws, because guessing a dependency's name would let an
 * unchecked package slip through.
 */
export function parseDependencies(rec: DcfRecord, fields: readonly DepField[]): Dependency[] {
  const out: Dependency[] = [];
  for (const field of fields) {
    const text = flatValue(rec[field]);
    if (!text) continue;
    for (const raw of text.split(",")) {
      const entry = raw.trim();
      if (entry === "") continue;
      const m = ENTRY.exec(entry);
      if (!m || (m[3] !== undefined && !isValidRVersion(m[3]))) throw new Error(`${field}: cannot read "${entry}"`);
      if (m[1] === "R") continue;
      out.push({
        name: m[1]!,
        field,
        constraint: m[2] ? { op: m[2] as ConstraintOp, version: m[3]! } : undefined,
      });
    }
  }
  return out;
}
