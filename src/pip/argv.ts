import { usageError } from "../core/errors.js";
import { COMMAND_OPTIONS, GENERAL_OPTIONS, type OptionSpec } from "./options.js";

export interface ParsedOption {
  spec: OptionSpec;
  value?: string | undefined;
  /** The option as the user typed it (`--extra-ind`, `-i`), for messages. */
  given: string;
}

export interface ParsedPipArgs {
  general: ParsedOption[];
  /** The subcommand; undefined when argv has none (`pip --version`). */
  command?: string | undefined;
  options: ParsedOption[];
  args: string[];
  /** For commands safe-pip does not parse (list without -o, show, ...): everything after the command, untouched. */
  rest: string[];
}

/**
 * Parses pip's argv with optparse's rules: general options before the subcommand, then the
 * subcommand's options interspersed with positional arguments; long options by any unambiguous
 * prefix; `--opt=value`, `--opt value`, `-xVALUE`, `-x VALUE`; clustered short flags; `--` ends
 * options. Anything it cannot classify is a usage error rather than something passed on blindly.
 */
export function parsePipArgs(argv: readonly string[]): ParsedPipArgs {
  const result: ParsedPipArgs = { general: [], options: [], args: [], rest: [] };
  let i = 0;
  while (i < argv.length) {
    const tok = argv[i]!;
    if (tok.startsWith("-") && tok !== "-") {
      if (tok === "--") throw usageError("'--' before the pip command: nothing to run");
      i = consumeOption(argv, i, GENERAL_OPTIONS, result.general, "pip");
      continue;
    }
    result.command = tok;
    i++;
    break;
  }
  if (result.command === undefined) return result;
  const table = COMMAND_OPTIONS[result.command];
  if (!table) {
    result.rest = argv.slice(i);
    return result;
  }
  const specs = [...table, ...GENERAL_OPTIONS];
  while (i < argv.length) {
    const tok = argv[i]!;
    if (tok === "--") {
      result.args.push(...argv.slice(i + 1));
      break;
    }
    if (tok.startsWith("-") && tok !== "-") {
      i = consumeOption(argv, i, specs, result.options, `pip ${result.command}`);
      continue;
    }
    result.args.push(tok);
    i++;
  }
  return result;
}

function consumeOption(argv: readonly string[], i: number, specs: OptionSpec[], out: ParsedOption[], where: string): number {
  const tok = argv[i]!;
  if (tok.startsWith("--")) {
    const eq = tok.indexOf("=");
    const typed = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
    const spec = matchLong(typed, specs, where);
    if (!spec.takesValue) {
      if (eq >= 0) throw usageError(`${where}: option --${spec.name} does not take a value (got "${tok}")`);
      out.push({ spec, given: `--${typed}` });
      return i + 1;
    }
    if (eq >= 0) {
      out.push({ spec, value: tok.slice(eq + 1), given: `--${typed}` });
      return i + 1;
    }
    if (i + 1 >= argv.length) throw usageError(`${where}: option --${spec.name} needs a value`);
    out.push({ spec, value: argv[i + 1]!, given: `--${typed}` });
    return i + 2;
  }
  // A cluster of short options: flags until one that takes a value, which swallows the rest.
  for (let k = 1; k < tok.length; k++) {
    const ch = tok[k]!;
    const spec = specs.find((s) => s.short === ch);
    if (!spec) throw usageError(`${where}: unknown option -${ch} (in "${tok}")`);
    if (!spec.takesValue) {
      out.push({ spec, given: `-${ch}` });
      continue;
    }
    const attached = tok.slice(k + 1);
    if (attached) {
      out.push({ spec, value: attached, given: `-${ch}` });
      return i + 1;
    }
    if (i + 1 >= argv.length) throw usageError(`${where}: option -${ch} needs a value`);
    out.push({ spec, value: argv[i + 1]!, given: `-${ch}` });
    return i + 2;
  }
  return i + 1;
}

function matchLong(typed: string, specs: OptionSpec[], where: string): OptionSpec {
  const exact = specs.find((s) => s.long.includes(typed));
  if (exact) return exact;
  const candidates = [...new Set(specs.filter((s) => s.long.some((l) => l.startsWith(typed))))];
  if (candidates.length === 1 && typed.length > 0) return candidates[0]!;
  if (candidates.length > 1)
    throw usageError(`${where}: option --${typed} is ambiguous (${candidates.map((c) => `--${c.name}`).join(", ")})`);
  throw usageError(`${where}: unknown option --${typed}`, "safe-pip passes on only the pip options it understands");
}

/** Rebuilds one option in canonical, unambiguous form: `--name=value`, never a prefix or a cluster. */
export function formatOption(opt: { spec: OptionSpec; value?: string | undefined }): string {
  return opt.spec.takesValue ? `--${opt.spec.name}=${opt.value ?? ""}` : `--${opt.spec.name}`;
}

export function hasOption(parsed: ParsedOption[], name: string): boolean {
  return parsed.some((p) => p.spec.name === name);
}

export function optionValues(parsed: ParsedOption[], name: string): string[] {
  return parsed.filter((p) => p.spec.name === name && p.value !== undefined).map((p) => p.value!);
}
