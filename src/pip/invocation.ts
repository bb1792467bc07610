import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compare } from "@renovatebot/pep440";
import { SafePipError, usageError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import type { HttpClient } from "../core/http.js";
import { redactUrl } from "../core/redact.js";
import { formatOption, hasOption, optionValues, type ParsedOption, type ParsedPipArgs } from "./argv.js";
import { collectPipSettings, type PipSettings } from "./config.js";
import type { RealPip } from "./locate.js";
import { emptyInputs, flatLineProblem, readRequirementsFile, type FlatInputs, type InputRequirement } from "./reqfile.js";
import { shlexQuote } from "./shlex.js";
import { classifyPep508, classifyRequirement } from "./requirement.js";
import { dependencyGroup, localProjectRequirements, splitGroupOption, type TomlRequirement } from "./pyproject.js";
import { scriptRequirements } from "./script.js";
import type { ReportItem } from "./report.js";
import type { SourceNote } from "./sources.js";

/** A pip command line after every source was taken out, ready to be pointed at our index. */
export interface PipInvocation {
  command: string;
  general: ParsedOption[];
  options: ParsedOption[];
  /** Positional requirements, as given (each one classified in `inputs.inputs`). */
  args: string[];
  inputs: FlatInputs;
  settings: PipSettings;
  notes: SourceNote[];
  proxy?: string | undefined;
  caFile?: string | undefined;
}

/**
 * Sorts every option, variable, configuration value and requirements-file line into kept, removed
 * (sources) or taken over (proxy, cert), and flattens all requirement inputs. Nothing here runs pip.
 */
export async function prepareInvocation(
  parsed: ParsedPipArgs,
  opts: { env: Env; cwd: string; pip: RealPip; makeHttp: (proxy: string | undefined, caFile: string | undefined) => HttpClient },
): Promise<{ invocation: PipInvocation; http: HttpClient }> {
  const command = parsed.command!;
  const all = [...parsed.general, ...parsed.options];
  const isolated = hasOption(all, "isolated");
  const settings = collectPipSettings({ env: opts.env, command, sysPrefix: opts.pip.sysPrefix, isolated });
  const notes: SourceNote[] = [...settings.notes];
  const inputs = emptyInputs();
  const keep = (list: ParsedOption[]): ParsedOption[] => {
    const kept: ParsedOption[] = [];
    for (const opt of list) {
      switch (opt.spec.role) {
        case "source":
          notes.push({ setting: `--${opt.spec.name}`, value: opt.value, origin: "the command line", action: "removed" });
          break;
        case "upstream":
          if (opt.spec.name === "client-cert") throw usageError("--client-cert is not supported by safe-pip yet (upstream client certificates)");
          break;
        case "input":
          break;
        default:
          kept.push(opt);
      }
    }
    return kept;
  };
  const general = keep(parsed.general);
  const options = keep(parsed.options);
  // A pip older than the option doesn't know it: passed on, so pip itself says so, as it would.
  for (const opt of parsed.options) if (opt.spec.role === "input" && !pipHasInput(opts.pip, opt.spec.name)) options.push(opt);

  const proxyOpt = optionValues(all, "proxy").pop();
  const certOpt = optionValues(all, "cert").pop();
  if (proxyOpt) notes.push({ setting: "--proxy", value: proxyOpt, origin: "the command line", action: "used-upstream" });

  const proxy = proxyOpt ?? settings.proxy?.value;
  const caFile = certOpt ?? settings.cert?.value;
  const http = opts.makeHttp(proxy, caFile);
  const fileOpts = { env: opts.env, cwd: opts.cwd, http, out: inputs, pylock: pipHasInput(opts.pip, "pylock") };
  // Configuration and environment inputs come first, like pip's own option defaults.
  for (const input of settings.inputs) {
    if (input.kind === "build-constraint") throw usageError(`build constraints (from ${input.origin}) are not supported by safe-pip yet`);
    if (input.kind === "editable") addPositional(input.value, input.origin, true, inputs, opts.cwd, opts.env);
    else await readRequirementsFile(input.value, input.kind, { ...fileOpts, origin: input.origin });
  }
  let scripts = 0;
  for (const opt of all) {
    if (opt.spec.role !== "input") continue;
    const value = opt.value ?? "";
    if (opt.spec.name === "requirement") await readRequirementsFile(value, "requirement", { ...fileOpts, origin: "the command line" });
    else if (opt.spec.name === "constraint") await readRequirementsFile(value, "constraint", { ...fileOpts, origin: "the command line" });
    else if (opt.spec.name === "editable") addPositional(value, "the command line (-e)", true, inputs, opts.cwd, opts.env);
    else if (!pipHasInput(opts.pip, opt.spec.name)) continue;
    else if (opt.spec.name === "group") {
      const { file, group } = splitGroupOption(value, opts.cwd);
      addTomlRequirements(await dependencyGroup(file, group, `--group ${value}`), inputs, opts.env);
    } else if (opt.spec.name === "requirements-from-script") {
      if (scripts++) throw usageError("--requirements-from-script can only be given once");
      addTomlRequirements(await scriptRequirements(isAbsolute(value) ? value : resolve(opts.cwd, value), `--requirements-from-script ${value}`), inputs, opts.env);
    } else throw usageError(`--${opt.spec.name} is not supported by safe-pip yet`);
  }
  if (command !== "index") for (const arg of parsed.args) addPositional(arg, "the command line", false, inputs, opts.cwd, opts.env);
  // `pip index` gets its arguments on the rebuilt command line, where nothing marks the end of the
  // options any more: an argument that looks like an option would be read as one.
  else for (const arg of parsed.args) if (arg.startsWith("-") && arg !== "-") throw usageError(`invalid argument "${arg}" for pip index: looks like an option`);
  await readLocalProjects(inputs);
  notes.push(...inputs.notes);

  const invocation = { command, general, options, args: parsed.args, inputs, settings, notes, proxy, caFile };
  return { invocation, http };
}

function addPositional(text: string, origin: string, editable: boolean, inputs: FlatInputs, cwd: string, env: Env): void {
  let req;
  try {
    req = classifyRequirement(text, cwd, editable);
  } catch (err) {
    if (err instanceof SafePipError) throw new SafePipError(err.code, `${err.message} (from ${origin})`);
    throw err;
  }
  inputs.inputs.push({ req, origin, editable, constraint: false });
  // Local projects are written as absolute paths: the flattened file lives in a temp directory.
  // pip reads the words of a requirement line as they are, and shlex-splits an -e line.
  const line = req.kind === "local-project" ? req.path + (req.extras?.length ? `[${req.extras.join(",")}]` : "") : text.trim();
  const flat = editable ? `-e ${shlexQuote(line)}` : line;
  const problem = flatLineProblem(flat, env, editable ? undefined : line);
  if (problem) throw usageError(`${JSON.stringify(redactUrl(text))} cannot be passed to pip safely: ${problem} (from ${origin})`);
  inputs.requirementLines.push(flat);
}

/** The first pip that reads each TOML input (pip's NEWS: 25.1 --group, 26.0 PEP 723 scripts, 26.1 `-r pylock.toml`). */
const TOML_INPUT_SINCE: Record<string, string> = { group: "25.1", "requirements-from-script": "26.0", pylock: "26.1" };

/** Whether this pip reads the input; other inputs (-r, -c, -e) every supported pip reads. */
function pipHasInput(pip: RealPip, name: string): boolean {
  const since = TOML_INPUT_SINCE[name];
  if (!since) return true;
  try {
    return compare(pip.version, since) >= 0;
  } catch {
    return true; // an unreadable version: read the input, so nothing reaches pip unjudged
  }
}

/**
 * Requirements from a dependency group or a PEP 723 script: classified like command-line ones
 * (a direct reference is then blocked), and written into the flattened requirements file, so pip
 * reads nothing safe-pip didn't.
 */
function addTomlRequirements(list: TomlRequirement[], inputs: FlatInputs, env: Env): void {
  for (const { text, where } of list) {
    const req = classifyPep508(text, where);
    inputs.inputs.push({ req, origin: where, editable: false, constraint: false });
    const line = text.trim();
    const problem = flatLineProblem(line, env, line);
    if (problem) throw usageError(`${where}: ${JSON.stringify(redactUrl(text))} cannot be passed to pip safely: ${problem}`);
    inputs.requirementLines.push(line);
  }
}

/**
 * A local project pip will build: its pyproject.toml says what else pip installs for it (build
 * requirements, in the isolated build environment; dependencies; the extras asked for). pip
 * would fetch a direct reference there itself, bypassing the index; the guard inside pip stops it
 * only once pip has started building. So each direct reference is recorded as an input, which the
 * direct-reference rule blocks before pip starts, naming the file and the table. Index
 * requirements there are left for pip to resolve through the index; a malformed one is a usage
 * error now rather than a surprise mid-build. Dependencies a backend computes (`dynamic`,
 * setup.py) can't be read without running code: the guard inside pip covers those.
 */
async function readLocalProjects(inputs: FlatInputs): Promise<void> {
  const done = new Set<string>();
  for (const input of [...inputs.inputs]) {
    if (input.req.kind !== "local-project" || input.constraint) continue;
    const key = `${input.req.path}[${(input.req.extras ?? []).join(",")}]`;
    if (done.has(key)) continue;
    done.add(key);
    for (const { text, where } of await localProjectRequirements(input.req.path, input.req.extras ?? [], input.origin)) {
      const req = classifyPep508(text, where);
      if (req.kind === "direct") inputs.inputs.push({ req, origin: where, editable: false, constraint: false });
    }
  }
}

/**
 * Whether a package in pip's report may come from disk: only a directory the user named as a
 * local project (command line, -e, a requirements file). Anything else from a `file:` URL, or
 * from any URL, is a direct reference.
 */
export function isNamedLocalProject(inv: PipInvocation, item: ReportItem): boolean {
  if (!item.localDir || !/^file:/i.test(item.url)) return false;
  let path: string;
  try {
    path = resolve(fileURLToPath(item.url));
  } catch {
    return false;
  }
  return inv.inputs.inputs.some((i) => i.req.kind === "local-project" && !i.constraint && resolve(i.req.path) === path);
}

/** Requirements that would make pip fetch from a URL, VCS or local archive instead of the index. */
export function directReferences(inv: PipInvocation): InputRequirement[] {
  return inv.inputs.inputs.filter((i) => i.req.kind === "direct");
}

/** Options rebuilt in canonical form; `drop` removes options safe-pip sets itself for a pass. */
export function renderOptions(list: ParsedOption[], drop: string[] = []): string[] {
  return list.filter((o) => !drop.includes(o.spec.name)).map(formatOption);
}
