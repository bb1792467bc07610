import { normalizeName } from "../core/names.js";

/**
 * Core metadata (METADATA, PKG-INFO, PEP 658 `.metadata`) read as pip reads it: RFC 822 style
 * headers, continuation lines starting with whitespace, headers ending at the first blank line
 * (the description body after it is never read as fields).
 */
export interface CoreMetadata {
  /** Every value of a header, case-insensitively, in file order. */
  all(field: string): string[];
  /** The first value of a header. */
  get(field: string): string | undefined;
}

export function parseCoreMetadata(text: string): CoreMetadata {
  const fields = new Map<string, string[]>();
  let current: { key: string; values: string[] } | undefined;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line === "") break;
    if (/^[ \t]/.test(line)) {
      if (current) current.values[current.values.length - 1] += "\n" + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      current = undefined;
      continue;
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    const values = fields.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    fields.set(key, values);
    current = { key, values };
  }
  return {
    all: (field) => fields.get(field.toLowerCase()) ?? [],
    get: (field) => fields.get(field.toLowerCase())?.[0],
  };
}

/** One `Requires-Dist` entry: the dependency's normalised name and, for a PEP 508 `name @ url`, the URL. */
export interface RequiresDist {
  name: string;
  /** The requirement as written. */
  raw: string;
  /** Set when the dependency is a direct reference (`name @ url`). */
  url?: string | undefined;
  /** The environment marker after `;`, if any. */
  marker?: string | undefined;
}

const REQ = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(.*)$/s;

/**
 * The dependencies a release declares. Entries that don't start with a name are kept with an
 * empty name so that a caller can treat an unreadable dependency as suspicious rather than
 * silently skip it.
 */
export function requiresDist(meta: CoreMetadata | string): RequiresDist[] {
  const m = typeof meta === "string" ? parseCoreMetadata(meta) : meta;
  return m.all("Requires-Dist").map((raw) => {
    const match = REQ.exec(raw);
    if (!match) return { name: "", raw };
    const rest = match[2] ?? "";
    let url: string | undefined;
    let marker: string | undefined;
    if (rest.startsWith("@")) {
      // PEP 508: the URL runs to whitespace; a marker may follow after " ;".
      const body = rest.slice(1).trim();
      const sp = body.search(/\s/);
      url = sp === -1 ? body : body.slice(0, sp);
      const semi = body.indexOf(";", sp === -1 ? body.length : sp);
      if (semi !== -1) marker = body.slice(semi + 1).trim();
    } else {
      const semi = rest.indexOf(";");
      if (semi !== -1) marker = rest.slice(semi + 1).trim();
    }
    return { name: normalizeName(match[1]!), raw, url, marker };
  });
}
