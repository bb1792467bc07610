import { maxSatisfying, valid } from "@renovatebot/pep440";
import { SafePipError, describeError, usageError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { normalizeName } from "../core/names.js";
import { redactUrl } from "../core/redact.js";
import { createChecker } from "../checks/checker.js";
import { worstVerdict, type Reason, type Verdict } from "../checks/types.js";
import type { ReleaseChecker } from "../checks/release.js";
import { UnifiedIndex } from "../index/server.js";
import { compareVersions, type ProjectDecision } from "../index/project.js";
import { classifyRequirement } from "../pip/requirement.js";
import { loadPolicy } from "../policy/load.js";
import type { Policy } from "../policy/schema.js";
import { checkLicense, licenseFromMetadata } from "../checks/license.js";
import { Printer } from "../report/printer.js";
import type { CommandContext } from "./context.js";

export interface Explanation {
  /** The requirement as given, so scripts can match each row to what they asked about. */
  requested: string;
  name: string;
  /** The version that would be chosen; for a blocked pin (`jinja2==2.10`), the pinned version. */
  version: string | null;
  verdict: Verdict;
  reasons: Array<{ check: string; message: string; id?: string }>;
}

/** The specifier part of a PEP 508 requirement (markers and extras dropped). */
function specifierOf(text: string, name: string): string {
  return text
    .slice(text.indexOf(name) + name.length)
    .replace(/^\s*\[[^\]]*\]/, "")
    .split(";")[0]!
    .replace(/[()]/g, "")
    .trim();
}

/** The one version an exact pin (`==2.10`, `===2.10`) asks for; undefined for any other specifier. */
export function pinnedVersion(spec: string): string | undefined {
  const m = /^===?\s*([^\s,;*]+)$/.exec(spec.trim());
  return m?.[1];
}

/** pip's choice among allowed versions: the newest final release that fits, pre-releases only if nothing else does. */
export function chooseVersion(versions: string[], spec: string): string | undefined {
  const validVersions = versions.filter((v) => valid(v));
  const finals = maxSatisfying(validVersions, spec || ">=0", { prereleases: false });
  return finals ?? maxSatisfying(validVersions, spec || ">=0", { prereleases: true }) ?? undefined;
}

/**
 * `safe-pip explain REQ...`: what would be chosen and every rule that applies, without installing.
 * Name-only checks (allow/deny, typosquat) run even offline; checks that could not run are reported
 * as not run, and make the verdict "block" — the install would fail closed too.
 */
export async function explainCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const json = argv.includes("--json");
  const reqs = argv.slice(1).filter((a) => a !== "--json");
  if (reqs.length === 0) throw usageError("safe-pip explain: name at least one requirement", "safe-pip explain requests 'numpy<2' --json");
  const unknownFlag = reqs.find((r) => r.startsWith("-"));
  if (unknownFlag) throw usageError(`safe-pip explain: unknown option ${unknownFlag}`);
  const out = new Printer(ctx);
  const loaded = loadPolicy(ctx.env);
  for (const w of loaded.warnings) out.warn(w);
  const policy = loaded.policy;
  const http = new HttpClient({ timeoutMs: policy.timeoutMs, maxBytes: policy.maxPageBytes });
  try {
    const checker = createChecker({ policy, http, env: ctx.env, printer: out });
    const index = new UnifiedIndex({ policy, http, checker });
    const results = await Promise.all(
      reqs.map(async (r) => ({ requested: r, ...(await explainOne(r, { policy, http, checker, index, cwd: ctx.cwd })) })),
    );
    if (json) ctx.stdout.write(JSON.stringify(results, null, 2) + "\n");
    else for (const r of results) ctx.stdout.write(renderText(r));
    return results.some((r) => r.verdict === "block") ? 65 : 0;
  } finally {
    await http.close();
  }
}

interface ExplainDeps {
  policy: Policy;
  http: HttpClient;
  checker: ReleaseChecker;
  index: UnifiedIndex;
  cwd: string;
}

const strip = (r: Reason) => ({ check: r.check, message: r.message, ...(r.id ? { id: r.id } : {}) });

