#!/usr/bin/env node
import { run } from "./cli/main.js";
import { runAllCleanups } from "./commands/cleanup.js";

/** How long pip gets to stop after a signal before it is killed outright. */
const STOP_GRACE_MS = 5000;

// On Ctrl-C or SIGTERM: stop pip, stop the index, remove temporary files, and exit the way a
// process killed by that signal would (128 + n), so shells and CI read it correctly. Only the first
// signal counts: a repeated one (a second Ctrl-C, or one re-raised by a library's exit hook) must
// not exit before the clean-up it would cut short; the grace period bounds the wait instead.
let stoppedBy: number | undefined;
for (const [signal, n] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const) {
  process.on(signal, () => {
    if (stoppedBy !== undefined) return;
    stoppedBy = 128 + n;
    process.exitCode = stoppedBy;
    // pip/run.js (and execa with it) is loaded only here and on the paths that start pip.
    void import("./pip/run.js")
      .then((m) => m.stopChildren(STOP_GRACE_MS))
      .catch(() => undefined)
      .then(() => runAllCleanups())
      .finally(() => process.exit(stoppedBy));
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
process.exitCode = stoppedBy ?? code;
