/**
 * The vocabulary every check speaks. A check never prints or exits: it returns reasons, and the
 * index (which hides what is blocked) and the report (which explains it) read them.
 */
export type CheckName =
  | "internal"
  | "age"
  | "osv"
  | "malware"
  | "allow"
  | "deny"
  | "license"
  | "typosquat"
  | "direct"
  | "source"
  | "status";

export type Verdict = "allow" | "warn" | "block";

export interface Reason {
  check: CheckName;
  verdict: Verdict;
  /** One line a user can read: what was found and why it matters. */
  message: string;
  /** Advisory id (PYSEC-…, MAL-…, RSEC-…) when there is one. */
  id?: string;
  /** A link with more detail (an advisory page). */
  url?: string;
}

/** The strictest verdict among reasons ("allow" when there are none). */
export function worstVerdict(reasons: readonly Reason[]): Verdict {
  if (reasons.some((r) => r.verdict === "block")) return "block";
  if (reasons.some((r) => r.verdict === "warn")) return "warn";
  return "allow";
}
