import type { CommandContext } from "../commands/context.js";
import { usageError } from "../core/errors.js";

export type OwnCommand = (argv: string[], ctx: CommandContext) => Promise<number>;

/**
 * safe-pip's own commands: names pip does not use, so `safe-pip <pip command>` stays pip. Each is
 * loaded on demand: `shell-init` runs at every shell start and must not pay for the HTTP client,
 * the index and the checks.
 */
export const OWN_COMMANDS: Record<string, () => Promise<OwnCommand>> = {
  serve: async () => (await import("../commands/serve.js")).serveCommand,
  explain: async () => (await import("../commands/explain.js")).explainCommand,
  osv: async () => (await import("../commands/osv.js")).osvCommand,
  doctor: async () => (await import("../commands/doctor.js")).doctorCommand,
  "shell-init": async () => (await import("../commands/shell.js")).shellInitCommand,
  r: async () => (await import("../commands/r.js")).runR,
  setup: async () => async (argv, ctx) => {
    if (argv[1] === "r") return (await import("../commands/r.js")).runR(argv, ctx);
    if (argv[1] === "shell") return (await import("../commands/shell.js")).setupShell(argv.slice(2), ctx);
    if (argv[1] === "path") return (await import("../commands/shell.js")).setupPath(argv.slice(2), ctx);
    throw usageError("usage: safe-pip setup shell|path|r [--undo]");
  },
};
