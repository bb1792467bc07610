// Node 20's `node --test` does not expand globs, so list the compiled test files ourselves.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

// The live suite (test/live, real PyPI) runs only with --live (`npm run test:live`), never in `npm test`.
const live = process.argv.includes("--live");
const liveDir = join("build-test", "test", "live");

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) {
      if (p !== liveDir || live) out.push(...walk(p));
    }
    else if (p.endsWith(".test.js")) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2).filter((a) => a !== "--live");
let files = walk(live ? liveDir : "build-test/test").sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
