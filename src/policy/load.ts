import { existsSync, readFileSync } from "node:fs";
// A type only: conf (with ajv) takes ~0.1 s to load and is needed only by userSettings().
import type Conf from "conf";
import { SafePipError } from "../core/errors.js";
import { envValue, type Env } from "../core/env.js";
import { expiredExclusionWarnings, snapshotFromEnv } from "./age-keys.js";
import { parseLayer, parseSnapshot, PolicyFormatError, type Policy, type PolicyLayer } from "./schema.js";
import { mergeLayers, resolvePolicy } from "./merge.js";

export const DEFAULT_SYSTEM_POLICY = "/etc/safe-pip/policy.json";

export interface LoadedPolicy {
  policy: Policy;
  /** Where each layer came from, for messages and `doctor`. */
  systemFile?: string | undefined;
  userFile?: string | undefined;
  warnings: string[];
  /** The layers as read, before merging, so `doctor` can say which one set each value. */
  layers: { system?: PolicyLayer | undefined; user: PolicyLayer; overrides: PolicyLayer };
}

export interface LoadOptions {
  /** The system policy's fixed location; only tests change it (never from the environment). */
  defaultSystemFile?: string;
}

/**
 * Which system policy file applies. SAFE_PIP_SYSTEM_POLICY would let any user swap the floor for a
 * file of their own, so it is honoured only where no system policy is installed (a developer
 * machine, CI, tests); once the fixed file exists, the variable is ignored with a warning.
 */
export function systemPolicyFile(env: Env, defaultFile: string, warnings: string[]): { file: string; mustExist: boolean } {
  const named = envValue(env, "SYSTEM_POLICY");
  if (named === undefined || named === defaultFile) return { file: defaultFile, mustExist: false };
  if (existsSync(defaultFile)) {
    warnings.push(`SAFE_PIP_SYSTEM_POLICY is ignored: the system policy ${defaultFile} is installed, and only it sets the floors`);
    return { file: defaultFile, mustExist: true };
  }
  return { file: named, mustExist: true };
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
export function loadPolicy(env: Env, overrides: PolicyLayer = {}, opts: LoadOptions = {}): LoadedPolicy {
  const warnings: string[] = [];
  const { file: systemFile, mustExist } = systemPolicyFile(env, opts.defaultSystemFile ?? DEFAULT_SYSTEM_POLICY, warnings);
  const systemText = readFile(systemFile, mustExist);
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
  // With no system policy the user's layer is the top one: nothing to merge it under.
  const base = system ? mergeLayers(system, user, warnings) : user;
  let layered = mergeLayers(base, overrides, warnings);
  const envSnapshot = snapshotFromEnv(env, parseSnapshot);
  if (envSnapshot) layered = mergeLayers(layered, { snapshot: envSnapshot }, warnings);
  const policy = resolvePolicy(layered);
  warnings.push(...expiredExclusionWarnings(policy.minAgeExclude, new Date()));
  return {
    policy,
    systemFile: systemText !== undefined ? systemFile : undefined,
    userFile: userText !== undefined ? userFile : undefined,
    warnings,
    layers: { system, user, overrides },
  };
}
