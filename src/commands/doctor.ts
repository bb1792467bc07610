import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describeError } from "../core/errors.js";
import { HttpClient } from "../core/http.js";
import { redactUrl } from "../core/redact.js";
import { fileHasMarker } from "../core/marked-line.js";
import { stampPath } from "../checks/osv/offline.js";
import { formatAge } from "../core/duration.js";
import { collectPipSettings } from "../pip/config.js";
import { findPython, probePip, SHIM_MARKER } from "../pip/locate.js";
import { formatSourceNote } from "../pip/sources.js";
import { loadPolicy, type LoadedPolicy } from "../policy/load.js";
import { provenanceFindings } from "../policy/provenance.js";
import { rDoctorFindings } from "../r/doctor.js";
import { PATH_MARKER, SHELL_MARKER, pickShell, rcFile } from "../shell/rcfile.js";
import { chooseStyle } from "../report/style.js";
import type { CommandContext } from "./context.js";

type Status = "ok" | "warn" | "fail";
interface Finding {
  status: Status;
  area: string;
  finding: string;
  fix?: string | undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Every executable called `name` on PATH, in PATH order. */
function onPath(name: string | RegExp, pathVar: string): string[] {
  const out: string[] = [];
  for (const dir of pathVar.split(":")) {
    if (!dir || !existsSync(dir)) continue;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) if ((typeof name === "string" ? e === name : name.test(e)) && isExecutable(join(dir, e))) out.push(join(dir, e));
  }
  return out;
}

const isShim = (p: string) => existsSync(join(p, "..", SHIM_MARKER));

/**
 * `safe-pip doctor`: what on this laptop goes through safe-pip and what does not, with a fix for
 * each gap. Exit 1 when a pip call or R install is not covered, or a source is unreachable.
 */
