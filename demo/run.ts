/**
 * `npm run demo`: every protection of safe-pip, end to end, with no internet. It starts a local
 * "public" index, an internal index, an attacker's index and an OSV-API stand-in serving real
 * advisory records, makes a throwaway virtual environment, and runs the real safe-pip (dist/cli.js)
 * and the real pip through each scenario, printing what happened.
 */
import { execa } from "execa";
import { join } from "node:path";
import { packageRoot } from "../src/core/paths.js";
import { startFakeIndex, type FakeIndex } from "../test/helpers/pypi-server.js";
import { loadFixtureRecords, startOsvServer } from "../test/helpers/osv-server.js";
import { cleanupAll, isolatedEnv, tempDir } from "../test/helpers/env.js";
import { makeVenv } from "../test/helpers/venv.js";
import { writePolicy } from "../test/helpers/cli.js";

const day = 86400e3;
const ago = (d: number) => new Date(Date.now() - d * day);
const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[22m` : s);

interface Step {
  title: string;
  why: string;
  args: string[];
  expect: (code: number, output: string) => boolean;
  expectText: string;
}

async function main(): Promise<number> {
  const indexes: FakeIndex[] = [];
  const publicIdx = await startFakeIndex({
    projects: {
      requests: [
        { version: "2.30.0", uploadTime: ago(900), requires: ["idna>=2"] },
        { version: "2.31.0", uploadTime: ago(500), requires: ["idna>=2"] },
        { version: "2.32.9", uploadTime: ago(1), requires: ["idna>=2"] },
      ],
      idna: [{ version: "3.7", uploadTime: ago(300) }],
      "acme-utils": [{ version: "99.0", uploadTime: ago(30) }],
      reqeusts: [{ version: "1.0", uploadTime: ago(60) }],
      "safepip-fixture-evil": [{ version: "1.0", uploadTime: ago(60) }],
    },
  });
  const internalIdx = await startFakeIndex({ projects: { "acme-utils": [{ version: "1.4.0", uploadTime: ago(2), requires: ["requests>=2.28"] }] } });
  const attackerIdx = await startFakeIndex({ projects: { "acme-utils": [{ version: "100.0", uploadTime: ago(40) }] } });
  indexes.push(publicIdx, internalIdx, attackerIdx);
  const osv = await startOsvServer(loadFixtureRecords(join(packageRoot(), "test", "fixtures", "osv")));

  try {
    process.stdout.write(`${bold("safe-pip demo")} — local indexes, real pip, no internet\n`);
    process.stdout.write(`  public index    ${publicIdx.url}\n  internal index  ${internalIdx.url} (owns acme-*)\n  attacker index ${attackerIdx.url}\n  OSV stand-in    ${osv.url}\n`);
    const venv = await makeVenv(join(tempDir("safe-pip-demo-"), "venv"));
    process.stdout.write(`  throwaway venv  ${venv.dir}\n`);
    const policy = writePolicy({
      index: publicIdx.url,
      internal: [{ url: internalIdx.url, packages: ["acme-*"] }],
      minAge: "7d",
      osv: { source: "api", url: osv.url },
      typosquat: "block",
    });
    const { env } = isolatedEnv({ SAFE_PIP_CONFIG: policy, SAFE_PIP_PYTHON: venv.python, PIP_ROOT_USER_ACTION: "ignore" });

    const steps: Step[] = [
      {
        title: "Dependency confusion",
        why: "acme-utils is internal; the attacker's index and the public index offer 100.0 and 99.0, added via --extra-index-url",
        args: ["install", "acme-utils", "--extra-index-url", attackerIdx.url],
        expect: (code, out) => code === 0 && /acme-utils 1\.4\.0\s+internal/.test(out),
        expectText: "acme-utils 1.4.0 from the internal index; the extra index is ignored",
      },
      {
        title: "Minimum age",
        why: "requests 2.32.9 was uploaded yesterday; the policy wants 7 days",
        args: ["install", "--upgrade", "requests"],
        expect: (code, out) => code === 0 && /requests 2\.32\.9 hidden: uploaded 1 day ago/.test(out),
        expectText: "2.32.9 held back, 2.31.0 kept",
      },
      {
        title: "A vulnerable pin",
        why: "requests 2.30.0 is affected by PYSEC-2023-74 (CVE-2023-32681), a real advisory",
        args: ["install", "requests==2.30.0"],
        expect: (code, out) => code === 65 && /PYSEC-2023-74/.test(out),
        expectText: "blocked (exit 65) with the advisory and the fixed version",
      },
      {
        title: "A typosquat",
        why: "reqeusts is not requests",
        args: ["install", "reqeusts"],
        expect: (code, out) => code === 65 && /did you mean requests\?/.test(out),
        expectText: "blocked (exit 65): did you mean requests?",
      },
      {
        title: "Malware",
        why: "an OSV MAL- record (synthetic, for the demo) marks every version as malicious",
        args: ["install", "safepip-fixture-evil"],
        expect: (code, out) => code === 65 && /known malicious package/.test(out),
        expectText: "blocked (exit 65)",
      },
      {
        title: "Explain without installing",
        why: "what would be chosen, and every rule that applies",
        args: ["explain", "requests", "acme-utils"],
        expect: (code, out) => code === 0 && /requests 2\.31\.0: allow/.test(out),
        expectText: "requests 2.31.0 allowed, acme-utils from the internal index",
      },
      {
        title: "Everything else is plain pip",
        why: "list, show, freeze … pass straight through",
        args: ["list"],
        expect: (code, out) => code === 0 && /acme-utils\s+1\.4\.0/.test(out) && /requests\s+2\.31\.0/.test(out),
        expectText: "the venv holds acme-utils 1.4.0 and requests 2.31.0",
      },
    ];

    const results: boolean[] = [];
    for (const [i, step] of steps.entries()) {
      process.stdout.write(`\n${bold(`${i + 1}. ${step.title}`)} — ${step.why}\n$ safe-pip ${step.args.join(" ")}\n`);
      const r = await execa(process.execPath, [join(packageRoot(), "dist", "cli.js"), ...step.args], { env, extendEnv: false, reject: false, all: true, stdin: "ignore" });
      const output = String(r.all ?? "");
      process.stdout.write(output.split("\n").map((l) => `  | ${l}`).join("\n") + "\n");
      const ok = step.expect(r.exitCode ?? -1, output);
      results.push(ok);
      process.stdout.write(`  ${ok ? "✓" : "✗"} exit ${r.exitCode}: ${ok ? step.expectText : `expected ${step.expectText}`}\n`);
    }
    const passed = results.filter(Boolean).length;
    process.stdout.write(`\n${bold(`${passed} of ${results.length} scenarios behaved as expected.`)}\n`);
    return passed === results.length ? 0 : 1;
  } finally {
    await Promise.all([...indexes.map((i) => i.close()), osv.close()]);
    cleanupAll();
  }
}

process.exitCode = await main();
