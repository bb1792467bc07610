import { redactUrl } from "../core/redact.js";

/**
 * One package source that safe-pip took away from pip (or an upstream setting it took over),
 * with where it came from: each becomes one line of output, credentials redacted.
 */
export interface SourceNote {
  setting: string;
  value?: string | undefined;
  origin: string;
  action: "removed" | "used-upstream" | "dropped";
}

export function formatSourceNote(n: SourceNote): string {
  const what = n.value === undefined ? n.setting : `${n.setting} ${redactUrl(n.value)}`;
  switch (n.action) {
    case "removed":
      return `ignored ${what} (from ${n.origin}): only safe-pip's index is used`;
    case "used-upstream":
      return `${what} (from ${n.origin}) applies to safe-pip's upstream requests, not to pip`;
    case "dropped":
      return `ignored ${what} (from ${n.origin}): not a setting safe-pip passes on`;
  }
}
