import { delimiter, join } from "node:path";
import { packageRoot } from "../core/paths.js";
import type { Env } from "../core/env.js";
import { SAFE_PIP_ENV } from "../core/env.js";
import type { PipSettings } from "./config.js";

const PROXY_VARS = ["http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"];
const NO_PROXY_VARS = ["no_proxy", "NO_PROXY"];

/**
 * The environment pip runs in. It is the one pin that reaches the whole process tree, build
 * isolation's child pips included: no configuration file (PIP_CONFIG_FILE=/dev/null), no PIP_*
 * variable but the harmless ones we chose, and our index as the only index. Unless the policy
 * allows direct references, the proxy variables point at our own server too, and nothing is
 * exempt from them (no NO_PROXY, not even loopback): pip reaches the index itself as a proxy
 * (absolute-form requests for the index's own origin are served), and anything else — another
 * loopback port such as a local mirror, localhost, any other host, CONNECT — is refused and
 * recorded. A URL hidden in some project's metadata therefore cannot be fetched behind our back.
 */
export function buildPipEnv(opts: {
  base: Env;
  settings: PipSettings;
  indexUrl: string;
  indexOrigin: string;
  allowDirect: boolean;
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.base)) {
    if (v === undefined || k.startsWith("PIP_")) continue;
    if (!opts.allowDirect && (PROXY_VARS.includes(k) || NO_PROXY_VARS.includes(k))) continue;
    env[k] = v;
  }
  for (const [key, { value }] of opts.settings.keep) env[`PIP_${key.toUpperCase().replace(/-/g, "_")}`] = value;
  env.PIP_CONFIG_FILE = "/dev/null";
  env.PIP_INDEX_URL = opts.indexUrl;
  env.PIP_DISABLE_PIP_VERSION_CHECK = "1";
  env[SAFE_PIP_ENV.ACTIVE] = "1";
  if (opts.allowDirect) {
    // Direct references may be fetched: only the index itself is kept off the user's proxy.
    const loopback = ["127.0.0.1", "localhost"];
    for (const k of NO_PROXY_VARS) env[k] = [...new Set([...(env[k] ?? "").split(",").filter(Boolean), ...loopback])].join(",");
  } else {
    for (const k of PROXY_VARS) env[k] = opts.indexOrigin;
    // file: URLs can't be proxied. A dependency declared as a URL in metadata that only a build
    // produces never passes the index, so a small guard inside every pip process of the tree
    // (build-isolation pips included: they inherit the environment) refuses URL dependencies
    // while pip is still resolving (shims/python/sitecustomize.py).
    env.SAFE_PIP_GUARD = "block";
    const guard = join(packageRoot(), "shims", "python");
    env.PYTHONPATH = env.PYTHONPATH ? `${guard}${delimiter}${env.PYTHONPATH}` : guard;
  }
  return env;
}
