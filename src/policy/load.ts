import { existsSync, readFileSync } from "node:fs";
// A type only: conf (with ajv) takes ~0.1 s to load and is needed only by userSettings().
import type Conf from "conf";
import { SafePipError } from "../core/errors.js";
import { envValue, type Env } from "../core/env.js";
import { parseLayer, PolicyFormatError, type Policy, type PolicyLayer } from "./schema.js";
import { mergeLayers, resolvePolicy } from "./merge.js";

export const DEFAULT_SYSTEM_POLICY = "/etc/safe-pip/policy.json";

export interface LoadedPolicy {
  policy: Policy;
  /** Where each layer came from, for messages and `doctor`. */
  systemFile?: string | undefined;
  userFile?: string | undefined;
  warnings: string[];
}

function readLayer(file: string, text: string): { layer: PolicyLayer; warnings: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SafePipError("CONFIG", `policy file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    const { layer, warnings } = parseLayer(raw);
    return { layer, warnings: warnings.map((w) => `${file}: ${w}`) };
  } catch (err) {
    if (err instanceof PolicyFormatError) {
      throw new SafePipError("CONFIG", `policy file ${file}: key "${err.key}" ${err.message}`);
    }
    throw err;
  }
}

function readFile(file: string, mustExist: boolean): string | undefined {
  if (!existsSync(file)) {
    if (mustExist) throw new SafePipError("CONFIG", `policy file ${file} does not exist`);
    return undefined;
  }
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new SafePipError("CONFIG", `policy file ${file} cannot be read: ${(err as Error).message}`);
  }
}

/** The user's own settings, kept by conf in the user config dir (~/.config/safe-pip/config.json). */
export async function userSettings(): Promise<Conf<Record<string, unknown>>> {
  const { default: Conf } = await import("conf");
  return new Conf<Record<string, unknown>>({ projectName: "safe-pip", projectSuffix: "", clearInvalidConfig: false });
}

export function userSettingsPath(): string {
  // conf's own path logic, without parsing the file (which would throw on broken JSON).
  const configHome = process.env.XDG_CONFIG_HOME || `${process.env.HOME ?? ""}/.config`;
  return `${configHome}/safe-pip/config.json`;
}

/**
 * System policy values are floors: the user layer (SAFE_PIP_CONFIG, else the user settings) may
 * tighten them, never loosen them. A broken file is an error, never a silent default.
 */
export function loadPolicy(env: Env, overrides: PolicyLayer = {}): LoadedPolicy {
  const warnings: string[] = [];
  const systemFile = envValue(env, "SYSTEM_POLICY") ?? DEFAULT_SYSTEM_POLICY;
  const systemText = readFile(systemFile, envValue(env, "SYSTEM_POLICY") !== undefined);
  let system: PolicyLayer | undefined;
  if (systemText !== undefined) {
    const r = readLayer(systemFile, systemText);
    system = r.layer;
    warnings.push(...r.warnings);
  }

  const explicit = envValue(env, "CONFIG");
  const userFile = explicit ?? userSettingsPath();
  const userText = readFile(userFile, explicit !== undefined);
  let user: PolicyLayer = {};
  if (userText !== undefined) {
    const r = readLayer(userFile, userText);
    user = r.layer;
    warnings.push(...r.warnings);
  }
  // Command-line flags (such as --snapshot) act as one more user layer: they can only tighten too.
  const layered = mergeLayers(mergeLayers(system ?? {}, user, warnings), overrides, warnings);
  return {
    policy: resolvePolicy(layered),
    systemFile: systemText !== undefined ? systemFile : undefined,
    userFile: userText !== undefined ? userFile : undefined,
    warnings,
  };
}
