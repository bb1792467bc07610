/**
 * A deterministic synthetic package universe for the overhead benchmark: ~300 projects with 2–7
 * releases each, PEP 700 upload times, a dependency DAG with deep chains (depth 8) and wide
 * fan-outs (25 dependencies), extras and markers, some yanked releases, and about a third of the
 * projects whose newest release is younger than the default 7-day minimum age (so the unified
 * index has real filtering to do).
 *
 * Projects 0..49 form the install set: a closure of exactly 50 projects whose releases are all
 * old enough, so plain pip and safe-pip must resolve them identically. It holds a fan-out root
 * (25 dependencies) and, below it, a chain of depth 8.
 */
import type { FakeRelease } from "../../test/helpers/pypi-server.js";
import { detectTyposquat, loadPopularList } from "../../src/checks/typosquat.js";
import { normalizeName } from "../../src/core/names.js";
import { rng } from "./stats.js";

export const INSTALL_SIZE = 50;
const FAN_OUT = 25;
const CHAIN_DEPTH = 8;
const DAY = 86400e3;

export interface SyntheticOptions {
  seed: number;
  projects: number;
  now?: Date;
}

export interface Synthetic {
  projects: Record<string, FakeRelease[]>;
  /** Project names, in generation order (index i is project i). */
  names: string[];
  /** What the benchmark asks pip to install (the roots of the 50-project closure). */
  requested: string[];
  /** Normalized name → the version both pips must install. */
  expected: Record<string, string>;
  describe: {
    seed: number;
    projects: number;
    releases: number;
    youngReleases: number;
    projectsWithYoungNewest: number;
    projectsAllYoung: number;
    yanked: number;
    edges: number;
    longestChain: number;
    widestFanOut: number;
    installClosure: number;
    requested: number;
  };
}

const SYLLABLES = [
  "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "va", "ze", "bor", "dex", "fin", "gal", "hup", "jor",
  "kel", "lum", "mor", "nib", "pax", "quil", "rov", "sab", "tun", "vex", "wil", "yor", "zan", "ber",
];
const SUFFIXES = ["", "", "", "", "-core", "-kit", "-io", "-lib", "-tools", "_ext", ".plugin", "-client"];

