/**
 * Runs a command and measures it: wall time, CPU time and max RSS of the whole process tree (from
 * GNU time, when /usr/bin/time is there), and the peak RSS (VmHWM) of the top process itself,
 * sampled from /proc while it runs (VmHWM only grows, so the last sample is the peak so far).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

export interface ProcResult {
  code: number;
  wallMs: number;
  /** user + system CPU of the process tree (GNU time), else NaN. */
  cpuMs: number;
  /** Max RSS of any process in the tree, KiB (GNU time: the largest single process, not a sum). */
  treeMaxRssKb: number;
  /** Peak RSS of the command's own process (VmHWM), KiB; NaN when it could not be sampled. */
  hwmKb: number;
  /**
   * CPU (user + system) of the command's own process without its children, from /proc/PID/stat as
   * last sampled before it exited (so up to one sampling interval short); NaN when not sampled.
   */
  selfCpuMs: number;
  stdout: string;
  stderr: string;
}

async function vmHwmKb(pid: number): Promise<number | undefined> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process itself (not its children), ms; /proc counts in clock ticks (100 Hz). */
async function selfCpu(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

async function firstChild(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    const first = text.trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

export async function run(
  cmd: string,
  args: string[],
  opts: { env: Record<string, string>; cwd?: string; sampleMs?: number; timeoutMs?: number },
): Promise<ProcResult> {
  const tmp = mkdtempSync(join(tmpdir(), "safe-pip-bench-time-"));
  const timeFile = join(tmp, "time.txt");
  const [file, argv] = GNU_TIME ? [GNU_TIME, ["-f", "%e %U %S %M", "-o", timeFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const child = spawn(file, argv, { env: opts.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => void (stdout.length < 2_000_000 && (stdout += c.toString("utf8"))));
  child.stderr.on("data", (c: Buffer) => void (stderr.length < 2_000_000 && (stderr += c.toString("utf8"))));
  let hwm = NaN;
  let self = NaN;
  let target: number | undefined = GNU_TIME ? undefined : child.pid;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      if (target === undefined && child.pid !== undefined) target = await firstChild(child.pid);
      if (target !== undefined) {
        const v = await vmHwmKb(target);
        if (v !== undefined && !(v <= hwm)) hwm = v;
        const c = await selfCpu(target);
        if (c !== undefined && !(c <= self)) self = c;
      }
      await new Promise((r) => setTimeout(r, target === undefined ? 5 : (opts.sampleMs ?? 25)));
    }
  })();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
  const code = await new Promise<number>((ok) => child.on("close", (c, sig) => ok(c ?? (sig ? 128 : 1))));
  const wallMs = performance.now() - t0;
  clearTimeout(timer);
  done = true;
  await sampler;
  let cpuMs = NaN;
  let treeMaxRssKb = NaN;
  if (GNU_TIME && existsSync(timeFile)) {
    // GNU time writes "Command exited with non-zero status N" first when the command fails.
    const last = readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "";
    const [, user, sys, rss] = last.split(/\s+/).map(Number);
    cpuMs = ((user ?? NaN) + (sys ?? NaN)) * 1000;
    treeMaxRssKb = rss ?? NaN;
  }
  rmSync(tmp, { recursive: true, force: true });
  return { code, wallMs, cpuMs, treeMaxRssKb, hwmKb: hwm, selfCpuMs: self, stdout, stderr };
}
