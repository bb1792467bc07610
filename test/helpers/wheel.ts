/**
 * Builds small but valid pure-Python wheels in memory, so tests can feed real pip without
 * network access or the Python `wheel` package (which is not installed here).
 *
 * Layout follows the binary distribution format spec: the package, then
 * `{dist}-{ver}.dist-info/{METADATA,WHEEL,RECORD}` with RECORD last, since pip and `wheel`
 * expect the dist-info files at the end of the archive.
 */
import { createHash } from "node:crypto";
import { zipFiles } from "./zip.js";

export interface WheelSpec {
  name: string;
  version: string;
  /** `Requires-Dist` values, e.g. `"b>=1"`, `"c; extra == 'x'"`. */
  requires?: string[];
  requiresPython?: string;
  license?: string;
  /** SPDX expression (core metadata 2.4); its presence bumps Metadata-Version to 2.4. */
  licenseExpression?: string;
  classifiers?: string[];
  summary?: string;
  /** `{python tag}-{abi tag}-{platform tag}`; default `py3-none-any`. */
  tag?: string;
  /** Extra files by path inside the wheel; may replace the default `{importname}/__init__.py`. */
  files?: Record<string, string>;
}

export interface BuiltWheel {
  filename: string;
  data: Buffer;
  /** Hex sha256 of `data`, as an index advertises it. */
  sha256: string;
  /** The METADATA file's text, which an index serves as the PEP 658 `.metadata` file. */
  metadata: string;
}

/** Wheel filenames and dist-info directories write each run of `-_.` as `_` (so the name has no `-`). */
export function wheelDistName(name: string): string {
  return name.replace(/[-_.]+/g, "_");
}

/** The module the default wheel installs: the project name as a Python identifier. */
export function importName(name: string): string {
  const id = name.toLowerCase().replace(/[^a-z0-9_]+/g, "_");
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** RECORD's hash form: `sha256=` + urlsafe base64 without padding. */
function recordHash(data: Buffer): string {
  return "sha256=" + createHash("sha256").update(data).digest("base64url");
}

/** RECORD is CSV; quote a path only if it needs it. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function buildMetadata(spec: WheelSpec): string {
  const lines = [
    `Metadata-Version: ${spec.licenseExpression !== undefined ? "2.4" : "2.1"}`,
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
  ];
  if (spec.summary !== undefined) lines.push(`Summary: ${spec.summary}`);
  if (spec.license !== undefined) lines.push(`License: ${spec.license}`);
  if (spec.licenseExpression !== undefined) lines.push(`License-Expression: ${spec.licenseExpression}`);
  for (const c of spec.classifiers ?? []) lines.push(`Classifier: ${c}`);
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const r of spec.requires ?? []) lines.push(`Requires-Dist: ${r}`);
  return lines.join("\n") + "\n";
}

export function buildWheel(spec: WheelSpec): BuiltWheel {
  const tag = spec.tag ?? "py3-none-any";
  const tagParts = tag.split("-");
  const [py, abi, plat] = tagParts;
  if (tagParts.length !== 3 || !py || !abi || !plat) throw new Error(`buildWheel: bad tag ${tag}`);
  const dist = wheelDistName(spec.name);
  const distInfo = `${dist}-${spec.version}.dist-info`;

  // Compressed tag sets (`py2.py3-none-any`) expand to one `Tag:` line per combination.
  const tagLines: string[] = [];
  for (const p of py.split("."))
    for (const a of abi.split("."))
      for (const pl of plat.split(".")) tagLines.push(`Tag: ${p}-${a}-${pl}`);
  const wheelFile = [
    "Wheel-Version: 1.0",
    "Generator: safe-pip-tests (0.1)",
    // A platform wheel goes to platlib; only matters for --target/venv layout realism.
    `Root-Is-Purelib: ${plat === "any" ? "true" : "false"}`,
    ...tagLines,
  ].join("\n") + "\n";

  const metadata = buildMetadata(spec);
  const payload: Record<string, string> = {
    [`${importName(spec.name)}/__init__.py`]: `__version__ = ${JSON.stringify(spec.version)}\n`,
    ...spec.files,
  };
  const entries: Array<{ name: string; data: Buffer }> = [
    ...Object.entries(payload).map(([name, text]) => ({ name, data: Buffer.from(text, "utf8") })),
    { name: `${distInfo}/METADATA`, data: Buffer.from(metadata, "utf8") },
    { name: `${distInfo}/WHEEL`, data: Buffer.from(wheelFile, "utf8") },
  ];
  const record =
    entries.map((e) => `${csvField(e.name)},${recordHash(e.data)},${e.data.length}`).join("\n") +
    `\n${distInfo}/RECORD,,\n`;
  entries.push({ name: `${distInfo}/RECORD`, data: Buffer.from(record, "utf8") });

  const data = zipFiles(entries);
  return { filename: `${dist}-${spec.version}-${tag}.whl`, data, sha256: sha256Hex(data), metadata };
}
