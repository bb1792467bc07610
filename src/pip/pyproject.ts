import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { usageError } from "../core/errors.js";
import { normalizeName } from "../core/names.js";
import { isPylockName } from "./pylock.js";
import { isTable, readTomlFile, stringList } from "./toml.js";

/** A requirement string read from a TOML input, with where it was found (for messages). */
export interface TomlRequirement {
  text: string;
  where: string;
}

/**
 * `--group [PATH:]NAME` as pip 25.1+ reads it: split on the last ":" (group names can't hold
 * one), PATH defaults to ./pyproject.toml and must name a file called pyproject.toml. pip 26.3
 * also takes a pylock.toml there; its groups select lock entries by marker, which safe-pip
 * can't judge yet, so that is refused rather than passed to pip unread.
 */
export function splitGroupOption(value: string, cwd: string): { file: string; group: string } {
  const colon = value.lastIndexOf(":");
  const path = colon >= 0 ? value.slice(0, colon) : "pyproject.toml";
  const group = colon >= 0 ? value.slice(colon + 1) : value;
  if (group.trim() === "") throw usageError(`--group ${JSON.stringify(value)}: no group name`);
  if (isPylockName(path.replace(/\[[^\]]*\]$/, ""))) throw usageError(`--group ${JSON.stringify(value)}: dependency groups of a pylock.toml are not supported by safe-pip yet`);
  if (basename(path) !== "pyproject.toml") throw usageError(`--group ${JSON.stringify(value)}: group paths must name a pyproject.toml file`);
  return { file: resolve(cwd, path), group };
}

/**
 * The requirements of one PEP 735 dependency group, `{include-group = "…"}` entries expanded.
 * Group names compare normalised (PEP 735); an unknown group, a cycle or an entry that is neither
 * a string nor an include table is an error, as it is for pip.
 */
export async function dependencyGroup(file: string, group: string, origin: string): Promise<TomlRequirement[]> {
  const doc = await readTomlFile(file, origin);
  const raw = doc["dependency-groups"];
  if (raw !== undefined && !isTable(raw)) throw usageError(`${file}: [dependency-groups] must be a table`);
  const groups = new Map<string, { name: string; entries: unknown }>();
  for (const [name, entries] of Object.entries(raw ?? {})) {
    const key = normalizeName(name);
    if (groups.has(key)) throw usageError(`${file}: dependency group "${name}" is defined twice (names are compared normalised)`);
    groups.set(key, { name, entries });
  }
  const out: TomlRequirement[] = [];
  const expand = (name: string, stack: string[]): void => {
    const key = normalizeName(name);
    const g = groups.get(key);
    if (!g) throw usageError(`${file}: no dependency group "${name}"${stack.length ? ` (included from "${stack[stack.length - 1]}")` : ""}`);
    if (stack.includes(key)) throw usageError(`${file}: dependency group "${name}" includes itself (${[...stack, key].join(" -> ")})`);
    if (!Array.isArray(g.entries)) throw usageError(`${file}: dependency group "${g.name}" must be a list`);
    for (const entry of g.entries) {
      if (typeof entry === "string") out.push({ text: entry, where: `${file} [dependency-groups] ${g.name}` });
      else if (isTable(entry) && Object.keys(entry).length === 1 && typeof entry["include-group"] === "string") expand(entry["include-group"], [...stack, key]);
      else throw usageError(`${file}: dependency group "${g.name}" holds an entry that is neither a requirement nor {include-group = "…"}`);
    }
  };
  expand(group, []);
  return out;
}

/**
 * What a local project asks pip to install besides itself, read statically from its
 * pyproject.toml: `[build-system] requires` (installed into the build environment) and
 * `[project] dependencies` plus the `optional-dependencies` of the extras asked for. Dependencies
 * a build backend computes (`dynamic`, setup.py) can't be read without running code, so they are
 * not here; pip reports them after resolution, where safe-pip checks them again.
 */
export async function localProjectRequirements(dir: string, extras: string[], origin: string): Promise<TomlRequirement[]> {
  const file = join(dir, "pyproject.toml");
  if (!existsSync(file)) return [];
  const doc = await readTomlFile(file, origin);
  const out: TomlRequirement[] = [];
  const build = doc["build-system"];
  if (build !== undefined) {
    if (!isTable(build)) throw usageError(`${file}: [build-system] must be a table`);
    for (const text of stringList(build.requires, file, "[build-system] requires")) out.push({ text, where: `${file} [build-system] requires` });
  }
  const project = doc.project;
  if (project !== undefined) {
    if (!isTable(project)) throw usageError(`${file}: [project] must be a table`);
    for (const text of stringList(project.dependencies, file, "[project] dependencies")) out.push({ text, where: `${file} [project] dependencies` });
    const optional = project["optional-dependencies"];
    if (optional !== undefined && !isTable(optional)) throw usageError(`${file}: [project.optional-dependencies] must be a table`);
    const wanted = new Set(extras.map(normalizeName));
    for (const [extra, list] of Object.entries(optional ?? {})) {
      if (!wanted.has(normalizeName(extra))) continue;
      for (const text of stringList(list, file, `[project.optional-dependencies] ${extra}`)) out.push({ text, where: `${file} [project.optional-dependencies] ${extra}` });
    }
  }
  return out;
}
