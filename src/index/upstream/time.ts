/**
 * Upload times decide the age rule, so only unambiguous timestamps count. `Date.parse` accepts
 * "1", "2024" or "March 7" as dates long past, which would let a file uploaded today through; so
 * only RFC 3339 date-times (PEP 700's form: `2024-01-02T03:04:05.678Z`, or with an offset) are
 * read, and anything else is "unknown" (blocked unless the policy says `unknownAge: allow`).
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** The instant as a UTC ISO string (`…Z`), or undefined when `text` is not an RFC 3339 date-time. */
export function parseUploadTime(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Date.UTC rolls 2024-02-30 over into March: a day that doesn't exist is not a date.
  if (day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${(m[7] ?? "").slice(0, 4)}${m[8]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  // Kept as given when it is already UTC in PEP 700's form; otherwise normalised, so the string
  // comparisons made later (earliest upload of a release) stay correct.
  return /T.*Z$/.test(text) ? text : new Date(ms).toISOString();
}

/** PyPI's JSON API `upload_time`: the same form without an offset, in UTC by convention. */
export function parseJsonApiUploadTime(text: unknown): string | undefined {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(text)) return undefined;
  return parseUploadTime(`${text}Z`);
}
