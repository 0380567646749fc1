// The self-metrics and health listener of a replica that has no ingest
// listener to carry them (pull mode), or that is told to serve them apart
// (--metrics-listen). Requests are tiny and bodies are never read: a
// stranger reaching it can only read counters, and GET is all it answers.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sendExposition, type Exposition } from "../metrics/exposition.js";
import type { HealthEndpoints } from "../metrics/health.js";

export interface MetricsServer {
  /** http://HOST:PORT */
  readonly url: string;
  close(): Promise<void>;
}

/** Where pull-mode replicas serve /metrics by default: next to the ingest endpoint's 19291. */
export const DEFAULT_METRICS_LISTEN = "127.0.0.1:19290";

export async function startMetricsServer(
  host: string,
  port: number,
  metrics: () => Exposition,
  health: HealthEndpoints,
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response
        .writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" })
        .end("method not allowed\n");
      return;
    }
    if (path === "/metrics") {
      sendExposition(response, metrics(), request.method === "HEAD");
      return;
    }
    const answer = health.answer(request.url ?? "/");
    if (answer !== undefined) {
      response.writeHead(answer.status, { "Content-Type": "text/plain; charset=utf-8" }).end(answer.body);
      return;
    }
    response
      .writeHead(404, { "Content-Type": "text/plain" })
      .end("not found: try /metrics, /readyz?verbose or /livez\n");
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
