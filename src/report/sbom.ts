/**
 * A CycloneDX 1.5 SBOM of exactly what an install put in place, built from pip's installation
 * report (the set that was shown and then installed with --no-deps), for a security team's
 * inventory: purls, sha256 hashes, licences from the metadata, the source index (redacted).
 */
import { randomUUID } from "node:crypto";
import { licenseFromMetadata } from "../checks/license.js";
import { normalizeName } from "../core/names.js";
import { redactUrl } from "../core/redact.js";
import type { ReportItem } from "../pip/report.js";

export interface SbomPackage {
  item: ReportItem;
  /** Where it came from: internal, public, local or direct. */
  source: string;
  /** The upstream index that served it, already redacted (undefined for local or direct). */
  index?: string | undefined;
  /** Core metadata text, when the index has it (better licence fields than pip's report). */
  metadata?: string | undefined;
}

export function purl(name: string, version: string): string {
  return `pkg:pypi/${encodeURIComponent(normalizeName(name))}@${encodeURIComponent(version)}`;
}

/** The Requires-Dist names that are in the installed set (extras-only requirements are not). */
function dependsOn(item: ReportItem, installed: Map<string, string>): string[] {
  const refs = new Set<string>();
  for (const req of item.requires) {
    if (/;\s*.*\bextra\s*==/.test(req)) continue;
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(req);
    const ref = m ? installed.get(normalizeName(m[1]!)) : undefined;
    if (ref) refs.add(ref);
  }
  return [...refs].sort();
}

export function buildSbom(packages: readonly SbomPackage[], tool: { version: string }, now = new Date()): Record<string, unknown> {
  const installed = new Map(packages.map((p) => [p.item.name, purl(p.item.name, p.item.version)]));
  const components = packages.map(({ item, source, index, metadata }) => {
    const ref = purl(item.name, item.version);
    const info = (metadata !== undefined ? licenseFromMetadata(metadata) : undefined) ?? licenseFromMetadata(item.licenseText);
    const component: Record<string, unknown> = { type: "library", "bom-ref": ref, name: item.name, version: item.version, purl: ref };
    if (item.sha256) component.hashes = [{ alg: "SHA-256", content: item.sha256 }];
    if (info) component.licenses = info.from === "License-Expression" ? [{ expression: info.expression }] : [{ license: { name: info.expression } }];
    const refs: Array<{ type: string; url: string }> = [];
    if (index) refs.push({ type: "distribution", url: index });
    if (source === "direct" && item.url) refs.push({ type: "distribution", url: redactUrl(item.url) });
    if (refs.length) component.externalReferences = refs;
    component.properties = [{ name: "safe-pip:source", value: source }];
    return component;
  });
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: now.toISOString(),
      tools: { components: [{ type: "application", name: "safe-pip", version: tool.version }] },
    },
    components,
    dependencies: packages.map(({ item }) => ({ ref: installed.get(item.name)!, dependsOn: dependsOn(item, installed) })),
  };
}
