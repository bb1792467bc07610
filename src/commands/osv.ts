import { usageError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { updateOfflineDatabase } from "../checks/osv/update.js";
import { loadPolicy } from "../policy/load.js";
import { Printer } from "../report/printer.js";
import type { CommandContext } from "./context.js";

/** `safe-pip osv update`: refresh the offline OSV database named by the policy. */
export async function osvCommand(argv: string[], ctx: CommandContext): Promise<number> {
  if (argv[1] !== "update" || argv.length > 2) throw usageError("usage: safe-pip osv update");
  const loaded = loadPolicy(ctx.env);
  const out = new Printer(ctx);
  for (const w of loaded.warnings) out.warn(w);
  if (!loaded.policy.osv.database) throw usageError('safe-pip osv update: the policy has no "osv.database" to update', 'set "osv": {"source": "offline", "database": "/path/to/osv"}');
  // Exports are large: allow far more than a page, and a long timeout.
  const http = new HttpClient({ timeoutMs: Math.max(loaded.policy.timeoutMs, 300_000), maxBytes: 2 * 1024 * 1024 * 1024 });
  try {
    ctx.stdout.write(`${await updateOfflineDatabase(loaded.policy.osv, http)}\n`);
    return 0;
  } finally {
    await http.close();
  }
}
