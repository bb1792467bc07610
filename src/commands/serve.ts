import { usageError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { createChecker } from "../checks/checker.js";
import { startUnifiedIndex } from "../index/server.js";
import { loadPolicy } from "../policy/load.js";
import { Printer } from "../report/printer.js";
import type { CommandContext } from "./context.js";
import { registerCleanup } from "./cleanup.js";

/**
 * `safe-pip serve`: the unified index on its own, for tools that cannot be wrapped (an IDE's
 * package manager, uv, poetry): point them at the printed URL. Runs until interrupted.
 */
export async function serveCommand(argv: string[], ctx: CommandContext): Promise<number> {
  if (argv.slice(1).some((a) => a !== "--quiet" && a !== "-q")) throw usageError(`safe-pip serve: unexpected argument ${argv[1]}`);
  const out = new Printer(ctx);
  const loaded = loadPolicy(ctx.env);
  for (const w of loaded.warnings) out.warn(w);
  const http = new HttpClient({ timeoutMs: loaded.policy.timeoutMs, maxBytes: loaded.policy.maxPageBytes });
  const index = await startUnifiedIndex({ policy: loaded.policy, http, checker: createChecker({ policy: loaded.policy, http, env: ctx.env, printer: out }) });
  registerCleanup(async () => {
    await index.close();
    await http.close();
  });
  ctx.stdout.write(`${index.url}\n`);
  out.info("unified index running; press Ctrl-C to stop");
  await new Promise<never>(() => undefined);
  return 0;
}
