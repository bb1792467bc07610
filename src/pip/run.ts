import { execa } from "execa";
import type { Writable } from "node:stream";

export interface PipRun {
  exitCode: number;
  signal?: string | undefined;
  /** pip's stderr, kept to explain failures (it is also shown as it arrives). */
  stderr: string;
}

/** Children started here, so a Ctrl-C can be passed on before safe-pip cleans up. */
export const runningChildren = new Set<{ kill(signal?: NodeJS.Signals): boolean }>();

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
