import { readFileSync } from "node:fs";
import { usageError } from "../core/errors.js";
import type { TomlRequirement } from "./pyproject.js";
import { parseToml, stringList } from "./toml.js";

/**
 * PEP 723's block syntax: `# /// TYPE`, then lines that are `#` or `# …`, then `# ///`. The
 * reference regex takes the last `# ///` before a non-comment line, which this mirrors.
 */
const BLOCK = /^# \/\/\/ ([a-zA-Z0-9-]+)$\s((?:^#(?:| .*)$\s)+)^# \/\/\/$/gm;

/**
 * The `dependencies` of a script's PEP 723 `script` block (pip 26's `--requirements-from-script`).
 * Its `requires-python` is not checked: pip never sees the script, only the requirements.
 */
export async function scriptRequirements(path: string, origin: string): Promise<TomlRequirement[]> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(`cannot read script ${path} (from ${origin}): ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  // The PEP's regex runs on the text with universal newlines; "\s" after "$" is the line break.
  const normal = text.replace(/\r\n?/g, "\n") + (text.endsWith("\n") ? "" : "\n");
  const blocks = [...normal.matchAll(BLOCK)].filter((m) => m[1] === "script");
  if (blocks.length > 1) throw usageError(`${path}: more than one "# /// script" block`);
  // pip refuses a script without the block too; saying why beats an empty install.
  if (blocks.length === 0)
    throw usageError(`${path}: no "# /// script" metadata block${/^# \/\/\/ script\s*$/m.test(normal) ? ' (one starts, but is not closed with "# ///")' : ""}`);
  const toml = blocks[0]![2]!
    .split("\n")
    .map((l) => (l.startsWith("# ") ? l.slice(2) : l.slice(1)))
    .join("\n");
  const doc = await parseToml(toml, `${path} (its "# /// script" block)`);
  return stringList(doc.dependencies, path, "script dependencies").map((t) => ({ text: t, where: `${path} # /// script dependencies` }));
}
