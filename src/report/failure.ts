import { SafePipError } from "../core/errors.js";
import { normalizeName } from "../core/names.js";
import type { ProjectDecision } from "../index/project.js";
import type { IndexIncident } from "../index/server.js";
import { blockedDetail } from "./summary.js";

/** Names pip says it could not satisfy, or that take part in a conflict it reports. */
export function namesPipCouldNotSatisfy(stderr: string): string[] {
  const names = new Set<string>();
  const patterns = [
    /Could not find a version that satisfies the requirement ([A-Za-z0-9][A-Za-z0-9._-]*)/g,
    /No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)/g,
    /The user requested ([A-Za-z0-9][A-Za-z0-9._-]*)/g,
    /depends on ([A-Za-z0-9][A-Za-z0-9._-]*)/g,
  ];
  for (const re of patterns) for (const m of stderr.matchAll(re)) names.add(normalizeName(m[1]!));
  return [...names];
}

/** The requirement pip could not satisfy for a project, as pip printed it ("numpy>=2.5"). */
function requirementFor(stderr: string, name: string): string | undefined {
  for (const m of stderr.matchAll(/Could not find a version that satisfies the requirement (\S+)/g)) {
    const req = m[1]!;
    const head = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(req)?.[0];
    if (head && normalizeName(head) === name) return req;
  }
  return undefined;
}

/**
 * After pip failed through our index, decides whether the policy (or an unreachable source) is
 * the reason, so the user gets the rule that stopped them instead of pip's "no matching
 * distribution". Returns undefined when pip failed for its own reasons.
 */
export function attributeFailure(stderr: string, decisions: Map<string, ProjectDecision>, incidents: IndexIncident[]): SafePipError | undefined {
  // The guard inside pip (shims/python/sitecustomize.py) refused a URL dependency of a build.
  const guarded = /safe-pip: blocked direct reference: (.*)$/m.exec(stderr);
  if (guarded) {
    return new SafePipError("BLOCKED", `blocked: ${guarded[1]!.trim()}`, {
      hint: 'direct references are blocked by policy ("directReferences": "block"); publish the package to an internal index instead',
    });
  }
  const refused = incidents.filter((i) => i.kind === "refused");
  if (refused.length) {
    return new SafePipError("BLOCKED", `blocked: ${refused[0]!.message}`, {
      hint: "a file's contents contradicted what its index declared; report it to the index's owners",
    });
  }
  const direct = incidents.filter((i) => i.kind === "direct-access");
  if (direct.length) {
    return new SafePipError("BLOCKED", `blocked: ${direct[0]!.message} (directReferences: block)`, {
      hint: "a requirement or one of its dependencies points at a URL; the policy allows only the unified index",
    });
  }
  const upstream = incidents.filter((i) => i.kind === "upstream" || i.kind === "file");
  if (upstream.length) return new SafePipError("UNAVAILABLE", upstream[0]!.message);

  const blocked: string[] = [];
  const detail: string[] = [];
  for (const name of namesPipCouldNotSatisfy(stderr)) {
    const d = decisions.get(name);
    if (!d) continue;
    if (d.status === "not-found" && d.source === "internal") {
      blocked.push(name);
      detail.push(`${name} is ${d.why}, which does not have it; the public index is never asked for it`);
      continue;
    }
    const lines = blockedDetail(d);
    if (lines.length) {
      blocked.push(name);
      detail.push(...lines);
      const wanted = requirementFor(stderr, name);
      detail.push(wanted ? `no other version satisfies ${wanted}` : `no other version of ${name} is allowed`);
    }
  }
  if (!blocked.length) return undefined;
  return new SafePipError("BLOCKED", `blocked by policy: no allowed version of ${blocked.join(", ")} satisfies the request`, {
    detail,
    hint: "`safe-pip explain <requirement>` shows every rule that applies",
  });
}
