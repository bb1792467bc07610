/**
 * The real Python interpreter behind `python3` on PATH. Where PATH holds a version-manager shim
 * (pyenv's is a bash script that runs several more), every safe-pip run would pay for the shim
 * twice or more; tests that start many runs point SAFE_PIP_PYTHON at the interpreter itself.
 */
import { execFileSync } from "node:child_process";

let cached: string | undefined;

export function realPython(): string {
  cached ??= execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
  return cached;
}

/** Runs at most `n` of the given tasks at once (for tests that start many subprocesses). */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
