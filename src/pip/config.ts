import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ini from "ini";
import { configError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import type { SourceNote } from "./sources.js";

/**
 * pip's settings from every configuration file it would read and from PIP_* variables, sorted
 * into what safe-pip keeps (exported to pip as PIP_* variables, because the pip it runs reads no
 * configuration file at all), what it takes over for its own upstream requests, what must be
 * walked as requirements/constraints input, and the sources it removes.
 */
export interface PipSettings {
  /** Harmless settings to pass to pip, key (long option name) → value. */
  keep: Map<string, { value: string; origin: string }>;
  proxy?: { value: string; origin: string } | undefined;
  cert?: { value: string; origin: string } | undefined;
  inputs: Array<{ kind: "requirement" | "constraint" | "editable" | "build-constraint"; value: string; origin: string }>;
  notes: SourceNote[];
  /** Configuration files pip would read, for `doctor` and the report. */
  files: string[];
}

/** Settings that change how pip behaves but not where packages come from. */
const KEEP = new Set([
  "timeout",
  "default-timeout",
  "retries",
  "resume-retries",
  "cache-dir",
  "no-cache-dir",
  "disable-pip-version-check",
  "progress-bar",
  "no-color",
  "no-input",
  "exists-action",
  "prefer-binary",
  "only-binary",
  "no-binary",
  "pre",
  "user",
  "no-user",
  "target",
  "prefix",
  "root",
  "src",
  "upgrade",
  "upgrade-strategy",
  "root-user-action",
  "break-system-packages",
  "no-warn-script-location",
  "no-warn-conflicts",
  "compile",
  "no-compile",
  "require-virtualenv",
  "keyring-provider",
  "use-feature",
  "use-deprecated",
  "quiet",
  "verbose",
  "log",
  "no-build-isolation",
  "use-pep517",
  "check-build-dependencies",
  "require-hashes",
  "ignore-requires-python",
  "no-python-version-warning",
  "no-deps",
  "no-clean",
  "uploaded-prior-to",
]);

const SOURCES = new Set(["index-url", "extra-index-url", "find-links", "trusted-host", "no-index", "pypi-url"]);
const INPUTS = new Set(["requirement", "constraint", "editable", "build-constraint"]);
const ALIASES: Record<string, string> = { "default-timeout": "timeout", "pypi-url": "index-url", "no-dependencies": "no-deps" };

function normalizeKey(key: string): string {
  const k = key.trim().toLowerCase().replace(/_/g, "-").replace(/^--/, "");
  return ALIASES[k] ?? k;
}

export interface ConfigFileLocations {
  global: string[];
  user: string[];
  site: string[];
  envFile?: string | undefined;
}

/** The files pip reads, lowest priority first (pip's documented Unix locations). */
export function pipConfigFiles(env: Env, sysPrefix: string | undefined, isolated: boolean): ConfigFileLocations {
  const home = env.HOME ?? "";
  const xdgDirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter(Boolean);
  const global = [...xdgDirs.map((d) => join(d, "pip", "pip.conf")), "/etc/pip.conf"];
  const configFile = env.PIP_CONFIG_FILE;
  if (configFile === "/dev/null") return { global: [], user: [], site: [] };
  const envFile = configFile && existsSync(configFile) ? configFile : undefined;
  const user =
    isolated || envFile
      ? []
      : [join(home, ".pip", "pip.conf"), join(env.XDG_CONFIG_HOME || join(home, ".config"), "pip", "pip.conf")];
  const site = sysPrefix ? [join(sysPrefix, "pip.conf")] : [];
  return { global, user, site, envFile };
}

type Section = Record<string, string>;

function readConfigFile(path: string): Record<string, Section> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw configError(`pip configuration file ${path} cannot be read: ${(err as Error).message}`);
  }
  const parsed = ini.parse(toIniText(text)) as Record<string, unknown>;
  const out: Record<string, Section> = {};
  for (const [name, body] of Object.entries(parsed)) {
    if (typeof body !== "object" || body === null) continue; // keys outside any section: pip ignores them too
    const section: Section = {};
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) section[normalizeKey(k)] = String(v);
    out[name.trim()] = section;
  }
  return out;
}

