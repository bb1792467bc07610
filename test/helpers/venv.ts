/**
 * Python virtual environments with pip inside, so a test can treat that pip as "the active
 * environment's pip" (what safe-pip wraps).
 *
 * `python3 -m venv` installs pip offline from ensurepip's bundled wheel but takes ~5 s, against
 * ~0.4 s to copy a finished venv. So one template per interpreter is built once, in the OS temp
 * dir where parallel test processes (and later runs) share it, and each venv is a copy with its
 * own paths patched in.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { isolatedEnv } from "./env.js";

const run = promisify(execFile);

export interface Venv {
  /** The venv's interpreter, `<dir>/bin/python`. */
  python: string;
  dir: string;
}

export interface MakeVenvOptions {
  /** Base interpreter; default `python3` from PATH. */
  python?: string;
  /** Skip the template and run `python -m venv` directly (e.g. to test venv creation itself). */
  fresh?: boolean;
}

const templates = new Map<string, Promise<string>>();

export async function makeVenv(dir: string, opts: MakeVenvOptions = {}): Promise<Venv> {
  const base = opts.python ?? "python3";
  const target = resolve(dir);
  if (opts.fresh) {
    await createVenv(base, target);
  } else {
    let template = templates.get(base);
    if (!template) {
      template = ensureTemplate(base);
      templates.set(base, template);
    }
    copyVenv(await template, target);
  }
  return { python: join(target, "bin", "python"), dir: target };
}

async function createVenv(python: string, dir: string): Promise<void> {
  // A clean env so the machine's pip config cannot affect ensurepip (it installs offline anyway).
  const iso = isolatedEnv({ PIP_CONFIG_FILE: "/dev/null" });
  try {
    await run(python, ["-m", "venv", dir], { env: iso.env });
  } finally {
    iso.cleanup();
  }
}

/** The template lives at a path derived from the interpreter and its bundled pip, so a new Python never reuses an old template. */
async function ensureTemplate(python: string): Promise<string> {
  const { stdout } = await run(python, [
    "-c",
    "import sys, ensurepip; print(sys.executable, sys.version, ensurepip.version())",
  ]);
  const key = createHash("sha256").update(stdout).digest("hex").slice(0, 16);
  const template = join(tmpdir(), `safe-pip-venv-template-${key}`);
  if (existsSync(join(template, "pyvenv.cfg"))) return template;

  // Build beside it and rename into place: rename is atomic, so a concurrent test process
  // either sees no template or a complete one. If another process won the race, keep theirs.
  const partial = `${template}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  await createVenv(python, partial);
  patchPaths(partial, partial, template);
  try {
    renameSync(partial, template);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(template, "pyvenv.cfg"))) throw err;
  }
  return template;
}

function copyVenv(template: string, dir: string): void {
  // Keep symlinks to the base interpreter as they are, and mtimes so the .pyc files stay valid.
  cpSync(template, dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  patchPaths(dir, template, dir);
}

/** Script shebangs, activate scripts and pyvenv.cfg name the venv's own path; point them at `to`. */
function patchPaths(dir: string, from: string, to: string): void {
  const binDir = join(dir, "bin");
  const candidates = [join(dir, "pyvenv.cfg"), ...readdirSync(binDir).map((f) => join(binDir, f))];
  for (const file of candidates) {
    if (!lstatSync(file).isFile()) continue;
    const text = readFileSync(file, "utf8");
    if (text.includes(from)) writeFileSync(file, text.split(from).join(to));
  }
}
