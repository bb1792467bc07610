import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SafePipError, usageError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import type { HttpClient } from "../core/http.js";
import { redactUrl } from "../core/redact.js";
import type { ParsedOption } from "./argv.js";
import { type OptionSpec } from "./options.js";
import { classifyRequirement, type Requirement } from "./requirement.js";
import { shlexQuote, shlexSplit } from "./shlex.js";
import { isPylockName, isPylockWithExtras, pylockEntries } from "./pylock.js";
import type { SourceNote } from "./sources.js";

/** Options pip accepts on their own line in a requirements or constraints file (pip's SUPPORTED_OPTIONS). */
const LINE_OPTIONS: OptionSpec[] = [
  { name: "index-url", long: ["index-url", "pypi-url"], short: "i", takesValue: true, role: "source" },
  { name: "extra-index-url", long: ["extra-index-url"], takesValue: true, role: "source" },
  { name: "no-index", long: ["no-index"], takesValue: false, role: "source" },
  { name: "find-links", long: ["find-links"], short: "f", takesValue: true, role: "source" },
  { name: "trusted-host", long: ["trusted-host"], takesValue: true, role: "source" },
  { name: "requirement", long: ["requirement"], short: "r", takesValue: true, role: "input" },
  { name: "constraint", long: ["constraint"], short: "c", takesValue: true, role: "input" },
  { name: "editable", long: ["editable"], short: "e", takesValue: true, role: "input" },
  { name: "no-binary", long: ["no-binary"], takesValue: true, role: "keep" },
  { name: "only-binary", long: ["only-binary"], takesValue: true, role: "keep" },
  { name: "prefer-binary", long: ["prefer-binary"], takesValue: false, role: "keep" },
  { name: "require-hashes", long: ["require-hashes"], takesValue: false, role: "keep" },
  { name: "pre", long: ["pre"], takesValue: false, role: "keep" },
  { name: "use-feature", long: ["use-feature"], takesValue: true, role: "keep" },
];

/** Options pip accepts after a requirement on the same line. */
const PER_REQUIREMENT: OptionSpec[] = [
  { name: "hash", long: ["hash"], takesValue: true, role: "keep" },
  { name: "config-settings", long: ["config-settings"], short: "C", takesValue: true, role: "keep" },
  { name: "global-option", long: ["global-option"], takesValue: true, role: "keep" },
];

export interface InputRequirement {
  req: Requirement;
  origin: string;
  editable: boolean;
  /** Came from a constraints file: limits versions, requests nothing. */
  constraint: boolean;
}

/** Everything the requirements and constraints files said, flattened, minus every source. */
export interface FlatInputs {
  requirementLines: string[];
  constraintLines: string[];
  optionLines: string[];
  inputs: InputRequirement[];
  notes: SourceNote[];
}

export function emptyInputs(): FlatInputs {
  return { requirementLines: [], constraintLines: [], optionLines: [], inputs: [], notes: [] };
}

interface Ctx {
  env: Env;
  cwd: string;
  http?: HttpClient | undefined;
  out: FlatInputs;
  seen: Set<string>;
  depth: number;
}

const MAX_DEPTH = 32;

/**
 * Walks a requirements (`-r`) or constraints (`-c`) file and everything it includes, the way pip
 * reads them: `\` continuations, comments, `${VAR}` expansion, option lines, nested files relative
 * to the including file (URL-joined for remote ones). Index and find-links lines at any depth are
 * removed and noted; requirements are classified so direct references can be refused.
 */
export async function readRequirementsFile(
  location: string,
  kind: "requirement" | "constraint",
  opts: { env: Env; cwd: string; http?: HttpClient | undefined; out: FlatInputs; origin: string; pylock?: boolean | undefined },
): Promise<void> {
  const ctx: Ctx = { env: opts.env, cwd: opts.cwd, http: opts.http, out: opts.out, seen: new Set(), depth: 0 };
  // pip 26.1+ reads `-r pylock.toml` (PEP 751) itself, from the command line only, and fetches
  // the files the lock names; it is read here instead and never reaches pip.
  if (opts.pylock && kind === "requirement") {
    if (isPylockWithExtras(location)) throw usageError(`-r ${redactUrl(location)}: extras of a pylock.toml are not supported by safe-pip yet (from ${opts.origin})`);
    if (isPylockName(location)) return readPylock(resolveLocation(location, opts.cwd), ctx, opts.origin);
  }
  await walk(resolveLocation(location, opts.cwd), kind, ctx, opts.origin);
}

/**
 * A lock file as pip 26.1+ reads it: each index entry an exact pin with the sha256 of its files
 * (so pip checks them, as it would for the lock's own files, but gets them from the unified index,
 * where the policy judges them), each vcs/directory/archive entry the direct reference it is.
 */
