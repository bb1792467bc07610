import type { CommandContext } from "../commands/context.js";
import { serveCommand } from "../commands/serve.js";
import { explainCommand } from "../commands/explain.js";
import { osvCommand } from "../commands/osv.js";
import { runR } from "../commands/r.js";
import { usageError } from "../core/errors.js";
import { doctorCommand } from "../commands/doctor.js";
import { setupPath, setupShell, shellInitCommand } from "../commands/shell.js";

export type OwnCommand = (argv: string[], ctx: CommandContext) => Promise<number>;

/** safe-pip's own commands: names pip does not use, so `safe-pip <pip command>` stays pip. */
export const OWN_COMMANDS: Record<string, OwnCommand> = {
  serve: serveCommand,
  explain: explainCommand,
  osv: osvCommand,
  doctor: doctorCommand,
  "shell-init": shellInitCommand,
  r: runR,
  setup: async (argv, ctx) => {
    if (argv[1] === "r") return runR(argv, ctx);
    if (argv[1] === "shell") return setupShell(argv.slice(2), ctx);
    if (argv[1] === "path") return setupPath(argv.slice(2), ctx);
    throw usageError("usage: safe-pip setup shell|path|r [--undo]");
  },
};
