import type { DistFile } from "./model.js";

/** Our own URL for a served file: only files we listed can be fetched through us. */
export function localFileUrl(project: string, filename: string): string {
  return `../../files/${encodeURIComponent(project)}/${encodeURIComponent(filename)}`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function hashFragment(hashes: Record<string, string>): string {
  const alg = hashes.sha256 ? "sha256" : Object.keys(hashes)[0];
  return alg ? `#${alg}=${hashes[alg]}` : "";
}

/**
 * PEP 658/714 metadata is advertised without the upstream's hash: the index checks that hash
 * itself, and for a release it hides when the metadata arrives it serves a different file (one
 * that makes pip discard the candidate), which pip would otherwise take for tampering and abort.
 */
function metadataValue(m: DistFile["coreMetadata"]): string | undefined {
  if (m === undefined || m === false) return undefined;
  return "true";
}

export function renderHtml(project: string, files: DistFile[]): string {
  const lines = files.map((f) => {
    const attrs = [`href="${esc(localFileUrl(project, f.filename) + hashFragment(f.hashes))}"`];
    if (f.requiresPython) attrs.push(`data-requires-python="${esc(f.requiresPython)}"`);
    if (f.yanked) attrs.push(`data-yanked="${typeof f.yanked === "string" ? esc(f.yanked) : ""}"`);
    const meta = metadataValue(f.coreMetadata);
    if (meta) attrs.push(`data-dist-info-metadata="${esc(meta)}"`, `data-core-metadata="${esc(meta)}"`);
    return `    <a ${attrs.join(" ")}>${esc(f.filename)}</a><br/>`;
  });
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n    <title>Links for ${esc(project)}</title>\n  </head>\n  <body>\n    <h1>Links for ${esc(project)}</h1>\n${lines.join("\n")}\n  </body>\n</html>\n`;
}

export function renderJson(project: string, files: DistFile[], versions: string[]): string {
  return JSON.stringify({
    meta: { "api-version": "1.1" },
    name: project,
    versions,
    files: files.map((f) => {
      const out: Record<string, unknown> = {
        filename: f.filename,
        url: localFileUrl(project, f.filename),
        hashes: f.hashes,
      };
      if (f.requiresPython) out["requires-python"] = f.requiresPython;
      if (metadataValue(f.coreMetadata)) {
        out["core-metadata"] = true;
        out["dist-info-metadata"] = true;
      }
      out.yanked = f.yanked ?? false;
      if (f.size !== undefined) out.size = f.size;
      if (f.uploadTime) out["upload-time"] = f.uploadTime;
      return out;
    }),
  });
}

/** PEP 691 content negotiation: JSON only when the client prefers it; HTML is the safe default. */
export function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let html = -1;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    const t = type!.trim().toLowerCase();
    if (t === "application/vnd.pypi.simple.v1+json" || t === "application/vnd.pypi.simple.latest+json") json = Math.max(json, q);
    else if (t === "application/vnd.pypi.simple.v1+html" || t === "text/html" || t === "*/*") html = Math.max(html, q);
  }
  return json > 0 && json >= html;
}