/**
 * pip reads its files with Python's configparser, which differs from plain INI: `key: value` as
 * well as `key = value`, indented continuation lines (the usual way to list several index URLs),
 * full-line comments only, so `#` and `;` inside a URL survive. We fold the text into one
 * `key = "json string"` line per key, which `ini` then reads back exactly.
 */
export function toIniText(text: string): string {
  const out: string[] = [];
  let current: { key: string; value: string } | undefined;
  const flush = () => {
    if (current) out.push(`${current.key} = ${JSON.stringify(current.value.trim())}`);
    current = undefined;
  };
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    // configparser keeps values going across blank lines (empty_lines_in_values), so only
    // indentation decides what continues a value.
    if (/^\s*$/.test(raw) || /^\s*[#;]/.test(raw)) continue;
    if (/^\s/.test(raw) && current) {
      current.value += `\n${raw.trim()}`;
      continue;
    }
    flush();
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (section) {
      out.push(`[${section[1]!.replace(/[.\\]/g, "_")}]`);
      continue;
    }
    const delim = raw.search(/[=:]/);
    if (delim <= 0) continue; // not a key line: configparser would reject the file; pip then ignores it
    current = { key: raw.slice(0, delim).trim().toLowerCase(), value: raw.slice(delim + 1) };
  }
  flush();
  return out.join("\n") + "\n";
}

/** Splits an append-style value the way pip does (any whitespace, newlines included). */
function splitList(value: string): string[] {
  return value.split(/\s+/).filter(Boolean);
}

export function collectPipSettings(opts: { env: Env; command: string; sysPrefix?: string | undefined; isolated: boolean }): PipSettings {
  const { env, command, isolated } = opts;
  const locations = pipConfigFiles(env, opts.sysPrefix, isolated);
  const files = [...locations.global, ...locations.user, ...locations.site, ...(locations.envFile ? [locations.envFile] : [])].filter((f) =>
    existsSync(f),
  );
  const result: PipSettings = { keep: new Map(), inputs: [], notes: [], files };

  // pip merges sections across all files before applying them, so a [<command>] value in any file
  // beats a [global] value in any file; later files win within the same section.
  const values = new Map<string, { value: string; origin: string }>();
  for (const sectionName of ["global", command]) {
    for (const file of files) {
      const sections = readConfigFile(file);
      const section = sections[sectionName];
      if (!section) continue;
      for (const [key, value] of Object.entries(section)) values.set(key, { value, origin: `${file} [${sectionName}]` });
    }
  }
  // Other commands' sections never apply to this command, but a source there is worth a note.
  for (const file of files) {
    for (const [sectionName, section] of Object.entries(readConfigFile(file))) {
      if (sectionName === "global" || sectionName === command) continue;
      for (const [key, value] of Object.entries(section)) {
        if (SOURCES.has(key)) result.notes.push({ setting: key, value, origin: `${file} [${sectionName}]`, action: "removed" });
      }
    }
  }
  if (!isolated) {
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith("PIP_") || value === undefined || value === "") continue;
      if (name === "PIP_CONFIG_FILE") continue;
      values.set(normalizeKey(name.slice(4)), { value, origin: `environment variable ${name}` });
    }
  }
  if (env.PIP_CONFIG_FILE)
    result.notes.push({ setting: "PIP_CONFIG_FILE", value: env.PIP_CONFIG_FILE, origin: "the environment", action: "dropped" });

  for (const [key, { value, origin }] of values) {
    if (SOURCES.has(key)) {
      for (const v of key === "no-index" ? [value] : splitList(value))
        result.notes.push({ setting: key, value: key === "no-index" ? undefined : v, origin, action: "removed" });
    } else if (INPUTS.has(key)) {
      for (const v of splitList(value)) result.inputs.push({ kind: key as PipSettings["inputs"][number]["kind"], value: v, origin });
    } else if (key === "proxy") {
      result.proxy = { value, origin };
      result.notes.push({ setting: "proxy", value, origin, action: "used-upstream" });
    } else if (key === "cert") {
      result.cert = { value, origin };
    } else if (KEEP.has(key)) {
      result.keep.set(key, { value, origin });
    } else if (key !== "version" && key !== "help") {
      result.notes.push({ setting: key, value, origin, action: "dropped" });
    }
  }
  return result;
}
