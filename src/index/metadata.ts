import type { HttpClient } from "../core/http.js";
import type { UnifiedIndex } from "./server.js";
import { versionFromFilename } from "./model.js";
import { jsonApiUrl } from "./upstream/simple.js";

/**
 * The core metadata (METADATA text) of one release, fetched without running or even downloading
 * the package: the PEP 658 `.metadata` file when the upstream has one, else PyPI's JSON API turned
 * into the few metadata fields the checks read. undefined when neither exists.
 */
export async function fetchCoreMetadata(http: HttpClient, index: UnifiedIndex, name: string, version: string): Promise<string | undefined> {
  const served = await index.project(name);
  const files = served.files.filter((f) => versionFromFilename(f.filename, name) === version);
  const withMeta = files.find((f) => f.coreMetadata);
  if (withMeta) {
    const res = await http.get(`${withMeta.url}.metadata`, undefined, 4 * 1024 * 1024);
    if (res.status === 200) return res.body.toString("utf8");
  }
  const api = jsonApiUrl(served.indexUrl, name);
  if (!api) return undefined;
  const res = await http.get(api.replace(/\/json$/, `/${encodeURIComponent(version)}/json`), "application/json");
  if (res.status !== 200) return undefined;
  const doc = JSON.parse(res.body.toString("utf8")) as { info?: { license?: string; license_expression?: string; classifiers?: string[] } };
  const info = doc.info ?? {};
  return [
    ...(info.license_expression ? [`License-Expression: ${info.license_expression}`] : []),
    ...(info.license ? [`License: ${info.license}`] : []),
    ...(info.classifiers ?? []).map((c) => `Classifier: ${c}`),
  ].join("\n");
}