export async function doctorCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const findings: Finding[] = [];
  const env = ctx.env;
  const path = env.PATH ?? "";

  // The policy, and where it comes from.
  let loaded: LoadedPolicy | undefined;
  try {
    loaded = loadPolicy(env);
    const from = [loaded.systemFile && `system ${loaded.systemFile}`, loaded.userFile && `user ${loaded.userFile}`].filter(Boolean).join(", ") || "built-in defaults";
    findings.push({ status: "ok", area: "policy", finding: `from ${from}` });
    for (const w of loaded.warnings) findings.push({ status: "warn", area: "policy", finding: w, fix: "fix or remove the key" });
    findings.push(...provenanceFindings(loaded));
  } catch (err) {
    findings.push({ status: "fail", area: "policy", finding: describeError(err), fix: "fix the policy file named above" });
  }

  // The real pip.
  let sysPrefix: string | undefined;
  try {
    const pip = await probePip(findPython(env), env);
    sysPrefix = pip.sysPrefix;
    findings.push({ status: "ok", area: "real pip", finding: `pip ${pip.version} via ${pip.python} -m pip` });
  } catch (err) {
    findings.push({ status: "fail", area: "real pip", finding: describeError(err), fix: "install Python with pip, or set SAFE_PIP_PYTHON" });
  }

  // Coverage: shell functions (this shell only), rc files, PATH shims.
  const shellActive = env.SAFE_PIP_SHELL_INIT;
  let shell: ReturnType<typeof pickShell> | undefined;
  try {
    shell = pickShell(undefined, env);
  } catch {
    shell = undefined;
  }
  const rc = shell ? rcFile(shell, env) : undefined;
  const rcHasInit = rc ? fileHasMarker(rc, SHELL_MARKER) : false;
  for (const name of ["pip", "pip3"]) {
    const first = onPath(name, path)[0];
    if (first && isShim(first)) findings.push({ status: "ok", area: name, finding: `PATH shim ${first} (every program that runs ${name})` });
    else if (shellActive) findings.push({ status: "warn", area: name, finding: `covered in this ${shellActive} session only; scripts, Makefiles and IDEs run ${first ?? name} directly`, fix: "safe-pip setup path" });
    else findings.push({ status: "fail", area: name, finding: `not covered: \`${name}\` runs ${first ?? "(not found)"} directly`, fix: rcHasInit ? `open a new shell (${rc} has the init line)` : "safe-pip setup shell (and safe-pip setup path)" });
  }
  findings.push(
    shellActive
      ? { status: "ok", area: "python -m pip", finding: `routed by the ${shellActive} functions in this session` }
      : { status: "fail", area: "python -m pip", finding: "not covered: `python -m pip` / `python3 -m pip` call pip directly", fix: rcHasInit ? `open a new shell (${rc} has the init line)` : "safe-pip setup shell" },
  );
  if (rc && fileHasMarker(rc, PATH_MARKER) && !onPath("pip", path).some(isShim))
    findings.push({ status: "warn", area: "PATH", finding: `${rc} adds the shim directory, but this PATH does not have it first`, fix: "open a new shell" });

  // Other pips on PATH that a program could run directly.
  const others = onPath(/^pip(\d(\.\d+)?)?$/, path).filter((p) => !isShim(p));
  if (others.length > 1) findings.push({ status: "warn", area: "other pips", finding: `${others.length} pip executables on PATH: ${others.slice(0, 6).join(", ")}${others.length > 6 ? ", …" : ""}`, fix: "programs that run them by full path bypass safe-pip; prefer the PATH shims" });

  // Sources pip would use on its own.
  try {
    const settings = collectPipSettings({ env, command: "install", sysPrefix, isolated: false });
    const sources = settings.notes.filter((n) => n.action === "removed");
    for (const n of sources) findings.push({ status: "warn", area: "pip sources", finding: formatSourceNote(n).replace(/: only safe-pip's index is used$/, ""), fix: "neutralised by safe-pip; plain pip still uses it" });
    if (!sources.length) findings.push({ status: "ok", area: "pip sources", finding: "no extra index or find-links in pip's files or environment" });
  } catch (err) {
    findings.push({ status: "warn", area: "pip sources", finding: describeError(err) });
  }

  // The R hook.
  if (onPath("Rscript", path).length) findings.push(...rDoctorFindings(env, ctx.cwd));

  // Sources safe-pip itself needs.
  if (loaded) {
    const policy = loaded.policy;
    const http = new HttpClient({ timeoutMs: Math.min(policy.timeoutMs, 10_000), maxBytes: 64 * 1024 * 1024 });
    try {
      const probe = async (area: string, url: string) => {
        try {
          const res = await http.get(url, "application/vnd.pypi.simple.v1+json, text/html;q=0.1");
          findings.push(res.status < 500 ? { status: "ok", area, finding: `${redactUrl(url)} answers (HTTP ${res.status})` } : { status: "fail", area, finding: `${redactUrl(url)} answers HTTP ${res.status}` });
        } catch (err) {
          findings.push({ status: "fail", area, finding: describeError(err), fix: "check the URL, network and proxy settings" });
        }
      };
      await Promise.all([probe("index", policy.index), ...policy.internal.map((i) => probe("internal index", i.url))]);
      if (policy.osv.source === "api") {
        try {
          const res = await http.postJson(`${policy.osv.url.replace(/\/$/, "")}/v1/query`, { package: { name: "pip", ecosystem: "PyPI" } });
          findings.push(res.status === 200 ? { status: "ok", area: "OSV", finding: `API ${redactUrl(policy.osv.url)} answers` } : { status: "fail", area: "OSV", finding: `API ${redactUrl(policy.osv.url)} answers HTTP ${res.status}` });
        } catch (err) {
          findings.push({ status: "fail", area: "OSV", finding: describeError(err), fix: 'check the network, or use "osv": {"source": "offline"}' });
        }
      } else if (policy.osv.source === "offline" && policy.osv.database) {
        const db = policy.osv.database;
        if (!existsSync(db)) findings.push({ status: "fail", area: "OSV", finding: `offline database ${db} does not exist`, fix: "safe-pip osv update" });
        else {
          const isDir = statSync(db).isDirectory();
          const stamp = stampPath(db, isDir);
          const age = Date.now() - (existsSync(stamp) ? statSync(stamp).mtimeMs : statSync(db).mtimeMs);
          const stale = policy.osv.maxStalenessMs > 0 && age > policy.osv.maxStalenessMs;
          findings.push({ status: stale ? "fail" : "ok", area: "OSV", finding: `offline database ${db}, updated ${formatAge(age)} ago`, fix: stale ? "safe-pip osv update" : undefined });
        }
      } else findings.push({ status: "warn", area: "OSV", finding: "OSV checks are off", fix: 'set "osv": {"source": "api"}' });
    } finally {
      await http.close();
    }
  }

  render(findings, ctx, argv.includes("--json"));
  return findings.some((f) => f.status === "fail") ? 1 : 0;
}

function render(findings: Finding[], ctx: CommandContext, json: boolean): void {
  if (json) {
    // Findings quote URLs and error texts, which may carry credentials: redacted as in text output.
    const safe = findings.map((f) => ({ ...f, finding: redactUrl(f.finding), ...(f.fix ? { fix: redactUrl(f.fix) } : {}) }));
    ctx.stdout.write(JSON.stringify(safe, null, 2) + "\n");
    return;
  }
  const style = chooseStyle(Boolean((ctx.stdout as NodeJS.WriteStream).isTTY), ctx.env);
  const mark = { ok: style.green("ok  "), warn: style.yellow("warn"), fail: style.red("FAIL") };
  const width = Math.max(...findings.map((f) => f.area.length));
  for (const f of findings) {
    ctx.stdout.write(`${mark[f.status]}  ${f.area.padEnd(width)}  ${redactUrl(f.finding)}\n`);
    if (f.fix && f.status !== "ok") ctx.stdout.write(`      ${" ".repeat(width)}  ${style.dim(`fix: ${f.fix}`)}\n`);
  }
  const fails = findings.filter((f) => f.status === "fail").length;
  ctx.stdout.write(fails ? `\n${fails} problem${fails === 1 ? "" : "s"} to fix\n` : "\neverything safe-pip can check is covered\n");
}
