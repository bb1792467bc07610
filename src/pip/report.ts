import { readFileSync } from "node:fs";
import { SafePipError } from "../core/errors.js";
import { normalizeName } from "../core/names.js";

/** One entry of pip's installation report (format "1"), reduced to what safe-pip uses. */
export interface ReportItem {
  name: string;
  version: string;
  url: string;
  sha256?: string | undefined;
  isDirect: boolean;
  editable: boolean;
  /** A local directory (a project path the user gave), not an archive or VCS checkout. */
  localDir: boolean;
  requested: boolean;
  requires: string[];
  /** The licence fields of the metadata, as METADATA-style lines for the licence check. */
  licenseText: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});

export function readInstallReport(path: string): ReportItem[] {
  let doc: Json;
  try {
    doc = obj(JSON.parse(readFileSync(path, "utf8")));
  } catch (err) {
    throw new SafePipError("INTERNAL", `pip's installation report ${path} could not be read: ${(err as Error).message}`);
  }
  // pip 22.2–22.3 write format "0" (then experimental); 23.0 declared the same layout stable as "1".
  if (doc.version !== "1" && doc.version !== "0") throw new SafePipError("INTERNAL", `pip wrote an installation report of unknown format ${String(doc.version)}`);
  const install = Array.isArray(doc.install) ? doc.install : [];
  return install.map((raw) => {
    const item = obj(raw);
    const meta = obj(item.metadata);
    const info = obj(item.download_info);
    const archive = obj(info.archive_info);
    const hashes = obj(archive.hashes);
    const dir = info.dir_info === undefined ? undefined : obj(info.dir_info);
    const legacyHash = typeof archive.hash === "string" && archive.hash.startsWith("sha256=") ? archive.hash.slice(7) : undefined;
    return {
      name: normalizeName(String(meta.name ?? "")),
      version: String(meta.version ?? ""),
      url: String(info.url ?? ""),
      sha256: typeof hashes.sha256 === "string" ? hashes.sha256 : legacyHash,
      isDirect: item.is_direct === true,
      editable: dir?.editable === true,
      localDir: dir !== undefined,
      requested: item.requested === true,
      requires: Array.isArray(meta.requires_dist) ? meta.requires_dist.map(String) : [],
      licenseText: [
        ...(typeof meta.license_expression === "string" ? [`License-Expression: ${meta.license_expression}`] : []),
        ...(typeof meta.license === "string" ? [`License: ${meta.license.split("\n")[0]}`] : []),
        ...(Array.isArray(meta.classifier) ? meta.classifier.map((c) => `Classifier: ${String(c)}`) : []),
      ].join("\n"),
    };
  });
}
