/**
 * Policy durations: `0`, `36h`, `7d`, `2w`, `90m`, `45s`, or ISO 8601 (`P7D`, `PT36H`, `P1W`).
 * Returns milliseconds, or undefined when the text is not a duration (the caller names the key).
 */
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input * 86400e3 : undefined;
  const text = input.trim();
  if (text === "0") return 0;
  const simple = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text);
  if (simple) return Number(simple[1]) * UNIT_MS[simple[2]!.toLowerCase()]!;
  const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text);
  if (iso && text.length > 1 && !/T$/i.test(text)) {
    const [, w, d, h, m, s] = iso;
    return (
      Number(w ?? 0) * UNIT_MS.w! +
      Number(d ?? 0) * UNIT_MS.d! +
      Number(h ?? 0) * UNIT_MS.h! +
      Number(m ?? 0) * UNIT_MS.m! +
      Number(s ?? 0) * UNIT_MS.s!
    );
  }
  return undefined;
}

/** "3 h", "2 days", "5 weeks": for messages, rounded down to the largest whole unit. */
export function formatAge(ms: number): string {
  const abs = Math.max(0, ms);
  // Weeks only from two on: "10 days" says more than "1 week".
  if (abs >= 14 * 86400e3) {
    const n = Math.floor(abs / (7 * 86400e3));
    return `${n} weeks`;
  }
  const units: Array<[number, string]> = [
    [86400e3, "day"],
    [3600e3, "hour"],
    [60e3, "minute"],
  ];
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return "just now";
}

export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  if (ms % UNIT_MS.d! === 0) return `${ms / UNIT_MS.d!}d`;
  if (ms % UNIT_MS.h! === 0) return `${ms / UNIT_MS.h!}h`;
  return `${Math.round(ms / 1000)}s`;
}
