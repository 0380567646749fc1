// An HTTP proxy on 127.0.0.1 in front of a real receiver, for delivery tests
// and benchmarks: it forwards every request to the upstream and passes the
// answer back, unless told to be down (an outage: every request answered
// with 503, nothing forwarded) or far away (every answer held back until
// latencyMs after the request arrived). Unlike the fault server it keeps no
// bodies, so it carries benchmark volumes.
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";

export interface OutageProxyOptions {
  /** Base URL the request path is appended to, e.g. http://127.0.0.1:8428. */
  readonly upstream: string;
  readonly latencyMs?: number;
  /** Another loopback address (127.0.0.2) stands for "a different host". */
  readonly host?: string;
  /** Called with each request body passed to the upstream, in the order they arrived. */
  readonly onForward?: (body: Buffer) => void;
}

export interface OutageProxyStats {
  /** Requests whose body arrived. */
  requests: number;
  /** Passed to the upstream and answered by it. */
  forwarded: number;
  /** Answered by the proxy during an outage. */
  refused: number;
  /** The upstream failed (no answer): answered 502. */
  upstreamErrors: number;
}

export interface OutageProxy {
  /** http://HOST:PORT, no trailing slash. */
  readonly url: string;
  readonly stats: Readonly<OutageProxyStats>;
  /** From now on every request is answered with this status (default 503) and not forwarded. */
  outage(status?: number): void;
  /** Forward again. */
  restore(): void;
  readonly down: boolean;
  /** Answers leave no earlier than this long after their request arrived. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/** Per connection, not end to end: not passed on in either direction. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "host",
  "content-length",
]);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startOutageProxy(options: OutageProxyOptions): Promise<OutageProxy> {
  const upstream = new URL(options.upstream);
  const basePath = upstream.pathname.replace(/\/$/, "");
  // Keep-alive to the upstream, without a cap: a far endpoint is reached by many requests at once.
  const agent = new Agent({ keepAlive: true });
  let latencyMs = options.latencyMs ?? 0;
  let outageStatus: number | undefined;
  const stats: OutageProxyStats = { requests: 0, forwarded: 0, refused: 0, upstreamErrors: 0 };
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const arrived = Date.now();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      stats.requests++;
      const respond = (status: number, headers: Record<string, string | string[]>, body: Buffer): void => {
        const wait = arrived + latencyMs - Date.now();
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(status, { ...headers, "content-length": body.length });
          res.end(body);
        };
        if (wait > 0) setTimeout(send, wait);
        else send();
      };
      if (outageStatus !== undefined) {
        stats.refused++;
        respond(outageStatus, { "content-type": "text/plain" }, Buffer.from("outage (outage-proxy)\n"));
        return;
      }
      const body = Buffer.concat(chunks);
      options.onForward?.(body);
      const forward = httpRequest(
        {
          agent,
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: `${basePath}${req.url ?? "/"}`,
          headers: { ...endToEnd(req.headers), "content-length": body.length },
        },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => answerChunks.push(chunk));
          answer.on("end", () => {
            stats.forwarded++;
            respond(answer.statusCode ?? 502, endToEnd(answer.headers), Buffer.concat(answerChunks));
          });
        },
      );
      forward.on("error", (error) => {
        stats.upstreamErrors++;
        respond(502, { "content-type": "text/plain" }, Buffer.from(`upstream: ${error.message}\n`));
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("outage proxy has no TCP address");
  return {
    url: `http://${host}:${address.port}`,
    stats,
    outage(status = 503) {
      outageStatus = status;
    },
    restore() {
      outageStatus = undefined;
    },
    get down() {
      return outageStatus !== undefined;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
