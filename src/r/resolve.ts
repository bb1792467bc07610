import { describeError } from "../core/errors.js";
import { BASE_PACKAGES, HARD_DEPS, RECOMMENDED_PACKAGES, parseDependencies, type DependencyMode, type Dependency } from "./deps.js";
import { formatConstraint, satisfies } from "./versions.js";
import type { Requirement, Selection, Selector } from "./filter.js";
import type { PackageOutcome } from "./types.js";

export interface ResolveRequest {
  pkgs: string[];
  dependencies: DependencyMode;
  /**
   * install.packages: anything blocked blocks the whole request. update.packages: blocked
   * packages (and what needs them) are left out and the rest goes ahead.
   */
  strict: boolean;
}

export interface Resolution {
  /** Requested packages first, then dependencies in the order they were found. */
  outcomes: PackageOutcome[];
  blocked: boolean;
}

const CONCURRENCY = 8;
/** A name re-selected this often under new requirements is declared unsatisfiable. */
const MAX_RESELECT = 4;

/**
 * The dependency closure of a request over what the policy allows, the way install.packages
 * walks it (Depends/Imports/LinkingTo, plus Suggests of the requested packages with
 * `dependencies = TRUE`; base and recommended packages are R's own). Version requirements
 * (`x (>= 2.0)`) steer the choice, so a dependent is never offered with a dependency that is too
 * old for it: if no allowed version fits, the dependency is blocked and says who needed what.
 */
export async function resolveClosure(selector: Selector, req: ResolveRequest): Promise<Resolution> {
  const requested = [...new Set(req.pkgs)];
  const top = new Set(requested);
  const requirements = new Map<string, Requirement[]>();
  const selections = new Map<string, Selection>();
  const depsOf = new Map<string, Dependency[] | Error>();
  const reselects = new Map<string, number>();
  const base = requested.filter((n) => BASE_PACKAGES.has(n));
  let pending = requested.filter((n) => !BASE_PACKAGES.has(n));

  // A requirement counts only while the version that states it is still the chosen one.
  const active = (name: string) =>
    (requirements.get(name) ?? []).filter((r) => selections.get(r.fromName)?.chosen?.version === r.fromVersion);

  while (pending.length) {
    const batch = [...new Set(pending)];
    pending = [];
    const results = await mapLimit(batch, CONCURRENCY, (name) => selector.select(name, active(name)));
    for (const sel of results) selections.set(sel.name, sel);
    for (const sel of results) {
      if (!sel.chosen) continue;
      let deps: Dependency[] | Error;
      try {
        deps = parseDependencies(sel.chosen.fields, top.has(sel.name) ? req.dependencies.top : req.dependencies.rest);
      } catch (err) {
        deps = new Error(`${sel.name} ${sel.chosen.version}: cannot read its dependencies (${describeError(err)})`);
      }
      depsOf.set(sel.name, deps);
      if (deps instanceof Error) continue;
      for (const dep of deps) {
        if (BASE_PACKAGES.has(dep.name) || (RECOMMENDED_PACKAGES.has(dep.name) && !top.has(dep.name))) continue;
        const list = requirements.get(dep.name) ?? [];
        if (dep.constraint)
          list.push({ from: `${sel.name} ${sel.chosen.version}`, fromName: sel.name, fromVersion: sel.chosen.version, constraint: dep.constraint });
        requirements.set(dep.name, list);
        const known = selections.get(dep.name);
        if (!known) pending.push(dep.name);
        else if (known.chosen && dep.constraint && !satisfies(known.chosen.version, dep.constraint)) {
          const n = (reselects.get(dep.name) ?? 0) + 1;
          reselects.set(dep.name, n);
          if (n <= MAX_RESELECT) pending.push(dep.name);
        }
      }
    }
  }

  // Re-selection can leave packages only an older choice needed: keep what is still reachable.
  const order = new Set<string>();
  const requiredBy = new Map<string, string[]>();
  const walk = (name: string) => {
    if (order.has(name)) return;
    order.add(name);
    const deps = depsOf.get(name);
    const sel = selections.get(name);
    if (!sel?.chosen || !deps || deps instanceof Error) return;
    for (const d of deps) {
      if (!selections.has(d.name)) continue;
      requiredBy.set(d.name, [...new Set([...(requiredBy.get(d.name) ?? []), `${name} ${sel.chosen.version}`])]);
      walk(d.name);
    }
  };
  requested.filter((n) => !BASE_PACKAGES.has(n)).forEach(walk);

  const outcomes = new Map<string, PackageOutcome>();
  for (const name of order) {
    const sel = selections.get(name)!;
    const deps = depsOf.get(name);
    const problems = [...sel.problems, ...(deps instanceof Error ? [deps.message] : [])];
    // A choice that misses a requirement stated after it was made (and re-selection gave up).
    const unmet = sel.chosen
      ? active(name).filter((r) => !satisfies(sel.chosen!.version, r.constraint))
      : [];
    for (const r of unmet) problems.push(`${name}: ${r.from} needs ${name} (${formatConstraint(r.constraint)}), only ${sel.chosen!.version} is allowed`);
    const ok = sel.chosen && !problems.length;
    outcomes.set(name, {
      name,
      status: ok ? "ok" : sel.chosen || problems.length ? "blocked" : "missing",
      chosen: ok ? sel.chosen : undefined,
      decisions: sel.decisions,
      problems,
      requiredBy: requiredBy.get(name) ?? [],
      newest: sel.newest,
    });
  }
  for (const name of base) outcomes.set(name, { name, status: "base", decisions: [], problems: [], requiredBy: [] });

  // What needs a blocked package cannot be installed either: hide it too, and say why.
  const hard = (name: string) => {
    const deps = depsOf.get(name);
    return deps instanceof Error || !deps ? [] : deps.filter((d) => (HARD_DEPS as readonly string[]).includes(d.field));
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const o of outcomes.values()) {
      if (o.status !== "ok") continue;
      const bad = hard(o.name).find((d) => outcomes.get(d.name)?.status === "blocked");
      if (bad) {
        o.problems.push(`${o.name} ${o.chosen!.version}: needs ${bad.name}, which is blocked`);
        o.status = "blocked";
        o.chosen = undefined;
        changed = true;
      }
    }
  }
  const list = [...outcomes.values()];
  return { outcomes: list, blocked: req.strict && list.some((o) => o.status === "blocked") };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
