import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Policy } from "../policy/schema.js";
import type { ReleaseChecker } from "../checks/release.js";
import { worstVerdict, type Reason } from "../checks/types.js";
import { checkLicense, licenseFromCran } from "../checks/license.js";
import { describeError } from "../core/errors.js";
import { redactText } from "../core/redact.js";
import type { HttpClient } from "../core/http.js";
import type { DcfRecord } from "./dcf.js";
import { formatReason } from "./filter.js";
import { ARCHIVE_FORMS, archiveDescription, descriptionOf, download, type LocalArchive } from "./verify.js";

export interface DirectOutcome {
  path: string;
  name?: string | undefined;
  version?: string | undefined;
  verdict: "allow" | "warn" | "block";
  reasons: Reason[];
  /**
   * What R must install instead of `path` (not blocked only): the private copy that was read and
   * judged (`copy`, removed by the hook afterwards), or a package directory as it is.
   */
  local?: { path: string; copy: boolean } | undefined;
}

const block = (shown: string, message: string): DirectOutcome => ({
  path: shown,
  verdict: "block",
  // The line already starts with the path (directLines): not twice.
  reasons: [{ check: "direct", verdict: "block", message: message.startsWith(`${shown}: `) ? message.slice(shown.length + 2) : message }],
});

/**
 * `install.packages(files, repos = NULL)` installs local files (or URLs) without any repository:
 * a direct reference, blocked by default exactly like `pip install ./x.whl`. With
 * `directReferences: "allow"` each one is fetched (URLs, through the same HTTP client as every
 * upstream) or copied to a private file first, its DESCRIPTION read from that copy (.tar.gz,
 * .tgz, .tar.xz, .tar.bz2, .zip, or a package directory) and judged (allow/deny, OSV, licence),
 * and R is handed that same copy: what is installed is what was judged. Anything that cannot be
 * read is blocked.
 */
export async function checkDirect(paths: string[], policy: Policy, checker: ReleaseChecker, http?: HttpClient): Promise<DirectOutcome[]> {
  return Promise.all(
    paths.map(async (path): Promise<DirectOutcome> => {
      const shown = redactText(path);
      if (policy.directReferences === "block")
        return block(
          shown,
          `installing a file or URL directly (install.packages with repos = NULL) bypasses the safe-pip repository; the policy blocks direct references (directReferences: "block")`,
        );
      let local: LocalArchive | undefined;
      let fields: DcfRecord;
      let target: { path: string; copy: boolean };
      try {
        local = await fetchLocal(path, shown, http);
        target = local ? { path: local.path, copy: true } : { path: resolveFileUrl(path), copy: false };
        fields = local ? await archiveDescription(local.path, shown) : directoryDescription(target.path, shown);
      } catch (err) {
        local?.cleanup();
        // Unreadable means unjudged: an archive R would install differently from what can be read
        // here (DESCRIPTION twice, a link, a corrupt or unknown format) is never installed.
        return block(shown, describeError(err));
      }
      const name = fields.Package!;
      const version = fields.Version!;
      const shared = (await checker.checkReleases([{ ecosystem: "CRAN", name, version, source: "public", license: fields.License }])).get(version) ?? [];
      const reasons = [
        ...checker.checkName("CRAN", name, "public"),
        ...shared,
        ...(shared.some((r) => r.check === "license") ? [] : checkLicense(licenseFromCran(fields.License), policy.licenses, policy.unknownLicense)),
      ];
      const verdict = worstVerdict(reasons);
      if (verdict === "block") local?.cleanup();
      return { path: shown, name, version, verdict, reasons, local: verdict === "block" ? undefined : target };
    }),
  );
}

/** Removes the private copies of a request that is not going ahead (one of its files is blocked). */
export function discardCopies(outcomes: DirectOutcome[]): void {
  for (const o of outcomes) if (o.local?.copy) rmSync(dirname(o.local.path), { recursive: true, force: true });
}

function resolveFileUrl(path: string): string {
  return /^file:\/\//i.test(path) ? fileURLToPath(path) : path;
}

/**
 * A private copy of the archive `path` names: downloaded (http/https) or copied (a file); none
 * for a package directory. Throws for anything that does not exist or cannot be fetched.
 */
async function fetchLocal(path: string, shown: string, http: HttpClient | undefined): Promise<LocalArchive | undefined> {
  const base = (p: string) => p.split(/[?#]/)[0]!.split("/").filter(Boolean).pop() ?? "";
  if (/^https?:\/\//i.test(path)) {
    if (!http) throw new Error(`${shown}: URLs cannot be fetched here`);
    const name = safeDecode(base(new URL(path).pathname));
    if (!ARCHIVE_FORMS.test(name)) throw new Error(`${shown}: not a package archive safe-pip can read (.tar.gz, .tgz, .tar.xz, .tar.bz2 or .zip)`);
    return download(http, path, name);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !/^file:\/\//i.test(path)) throw new Error(`${shown}: only http(s) URLs and local files can be checked`);
  const file = resolveFileUrl(path);
  if (!existsSync(file)) throw new Error(`${shown}: no such file or directory`);
  if (statSync(file).isDirectory()) return undefined;
  if (!ARCHIVE_FORMS.test(file)) throw new Error(`${shown}: not a package archive safe-pip can read (.tar.gz, .tgz, .tar.xz, .tar.bz2 or .zip)`);
  const dir = mkdtempSync(join(tmpdir(), "safe-pip-r-"));
  const copy = join(dir, basename(file));
  try {
    copyFileSync(file, copy);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${shown}: cannot be read (${describeError(err)})`);
  }
  return { path: copy, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function directoryDescription(dir: string, shown: string): DcfRecord {
  const file = join(dir, "DESCRIPTION");
  if (!existsSync(file)) throw new Error(`${shown}: a directory without a DESCRIPTION file`);
  return descriptionOf(readFileSync(file), shown);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** One line per finding: blocks first make the install an error, notes are printed. */
export function directLines(outcomes: DirectOutcome[]): Array<{ kind: "block" | "note"; text: string }> {
  return outcomes.flatMap((o) =>
    o.reasons
      .filter((r) => r.verdict !== "allow")
      .map((r) => ({
        kind: r.verdict === "block" ? ("block" as const) : ("note" as const),
        text: `${o.name ? `${o.name} ${o.version} (${o.path})` : o.path}: ${formatReason(r)}`,
      })),
  );
}
