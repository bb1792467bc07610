import { SafePipError, describeError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import { nameMatchesPattern, normalizeName } from "../core/names.js";
import { redactUrl } from "../core/redact.js";
import type { InternalSource } from "../policy/schema.js";
import type { ProjectPage } from "./model.js";
import { fetchProjectPage, JSON_TYPE } from "./upstream/simple.js";
import { endsInsideAnchor, parseSimpleHtml } from "./upstream/html.js";

export interface Route {
  source: "internal" | "public";
  indexUrl: string;
  /** Why this source owns the name, for explanations. */
  why: string;
}

export interface Routed {
  route: Route;
  /** undefined: the owning index does not have the project. */
  page: ProjectPage | undefined;
}

/**
 * Decides which upstream owns a project name — the heart of dependency-confusion protection. A name
 * reserved by an internal pattern, or served by an internal index, is answered from that internal
 * index only; the public index is never even asked. When an internal index cannot be reached we
 * cannot know whether a name is internal, so the answer is an error, never a public fallback.
 */
export class Router {
  private readonly listings = new Map<string, Promise<Set<string> | undefined>>();

  constructor(
    private readonly http: HttpClient,
    private readonly publicIndex: string,
    private readonly internal: InternalSource[],
  ) {}

  async route(name: string): Promise<Routed> {
    const reserved = this.internal.find((src) => src.packages.some((p) => nameMatchesPattern(name, p)));
    if (reserved) {
      const pattern = reserved.packages.find((p) => nameMatchesPattern(name, p))!;
      const route: Route = { source: "internal", indexUrl: reserved.url, why: `reserved for ${redactUrl(reserved.url)} by "${pattern}"` };
      const page = await this.fetchInternal(reserved.url, name, `it owns "${pattern}"`);
      return { route, page };
    }
    for (const src of this.internal) {
      const listing = await this.listing(src.url, name);
      if (listing !== undefined) {
        if (!listing.has(name)) continue;
        const page = await this.fetchInternal(src.url, name, "it lists this project");
        return { route: { source: "internal", indexUrl: src.url, why: `served by internal index ${redactUrl(src.url)}` }, page };
      }
      // No usable root listing: ask for the project itself.
      const page = await this.fetchInternal(src.url, name, "it may serve this project");
      if (page) return { route: { source: "internal", indexUrl: src.url, why: `served by internal index ${redactUrl(src.url)}` }, page };
    }
    const page = await fetchProjectPage(this.http, this.publicIndex, name);
    return { route: { source: "public", indexUrl: this.publicIndex, why: "public index" }, page };
  }

  private async fetchInternal(url: string, name: string, why: string): Promise<ProjectPage | undefined> {
    try {
      return await fetchProjectPage(this.http, url, name);
    } catch (err) {
      throw new SafePipError(
        "UNAVAILABLE",
        `internal index ${redactUrl(url)} is unavailable (${describeError(err).replace(/^.*?: /, "")}); ${why}, so ${name} is not looked up on the public index`,
      );
    }
  }

  /** The internal index's root listing, fetched once per run; undefined when it has none. */
  private listing(url: string, name: string): Promise<Set<string> | undefined> {
    let p = this.listings.get(url);
    if (!p) {
      p = this.fetchListing(url);
      this.listings.set(url, p);
    }
    return p.catch((err: unknown) => {
      throw new SafePipError(
        "UNAVAILABLE",
        `internal index ${redactUrl(url)} is unavailable (${describeError(err).replace(/^.*?: /, "")}); safe-pip cannot tell whether ${name} is internal, so it is not looked up on the public index`,
      );
    });
  }

  private async fetchListing(url: string): Promise<Set<string> | undefined> {
    const res = await this.http.get(url, `${JSON_TYPE}, text/html;q=0.1`);
    if (res.status === 404 || res.status === 405 || res.status === 403) return undefined;
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const text = res.body.toString("utf8");
    const names = new Set<string>();
    if (res.contentType.includes("json")) {
      const doc = JSON.parse(text) as { projects?: Array<{ name?: unknown }> };
      if (!Array.isArray(doc.projects)) return undefined;
      for (const p of doc.projects) if (typeof p.name === "string") names.add(normalizeName(p.name));
    } else {
      // A listing cut short would leave internal names out, and those would go to the public index.
      if (endsInsideAnchor(text)) throw new Error("answered an HTML listing that is cut off or malformed (an unclosed link)");
      for (const f of parseSimpleHtml(text, res.url)) names.add(normalizeName(f.filename));
    }
    return names;
  }
}