async function readPylock(location: string, ctx: Ctx, origin: string): Promise<void> {
  const text = await load(location, ctx, origin);
  const shown = isUrl(location) ? redactUrl(location) : location;
  const base = isUrl(location) ? undefined : dirname(location);
  for (const entry of await pylockEntries(text, shown, base)) {
    await addRequirement(entry.text, entry.hashes.map((h) => `--hash=sha256:${h}`).join(" "), "requirement", ctx, entry.where, false);
  }
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s) || /^file:/i.test(s);
}

function resolveLocation(location: string, base: string): string {
  if (isUrl(location)) return location;
  if (isUrl(base)) return new URL(location, base).toString();
  return isAbsolute(location) ? location : resolve(base, location);
}

async function load(location: string, ctx: Ctx, origin: string): Promise<string> {
  try {
    if (/^https?:\/\//i.test(location)) {
      if (!ctx.http) throw new Error("remote requirements files are not available here");
      const res = await ctx.http.get(location, "text/plain, */*;q=0.1", 8 * 1024 * 1024);
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      return res.body.toString("utf8");
    }
    const path = /^file:/i.test(location) ? fileURLToPath(location) : location;
    return readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof SafePipError) throw err;
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (err as Error).message;
    throw usageError(`cannot read requirements file ${redactUrl(location)} (from ${origin}): ${why}`);
  }
}

/** Python's str.splitlines(), which pip uses: more line breaks than "\n" and "\r\n". */
const PY_LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/** Python's str.isspace() set: what `\s` means in pip's comment pattern. */
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const COMMENT = new RegExp(`(^|${PY_SPACE}+)#.*$`);
/** pip's `COMMENT_RE.match(line)`: the whole line is a comment. */
const COMMENT_LINE = new RegExp(`^(${PY_SPACE}+)?#`);
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");

/**
 * Joins `\` continuations and strips comments, keeping the first line number of each logical line.
 * This is pip's preprocess (req_file.py): Python's splitlines, then join_lines (a comment line never
 * continues, and backslashes are stripped from both ends of a continued line), then comments.
 */
export function logicalLines(text: string): Array<{ line: number; text: string }> {
  const physical = text.replace(/^\uFEFF/, "").split(PY_LINE_BREAK);
  if (physical.length > 1 && physical[physical.length - 1] === "") physical.pop();
  const out: Array<{ line: number; text: string }> = [];
  let parts: string[] = [];
  let start = 0;
  physical.forEach((raw, idx) => {
    const comment = COMMENT_LINE.test(raw);
    if (raw.endsWith("\\") && !comment) {
      if (parts.length === 0) start = idx + 1;
      parts.push(raw.replace(/^\\+|\\+$/g, ""));
      return;
    }
    const piece = comment ? ` ${raw}` : raw;
    if (parts.length) out.push({ line: start, text: parts.join("") + piece });
    else out.push({ line: idx + 1, text: piece });
    parts = [];
  });
  if (parts.length) out.push({ line: start, text: parts.join("") });
  return out
    .map((l) => ({ line: l.line, text: l.text.replace(COMMENT, "").replace(PY_STRIP, "") }))
    .filter((l) => l.text !== "");
}

export function expandEnvVars(text: string, env: Env): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => {
    const v = env[name];
    return v === undefined || v === "" ? whole : v;
  });
}

async function walk(location: string, kind: "requirement" | "constraint", ctx: Ctx, origin: string): Promise<void> {
  if (ctx.depth > MAX_DEPTH) throw usageError(`requirements files nest deeper than ${MAX_DEPTH} levels at ${redactUrl(location)}`);
  const key = `${kind}:${location}`;
  if (ctx.seen.has(key)) return; // an include cycle, or the same file twice: reading it again adds nothing
  ctx.seen.add(key);
  const text = await load(location, ctx, origin);
  const base = isUrl(location) ? location : dirname(location);
  const shown = isUrl(location) ? redactUrl(location) : location;
  for (const { line, text: raw } of logicalLines(text)) {
    const where = `${shown}:${line}`;
    const lineText = expandEnvVars(raw, ctx.env);
    const { args, options } = splitArgsOptions(lineText);
    if (args) {
      await addRequirement(args, options, kind, ctx, where, false);
      continue;
    }
    const parsed = parseLineOptions(options, where);
    for (const opt of parsed) {
      switch (opt.spec.role) {
        case "source":
          ctx.out.notes.push({ setting: `--${opt.spec.name}`, value: opt.value, origin: where, action: "removed" });
          break;
        case "input":
          if (opt.spec.name === "editable") {
            await addRequirement(opt.value ?? "", "", kind, ctx, where, true);
          } else {
            const nested = resolveLocation(opt.value ?? "", base);
            ctx.depth++;
            await walk(nested, opt.spec.name === "constraint" ? "constraint" : "requirement", ctx, where);
            ctx.depth--;
          }
          break;
        default:
          ctx.out.optionLines.push(checkFlatLine(formatFileOption(opt), ctx.env, where));
      }
    }
  }
}

