import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { Writable } from "node:stream";

export interface PipRun {
  exitCode: number;
  signal?: string | undefined;
  /** pip's stderr, kept to explain failures (it is also shown as it arrives). */
  stderr: string;
}

/** Children started here, so a Ctrl-C can be passed on before safe-pip cleans up. */
export const runningChildren = new Set<ResultPromise>();

/**
 * Runs the real pip with an explicit environment (nothing inherited implicitly): stdout passes
 * through untouched, stderr is shown and kept.
 */
export async function runPip(python: string, args: string[], env: Record<string, string>, io: { stdout: Writable; stderr: Writable; cwd: string }): Promise<PipRun> {
  const child = execa(python, args, {
    env,
    extendEnv: false,
    reject: false,
    cwd: io.cwd,
    stdin: "inherit",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
  });
  runningChildren.add(child);
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => io.stdout.write(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    io.stderr.write(chunk);
    if (stderr.length < 1_000_000) stderr += chunk.toString("utf8");
  });
  const result = await child;
  runningChildren.delete(child);
  return { exitCode: result.exitCode ?? (result.signal ? 128 + signalNumber(result.signal) : 1), signal: result.signal, stderr };
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
