import type { CommandContext } from "../commands/context.js";
import { serveCommand } from "../commands/serve.js";
import { explainCommand } from "../commands/explain.js";

export type OwnCommand = (argv: string[], ctx: CommandContext) => Promise<number>;

/** safe-pip's own commands: names pip does not use, so `safe-pip <pip command>` stays pip. */
export const OWN_COMMANDS: Record<string, OwnCommand> = {
  serve: serveCommand,
  explain: explainCommand,
};