/** pip's split of a line: words up to the first one starting with "-" are the requirement. */
function splitArgsOptions(line: string): { args: string; options: string } {
  const tokens = line.split(" ");
  const idx = tokens.findIndex((t) => t.startsWith("-"));
  if (idx === -1) return { args: line.trim(), options: "" };
  return { args: tokens.slice(0, idx).join(" ").trim(), options: tokens.slice(idx).join(" ") };
}

function parseLineOptions(options: string, where: string, table = LINE_OPTIONS): ParsedOption[] {
  const tokens = shlexSplit(options, where);
  const out: ParsedOption[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    let spec: OptionSpec | undefined;
    let value: string | undefined;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const typed = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      const matches = table.filter((s) => s.long.some((l) => l === typed)).concat(
        table.filter((s) => !s.long.includes(typed) && s.long.some((l) => l.startsWith(typed))),
      );
      const exact = table.find((s) => s.long.includes(typed));
      spec = exact ?? (new Set(matches).size === 1 ? matches[0] : undefined);
      if (!spec) throw usageError(`${where}: ${matches.length > 1 ? "ambiguous" : "unsupported"} option --${typed} in a requirements file`);
      if (spec.takesValue) value = eq >= 0 ? tok.slice(eq + 1) : tokens[++i];
    } else if (tok.startsWith("-") && tok.length >= 2) {
      spec = table.find((s) => s.short === tok[1]);
      if (!spec) throw usageError(`${where}: unsupported option ${tok} in a requirements file`);
      if (spec.takesValue) value = tok.length > 2 ? tok.slice(2) : tokens[++i];
    } else {
      throw usageError(`${where}: cannot read "${tok}"`);
    }
    if (spec.takesValue && (value === undefined || value === "")) throw usageError(`${where}: option --${spec.name} needs a value`);
    out.push({ spec, value, given: tok });
  }
  return out;
}

async function addRequirement(
  text: string,
  options: string,
  kind: "requirement" | "constraint",
  ctx: Ctx,
  where: string,
  editable: boolean,
): Promise<void> {
  let req: Requirement;
  try {
    req = classifyRequirement(text, ctx.cwd, editable);
  } catch (err) {
    if (err instanceof SafePipError) throw new SafePipError(err.code, `${where}: ${err.message}`);
    throw err;
  }
  const perReq = options ? parseLineOptions(options, where, PER_REQUIREMENT) : [];
  ctx.out.inputs.push({ req, origin: where, editable, constraint: kind === "constraint" });
  const line = [editable ? `-e ${shlexQuote(text)}` : text, ...perReq.map(formatFileOption)].join(" ");
  (kind === "constraint" ? ctx.out.constraintLines : ctx.out.requirementLines).push(checkFlatLine(line, ctx.env, where, editable ? undefined : text));
}

/**
 * An option as a line of the flattened file: `--name` or `--name=VALUE`, the value quoted for
 * pip's shlex split so that a value holding spaces stays one value and never becomes an option.
 */
export function formatFileOption(opt: { spec: OptionSpec; value?: string | undefined }): string {
  return opt.spec.takesValue ? `--${opt.spec.name}=${shlexQuote(opt.value ?? "")}` : `--${opt.spec.name}`;
}

/** Variables pip's own environment holds that safe-pip sets (pip expands `${VAR}` again). */
const SET_FOR_PIP = /^(PIP_|SAFE_PIP_|(HTTPS?|ALL|NO)_PROXY$)/;

/**
 * A line of the flattened file must mean to pip exactly what it meant to safe-pip. pip reads that
 * file again with its own rules, so refuse (rather than write) a line that pip would split
 * (Python's splitlines breaks on more than "\n"), join with the next one (a trailing backslash),
 * cut (" #" starts a comment), split into requirement and options differently (a word starting
 * with "-"), or expand again (a `${VAR}` left after our expansion). Any of these could turn a
 * value into a package source.
 */
export function checkFlatLine(line: string, env: Env, where: string, requirement?: string): string {
  const problem = flatLineProblem(line, env, requirement);
  if (problem) throw usageError(`${where}: ${JSON.stringify(redactUrl(line))} cannot be passed to pip safely: ${problem}`);
  return line;
}

export function flatLineProblem(line: string, env: Env, requirement?: string): string | undefined {
  if (/[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/.test(line)) return "it holds a line break";
  if (line.endsWith("\\")) return "it ends with a backslash";
  if (new RegExp(`(^|${PY_SPACE})#`).test(line)) return 'it holds " #", which starts a comment';
  for (const m of line.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
    if (env[m[1]!] || SET_FOR_PIP.test(m[1]!)) return `pip would expand \${${m[1]}} in it again`;
  }
  // pip takes the words of a requirement line up to the first one starting with "-" as the
  // requirement, and reads the rest as options.
  if (requirement !== undefined && requirement.split(" ").some((w) => w.startsWith("-"))) return 'a word in it starts with "-"';
  return undefined;
}
