import { usageError } from "../core/errors.js";

/**
 * Python's `shlex.split` (POSIX mode, no comments), which pip applies to the option part of
 * requirements lines: whitespace is space, tab, CR and LF; a backslash outside quotes escapes the
 * next character; inside double quotes it escapes only `"` and `\`; single quotes escape nothing.
 */
export function shlexSplit(text: string, where: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inToken = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else cur += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < text.length) {
        const next = text[++i]!;
        cur += next === '"' || next === "\\" ? next : ch + next;
      } else cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inToken = true;
    } else if (ch === "\\") {
      if (i + 1 >= text.length) throw usageError(`${where}: a backslash with nothing after it`);
      cur += text[++i];
      inToken = true;
    } else if (" \t\r\n".includes(ch)) {
      if (inToken) out.push(cur);
      cur = "";
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (quote) throw usageError(`${where}: unclosed quote`);
  if (inToken) out.push(cur);
  return out;
}

/** Python's `shlex.quote`: the text as one word for shlexSplit, quoted only when it has to be. */
export function shlexQuote(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}
