import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { usageError } from "../core/errors.js";
import { normalizeName } from "../core/names.js";

/**
 * What one requirement string asks pip to fetch. Only "index" requirements go through the unified
 * index; everything else would make pip fetch from somewhere safe-pip does not control.
 */
export type Requirement =
  | { kind: "index"; name: string; text: string }
  | { kind: "direct"; name?: string | undefined; location: string; text: string; why: string }
  | { kind: "local-project"; path: string; text: string };

const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$/s;
const VERSION_CLAUSE = String.raw`\s*(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+\s*`;
const SPECIFIER = new RegExp(String.raw`^(?:\(?${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*\)?)?\s*(?:;.*)?$`, "s");
const VCS = /^(git|hg|svn|bzr)\+/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
const ARCHIVE = /\.(whl|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar|zip)$/i;

function looksLikePath(text: string): boolean {
  return text.startsWith(".") || text.startsWith("/") || text.startsWith("~") || text.includes("/") || text.includes("\\");
}

/** Classifies a requirement as pip would read it (PEP 508, URL, VCS, path), from `cwd`. */
export function classifyRequirement(raw: string, cwd: string, editable = false): Requirement {
  const text = raw.trim();
  if (text === "") throw usageError("empty requirement");
  if (/[^\x20-\x7e]/.test(text))
    throw usageError(`invalid requirement "${text}": package names are ASCII only (look-alike characters?)`);
  if (VCS.test(text)) return { kind: "direct", location: text, text, why: "a version-control URL" };
  if (URL_LIKE.test(text)) {
    return { kind: "direct", location: text, text, why: text.toLowerCase().startsWith("file:") ? "a local file URL" : "a URL" };
  }
  if (text.startsWith("-")) throw usageError(`invalid requirement "${text}": looks like an option`);
  const named = NAME.exec(text);
  if (named && named[3]!.startsWith("@")) {
    const location = named[3]!.slice(1).split(";")[0]!.trim();
    return { kind: "direct", name: named[1]!, location, text, why: VCS.test(location) ? "a version-control URL" : "a direct URL" };
  }
  const pathish = looksLikePath(text) || ARCHIVE.test(text.split(/[\s;[]/)[0] ?? "");
  if (pathish || editable) {
    const p = resolve(cwd, text.replace(/^~(?=\/|$)/, process.env.HOME ?? "~"));
    if (existsSync(p) && statSync(p).isDirectory()) return { kind: "local-project", path: p, text };
    if (ARCHIVE.test(text) || (pathish && existsSync(p))) return { kind: "direct", location: text, text, why: "a local archive" };
    if (pathish) throw usageError(`invalid requirement "${text}": no such file or directory`);
  }
  if (!named) throw usageError(`invalid requirement "${text}": not a package name`);
  const name = named[1]!;
  const rest = named[3]!;
  if (!SPECIFIER.test(rest)) throw usageError(`invalid requirement "${text}": cannot read the version specifier "${rest.trim()}"`);
  return { kind: "index", name, text };
}

export function requirementName(req: Requirement): string | undefined {
  return req.kind === "index" ? normalizeName(req.name) : req.kind === "direct" && req.name ? normalizeName(req.name) : undefined;
}
