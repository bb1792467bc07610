import type { Policy } from "../policy/schema.js";
import type { ReleaseChecker, ReleaseInfo } from "../checks/release.js";
import { worstVerdict, type Reason } from "../checks/types.js";
import { checkLicense, licenseFromCran } from "../checks/license.js";
import { SafePipError, describeError } from "../core/errors.js";
import { nameMatchesPattern } from "../core/names.js";
import { ageReasons, parsePublication } from "./age.js";
import { compareRVersions, formatConstraint, satisfies, type VersionConstraint } from "./versions.js";
import { upstreamOf, type CranUpstream } from "./upstream.js";
import type { PackageRecord, Source, VersionDecision } from "./types.js";

/** A version requirement on a package and who states it (`gamma 1.0`), for messages. */
export interface Requirement {
  /** `gamma 1.0`, for messages. */
  from: string;
  fromName: string;
  fromVersion: string;
  constraint: VersionConstraint;
}

export interface Selection {
  name: string;
  chosen?: PackageRecord | undefined;
  decisions: VersionDecision[];
  /** Why nothing was chosen; empty when the name exists nowhere. */
  problems: string[];
  /** The newest version the owning source(s) list. */
  newest?: string | undefined;
}

export interface SelectorOptions {
  policy: Policy;
  checker: ReleaseChecker;
  internal: CranUpstream[];
  public: CranUpstream;
  /** Public releases come from a dated snapshot that already enforces the minimum age. */
  publicAgeFromSnapshot: boolean;
  now: () => number;
  /** How many archived versions may be opened (one tarball read each) before giving up. */
  maxArchiveTries: number;
}

/** `check: message`, naming the advisory id when the message does not already. */
export function formatReason(r: Reason): string {
  return `${r.check}${r.id && !r.message.includes(r.id) ? ` ${r.id}` : ""}: ${r.message}`;
}

/**
 * Picks the version of one package to serve: the internal repositories own every name they list
 * or reserve, so the public copy of such a name is never a candidate, whatever its version; then
 * the newest candidate that passes age and the shared release checks (OSV, allow/deny, licence)
 * and fits the known version requirements; failing that, the newest such version from
 * `Archive/`. Every version looked at is returned with its verdict, so the report can say why.
 */
export class Selector {
  private readonly verdicts = new Map<string, Promise<VersionDecision>>();
  private readonly archived = new Map<string, Promise<PackageRecord | Error>>();

  private readonly upstreams: CranUpstream[];

  constructor(private readonly o: SelectorOptions) {
    this.upstreams = [o.public, ...o.internal];
  }

  async select(name: string, requirements: readonly Requirement[]): Promise<Selection> {
    const { owners, candidates, hidden } = await this.candidates(name);
    const source: Source = owners.length ? "internal" : "public";
    const ecosystem = owners[0]?.repo.ecosystem ?? this.o.public.repo.ecosystem;
    const decisions: VersionDecision[] = [...hidden];
    const newest = candidates[0]?.version;
    const problems: string[] = [];

    if (!candidates.length) {
      if (owners.length) {
        const why = hidden.length
          ? `the public ${hidden.map((d) => d.version).join(", ")} is never used for an internal name`
          : "no internal repository serves it";
        problems.push(`${name}: internal: reserved for ${owners.map((u) => u.repo.label).join(", ")}; ${why}`);
      }
      return { name, decisions, problems, newest: hidden[0]?.version };
    }

    const nameReasons = this.o.checker.checkName(ecosystem, name, source);
    if (worstVerdict(nameReasons) === "block") {
      for (const c of candidates) decisions.push(decision(c, nameReasons));
      problems.push(`${name}: ${nameReasons.filter((r) => r.verdict === "block").map(formatReason).join("; ")}`);
      return { name, decisions, problems, newest };
    }

    const fits = (version: string) => requirements.every((r) => satisfies(version, r.constraint));
    const current = await this.evaluateAll(candidates, nameReasons);
    decisions.push(...current);
    const pick = candidates.find((c, i) => current[i]!.verdict !== "block" && fits(c.version));
    if (pick) return { name, chosen: pick, decisions, problems, newest };

    // Nothing current will do: look for an older, allowed version in Archive/.
    const unfit = candidates.map((c) => c.version).filter((v) => !fits(v));
    const fromArchive = await this.fromArchive(name, candidates, nameReasons, fits, decisions, unfit);
    if (fromArchive) return { name, chosen: fromArchive, decisions, problems, newest };

    for (const d of decisions.filter((d) => d.verdict === "block" && d.source === source))
      problems.push(`${name} ${d.version}: ${d.reasons.filter((r) => r.verdict === "block").map(formatReason).join("; ")}`);
    const allowed = decisions.filter((d) => d.verdict !== "block").map((d) => d.version);
    for (const r of requirements.filter((r) => unfit.some((v) => !satisfies(v, r.constraint))))
      problems.push(
        `${name}: ${r.from} needs ${name} (${formatConstraint(r.constraint)})${allowed.length ? `, but the policy allows only ${allowed.join(", ")}` : ""}`,
      );
    if (!problems.length) problems.push(`${name}: no version passes the policy`);
    return { name, decisions, problems, newest };
  }

