import { createHash } from "node:crypto";
import { compare, explain } from "@renovatebot/pep440";
import type { HttpClient } from "../core/http.js";
import type { ReleaseChecker } from "../checks/release.js";
import { requiresDist } from "./core-metadata.js";
import { versionFromFilename, type DistFile } from "./model.js";

/** The part of the index prefetch needs: its memoised page builder. */
export interface PrefetchTarget {
  readonly projects: ReadonlyMap<string, unknown>;
  project(name: string): Promise<{ files: DistFile[] }>;
}

export interface PrefetchDeps {
  checker: ReleaseChecker;
  http: HttpClient;
}

/** Upstream requests started ahead of pip at once, per index; more wait their turn. */
export const PREFETCH_CONCURRENCY = 8;
/** A bound on speculation: projects prefetched per run. */
const MAX_PROJECTS = 1000;
/** Wheels are fetched ahead only when small (declared size), and only this much is held at once. */
export const PREFETCH_FILE_MAX_BYTES = 4 * 1024 * 1024;
const MAX_HELD_BYTES = 32 * 1024 * 1024;

interface State {
  deps: PrefetchDeps;
  active: number;
  waiting: Array<() => Promise<void>>;
  seen: Set<string>;
  /** `.metadata` URL → its text, fetched ahead and checked against the page's sha256. */
  metadata: Map<string, Promise<string | undefined>>;
  /** Wheel URL → its bytes, fetched ahead and checked against the page's size and sha256. */
  files: Map<string, Promise<Buffer | undefined>>;
  /** Bytes of the wheels in `files` (declared sizes), bounded by MAX_HELD_BYTES. */
  held: number;
}

const states = new WeakMap<PrefetchTarget, State>();

/**
 * pip resolves one project at a time: page, pick a release, its `.metadata`, next page. With a slow
 * upstream each of those waits is serial. When a `.metadata` passes through the index we know the
 * next pages pip will want, so we build them (routing, age, checks: `project()` is memoised, so
 * pip's later request finds the page built or under way), send one OSV batch for them, and fetch
 * the `.metadata` of the release pip will most likely pick, which in turn prefetches its own
 * dependencies. A wide or deep closure is then fetched level by level in parallel.
 *
 * Purely an optimisation: it never throws, and a failure is not retried here — when pip asks, the
 * index answers (and records) the failure the usual way.
 */
export function prefetchDependencies(index: PrefetchTarget, deps: PrefetchDeps, metadata: string): void {
  try {
    let s = states.get(index);
    if (!s) states.set(index, (s = newState(deps)));
    const state = s;
    const fresh = dependencyNames(metadata).filter((n) => !state.seen.has(n) && !index.projects.has(n));
    const room = Math.max(0, MAX_PROJECTS - state.seen.size);
    const todo = fresh.slice(0, room);
    if (todo.length === 0) return;
    for (const n of todo) state.seen.add(n);
    // Before the page builds: each build asks the checker for its project's advisories, and they
    // must find the batch in flight rather than send one query each.
    deps.checker.warmMany?.("PyPI", todo);
    for (const name of todo) enqueue(state, () => prefetchProject(index, state, name));
  } catch {
    /* an optimisation only */
  }
}

function newState(deps: PrefetchDeps): State {
  return { deps, active: 0, waiting: [], seen: new Set(), metadata: new Map(), files: new Map(), held: 0 };
}

/**
 * A wheel whose `.metadata` just passed the gate is the file pip downloads once it has resolved
 * (install, download and wheel; pip 23's --dry-run too). pip downloads one file at a time, each a
 * full round trip to the upstream: fetched ahead, concurrently, it is there when pip asks. Only
 * small wheels with a declared size and sha256, and a bounded total; the bytes are judged exactly
 * like streamed ones when pip asks (server.ts), and a wheel pip never asks for is dropped with the
 * index at the end of the run.
 */
export function prefetchFile(index: PrefetchTarget, deps: PrefetchDeps, file: DistFile): void {
  try {
    let s = states.get(index);
    if (!s) states.set(index, (s = newState(deps)));
    const state = s;
    const size = file.size;
    const sha = file.hashes.sha256;
    if (!file.filename.endsWith(".whl") || size === undefined || !sha || size > PREFETCH_FILE_MAX_BYTES) return;
    if (state.files.has(file.url) || state.held + size > MAX_HELD_BYTES) return;
    state.held += size;
    let settle: (b: Buffer | undefined) => void = () => undefined;
    state.files.set(file.url, new Promise<Buffer | undefined>((r) => (settle = r)));
    enqueue(state, async () => {
      const body = await fetchFile(state.deps.http, file.url, size, sha).catch(() => undefined);
      if (body === undefined) {
        state.files.delete(file.url);
        state.held -= size;
      }
      settle(body);
    });
  } catch {
    /* an optimisation only */
  }
}

