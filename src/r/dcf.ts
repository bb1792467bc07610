/**
 * Debian Control File format, as R uses it for PACKAGES and DESCRIPTION: `Field: value` lines,
 * continuation lines start with whitespace, records are separated by blank lines.
 *
 * Parsing is strict on purpose: a line that is neither a field nor a continuation means the
 * index is not what we think it is, and an index we cannot read must never be passed on.
 */
export type DcfRecord = Record<string, string>;

export class DcfError extends Error {}

const FIELD = /^([^\s:][^:]*):[ \t]*(.*)$/;

export function parseDcf(text: string): DcfRecord[] {
  const records: DcfRecord[] = [];
  let current: DcfRecord | undefined;
  let last: string | undefined;
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") {
      if (current) records.push(current);
      current = undefined;
      last = undefined;
      return;
    }
    if (/^[ \t]/.test(line)) {
      if (!current || last === undefined) throw new DcfError(`line ${i + 1}: continuation line outside a field`);
      const part = line.trim();
      // A lone "." stands for an empty line inside a value (Debian convention).
      current[last] = `${current[last]}\n${part === "." ? "" : part}`;
      return;
    }
    const m = FIELD.exec(line);
    if (!m) throw new DcfError(`line ${i + 1}: expected "Field: value", got "${line.slice(0, 60)}"`);
    current ??= {};
    last = m[1]!.trim();
    current[last] = m[2]!.trim();
  });
  if (current) records.push(current);
  return records;
}

/**
 * Writes records so that no value can start a field or a record of its own: every extra line of a
 * value is indented and empty lines become " .", whatever the upstream put in it.
 */
export function writeDcf(records: readonly DcfRecord[]): string {
  return records
    .map((rec) =>
      Object.entries(rec)
        .filter(([k, v]) => v !== undefined && /^[^\s:]+$/.test(k))
        .map(([k, v]) => {
          const [first, ...rest] = v.split(/\r?\n/);
          return [`${k}: ${first!.trim()}`, ...rest.map((l) => (l.trim() === "" ? " ." : `        ${l.trim()}`))].join("\n");
        })
        .join("\n"),
    )
    .map((r) => r + "\n")
    .join("\n");
}

/** Whitespace (line breaks included) collapsed to single spaces: how R reads dependency fields. */
export function flatValue(v: string | undefined): string | undefined {
  return v === undefined ? undefined : v.replace(/\s+/g, " ").trim();
}
