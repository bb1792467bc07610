/**
 * A reverse proxy on 127.0.0.1 that adds a fixed delay before forwarding each request to another
 * local server, and records when each request arrived and finished: a "slow upstream" without
 * touching the server behind it, and a way to see how many requests were in flight at once.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ProxiedRequest {
  path: string;
  start: number;
  end: number;
}

export interface LatencyProxy {
  /** The proxy's origin with a trailing slash; append the target's paths (e.g. `simple/`). */
  root: string;
  requests: ProxiedRequest[];
  /** The most requests that were in flight at the same moment. */
  maxInFlight(): number;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: string, delayMs: number): Promise<LatencyProxy> {
  const to = new URL(target);
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let max = 0;
  let port = 0;
  const self = () => `http://127.0.0.1:${port}/`;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const rec: ProxiedRequest = { path: req.url ?? "/", start: Date.now(), end: 0 };
    requests.push(rec);
    inFlight++;
    max = Math.max(max, inFlight);
    const done = () => {
      if (rec.end) return;
      rec.end = Date.now();
      inFlight--;
    };
    res.on("close", done);
    setTimeout(() => {
      const headers = { ...req.headers, host: to.host };
      delete headers["accept-encoding"];
      const up = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers, agent }, (ur) => {
        const type = String(ur.headers["content-type"] ?? "");
        if (!/html|json/.test(type)) {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return;
        }
        // Pages name their files by absolute URL: point those at the proxy too, so files are slow as well.
        const chunks: Buffer[] = [];
        ur.on("data", (c: Buffer) => chunks.push(c));
        ur.on("end", () => {
          const body = Buffer.from(Buffer.concat(chunks).toString("utf8").split(to.origin + "/").join(self()), "utf8");
          res.writeHead(ur.statusCode ?? 502, { ...ur.headers, "content-length": String(body.length) });
          res.end(body);
        });
        ur.on("error", () => res.destroy());
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    }, delayMs);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  port = (server.address() as AddressInfo).port;
  return {
    root: `http://127.0.0.1:${port}/`,
    requests,
    maxInFlight: () => max,
    close: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
