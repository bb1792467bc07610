import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Policy } from "../policy/schema.js";
import type { ReleaseChecker } from "../checks/release.js";
import { worstVerdict, type Reason } from "../checks/types.js";
import { checkLicense, licenseFromCran } from "../checks/license.js";
import { describeError } from "../core/errors.js";
import { redactText } from "../core/redact.js";
import { parseDcf, type DcfRecord } from "./dcf.js";
import { formatReason } from "./filter.js";
import { tarGzDescription } from "./verify.js";

export interface DirectOutcome {
  path: string;
  name?: string | undefined;
  version?: string | undefined;
  verdict: "allow" | "warn" | "block";
  reasons: Reason[];
}

/**
 * `install.packages(files, repos = NULL)` installs local files (or URLs) without any repository:
 * a direct reference, blocked by default exactly like `pip install ./x.whl`. With
 * `directReferences: "allow"` the name and version inside are still checked (allow/deny, OSV).
 */
export async function checkDirect(paths: string[], policy: Policy, checker: ReleaseChecker): Promise<DirectOutcome[]> {
  return Promise.all(
    paths.map(async (path): Promise<DirectOutcome> => {
      const shown = redactText(path);
      if (policy.directReferences === "block")
        return {
          path: shown,
          verdict: "block",
          reasons: [
            {
              check: "direct",
              verdict: "block",
              message: `installing a file or URL directly (install.packages with repos = NULL) bypasses the safe-pip repository; the policy blocks direct references (directReferences: "block")`,
            },
          ],
        };
      let fields: DcfRecord | undefined;
      try {
        fields = await localDescription(path, shown);
      } catch (err) {
        // An archive R would install differently from what can be read here (DESCRIPTION twice,
        // a link, a corrupt tar) is never installed.
        return { path: shown, verdict: "block", reasons: [{ check: "direct", verdict: "block", message: describeError(err) }] };
      }
      if (!fields?.Package || !fields.Version)
        return {
          path: shown,
          verdict: "warn",
          reasons: [{ check: "direct", verdict: "warn", message: `${shown}: no readable DESCRIPTION; installed unchecked (directReferences: "allow")` }],
        };
      const name = fields.Package;
      const version = fields.Version;
      const shared = (await checker.checkReleases([{ ecosystem: "CRAN", name, version, source: "public", license: fields.License }])).get(version) ?? [];
      const reasons = [
        ...checker.checkName("CRAN", name, "public"),
        ...shared,
        ...(shared.some((r) => r.check === "license") ? [] : checkLicense(licenseFromCran(fields.License), policy.licenses, policy.unknownLicense)),
      ];
      return { path: shown, name, version, verdict: worstVerdict(reasons), reasons };
    }),
  );
}

/** DESCRIPTION of a package directory or a source/binary .tar.gz/.tgz; undefined for anything else. */
async function localDescription(path: string, shown: string): Promise<DcfRecord | undefined> {
  if (!existsSync(path)) return undefined;
  if (statSync(path).isDirectory()) return parseDcf(readFileSync(join(path, "DESCRIPTION"), "utf8"))[0];
  if (!/\.(tar\.gz|tgz)$/.test(path)) return undefined;
  return tarGzDescription(path, shown);
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
