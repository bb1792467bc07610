import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { redactText } from "../core/redact.js";
import type { ProjectDecision } from "../index/project.js";
import type { IndexIncident } from "../index/server.js";
import type { HeldBack, PlannedPackage } from "./summary.js";

/**
 * What one run decided, for a security team: written as JSON to --report/SAFE_PIP_REPORT on
 * request, and always appended as one line to the audit log in the user's state directory.
 */
export interface RunRecord {
  time: string;
  safePipVersion: string;
  command: string[];
  cwd: string;
  exitCode: number;
  outcome: "installed" | "resolved" | "blocked" | "unavailable" | "failed" | "passed-through";
  error?: { message: string; detail: string[] } | undefined;
  sourcesRemoved: string[];
  install: PlannedPackage[];
  heldBack: HeldBack[];
  projects: ProjectDecision[];
  incidents: IndexIncident[];
  /** Files written by --sbom / --lock. */
  outputs?: { sbom?: string | undefined; lock?: string | undefined } | undefined;
}

function redactDeep<T>(value: T): T {
  return JSON.parse(redactText(JSON.stringify(value))) as T;
}

/** Writes the record atomically (temp file + rename), so a reader never sees half of it. */
export function writeReport(file: string, record: RunRecord): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(redactDeep(record), null, 2) + "\n");
  renameSync(tmp, file);
}

/**
 * One JSON line per run, appended with O_APPEND: concurrent runs interleave whole lines, never
 * bytes, for lines of this size on a local filesystem.
 */
export function appendAudit(stateDir: string, record: RunRecord): void {
  mkdirSync(stateDir, { recursive: true });
  const line = {
    time: record.time,
    command: record.command,
    cwd: record.cwd,
    exitCode: record.exitCode,
    outcome: record.outcome,
    error: record.error?.message,
    installed: record.install.map((p) => `${p.name}==${p.version} (${p.source})`),
    heldBack: record.heldBack.map((h) => `${h.name}==${h.version}`),
    blocked: record.error?.detail ?? [],
    sourcesRemoved: record.sourcesRemoved,
  };
  appendFileSync(join(stateDir, "audit.jsonl"), JSON.stringify(redactDeep(line)) + "\n");
}
