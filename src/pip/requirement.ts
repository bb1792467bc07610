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

// Extras are PEP 508 names separated by commas (pip reads nothing else between the brackets).
const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[\s*(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:,\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*)*)?\])?\s*(.*)$/s;
const VERSION_CLAUSE = String.raw`\s*(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+\s*`;
const SPECIFIER = new RegExp(String.raw`^(?:\(?${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*\)?)?\s*(?:;.*)?$`, "s");
const VCS = /^(git|hg|svn|bzr)\+/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
const ARCHIVE = /\.(whl|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar|zip)$/i;

/** PEP 508 marker variables (with the legacy dotted spellings pip still reads) and keywords. */
const MARKER_WORDS = new Set([
  "python_version", "python_full_version", "os_name", "sys_platform", "platform_release", "platform_system",
  "platform_version", "platform_machine", "platform_python_implementation", "implementation_name",
  "implementation_version", "extra", "extras", "dependency_groups", "os.name", "sys.platform", "platform.version",
  "platform.machine", "platform.python_implementation", "python_implementation", "and", "or", "not", "in",
]);
const MARKER_TOKEN = /\s*(?:'[^']*'|"[^"]*"|===|==|!=|<=|>=|~=|<|>|\(|\)|([A-Za-z_][A-Za-z0-9_.]*))\s*/y;

/**
 * Whether text after ";" reads as an environment marker: quoted strings, comparison operators,
 * parentheses, marker variables and and/or/not/in, nothing else. Not a full parse (pip does that);
 * it keeps text such as `curl evil|sh` or `$(id)` from being passed on as a "marker".
 */
function isMarker(text: string): boolean {
  if (text.trim() === "") return false;
  MARKER_TOKEN.lastIndex = 0;
  while (MARKER_TOKEN.lastIndex < text.length) {
    const m = MARKER_TOKEN.exec(text);
    if (!m) return false;
    if (m[1] !== undefined && !MARKER_WORDS.has(m[1])) return false;
  }
  return true;
}

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
  const semi = rest.indexOf(";");
  if (semi !== -1 && !isMarker(rest.slice(semi + 1)))
    throw usageError(`invalid requirement "${text}": cannot read the environment marker "${rest.slice(semi + 1).trim()}"`);
  return { kind: "index", name, text };
}

export function requirementName(req: Requirement): string | undefined {
  return req.kind === "index" ? normalizeName(req.name) : req.kind === "direct" && req.name ? normalizeName(req.name) : undefined;
}
