import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { describeError } from "../core/errors.js";

export interface PipRun {
  exitCode: number;
  signal?: string | undefined;
  /** pip's stderr, kept to explain failures (it is also shown as it arrives). */
  stderr: string;
}

/** Children started here, so a Ctrl-C can be passed on before safe-pip cleans up. */
export const runningChildren = new Set<ChildProcess>();

// A pip must not outlive safe-pip (its index is gone with us): whatever still runs when this
// process exits, by any path, is killed.
process.once("exit", () => {
  for (const child of runningChildren) child.kill();
});

/**
 * Runs the real pip with an explicit environment (nothing inherited implicitly): stdout passes
 * through untouched, stderr is shown and kept. Plain node:child_process rather than execa: this is
 * on every install's critical path, and execa's ~100 modules take about 0.1 s to load.
 */
export async function runPip(python: string, args: string[], env: Record<string, string>, io: { stdout: Writable; stderr: Writable; cwd: string }): Promise<PipRun> {
  const child = spawn(python, args, { env, cwd: io.cwd, stdio: ["inherit", "pipe", "pipe"] });
  runningChildren.add(child);
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => io.stdout.write(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    io.stderr.write(chunk);
    if (stderr.length < 1_000_000) stderr += chunk.toString("utf8");
  });
  // "close" comes after the exit and after both pipes are drained, so no output is lost. A child
  // that could not start at all gets "error" (and maybe no "close"): exit code 1, as before.
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err) => {
      stderr += `${describeError(err)}\n`;
      resolve({ code: null, signal: null });
    });
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  runningChildren.delete(child);
  return { exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1), signal: signal ?? undefined, stderr };
}

function signalNumber(signal: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}

/** pid → parent pid of every process we can see (/proc on Linux, else ps); empty if neither works. */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // Field 4 of /proc/PID/stat, counted after the command name (which may hold spaces).
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parents.set(Number(entry), ppid);
      } catch {
        /* gone meanwhile */
      }
    }
    if (parents.size > 0) return parents;
  } catch {
    /* no /proc */
  }
  try {
    const out = execFileSync("ps", ["-A", "-o", "pid=,ppid="], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 2000 });
    for (const line of out.split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid && ppid !== undefined && Number.isFinite(ppid)) parents.set(pid, ppid);
    }
  } catch {
    /* no ps either: only direct children are reached */
  }
  return parents;
}

/** A process and all its descendants, the root first. */
function processTree(root: number): number[] {
  const parents = parentMap();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  return tree;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Whether a process still runs (a zombie, waiting for a parent to reap it, does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true; // no /proc: trust kill(pid, 0)
  }
}

/**
 * Stops every running pip, for a Ctrl-C or SIGTERM that reached safe-pip alone (a supervisor's
 * `kill`, a CI timeout). pip is often not our direct child (pyenv's shim runs it under a bash
 * wrapper, which a signal would kill while python ran on), so the whole process tree is signalled
 * and waited for. Always with SIGINT: pip's only orderly stop is KeyboardInterrupt, which removes
 * its temporary directories; a SIGTERM kills python on the spot and leaves them. After `graceMs`,
 * whatever is left gets SIGKILL.
 */
export async function stopChildren(graceMs: number): Promise<void> {
  const pids = [...runningChildren].flatMap((child) => (child.pid === undefined ? [] : processTree(child.pid)));
  if (pids.length === 0) return;
  signal(pids, "SIGINT");
  const deadline = Date.now() + graceMs;
  while (pids.some(running)) {
    if (Date.now() >= deadline) {
      signal(pids.filter(running), "SIGKILL");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