/**
 * The bytes of a wheel fetched ahead (complete, of the declared size and sha256), handed over
 * once: a retry by pip goes to the upstream. Waits for a fetch still under way.
 */
export async function prefetchedFile(index: PrefetchTarget, file: DistFile): Promise<Buffer | undefined> {
  const state = states.get(index);
  const p = state?.files.get(file.url);
  if (!state || !p) return undefined;
  state.files.delete(file.url);
  const body = await p;
  if (body !== undefined) state.held -= body.length;
  return body;
}

async function fetchFile(http: HttpClient, url: string, size: number, sha256: string): Promise<Buffer | undefined> {
  const res = await http.get(url, undefined, PREFETCH_FILE_MAX_BYTES);
  if (res.status !== 200 || res.body.length !== size) return undefined;
  if (createHash("sha256").update(res.body).digest("hex") !== sha256.toLowerCase()) return undefined;
  return res.body;
}

/** The `.metadata` text prefetched for this URL, if it was fetched and matched `sha256`. */
export async function prefetchedMetadata(index: PrefetchTarget, url: string, sha256: string | undefined): Promise<string | undefined> {
  const p = states.get(index)?.metadata.get(url);
  if (!p || !sha256) return undefined;
  const text = await p.catch(() => undefined);
  return text !== undefined && createHash("sha256").update(text, "utf8").digest("hex") === sha256.toLowerCase() ? text : undefined;
}

async function prefetchProject(index: PrefetchTarget, state: State, name: string): Promise<void> {
  const served = await index.project(name);
  const file = likelyPick(served.files, name);
  const sha = file && typeof file.coreMetadata === "object" ? file.coreMetadata.sha256 : undefined;
  if (!file || !sha) return;
  const url = `${file.url}.metadata`;
  if (state.metadata.has(url)) return;
  const text = fetchMetadata(state.deps.http, url, sha);
  state.metadata.set(url, text);
  const got = await text;
  if (got !== undefined) prefetchDependencies(index, state.deps, got);
}

async function fetchMetadata(http: HttpClient, url: string, sha256: string): Promise<string | undefined> {
  const res = await http.get(url, undefined, 4 * 1024 * 1024);
  if (res.status !== 200) return undefined;
  if (createHash("sha256").update(res.body).digest("hex") !== sha256.toLowerCase()) return undefined;
  return res.body.toString("utf8");
}

function enqueue(state: State, job: () => Promise<void>): void {
  state.waiting.push(job);
  pump(state);
}

function pump(state: State): void {
  while (state.active < PREFETCH_CONCURRENCY && state.waiting.length > 0) {
    const job = state.waiting.shift()!;
    state.active++;
    let p: Promise<void>;
    try {
      p = job();
    } catch {
      p = Promise.resolve();
    }
    void p
      .catch(() => undefined)
      .finally(() => {
        state.active--;
        pump(state);
      });
  }
}

/**
 * The wheel pip will most likely choose: the newest final, non-yanked release that has a wheel
 * with PEP 658 metadata (pip prefers wheels, skips pre-releases unless asked, and ignores yanked
 * files). A wrong guess costs one small request; the specifier is not evaluated.
 */
export function likelyPick(files: DistFile[], name: string): DistFile | undefined {
  let best: { file: DistFile; version: string } | undefined;
  for (const f of files) {
    if (!f.filename.endsWith(".whl") || f.yanked || !f.coreMetadata) continue;
    const version = versionFromFilename(f.filename, name);
    if (!version) continue;
    const ex = explain(version);
    if (!ex || ex.is_prerelease) continue;
    if (!best || compare(version, best.version) > 0 || (compare(version, best.version) === 0 && f.filename.endsWith("-none-any.whl")))
      best = { file: f, version };
  }
  return best?.file;
}

/**
 * The projects a release depends on, as pip would need them. Skipped: direct references (never
 * fetched through the index, and judged elsewhere), unreadable entries, and dependencies that only
 * an extra pulls in — pip asks for those only when the extra was requested, and then it simply
 * asks. Other markers (python_version, sys_platform) are not evaluated: a page built in vain costs
 * one upstream request, a page missed costs pip a serial wait.
 */
export function dependencyNames(metadata: string): string[] {
  const out = new Set<string>();
  for (const r of requiresDist(metadata)) {
    if (!r.name || r.url !== undefined) continue;
    if (r.marker && /\bextra\s*==/.test(r.marker)) continue;
    out.add(r.name);
  }
  return [...out];
}
