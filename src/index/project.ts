import { compare as pep440Compare, valid as pep440Valid } from "@renovatebot/pep440";
import { formatAge, formatDuration } from "../core/duration.js";
import type { HttpClient } from "../core/http.js";
import { redactUrl } from "../core/redact.js";
import { softenByHistory } from "../checks/history.js";
import type { ReleaseChecker } from "../checks/release.js";
import { worstVerdict, type Reason } from "../checks/types.js";
import type { Policy } from "../policy/schema.js";
import { isSafeFilename, versionFromFilename, type DistFile } from "./model.js";
import type { Routed } from "./router.js";
import { fetchUploadTimes } from "./upstream/simple.js";
import { agePolicyFor, applySecurityFixes, exclusionReason, fixCandidateVersions, type AgeEntry } from "./age-rules.js";
import { statusReasons, type ProjectStatus } from "./status.js";

export interface VersionDecision {
  version: string;
  served: boolean;
  reasons: Reason[];
  /** Earliest known upload time among the version's files. */
  uploadTime?: string | undefined;
  yanked: boolean;
}

/** Everything the index decided about one project: what it served, what it hid, and why. */
export interface ProjectDecision {
  name: string;
  source: "internal" | "public";
  upstream: string;
  why: string;
  status: "ok" | "not-found" | "blocked";
  nameReasons: Reason[];
  versions: VersionDecision[];
  /** PEP 792 status from the upstream, passed through to pip. */
  projectStatus?: ProjectStatus | undefined;
}

export interface ServedProject {
  decision: ProjectDecision;
  files: DistFile[];
  /** The owning upstream index, unredacted (for follow-up requests such as metadata). */
  indexUrl: string;
}

export interface BuildContext {
  policy: Policy;
  http: HttpClient;
  checker: ReleaseChecker;
  now: Date;
}

