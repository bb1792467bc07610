import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";
import type { Readable } from "node:stream";
import { SafePipError, describeError } from "./errors.js";
import { redactUrl } from "./redact.js";

/**
 * The only way safe-pip talks to the network. It exists so that every upstream request shares the
 * same rules: timeouts on connect/headers/body, a size cap, credentials moved from the URL into an
 * Authorization header (and never printed), and redirects followed only within the same origin —
 * a hostile or hijacked index must not be able to bounce us (and our credentials) elsewhere.
 */
export interface HttpSettings {
  timeoutMs: number;
  maxBytes: number;
  /** CA bundle file (pip's `cert`), replacing the default roots like pip does. */
  caFile?: string | undefined;
  /** Proxy URL for upstream requests (pip's `proxy` setting or HTTPS_PROXY). */
  proxy?: string | undefined;
}

export interface HttpResponse {
  status: number;
  url: string;
  contentType: string;
  body: Buffer;
}

export interface HttpStream {
  status: number;
  url: string;
  headers: Record<string, string>;
  body: Readable;
}

const MAX_REDIRECTS = 5;

type Undici = typeof import("undici");
let undiciModule: Promise<Undici> | undefined;
/**
 * undici is loaded on first use, not at start-up: its ~100 CommonJS files take ~80 ms to compile,
 * and that is better spent while pip starts (see warm()) than before pip is even spawned.
 */
const loadUndici = (): Promise<Undici> => (undiciModule ??= import("undici"));

export class HttpClient {
  readonly settings: HttpSettings;
  private readonly make: (u: Undici) => Dispatcher;
  private ready: Promise<{ request: Undici["request"]; dispatcher: Dispatcher }> | undefined;
  private closed = false;

  constructor(settings: HttpSettings) {
    this.settings = settings;
    // Read now, so a missing CA file is reported where the client is made.
    const connect = settings.caFile ? { ca: readFileSync(settings.caFile) } : undefined;
    const common = {
      connect: { ...connect, timeout: settings.timeoutMs },
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      keepAliveTimeout: 10_000,
      connections: 16,
    };
    // An explicit proxy (pip's `proxy` setting) wins; otherwise the usual proxy variables apply,
    // NO_PROXY included, since internal indexes are often reached without the proxy.
    const envProxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"].some((k) => process.env[k]);
    const proxy = settings.proxy;
    this.make = (u) =>
      proxy
        ? new u.ProxyAgent({ uri: proxy, ...common, ...(connect ? { requestTls: connect } : {}) })
        : envProxy
          ? new u.EnvHttpProxyAgent({ ...common, ...(connect ? { requestTls: connect } : {}) })
          : new u.Agent(common);
  }

  private client(): Promise<{ request: Undici["request"]; dispatcher: Dispatcher }> {
    // After close(), as before: no new connections (they would keep the process alive).
    if (this.closed && !this.ready) return Promise.reject(new Error("the HTTP client is closed"));
    return (this.ready ??= loadUndici().then((u) => ({ request: u.request, dispatcher: this.make(u) })));
  }

  /** Loads the HTTP stack now, ahead of the first request (for a moment when Node is idle). */
  warm(): void {
    this.client().catch(() => undefined);
  }

  /**
   * Ends every connection now. Not undici's graceful close(), which waits for requests in flight:
   * an upstream that hangs would then hold a Ctrl-C clean-up (and the run's end) for the whole
   * timeout, and nobody is waiting for those answers any more.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.ready) return;
    const client = await this.ready.catch(() => undefined);
    await client?.dispatcher.destroy().catch(() => undefined);
  }

  /** GET with the body buffered up to maxBytes; non-2xx answers are returned, not thrown. */
  async get(url: string, accept?: string, maxBytes = this.settings.maxBytes): Promise<HttpResponse> {
    const res = await this.open(url, accept);
    const declared = Number(res.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.body.destroy();
      throw upstreamError(url, `response of ${declared} bytes is larger than the ${maxBytes}-byte limit`);
    }
    const body = await readLimited(url, res.body, maxBytes, this.settings.timeoutMs);
    return { status: res.status, url: res.url, contentType: res.headers["content-type"] ?? "", body };
  }

  /** POST a JSON body (OSV API); the answer is buffered like get(). */
  async postJson(url: string, payload: unknown, maxBytes = this.settings.maxBytes): Promise<HttpResponse> {
    const { target, headers } = prepare(url);
    headers["content-type"] = "application/json";
    headers["accept"] = "application/json";
    const { request, dispatcher } = await this.client().catch((err: unknown) => {
      throw upstreamError(url, describeNetworkError(err, this.settings.timeoutMs));
    });
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
        dispatcher,
        headersTimeout: this.settings.timeoutMs,
        bodyTimeout: this.settings.timeoutMs,
      });
    } catch (err) {
      throw upstreamError(url, describeNetworkError(err, this.settings.timeoutMs));
    }
    const body = await readLimited(url, res.body, maxBytes, this.settings.timeoutMs);
    return { status: res.statusCode, url, contentType: flattenHeaders(res.headers)["content-type"] ?? "", body };
  }

  /** GET returning the body as a stream (files are never buffered whole). */
  async open(url: string, accept?: string): Promise<HttpStream> {
    const { request, dispatcher } = await this.client().catch((err: unknown) => {
      throw upstreamError(url, describeNetworkError(err, this.settings.timeoutMs));
    });
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const { target, headers } = prepare(current);
      if (accept) headers["accept"] = accept;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(target, {
          method: "GET",
          headers,
          dispatcher,
          headersTimeout: this.settings.timeoutMs,
          bodyTimeout: this.settings.timeoutMs,
        });
      } catch (err) {
        throw upstreamError(current, describeNetworkError(err, this.settings.timeoutMs));
      }
      const flat = flattenHeaders(res.headers);
      if (res.statusCode >= 300 && res.statusCode < 400 && flat["location"]) {
        res.body.resume();
        const next = new URL(flat["location"], current);
        if (next.origin !== new URL(current).origin) {
          throw upstreamError(current, `redirects to another host (${redactUrl(next.origin)}); refusing to follow`);
        }
        // Keep the original credentials: same origin only, so they go nowhere new.
        const orig = new URL(current);
        next.username = orig.username;
        next.password = orig.password;
        current = next.toString();
        continue;
      }
      return { status: res.statusCode, url: current, headers: flat, body: res.body };
    }
    throw upstreamError(url, `more than ${MAX_REDIRECTS} redirects`);
  }
}

async function readLimited(url: string, body: Readable, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) {
        body.destroy();
        throw upstreamError(url, `response is larger than the ${maxBytes}-byte limit`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof SafePipError) throw err;
    throw upstreamError(url, describeNetworkError(err, timeoutMs));
  }
  return Buffer.concat(chunks);
}

function prepare(raw: string): { target: string; headers: Record<string, string> } {
  const u = new URL(raw);
  const headers: Record<string, string> = { "user-agent": "safe-pip" };
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    headers["authorization"] = "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
    u.username = "";
    u.password = "";
  }
  return { target: u.toString(), headers };
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

export function describeNetworkError(err: unknown, timeoutMs: number): string {
  const code = (err as { code?: string } | undefined)?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return `no answer within ${Math.round(timeoutMs / 1000)}s (timed out)`;
    default:
      return describeError(err);
  }
}

export function upstreamError(url: string, reason: string): SafePipError {
  return new SafePipError("UNAVAILABLE", `${redactUrl(url)}: ${reason}`);
}
