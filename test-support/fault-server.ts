// A scriptable HTTP server on 127.0.0.1 for fault injection: it answers each
// request as a script says (status, headers, body, a delay, a hang, a reset)
// and records what it received. Real receivers cover the success path; this
// covers what they cannot be made to do on demand.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type FaultAnswer =
  | {
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
      readonly delayMs?: number;
    }
  /** Accept the request and never answer (a black hole). */
  | { readonly hang: true }
  /** Drop the connection without an answer. */
  | { readonly reset: true };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly atMs: number;
}

export type FaultScript = (request: RecordedRequest, index: number) => FaultAnswer;

export interface FaultServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Replaces the script; requests are numbered from 0 across scripts. */
  script(next: FaultScript): void;
  close(): Promise<void>;
}

export async function startFaultServer(
  initial: FaultScript = () => ({ status: 204 }),
  /** Another loopback address (127.0.0.2) stands for "a different host". */
  host = "127.0.0.1",
): Promise<FaultServer> {
  let current = initial;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        atMs: Date.now(),
      };
      requests.push(recorded);
      answer(current(recorded, requests.length - 1), res);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault server has no TCP address");
  return {
    url: `http://${host}:${address.port}`,
    requests,
    script(next) {
      current = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

function answer(response: FaultAnswer, res: ServerResponse): void {
  if ("hang" in response) return;
  if ("reset" in response) {
    res.socket?.destroy();
    return;
  }
  const send = () => {
    res.writeHead(response.status, response.headers);
    res.end(response.body ?? "");
  };
  if (response.delayMs !== undefined) setTimeout(send, response.delayMs);
  else send();
}
