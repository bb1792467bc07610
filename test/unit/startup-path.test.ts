import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { HttpClient } from "../../src/core/http.js";
import { SafePipError } from "../../src/core/errors.js";
import { packageRoot } from "../../src/core/paths.js";
import { runPip } from "../../src/pip/run.js";
import { cleanupAll, tempDir } from "../helpers/env.js";
import { realPython } from "../helpers/python.js";

after(cleanupAll);

/** Every file module a fresh Node loads for `code` (an ESM snippet run in the package root). */
function modulesLoadedBy(code: string): string[] {
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith("file:")) process.stderr.write("MODULE " + r.url + "\\n"); return r; }`;
  const register = `import { register } from "node:module"; register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}));`;
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "-e", code], {
    cwd: packageRoot(),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("MODULE "))
    .map((l) => l.slice("MODULE ".length));
}

describe("what an install loads before pip starts", () => {
  it("the install path (cli/main.js, commands/pip.js) loads neither execa, ora nor undici", () => {
    // execa (~100 modules), ora and undici cost ~0.25 s of loading together: pip/run.ts uses
    // node:child_process, ora loads only for a spinner, undici on the first upstream request.
    const loaded = modulesLoadedBy(`await import("./dist/cli/main.js"); await import("./dist/commands/pip.js");`);
    assert.ok(loaded.some((u) => u.endsWith("/dist/commands/pip.js")), "the hook saw the install path load");
    const heavy = loaded.filter((u) => /\/node_modules\/(execa|ora|undici)\//.test(u));
    assert.deepEqual(heavy, []);
  });

  it("an HttpClient loads undici only when it is used, and refuses requests once closed", async () => {
    const server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const unused = new HttpClient({ timeoutMs: 5000, maxBytes: 1024 });
      await unused.close();
      await assert.rejects(unused.get(url), (err: unknown) => err instanceof SafePipError && err.code === "UNAVAILABLE");
      const used = new HttpClient({ timeoutMs: 5000, maxBytes: 1024 });
      used.warm();
      assert.equal((await used.get(url)).body.toString(), "ok");
      await used.close();
      await assert.rejects(used.get(url), (err: unknown) => err instanceof SafePipError);
    } finally {
      server.close();
    }
  });
});

describe("runPip without execa", () => {
  const sink = () => {
    let text = "";
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    return { stream, text: () => text };
  };
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

  it("passes stdout through, shows and keeps stderr, and returns pip's exit code", async () => {
    const out = sink();
    const err = sink();
    const r = await runPip(realPython(), ["-c", "import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(3)"], env, { stdout: out.stream, stderr: err.stream, cwd: tempDir() });
    assert.equal(r.exitCode, 3);
    assert.equal(out.text(), "to stdout\n");
    assert.equal(err.text(), "to stderr\n");
    assert.equal(r.stderr, "to stderr\n");
  });

  it("gives only the environment it is handed, and runs in the given directory", async () => {
    const out = sink();
    const cwd = tempDir();
    const r = await runPip(realPython(), ["-c", "import os; print(sorted(k for k in os.environ if k != 'LC_CTYPE')); print(os.getcwd())"], { ...env, ONLY_THIS: "1" }, { stdout: out.stream, stderr: sink().stream, cwd });
    assert.equal(r.exitCode, 0);
    const [vars, dir] = out.text().trim().split("\n");
    assert.equal(vars, "['ONLY_THIS', 'PATH']");
    assert.equal(dir, execFileSync("realpath", [cwd], { encoding: "utf8" }).trim());
  });

  it("maps a signal to 128 + n, and a Python that cannot start to exit code 1", async () => {
    const killed = await runPip(realPython(), ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"], env, { stdout: sink().stream, stderr: sink().stream, cwd: tempDir() });
    assert.equal(killed.exitCode, 143);
    assert.equal(killed.signal, "SIGTERM");
    const missing = await runPip(join(tempDir(), "no-such-python"), ["-m", "pip"], env, { stdout: sink().stream, stderr: sink().stream, cwd: tempDir() });
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /ENOENT/);
  });
});

describe("the guard on pip's PYTHONPATH", () => {
  it("patches pip's resolver factory but takes its own directory off sys.path again", () => {
    // Left on sys.path, the guard's directory is one more place every later top-level import and
    // importlib.metadata scan looks in (~3,600 extra lookups in one pip run).
    const guard = join(packageRoot(), "shims", "python");
    const other = tempDir();
    const out = execFileSync(
      realPython(),
      [
        "-c",
        [
          "import os, sys",
          "import pip._internal.resolution.resolvelib.factory as f",
          `print(any(os.path.abspath(p or '.') == ${JSON.stringify(guard)} for p in sys.path))`,
          `print(${JSON.stringify(other)} in sys.path)`,
          "print(getattr(f.Factory.make_requirement_from_spec, '__safe_pip__', False))",
        ].join("\n"),
      ],
      { env: { PATH: process.env.PATH ?? "", PYTHONPATH: `${guard}:${other}`, SAFE_PIP_GUARD: "block", PYTHONDONTWRITEBYTECODE: "1" }, encoding: "utf8" },
    );
    assert.deepEqual(out.trim().split("\n"), ["False", "True", "True"]);
  });
});
