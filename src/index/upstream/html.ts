import type { DistFile } from "../model.js";

/**
 * PEP 503 project pages are HTML written by many servers (PyPI, devpi, Artifactory, Nexus, a folder
 * behind nginx). This reads only what the spec defines — anchors, their href hash fragment and the
 * data-* attributes — with a small tolerant tokenizer, so hostile markup can at worst yield no files.
 */
const ATTR = /([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
const BASE = /<base\b[^>]*\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (whole, ent: string) => {
    const e = ent.toLowerCase();
    if (e === "amp") return "&";
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "quot") return '"';
    if (e === "apos" || e === "#39") return "'";
    const code = e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
  });
}

function parseAttrs(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const m of text.matchAll(ATTR)) {
    const name = m[1]!.toLowerCase();
    if (!attrs.has(name)) attrs.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ""));
  }
  return attrs;
}

function hashesFromFragment(fragment: string): Record<string, string> {
  const m = /^([a-z0-9_]+)=([0-9a-fA-F]+)$/.exec(fragment);
  return m ? { [m[1]!.toLowerCase()]: m[2]!.toLowerCase() } : {};
}

function metadataAttr(value: string | undefined): boolean | Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (value === "" || value.toLowerCase() === "true") return true;
  const h = hashesFromFragment(value);
  return Object.keys(h).length ? h : true;
}

/**
 * Anchors found with indexOf rather than one big regex: linear time even on a hostile page full of
 * unclosed tags (a lazy regex would rescan to the end for each of them).
 */
function* anchors(html: string): Generator<[string, string]> {
  const lower = html.toLowerCase();
  let pos = 0;
  for (;;) {
    const start = lower.indexOf("<a", pos);
    if (start === -1) return;
    const next = lower[start + 2];
    if (next !== undefined && !/[\s>]/.test(next)) {
      pos = start + 2;
      continue;
    }
    const tagEnd = lower.indexOf(">", start);
    if (tagEnd === -1) return;
    const close = lower.indexOf("</a", tagEnd);
    if (close === -1) return;
    yield [html.slice(start + 2, tagEnd), html.slice(tagEnd + 1, close)];
    pos = close + 3;
  }
}

/**
 * Whether the page ends inside an anchor (`<a href="…` with no `>` or no `</a>` after it): a page
 * cut off in transit or otherwise broken. parseSimpleHtml would read the anchors before it and
 * quietly drop the rest, so callers that must not serve part of a page check this first.
 */
export function endsInsideAnchor(html: string): boolean {
  const lower = html.toLowerCase();
  for (let i = lower.lastIndexOf("<a"); i !== -1; i = i === 0 ? -1 : lower.lastIndexOf("<a", i - 1)) {
    const next = lower[i + 2];
    if (next !== undefined && !/[\s>]/.test(next)) continue; // <abbr>, <area>…
    const tagEnd = lower.indexOf(">", i);
    return tagEnd === -1 || lower.indexOf("</a", tagEnd) === -1;
  }
  return false;
}

export function parseSimpleHtml(html: string, pageUrl: string): DistFile[] {
  const baseMatch = BASE.exec(html);
  const base = baseMatch ? new URL(decodeEntities(baseMatch[1] ?? baseMatch[2] ?? baseMatch[3] ?? ""), pageUrl).toString() : pageUrl;
  const files: DistFile[] = [];
  for (const [attrText, inner] of anchors(html)) {
    const attrs = parseAttrs(attrText);
    const href = attrs.get("href");
    if (!href) continue;
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      continue;
    }
    const fragment = url.hash.replace(/^#/, "");
    url.hash = "";
    const text = decodeEntities(inner.replace(/<[^>]*>/g, "")).trim();
    const filename = text || decodeURIComponent(url.pathname.split("/").pop() ?? "");
    const file: DistFile = { filename, url: url.toString(), hashes: hashesFromFragment(fragment) };
    const rp = attrs.get("data-requires-python");
    if (rp) file.requiresPython = rp;
    if (attrs.has("data-yanked")) file.yanked = attrs.get("data-yanked") || true;
    const meta = metadataAttr(attrs.get("data-core-metadata") ?? attrs.get("data-dist-info-metadata"));
    if (meta !== undefined) file.coreMetadata = meta;
    if (attrs.has("data-gpg-sig")) file.gpgSig = attrs.get("data-gpg-sig") === "true";
    files.push(file);
  }
  return files;
}
