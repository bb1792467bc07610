#!/usr/bin/env node
import { run } from "./cli/main.js";
import { runAllCleanups } from "./commands/cleanup.js";
import { runningChildren } from "./pip/run.js";

// On Ctrl-C or SIGTERM: pass the signal to pip, stop the index, remove temporary files, and exit
// the way a process killed by that signal would (128 + n), so shells and CI read it correctly.
for (const [signal, n] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const) {
  process.on(signal, () => {
    for (const child of runningChildren) child.kill(signal);
    void runAllCleanups().finally(() => process.exit(128 + n));
  });
}

const code = await run(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stderr.isTTY),
  quiet: false,
});
await runAllCleanups();
process.exitCode = code;
