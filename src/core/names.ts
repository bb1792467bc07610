/** PEP 503 normalisation: the one way two project names are compared anywhere in safe-pip. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** PEP 508 project names: ASCII letters, digits and -_. with an alphanumeric at both ends. */
const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

export function isValidProjectName(name: string): boolean {
  return VALID_NAME.test(name);
}

/**
 * Glob patterns for reserved internal names (`acme-*`). Both the pattern and the name are
 * normalised first, so `acme_*` reserves `Acme.Utils` too.
 */
export function nameMatchesPattern(name: string, pattern: string): boolean {
  const n = normalizeName(name);
  const p = normalizeName(pattern.trim());
  const re = new RegExp(
    "^" +
      p
        .split("*")
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*") +
      "$",
  );
  return re.test(n);
}
