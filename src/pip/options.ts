/**
 * pip's options, as its optparse parser knows them (read off pip 23.2 and its release notes up to
 * 26.x). safe-pip parses pip's command line with the same rules pip does — unambiguous long-option
 * prefixes, `--opt=value`, attached short values, clustered flags — and then rebuilds argv from what
 * it understood, so nothing it did not understand can reach pip. An option missing here is a usage
 * error, not a pass-through: guessing whether it takes a value could smuggle a source in.
 */
export type OptionRole =
  /** Adds or replaces a package source: removed and reported. */
  | "source"
  /** Requirements, constraints, editables: walked, sanitised and flattened. */
  | "input"
  /** Used by safe-pip for its own upstream requests rather than by pip (which only talks to loopback). */
  | "upstream"
  /** safe-pip needs to know (install location, report, dry-run) but pip keeps it. */
  | "keep";

export interface OptionSpec {
  /** Canonical long name without dashes (what pip calls the option). */
  name: string;
  long: string[];
  short?: string;
  takesValue: boolean;
  role: OptionRole;
}

const o = (name: string, takesValue: boolean, role: OptionRole = "keep", extra: { short?: string; long?: string[] } = {}): OptionSpec => ({
  name,
  long: [name, ...(extra.long ?? [])],
  ...(extra.short ? { short: extra.short } : {}),
  takesValue,
  role,
});

/** General options, valid before the subcommand and after it. */
export const GENERAL_OPTIONS: OptionSpec[] = [
  o("help", false, "keep", { short: "h" }),
  o("debug", false),
  o("isolated", false),
  o("require-virtualenv", false, "keep", { long: ["require-venv"] }),
  o("python", true),
  o("verbose", false, "keep", { short: "v" }),
  o("version", false, "keep", { short: "V" }),
  o("quiet", false, "keep", { short: "q" }),
  o("log", true, "keep", { long: ["log-file", "local-log"] }),
  o("no-input", false),
  o("keyring-provider", true),
  o("proxy", true, "upstream"),
  o("retries", true),
  o("timeout", true, "keep", { long: ["default-timeout"] }),
  o("exists-action", true),
  o("trusted-host", true, "source"),
  o("cert", true, "upstream"),
  o("client-cert", true, "upstream"),
  o("cache-dir", true),
  o("no-cache-dir", false),
  o("disable-pip-version-check", false),
  o("no-color", false),
  o("no-python-version-warning", false),
  o("use-feature", true),
  o("use-deprecated", true),
  o("resume-retries", true),
];

const INDEX_OPTIONS: OptionSpec[] = [
  o("index-url", true, "source", { short: "i", long: ["pypi-url"] }),
  o("extra-index-url", true, "source"),
  o("no-index", false, "source"),
  o("find-links", true, "source", { short: "f" }),
];

const SELECTION = (): OptionSpec[] => [
  o("platform", true),
  o("python-version", true),
  o("implementation", true),
  o("abi", true),
  o("ignore-requires-python", false),
  o("pre", false),
  o("no-binary", true),
  o("only-binary", true),
  o("prefer-binary", false),
  o("uploaded-prior-to", true),
  o("all-releases", true),
  o("only-final", true),
];

const BUILD = (): OptionSpec[] => [
  o("no-build-isolation", false),
  o("use-pep517", false),
  o("no-use-pep517", false),
  o("check-build-dependencies", false),
  o("config-settings", true, "keep", { short: "C" }),
  o("global-option", true),
  o("no-clean", false),
  o("src", true, "keep", { long: ["source", "source-dir", "source-directory"] }),
  o("progress-bar", true),
  o("build-constraint", true, "input"),
];

const INPUTS = (): OptionSpec[] => [
  o("requirement", true, "input", { short: "r" }),
  o("constraint", true, "input", { short: "c" }),
  o("editable", true, "input", { short: "e" }),
  // Both name TOML inputs (pip 25.1+ and 26.0+): safe-pip reads them itself and writes their
  // requirements into the flattened file, so pip never reads a file safe-pip didn't judge.
  o("group", true, "input"),
  o("requirements-from-script", true, "input"),
  o("no-deps", false, "keep", { long: ["no-dependencies"] }),
  o("require-hashes", false),
  o("no-require-hashes", false),
];

export const COMMAND_OPTIONS: Record<string, OptionSpec[]> = {
  install: [
    ...INPUTS(),
    ...SELECTION(),
    ...BUILD(),
    ...INDEX_OPTIONS,
    o("dry-run", false),
    o("target", true, "keep", { short: "t" }),
    o("user", false),
    o("no-user", false),
    o("root", true),
    o("prefix", true),
    o("upgrade", false, "keep", { short: "U" }),
    o("upgrade-strategy", true),
    o("force-reinstall", false),
    o("ignore-installed", false, "keep", { short: "I" }),
    o("break-system-packages", false),
    o("compile", false),
    o("no-compile", false),
    o("no-warn-script-location", false),
    o("no-warn-conflicts", false),
    o("root-user-action", true),
    o("report", true),
  ],
  download: [
    ...INPUTS(),
    ...SELECTION(),
    ...BUILD(),
    ...INDEX_OPTIONS,
    o("dest", true, "keep", { short: "d", long: ["destination-dir", "destination-directory"] }),
  ],
  wheel: [
    ...INPUTS(),
    ...SELECTION(),
    ...BUILD(),
    ...INDEX_OPTIONS,
    o("wheel-dir", true, "keep", { short: "w" }),
    o("no-verify", false),
    o("build-option", true),
  ],
  index: [...SELECTION(), ...INDEX_OPTIONS, o("json", false)],
  lock: [
    ...INPUTS(),
    ...SELECTION(),
    ...BUILD(),
    ...INDEX_OPTIONS,
    o("output", true, "keep", { short: "o" }),
  ],
  list: [
    o("outdated", false, "keep", { short: "o" }),
    o("uptodate", false, "keep", { short: "u" }),
    o("editable", false, "keep", { short: "e" }),
    o("local", false, "keep", { short: "l" }),
    o("user", false),
    o("path", true),
    o("pre", false),
    o("format", true),
    o("not-required", false),
    o("exclude-editable", false),
    o("include-editable", false),
    o("exclude", true),
    ...INDEX_OPTIONS,
  ],
};

/** Subcommands that fetch packages and therefore go through the unified index. */
export const FETCHING_COMMANDS = new Set(["install", "download", "wheel", "index", "lock"]);