export function compareVersions(a: string, b: string): number {
  const va = pep440Valid(a);
  const vb = pep440Valid(b);
  if (va && vb) return pep440Compare(a, b);
  if (va) return 1; // legacy (non-PEP 440) versions sort below every valid one, like osv.dev and pip
  if (vb) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The instant before which a file must have been uploaded to be offered. */
export function ageCutoff(policy: Policy, now: Date): Date | undefined {
  const byAge = policy.minAgeMs > 0 ? new Date(now.getTime() - policy.minAgeMs) : undefined;
  if (!policy.snapshot) return byAge;
  if (!byAge) return policy.snapshot;
  return policy.snapshot < byAge ? policy.snapshot : byAge;
}

function ageReason(file: DistFile, policy: Policy, now: Date, exempt: boolean): Reason | undefined {
  if (exempt) return undefined;
  const cutoff = ageCutoff(policy, now);
  if (!cutoff) return undefined;
  if (!file.uploadTime) {
    return policy.unknownAge === "allow"
      ? { check: "age", verdict: "warn", message: "upload time unknown (allowed by unknownAge)" }
      : { check: "age", verdict: "block", message: "upload time unknown, so its age cannot be checked (unknownAge: block)" };
  }
  const uploaded = new Date(file.uploadTime);
  if (uploaded < cutoff) return undefined;
  const bySnapshot = policy.snapshot !== undefined && cutoff.getTime() === policy.snapshot.getTime();
  return bySnapshot
    ? { check: "age", verdict: "block", message: `uploaded ${file.uploadTime.slice(0, 10)}, after the snapshot cutoff ${policy.snapshot!.toISOString().slice(0, 16).replace("T", " ")} UTC` }
    : { check: "age", verdict: "block", message: `uploaded ${formatAge(now.getTime() - uploaded.getTime())} ago (minimum age ${formatDuration(policy.minAgeMs)})` };
}

function dedupe(reasons: Reason[]): Reason[] {
  const seen = new Set<string>();
  return reasons.filter((r) => {
    const k = `${r.check}|${r.id ?? ""}|${r.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Filters one upstream page into the page pip will see: per file, unreadable names and too-young
 * or undated uploads are dropped (a new wheel can land on an old release, so age is judged per
 * file); per version, the release checks (allow/deny, licences, OSV) may block it; versions left
 * with no file disappear. Yanked flags are kept as they are.
 */
export async function buildProject(name: string, routed: Routed, ctx: BuildContext): Promise<ServedProject> {
  const { route, page } = routed;
  const base: ProjectDecision = {
    name,
    source: route.source,
    upstream: redactUrl(route.indexUrl),
    why: route.why,
    status: "ok",
    nameReasons: [],
    versions: [],
  };
  const indexUrl = route.indexUrl;
  if (!page) {
    // PyPI refuses most typo names, so a typo usually isn't there at all: say "did you mean"
    // instead of leaving the user with pip's bare "no matching distribution".
    const nameReasons = route.source === "public" ? ctx.checker.checkName("PyPI", name, route.source) : [];
    if (worstVerdict(nameReasons) === "block") return { decision: { ...base, nameReasons, status: "blocked" }, files: [], indexUrl };
    return { decision: { ...base, status: "not-found" }, files: [], indexUrl };
  }

  if (page.status) base.projectStatus = page.status;
  // An old project with many releases isn't blocked for its name alone (src/checks/history.ts).
  const nameReasons = softenByHistory(ctx.checker.checkName("PyPI", name, route.source), page.files.map((f) => ({ version: versionFromFilename(f.filename, name), uploadTime: f.uploadTime })), ctx.now);
  base.nameReasons = [...statusReasons(page.status), ...nameReasons];
  if (worstVerdict(base.nameReasons) === "block") return { decision: { ...base, status: "blocked" }, files: [], indexUrl };

  const exempt = route.source === "internal" && ctx.policy.internalAge === "exempt";
  const { policy: agePolicy, exclusion } = agePolicyFor(ctx.policy, name, ctx.now);
  let files = page.files;
  if (!exempt && ageCutoff(agePolicy, ctx.now) && files.some((f) => !f.uploadTime)) {
    // HTML-only upstreams carry no upload times: ask the PyPI-style JSON API once for the project.
    const times = await fetchUploadTimes(ctx.http, route.indexUrl, name).catch(() => undefined);
    if (times) files = files.map((f) => (f.uploadTime || !times.has(f.filename) ? f : { ...f, uploadTime: times.get(f.filename) }));
  }

  const byVersion = new Map<string, AgeEntry & { total: number }>();
  for (const file of files) {
    if (!isSafeFilename(file.filename)) continue;
    if (!/^https?:$/.test(new URL(file.url).protocol)) continue; // file:, javascript: … never proxied
    const version = versionFromFilename(file.filename, name);
    if (!version) continue;
    const entry = byVersion.get(version) ?? { files: [], held: [], reasons: [], yanked: true, total: 0 };
    entry.total++;
    if (!file.yanked) entry.yanked = false;
    if (file.uploadTime && (!entry.upload || file.uploadTime < entry.upload)) entry.upload = file.uploadTime;
    let reason = ageReason(file, agePolicy, ctx.now, exempt);
    if (exclusion && !exempt) reason = exclusionReason(file, ctx.policy, exclusion, reason?.verdict === "block" ? reason : undefined, ctx.now) ?? reason;
    if (reason && reason.verdict === "block") {
      entry.reasons.push(reason);
      entry.held.push(file);
    } else {
      if (reason) entry.reasons.push(reason);
      entry.files.push(file);
    }
    byVersion.set(version, entry);
  }

  const candidates = [...byVersion.entries()].filter(([, e]) => e.files.length > 0).map(([v]) => v);
  const check = (vs: string[]) => ctx.checker.checkReleases(vs.map((version) => ({ ecosystem: "PyPI" as const, name, version, source: route.source })));
  const checked = await check(candidates);
  const young = fixCandidateVersions(byVersion, checked, agePolicy, ctx.now);
  if (young.length) for (const [v, r] of await check(young)) checked.set(v, r);
  applySecurityFixes(byVersion, checked, agePolicy, ctx.now);

  const served: DistFile[] = [];
  const versions: VersionDecision[] = [];
  for (const [version, e] of byVersion) {
    const reasons = dedupe([...e.reasons, ...(checked.get(version) ?? [])]);
    const ok = e.files.length > 0 && worstVerdict(reasons.filter((r) => r.check !== "age")) !== "block";
    if (ok) served.push(...e.files);
    versions.push({ version, served: ok, reasons, uploadTime: e.upload, yanked: e.yanked });
  }
  versions.sort((a, b) => compareVersions(a.version, b.version));
  return { decision: { ...base, versions }, files: served, indexUrl };
}