async function explainOne(text: string, deps: ExplainDeps): Promise<Omit<Explanation, "requested">> {
  let req;
  try {
    req = classifyRequirement(text, deps.cwd);
  } catch (err) {
    if (err instanceof SafePipError) return { name: text, version: null, verdict: "block", reasons: [{ check: "direct", message: err.message }] };
    throw err;
  }
  if (req.kind !== "index") {
    const name = req.kind === "direct" && req.name ? normalizeName(req.name) : text;
    const blocked = req.kind === "direct" && deps.policy.directReferences === "block";
    const message =
      req.kind === "local-project"
        ? "a local project: built from source here, its dependencies go through the unified index"
        : `a direct reference (${req.why}) bypasses the index; directReferences: ${deps.policy.directReferences}`;
    return { name, version: null, verdict: blocked ? "block" : "warn", reasons: [{ check: "direct", message }] };
  }
  const name = normalizeName(req.name);
  const reasons: Reason[] = [];
  let decision: ProjectDecision;
  try {
    decision = (await deps.index.project(name)).decision;
  } catch (err) {
    // The index is out of reach: say what could still be checked from the name alone.
    const nameReasons = deps.checker.checkName("PyPI", name, "public");
    reasons.push(...nameReasons, {
      check: "source",
      verdict: "block",
      message: `not checked (age, osv, license): ${describeError(err)}`,
    });
    return { name, version: null, verdict: "block", reasons: reasons.map(strip) };
  }
  reasons.push({ check: "internal", verdict: "allow", message: decision.source === "internal" ? `internal index only (${decision.why})` : `from the public index ${decision.upstream}` });
  reasons.push(...decision.nameReasons);
  if (decision.status === "not-found") {
    reasons.push({ check: "source", verdict: "block", message: decision.source === "internal" ? `${decision.why}, which does not have it` : "no such project on the index" });
    return { name, version: null, verdict: "block", reasons: reasons.map(strip) };
  }
  const spec = specifierOf(req.text, req.name);
  const served = decision.versions.filter((v) => v.served).map((v) => v.version);
  const chosen = decision.status === "ok" ? chooseVersion(served, spec) : undefined;
  const newerHidden = decision.versions
    .filter((v) => !v.served && !v.yanked && (!chosen || compareVersions(v.version, chosen) > 0) && (spec === "" || chooseVersion([v.version], spec)))
    .sort((a, b) => compareVersions(b.version, a.version));
  // Newer versions the policy hid explain the choice; they do not change its verdict.
  const holdbacks: Reason[] = newerHidden
    .slice(0, 5)
    .flatMap((v) => v.reasons.filter((x) => x.verdict === "block").map((r) => ({ ...r, message: `${v.version} hidden: ${r.message}` })));
  if (!chosen) {
    if (decision.status === "ok") reasons.push({ check: "source", verdict: "block", message: `no allowed version satisfies "${spec || "any"}"` });
    return { name, version: pinnedVersion(spec) ?? null, verdict: "block", reasons: [...reasons, ...holdbacks].map(strip) };
  }
  const chosenDecision = decision.versions.find((v) => v.version === chosen)!;
  reasons.push(...chosenDecision.reasons);
  if (deps.policy.licenses.allow || deps.policy.licenses.deny.length) {
    try {
      const meta = await deps.index.coreMetadata(name, chosen);
      reasons.push(...checkLicense(meta === undefined ? undefined : licenseFromMetadata(meta), deps.policy.licenses, deps.policy.unknownLicense));
    } catch (err) {
      reasons.push({ check: "license", verdict: "block", message: `not checked: ${describeError(err)}` });
    }
  }
  return { name, version: chosen, verdict: worstVerdict(reasons), reasons: [...reasons, ...holdbacks].map(strip) };
}

function renderText(r: Explanation): string {
  const head = `${r.name} ${r.version ?? "(none)"}: ${r.verdict}`;
  const lines = r.reasons.map((x) => `  ${x.check}: ${x.id && !x.message.includes(x.id) ? `${x.id} ` : ""}${redactUrl(x.message)}`);
  return [head, ...lines].join("\n") + "\n";
}
