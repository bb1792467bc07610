import { basename, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { usageError } from "../core/errors.js";
import { isTable, parseToml, type TomlTable } from "./toml.js";

/**
 * PEP 751 file names, as pip 26.1+ recognises them for `-r`: `pylock.toml` or `pylock.NAME.toml`
 * (case-sensitive, like packaging's is_valid_pylock_path). A URL counts by its last path segment.
 */
export function isPylockName(location: string): boolean {
  const path = /^[a-z][a-z0-9+.-]*:/i.test(location) ? (location.split(/[?#]/)[0] ?? "") : location;
  const name = basename(path);
  return name === "pylock.toml" || /^pylock\.[^.]+\.toml$/.test(name);
}

/** A lock file name with `[extras]` after it (pip 26.3's `-r pylock.toml[x]`). */
export function isPylockWithExtras(location: string): boolean {
  const m = /^(.*)\[[^\]]*\]$/s.exec(location);
  return m !== null && isPylockName(m[1]!);
}

export interface PylockEntry {
  /** A pin (`name==version`, with `--hash` options) or the PEP 508 direct reference the entry stands for. */
  text: string;
  hashes: string[];
  direct: boolean;
  where: string;
}

/** Marker variables a lock uses to select by extra or dependency group, which pip alone evaluates. */
const SELECTOR_MARKER = /\b(extras|dependency_groups)\b/;

function sha256s(list: unknown[]): string[] {
  const out: string[] = [];
  for (const f of list) {
    if (!isTable(f) || !isTable(f.hashes)) continue;
    const h = f.hashes.sha256;
    if (typeof h === "string" && /^[0-9a-f]{64}$/i.test(h)) out.push(h.toLowerCase());
  }
  return out;
}

/**
 * Each `[[packages]]` entry of a lock file, the way pip 26.1+ feeds it to its resolver. An entry
 * from an index (`wheels`/`sdist`) becomes an exact pin resolved through the unified index, with
 * the sha256 of every file the lock names, so the lock's own file URLs are never fetched and the
 * policy still judges the version. An entry whose source is `vcs`, `directory` or `archive`
 * bypasses any index: it is the direct reference it stands for.
 */
export async function pylockEntries(text: string, file: string, baseDir?: string): Promise<PylockEntry[]> {
  const doc = await parseToml(text, file);
  const lockVersion = doc["lock-version"];
  if (typeof lockVersion !== "string" || !/^1(\.|$)/.test(lockVersion))
    throw usageError(`${file}: not a PEP 751 lock file safe-pip can read (lock-version ${JSON.stringify(lockVersion ?? null)})`);
  const packages = doc.packages ?? [];
  if (!Array.isArray(packages)) throw usageError(`${file}: packages must be an array of tables`);
  return packages.map((p: unknown, i): PylockEntry => {
    const where = `${file} packages[${i}]`;
    if (!isTable(p) || typeof p.name !== "string" || !/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(p.name))
      throw usageError(`${where}: an entry without a valid name`);
    const name = p.name;
    let marker = "";
    if (p.marker !== undefined) {
      if (typeof p.marker !== "string") throw usageError(`${where}: marker must be a string`);
      // Selecting by extra or group needs pip's own lock reader; refused rather than guessed.
      if (SELECTOR_MARKER.test(p.marker))
        throw usageError(`${where}: "${name}" is selected by extra or dependency group (${p.marker}), which safe-pip can't read from a lock yet`);
      marker = ` ; ${p.marker}`;
    }
    const sources = (["vcs", "directory", "archive"] as const).filter((k) => p[k] !== undefined);
    if (sources.length > 0) {
      const key = sources[0]!;
      const src = p[key];
      if (!isTable(src)) throw usageError(`${where}: ${key} must be a table`);
      // An archive's hashes stay with it, for a policy that allows direct references.
      return { text: `${name} @ ${sourceUrl(key, src, where, baseDir)}${marker}`, hashes: key === "archive" ? sha256s([src]) : [], direct: true, where };
    }
    if (typeof p.version !== "string" || p.version === "") throw usageError(`${where}: "${name}" has no version, so it can't be pinned`);
    const files: unknown[] = [...(Array.isArray(p.wheels) ? p.wheels : []), ...(p.sdist !== undefined ? [p.sdist] : [])];
    return { text: `${name}==${p.version}${marker}`, hashes: sha256s(files), direct: false, where };
  });
}

function sourceUrl(key: "vcs" | "directory" | "archive", src: TomlTable, where: string, baseDir: string | undefined): string {
  let location: string;
  if (typeof src.url === "string") location = src.url;
  else if (typeof src.path === "string") location = pathToFileURL(baseDir && !isAbsolute(src.path) ? resolve(baseDir, src.path) : resolve(src.path)).href;
  else throw usageError(`${where}: ${key} has neither url nor path`);
  if (key !== "vcs") return location;
  if (typeof src.type !== "string") throw usageError(`${where}: vcs has no type`);
  return `${src.type}+${location}${typeof src["commit-id"] === "string" ? `@${src["commit-id"]}` : ""}`;
}
