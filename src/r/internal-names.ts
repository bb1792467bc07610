import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SafePipError, describeError } from "../core/errors.js";
import type { RepoRef } from "./types.js";

/** The state file, under safe-pip's state directory (src/core/paths.ts `stateDir`). */
export function internalNamesFile(stateDir: string): string {
  return join(stateDir, "r-internal-names.json");
}

interface StateFile {
  version: 1;
  /** By repository URL without credentials: every name the repository ever listed. */
  repos: Record<string, { names: string[]; updated: string }>;
}

/** A repository's identity in the state file: its URL without user or password (never stored). */
function keyOf(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    return url;
  }
}

/**
 * The names each internal CRAN-like repository has listed, kept across sessions. Internal
 * precedence must not depend on the internal repository answering well: one that comes back with
 * an empty or shorter index (a broken proxy, a wiped mirror, a misrouted request) would otherwise
 * hand its names to whoever publishes them on CRAN. So a name seen once stays internal, and an
 * index missing names seen before is an error unless the policy says `allowShrink`; even then
 * the missing names stay reserved (blocked, never public). Delete the state file to forget.
 */
export class InternalNames {
  private state: StateFile | undefined;

  constructor(readonly file: string) {}

  private load(): StateFile {
    if (this.state) return this.state;
    if (!existsSync(this.file)) return (this.state = { version: 1, repos: {} });
    try {
      const parsed = JSON.parse(readFileSync(this.file, "utf8")) as Partial<StateFile>;
      if (parsed.version !== 1 || typeof parsed.repos !== "object" || parsed.repos === null) throw new Error("unknown format");
      for (const v of Object.values(parsed.repos)) if (!Array.isArray(v?.names)) throw new Error("unknown format");
      return (this.state = parsed as StateFile);
    } catch (err) {
      // Fail closed: without this record internal names could fall to the public repository.
      throw new SafePipError("CONFIG", `${this.file}: cannot be read (${describeError(err)}); fix or delete it (deleting forgets which names are internal)`);
    }
  }

  /** Every name the repository listed before. */
  known(repo: RepoRef): ReadonlySet<string> {
    return new Set(this.load().repos[keyOf(repo.url)]?.names ?? []);
  }

  /**
   * Records what the repository lists now. Throws UNAVAILABLE (exit 69, naming the repository
   * with credentials redacted) when names seen before are missing, unless `allowShrink`.
   */
  observe(repo: RepoRef, names: Iterable<string>, allowShrink: boolean): void {
    // Read again: another R session's server may have added names since.
    this.state = undefined;
    const state = this.load();
    const key = keyOf(repo.url);
    const before = state.repos[key]?.names ?? [];
    const now = new Set(names);
    const missing = before.filter((n) => !now.has(n));
    if (missing.length && !allowShrink) {
      const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, … (${missing.length} in all)` : "");
      throw new SafePipError(
        "UNAVAILABLE",
        `internal repository ${repo.label} ${now.size ? "no longer lists" : "lists no packages, not even"} ${shown}, which it listed before; ` +
          `refusing to resolve, since those names could otherwise come from the public repository ` +
          `(if it really dropped them, set "allowShrink": true on its cran.internal entry; the names stay reserved)`,
      );
    }
    const merged = [...new Set([...before, ...now])].sort();
    if (merged.length === before.length) return;
    state.repos[key] = { names: merged, updated: new Date().toISOString() };
    this.save(state);
  }

  /** Write-then-rename: a concurrent reader never sees half a file. */
  private save(state: StateFile): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(state, null, 1) + "\n", { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (err) {
      throw new SafePipError("UNAVAILABLE", `${this.file}: cannot be written (${describeError(err)})`);
    }
  }
}
