import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { SafePipError, usageError } from "../core/errors.js";
import { normalizeName } from "../core/names.js";

/**
 * What one requirement string asks pip to fetch. Only "index" requirements go through the unified
 * index; everything else would make pip fetch from somewhere safe-pip does not control.
 */
export type Requirement =
  | { kind: "index"; name: string; text: string }
  | { kind: "direct"; name?: string | undefined; location: string; text: string; why: string }
  | { kind: "local-project"; path: string; text: string; extras?: string[] | undefined };

// Extras are PEP 508 names separated by commas (pip reads nothing else between the brackets).
const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[\s*(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:,\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*)*)?\])?\s*(.*)$/s;
const VERSION_CLAUSE = String.raw`\s*(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+\s*`;
const SPECIFIER = new RegExp(String.raw`^(?:\(?${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*\)?)?\s*(?:;.*)?$`, "s");
const VCS = /^(git|hg|svn|bzr)\+/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
// pip's ARCHIVE_EXTENSIONS (pip/_internal/utils/filetypes.py, the same in pip 22.2 to 26.3): zip
// and wheel, bzip2, gzip, plain tar, and every xz/lzma spelling. pip unpacks and builds a file
// whose name ends in any of these, so it is a local archive, never a project name.
const ARCHIVE = /\.(whl|zip|tar\.bz2|tbz|tar\.gz|tgz|tar|tar\.xz|txz|tlz|tar\.lz|tar\.lzma)$/i;
/** pip's _strip_extras: a path may end in `[extra,…]`, naming extras of the project there. */
const PATH_EXTRAS = /^(.+)(\[[^\]]+\])$/s;
const EXTRA_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

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
    const withExtras = PATH_EXTRAS.exec(text);
    if (withExtras) {
      const dir = resolve(cwd, withExtras[1]!.replace(/^~(?=\/|$)/, process.env.HOME ?? "~"));
      if (existsSync(dir) && statSync(dir).isDirectory()) {
        const extras = withExtras[2]!.slice(1, -1).split(",").map((e) => e.trim()).filter(Boolean);
        if (!extras.every((e) => EXTRA_NAME.test(e))) throw usageError(`invalid requirement "${text}": cannot read the extras ${withExtras[2]}`);
        return { kind: "local-project", path: dir, text, extras };
      }
      if (ARCHIVE.test(withExtras[1]!)) return { kind: "direct", location: withExtras[1]!, text, why: "a local archive" };
    }
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

/**
 * A PEP 508 requirement string from a TOML input (a dependency group, a PEP 723 script, a
 * pyproject.toml): pip parses these as requirements only, never as paths, so a path or a bare URL
 * is malformed there. The name is kept for `name @ URL`, which stays a direct reference.
 */
export function classifyPep508(raw: string, where: string): Requirement {
  let req: Requirement;
  try {
    // No directory: a relative path must not resolve against anything.
    req = classifyRequirement(raw, "/nonexistent-safe-pip-cwd");
  } catch (err) {
    if (err instanceof SafePipError) throw usageError(`${where}: ${err.message}`);
    throw err;
  }
  if (req.kind === "local-project" || (req.kind === "direct" && !req.name))
    throw usageError(`${where}: invalid requirement "${raw.trim()}": not a PEP 508 requirement (a name, or name @ URL)`);
  return req;
}
