import { SafePipError, usageError } from "../core/errors.js";
import type { Env } from "../core/env.js";
import type { HttpClient } from "../core/http.js";
import { redactUrl } from "../core/redact.js";
import { formatOption, hasOption, optionValues, type ParsedOption, type ParsedPipArgs } from "./argv.js";
import { collectPipSettings, type PipSettings } from "./config.js";
import type { RealPip } from "./locate.js";
import { emptyInputs, flatLineProblem, readRequirementsFile, type FlatInputs, type InputRequirement } from "./reqfile.js";
import { shlexQuote } from "./shlex.js";
import { classifyRequirement } from "./requirement.js";
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

  const proxyOpt = optionValues(all, "proxy").pop();
  const certOpt = optionValues(all, "cert").pop();
  if (proxyOpt) notes.push({ setting: "--proxy", value: proxyOpt, origin: "the command line", action: "used-upstream" });

  const proxy = proxyOpt ?? settings.proxy?.value;
  const caFile = certOpt ?? settings.cert?.value;
  const http = opts.makeHttp(proxy, caFile);
  const fileOpts = { env: opts.env, cwd: opts.cwd, http, out: inputs };
  // Configuration and environment inputs come first, like pip's own option defaults.
  for (const input of settings.inputs) {
    if (input.kind === "build-constraint") throw usageError(`build constraints (from ${input.origin}) are not supported by safe-pip yet`);
    if (input.kind === "editable") addPositional(input.value, input.origin, true, inputs, opts.cwd, opts.env);
    else await readRequirementsFile(input.value, input.kind, { ...fileOpts, origin: input.origin });
  }
  for (const opt of all) {
    if (opt.spec.role !== "input") continue;
    const value = opt.value ?? "";
    if (opt.spec.name === "requirement") await readRequirementsFile(value, "requirement", { ...fileOpts, origin: "the command line" });
    else if (opt.spec.name === "constraint") await readRequirementsFile(value, "constraint", { ...fileOpts, origin: "the command line" });
    else if (opt.spec.name === "editable") addPositional(value, "the command line (-e)", true, inputs, opts.cwd, opts.env);
    else throw usageError(`--${opt.spec.name} is not supported by safe-pip yet`);
  }
  if (command !== "index") for (const arg of parsed.args) addPositional(arg, "the command line", false, inputs, opts.cwd, opts.env);
  // `pip index` gets its arguments on the rebuilt command line, where nothing marks the end of the
  // options any more: an argument that looks like an option would be read as one.
  else for (const arg of parsed.args) if (arg.startsWith("-") && arg !== "-") throw usageError(`invalid argument "${arg}" for pip index: looks like an option`);
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
  const line = req.kind === "local-project" ? req.path : text.trim();
  const flat = editable ? `-e ${shlexQuote(line)}` : line;
  const problem = flatLineProblem(flat, env, editable ? undefined : line);
  if (problem) throw usageError(`${JSON.stringify(redactUrl(text))} cannot be passed to pip safely: ${problem} (from ${origin})`);
  inputs.requirementLines.push(flat);
}

/** Requirements that would make pip fetch from a URL, VCS or local archive instead of the index. */
export function directReferences(inv: PipInvocation): InputRequirement[] {
  return inv.inputs.inputs.filter((i) => i.req.kind === "direct");
}

/** Options rebuilt in canonical form; `drop` removes options safe-pip sets itself for a pass. */
export function renderOptions(list: ParsedOption[], drop: string[] = []): string[] {
  return list.filter((o) => !drop.includes(o.spec.name)).map(formatOption);
}