  /** Internal records (all internal repositories) or public ones, newest first. */
  private async candidates(name: string): Promise<{ owners: CranUpstream[]; candidates: PackageRecord[]; hidden: VersionDecision[] }> {
    const internal = await Promise.all(this.o.internal.map(async (u) => ({ u, recs: (await u.index()).get(name) ?? [] })));
    // A name an internal repository lists, reserves by pattern, or listed in any earlier session.
    const owners = internal
      .filter(({ u, recs }) => recs.length > 0 || u.repo.patterns.some((p) => nameMatchesPattern(name, p)) || u.knownNames().has(name))
      .map(({ u }) => u);
    if (!owners.length) return { owners, candidates: (await this.o.public.index()).get(name) ?? [], hidden: [] };

    const candidates = internal.flatMap(({ recs }) => recs).sort((a, b) => compareRVersions(b.version, a.version));
    // The public index is read only to report what was shadowed; it is not needed to serve.
    const publicRecs = await this.o.public.index().then(
      (idx) => idx.get(name) ?? [],
      () => [],
    );
    const hidden = publicRecs.map((r) =>
      decision(r, [
        {
          check: "internal",
          verdict: "block",
          message: `${name} belongs to the internal repository ${owners[0]!.repo.label}; the public copy is never served`,
        },
      ]),
    );
    return { owners, candidates, hidden };
  }

  private needsAge(rec: PackageRecord): boolean {
    return rec.repo.source === "public" ? !this.o.publicAgeFromSnapshot : this.o.policy.internalAge === "enforce";
  }

  /**
   * Age, then the shared checks, for releases of one name; one checkReleases call for the lot
   * (one OSV lookup). Verdicts are cached per release, so re-selecting under a new requirement
   * costs nothing.
   */
  private async evaluateAll(recs: PackageRecord[], nameReasons: Reason[]): Promise<VersionDecision[]> {
    const keyOf = (r: PackageRecord) => `${r.repo.url}\n${r.path}\n${r.name}\n${r.version}`;
    const todo = recs.filter((r) => !this.verdicts.has(keyOf(r)));
    if (todo.length) {
      const batch = this.evaluateBatch(todo, nameReasons);
      todo.forEach((r, i) => {
        const p = batch.then((list) => list[i]!);
        p.catch(() => this.verdicts.delete(keyOf(r)));
        this.verdicts.set(keyOf(r), p);
      });
    }
    return Promise.all(recs.map((r) => this.verdicts.get(keyOf(r))!));
  }