export function generate(opts: SyntheticOptions): Synthetic {
  const n = opts.projects;
  if (n < INSTALL_SIZE + 40) throw new Error(`--projects must be at least ${INSTALL_SIZE + 40}`);
  const rand = rng(opts.seed);
  const now = (opts.now ?? new Date()).getTime();
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

  // Names: pronounceable, unique after normalisation, and never flagged as a typosquat (the
  // default policy blocks those, which would change what gets resolved).
  const popular = loadPopularList();
  const names: string[] = [];
  const seen = new Set<string>();
  while (names.length < n) {
    const name = "zz" + Array.from({ length: int(2, 3) }, () => pick(SYLLABLES)).join("") + pick(SUFFIXES);
    const key = normalizeName(name);
    if (seen.has(key) || popular.rankOf(key) !== undefined || detectTyposquat(name, popular)) continue;
    seen.add(key);
    names.push(name);
  }

  // Versions.
  const versions: string[][] = names.map(() => {
    const count = int(2, 7);
    let [maj, min, pat] = [int(0, 3), int(0, 9), 0];
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      out.push(`${maj}.${min}.${pat}`);
      const r = rand();
      if (r < 0.6) pat++;
      else if (r < 0.9) [min, pat] = [min + 1, 0];
      else [maj, min, pat] = [maj + 1, 0, 0];
    }
    return out;
  });

  // Upload ages in days, oldest first. Install-set projects are all old; elsewhere ~30 % of projects
  // have a newest release younger than 7 days, and ~3 % are brand new (every release young).
  let projectsWithYoungNewest = 0;
  let projectsAllYoung = 0;
  const ages: number[][] = versions.map((vs, i) => {
    const oldest = 60 + rand() * 1100;
    const newestOld = 10 + rand() * 40;
    const kind = i < INSTALL_SIZE ? "old" : rand() < 0.03 ? "all-young" : rand() < 0.3 ? "young-newest" : "old";
    if (kind === "all-young") {
      projectsAllYoung++;
      return vs.map((_, k) => 6 - (5.5 * (k + 1)) / (vs.length + 1));
    }
    const oldCount = kind === "young-newest" ? vs.length - 1 : vs.length;
    const out = Array.from({ length: oldCount }, (_, k) => (oldCount === 1 ? newestOld : oldest - ((oldest - newestOld) * k) / (oldCount - 1)));
    if (kind === "young-newest") {
      projectsWithYoungNewest++;
      out.push(0.2 + rand() * 5.5);
    }
    return out;
  });

  // Dependencies (edges always go to a higher index within the allowed region, so the graph is a DAG).
  const deps: number[][] = names.map(() => []);
  const M = INSTALL_SIZE;
  // Install region: 0 is the fan-out root (deps 1..25), 1 heads a chain 1 → 26 → … → 32 (depth 8),
  // the rest depend sparsely on later install-set projects.
  for (let d = 1; d <= FAN_OUT; d++) deps[0]!.push(d);
  const chain = [1, ...Array.from({ length: CHAIN_DEPTH - 1 }, (_, k) => FAN_OUT + 1 + k)];
  for (let k = 0; k + 1 < chain.length; k++) deps[chain[k]!]!.push(chain[k + 1]!);
  const chainSet = new Set(chain);
  for (let i = 2; i < M; i++) {
    if (chainSet.has(i)) continue;
    const count = rand() < 0.45 ? 0 : rand() < 0.7 ? 1 : 2;
    for (let c = 0; c < count && i + 1 < M; c++) {
      const j = int(i + 1, M - 1);
      if (!deps[i]!.includes(j)) deps[i]!.push(j);
    }
  }
  // Elsewhere: two more fan-outs and two more depth-8 chains, then a sparse random DAG that may also
  // lean on install-set projects.
  const extraFan = [M, M + 1];
  for (const f of extraFan) {
    while (deps[f]!.length < FAN_OUT) {
      const j = int(M + 2, n - 1);
      if (!deps[f]!.includes(j)) deps[f]!.push(j);
    }
  }
  const extraChains: number[][] = [];
  for (const start of [M + 10, M + Math.floor((n - M) / 2)]) {
    const c = Array.from({ length: CHAIN_DEPTH }, (_, k) => start + k);
    extraChains.push(c);
    for (let k = 0; k + 1 < c.length; k++) deps[c[k]!]!.push(c[k + 1]!);
  }
  // The rest sit in four layers and depend only on later layers (or on the shallow tail of the
  // install set), so the chains above stay the deepest paths, as in real dependency graphs.
  const inExtraChain = new Set(extraChains.flat());
  const layer = names.map((_, i) => (i < M || extraFan.includes(i) || inExtraChain.has(i) ? -1 : Math.floor(rand() * 4)));
  const byLayer = [0, 1, 2, 3].map((l) => layer.flatMap((x, i) => (x === l ? [i] : [])));
  for (let i = M; i < n; i++) {
    if (layer[i]! < 0) continue;
    const r = rand();
    const count = r < 0.35 ? 0 : r < 0.65 ? 1 : r < 0.85 ? int(2, 3) : int(4, 6);
    const deeper = byLayer.slice(layer[i]! + 1).flat();
    for (let c = 0; c < count; c++) {
      const j = rand() < 0.2 || deeper.length === 0 ? int(FAN_OUT + CHAIN_DEPTH + 1, M - 1) : pick(deeper);
      if (!deps[i]!.includes(j)) deps[i]!.push(j);
    }
  }

  // Releases.
  let releases = 0;
  let youngReleases = 0;
  let yanked = 0;
  let edges = 0;
  const projects: Record<string, FakeRelease[]> = {};
  names.forEach((name, i) => {
    const vs = versions[i]!;
    const requirement = (j: number): string => {
      const dep = names[j]!;
      const first = versions[j]![0]!;
      const newestMajor = Number(versions[j]![versions[j]!.length - 1]!.split(".")[0]);
      const r = rand();
      let spec = r < 0.15 ? "" : r < 0.35 ? `>=${first},<${newestMajor + 1}` : `>=${first}`;
      if (rand() < 0.1) spec += ' ; python_version >= "3.8"';
      return dep + spec;
    };
    const reqs = deps[i]!.map(requirement);
    edges += reqs.length;
    // Some projects carry an optional extra on any project (pip parses it, never installs it).
    if (rand() < 0.1) reqs.push(`${names[int(0, n - 1)]}>=0 ; extra == "test"`);
    const requiresPython = rand() < 0.2 ? ">=3.8" : undefined;
    projects[name] = vs.map((version, k) => {
      const age = ages[i]![k]!;
      releases++;
      if (age < 7) youngReleases++;
      const isYanked = i >= M && vs.length >= 3 && k === 1 && rand() < 0.1;
      if (isYanked) yanked++;
      return {
        version,
        uploadTime: new Date(now - age * DAY),
        // The oldest release has one dependency fewer: dependency sets do change over time.
        requires: k === 0 && reqs.length > 1 ? reqs.slice(0, -1) : reqs,
        ...(requiresPython !== undefined && { requiresPython }),
        ...(isYanked && { yanked: "broken build" }),
        license: "MIT",
      };
    });
  });

  // The requested roots: 0 (the fan-out root), 33, then whatever of the install region the roots so
  // far do not reach.
  const reach = (roots: number[]): Set<number> => {
    const seen = new Set<number>();
    const stack = [...roots];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      stack.push(...deps[x]!);
    }
    return seen;
  };
  const roots = [0, 33];
  for (let i = 0; i < M; i++) if (!reach(roots).has(i)) roots.push(i);
  const closure = reach(roots);
  if (closure.size !== M || [...closure].some((x) => x >= M)) throw new Error("synthetic index: install closure is not the install region");

  const depthMemo = new Map<number, number>();
  const depth = (x: number): number => {
    const known = depthMemo.get(x);
    if (known !== undefined) return known;
    const d = 1 + Math.max(0, ...deps[x]!.map(depth));
    depthMemo.set(x, d);
    return d;
  };

  const expected: Record<string, string> = {};
  for (const i of closure) expected[normalizeName(names[i]!)] = versions[i]![versions[i]!.length - 1]!;
  return {
    projects,
    names,
    requested: roots.map((i) => names[i]!),
    expected,
    describe: {
      seed: opts.seed,
      projects: n,
      releases,
      youngReleases,
      projectsWithYoungNewest,
      projectsAllYoung,
      yanked,
      edges,
      longestChain: Math.max(...names.map((_, i) => depth(i))),
      widestFanOut: Math.max(...deps.map((d) => d.length)),
      installClosure: closure.size,
      requested: roots.length,
    },
  };
}
