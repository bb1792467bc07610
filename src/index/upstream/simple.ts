import { SafePipError } from "../../core/errors.js";
import type { HttpClient } from "../../core/http.js";
import { upstreamError } from "../../core/http.js";
import type { DistFile, ProjectPage } from "../model.js";
import { endsInsideAnchor, parseSimpleHtml } from "./html.js";
import { parseUploadTime, parseJsonApiUploadTime } from "./time.js";
import { statusFromHtml, statusFromJson } from "../status.js";

export const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
export const HTML_TYPE = "application/vnd.pypi.simple.v1+html";
const ACCEPT = `${JSON_TYPE}, ${HTML_TYPE};q=0.2, text/html;q=0.01`;

export function projectUrl(indexUrl: string, normalizedName: string): string {
  const base = indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`;
  return `${base}${encodeURIComponent(normalizedName)}/`;
}

/**
 * Fetches one project page from an upstream index, preferring PEP 691 JSON (it carries PEP 700
 * upload times). Returns undefined when the upstream does not have the project (404/410); any other
 * answer that is not a well-formed page is an error: we never serve what we could not read.
 */
export async function fetchProjectPage(http: HttpClient, indexUrl: string, normalizedName: string): Promise<ProjectPage | undefined> {
  const url = projectUrl(indexUrl, normalizedName);
  const res = await http.get(url, ACCEPT);
  if (res.status === 404 || res.status === 410) return undefined;
  if (res.status !== 200) throw upstreamError(url, `answered HTTP ${res.status}`);
  const type = res.contentType.split(";")[0]!.trim().toLowerCase();
  const text = res.body.toString("utf8");
  let page: ProjectPage;
  if (type === JSON_TYPE || type === "application/json") page = parseSimpleJson(text, res.url, normalizedName);
  else if (type === HTML_TYPE || type === "text/html" || type === "") {
    if (!/<(!doctype|html|body|a\b|head|meta)/i.test(text) && text.trim() !== "")
      throw upstreamError(url, "answered something that is not a PEP 503 HTML page");
    if (endsInsideAnchor(text)) throw upstreamError(url, "answered a PEP 503 HTML page that is cut off or malformed (an unclosed link)");
    page = { name: normalizedName, files: parseSimpleHtml(text, res.url), url: res.url, status: statusFromHtml(text) };
  } else throw upstreamError(url, `answered an unexpected content type "${type}"`);
  return withCredentials(page, indexUrl);
}

/**
 * Files on the same host as an index that needs credentials need them too (pip applies an index's
 * credentials to its whole host). They stay inside the URL, which is redacted wherever it is shown.
 */
function withCredentials(page: ProjectPage, indexUrl: string): ProjectPage {
  const index = new URL(indexUrl);
  if (!index.username && !index.password) return page;
  const files = page.files.map((f) => {
    const u = new URL(f.url);
    if (u.host !== index.host || u.username || u.password) return f;
    u.username = index.username;
    u.password = index.password;
    return { ...f, url: u.toString() };
  });
  return { ...page, files };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseSimpleJson(text: string, pageUrl: string, normalizedName: string): ProjectPage {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw upstreamError(pageUrl, "answered malformed PEP 691 JSON");
  }
  const bad = (why: string): SafePipError => upstreamError(pageUrl, `answered a PEP 691 page that ${why}`);
  if (!isObject(doc)) throw bad("is not a JSON object");
  const meta = doc.meta;
  const apiVersion = isObject(meta) && typeof meta["api-version"] === "string" ? meta["api-version"] : "1.0";
  if (!apiVersion.startsWith("1.")) throw bad(`has unsupported api-version ${apiVersion}`);
  if (!Array.isArray(doc.files)) throw bad("has no files list");
  const files: DistFile[] = [];
  for (const f of doc.files) {
    if (!isObject(f) || typeof f.filename !== "string" || typeof f.url !== "string") throw bad("has a file without filename or url");
    let url: URL;
    try {
      url = new URL(f.url, pageUrl);
    } catch {
      throw bad(`has an unreadable url for ${f.filename}`);
    }
    const hashes: Record<string, string> = {};
    if (isObject(f.hashes)) for (const [k, v] of Object.entries(f.hashes)) if (typeof v === "string") hashes[k.toLowerCase()] = v.toLowerCase();
    const fragment = /^#([a-z0-9_]+)=([0-9a-f]+)$/i.exec(url.hash);
    if (fragment && !hashes[fragment[1]!.toLowerCase()]) hashes[fragment[1]!.toLowerCase()] = fragment[2]!.toLowerCase();
    url.hash = "";
    const file: DistFile = { filename: f.filename, url: url.toString(), hashes };
    if (typeof f["requires-python"] === "string") file.requiresPython = f["requires-python"];
    const cm = f["core-metadata"] ?? f["dist-info-metadata"];
    if (typeof cm === "boolean") file.coreMetadata = cm;
    else if (isObject(cm)) file.coreMetadata = Object.fromEntries(Object.entries(cm).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    if (typeof f.yanked === "boolean" || typeof f.yanked === "string") file.yanked = f.yanked;
    if (typeof f.size === "number" && Number.isFinite(f.size)) file.size = f.size;
    const uploadTime = parseUploadTime(f["upload-time"]);
    if (uploadTime) file.uploadTime = uploadTime;
    if (typeof f["gpg-sig"] === "boolean") file.gpgSig = f["gpg-sig"];
    files.push(file);
  }
  const versions = Array.isArray(doc.versions) ? doc.versions.filter((v): v is string => typeof v === "string") : undefined;
  return { name: typeof doc.name === "string" ? doc.name : normalizedName, files, versions, url: pageUrl, status: statusFromJson(doc) };
}

/**
 * PyPI's JSON API (`/pypi/<name>/json`) has upload times for servers whose simple pages do not.
 * Only indexes laid out like PyPI (`…/simple/`) have one; others return undefined.
 */
export function jsonApiUrl(indexUrl: string, normalizedName: string): string | undefined {
  const u = new URL(indexUrl);
  const m = /^(.*\/)simple\/?$/.exec(u.pathname);
  if (!m) return undefined;
  u.pathname = `${m[1]}pypi/${encodeURIComponent(normalizedName)}/json`;
  return u.toString();
}

export async function fetchUploadTimes(http: HttpClient, indexUrl: string, normalizedName: string): Promise<Map<string, string> | undefined> {
  const url = jsonApiUrl(indexUrl, normalizedName);
  if (!url) return undefined;
  const res = await http.get(url, "application/json");
  if (res.status !== 200) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(res.body.toString("utf8"));
  } catch {
    return undefined;
  }
  const times = new Map<string, string>();
  if (!isObject(doc) || !isObject(doc.releases)) return times;
  for (const files of Object.values(doc.releases)) {
    if (!Array.isArray(files)) continue;
    for (const f of files) {
      if (!isObject(f) || typeof f.filename !== "string") continue;
      // An unreadable ISO field is unknown, never replaced by the looser `upload_time`.
      const t = f.upload_time_iso_8601 !== undefined ? parseUploadTime(f.upload_time_iso_8601) : parseJsonApiUploadTime(f.upload_time);
      if (t) times.set(f.filename, t);
    }
  }
  return times;
}