  private async evaluateBatch(recs: PackageRecord[], nameReasons: Reason[]): Promise<VersionDecision[]> {
    const now = this.o.now();
    const ageOf = await Promise.all(
      recs.map(async (rec): Promise<Reason[]> => {
        if (rec.refused) return [{ check: "source", verdict: "block", message: rec.refused }];
        if (!this.needsAge(rec)) return [];
        let published = rec.published;
        if (!published && rec.path === "") {
          // PACKAGES rarely carries Date/Publication; the tarball's DESCRIPTION does (CRAN adds it).
          try {
            const fields = await upstreamOf(this.upstreams, rec).description(rec);
            published = parsePublication(fields["Date/Publication"]);
            rec.published = published;
            rec.fields = { ...fields, ...rec.fields };
          } catch (err) {
            if (err instanceof SafePipError) throw err;
            return [{ check: "source", verdict: "block", message: describeError(err) }];
          }
        }
        return ageReasons(published, this.o.policy, now);
      }),
    );
    const infos: ReleaseInfo[] = recs.map((r) => ({
      ecosystem: r.repo.ecosystem,
      name: r.name,
      version: r.version,
      source: r.repo.source,
      license: r.fields.License,
    }));
    const checked = await this.o.checker.checkReleases(infos);
    return recs.map((r, i) => {
      const shared = checked.get(r.version) ?? [];
      // The licence rule reads CRAN's License field, as the pip side reads core metadata; it is
      // applied here unless the checker already reported on the licence itself.
      const license = shared.some((x) => x.check === "license")
        ? []
        : checkLicense(licenseFromCran(r.fields.License), this.o.policy.licenses, this.o.policy.unknownLicense);
      return decision(r, [...nameReasons, ...ageOf[i]!, ...shared, ...license]);
    });
  }

  private async fromArchive(
    name: string,
    current: PackageRecord[],
    nameReasons: Reason[],
    fits: (version: string) => boolean,
    decisions: VersionDecision[],
    unfit: string[],
  ): Promise<PackageRecord | undefined> {
    const repos = [...new Map(current.map((c) => [c.repo.url, upstreamOf(this.upstreams, c)])).values()];
    const seen = new Set(current.map((c) => c.version));
    const entries: Array<{ up: CranUpstream; version: string; file: string }> = [];
    for (const up of repos)
      for (const e of await up.archive(name)) {
        if (seen.has(e.version) || compareRVersions(e.version, current[0]!.version) >= 0) continue;
        seen.add(e.version);
        if (fits(e.version)) entries.push({ up, ...e });
        else unfit.push(e.version);
      }
    entries.sort((a, b) => compareRVersions(b.version, a.version));
    if (!entries.length) return undefined;

    // Versions the checks block whatever their licence (an advisory, a deny entry) need no
    // tarball read: ask once for all of them before opening any.
    const pre = await this.o.checker.checkReleases(
      entries.map((e) => ({ ecosystem: e.up.repo.ecosystem, name, version: e.version, source: e.up.repo.source })),
    );
    let tries = 0;
    for (const e of entries) {
      const early = (pre.get(e.version) ?? []).filter((r) => r.verdict === "block" && r.check !== "license");
      if (early.length) {
        decisions.push({ name, version: e.version, source: e.up.repo.source, repo: e.up.repo.label, verdict: "block", reasons: early });
        continue;
      }
      if (tries++ >= this.o.maxArchiveTries) break;
      const rec = await this.archivedRecord(e.up, name, e.version, e.file);
      if (rec instanceof Error) {
        decisions.push({
          name,
          version: e.version,
          source: e.up.repo.source,
          repo: e.up.repo.label,
          verdict: "block",
          reasons: [{ check: "source", verdict: "block", message: rec.message }],
        });
        continue;
      }
      const [d] = await this.evaluateAll([rec], nameReasons);
      decisions.push(d!);
      if (d!.verdict !== "block") return rec;
    }
    return undefined;
  }

  private archivedRecord(up: CranUpstream, name: string, version: string, file: string): Promise<PackageRecord | Error> {
    const key = `${up.repo.url}\n${name}\n${version}`;
    let p = this.archived.get(key);
    if (!p) {
      p = up.archivedRecord(name, version, file).catch((err: unknown) => {
        if (err instanceof SafePipError) {
          this.archived.delete(key);
          throw err;
        }
        return err instanceof Error ? err : new Error(describeError(err));
      });
      this.archived.set(key, p);
    }
    return p;
  }
}

function decision(r: PackageRecord, reasons: Reason[]): VersionDecision {
  return { name: r.name, version: r.version, source: r.repo.source, repo: r.repo.label, verdict: worstVerdict(reasons), reasons };
}
