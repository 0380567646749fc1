// Pushes Remote Write requests the way an agent would, for tests and benchmarks.
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from "node:http";
import {
  LOOP_MARKER_HEADER,
  REMOTE_WRITE_HEADERS,
  encodeWriteRequest,
  snappyCompress,
} from "../src/remotewrite/index.js";
import type { TimeSeriesInput } from "../src/remotewrite/index.js";

/** An agent's Remote Write headers: Telex's own, without the loop marker only Telex sinks send. */
export const AGENT_HEADERS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(REMOTE_WRITE_HEADERS).filter(([name]) => name !== LOOP_MARKER_HEADER)),
);

export interface PushResult {
  readonly status: number;
  readonly body: string;
}

/** POSTs raw bytes with an agent's Remote Write headers (overridable), returning status and body text. */
export async function postRemoteWrite(
  url: string,
  body: Uint8Array,
  headers: Readonly<Record<string, string>> = {},
): Promise<PushResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...AGENT_HEADERS, ...headers },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.text() };
}

/** Encodes, compresses and POSTs series. */
export async function pushSeries(
  url: string,
  series: Iterable<TimeSeriesInput>,
  headers: Readonly<Record<string, string>> = {},
): Promise<PushResult> {
  return postRemoteWrite(url, snappyCompress(encodeWriteRequest(series)), headers);
}

/**
 * POSTs with node:http, writing the body through `write`: for bodies sent
 * slowly, in chunks or in part. Resolves with the answer even when it arrives
 * before the body is sent (and the server then closes the connection).
 */
export function postRaw(
  url: string,
  headers: Readonly<Record<string, string | number>>,
  write: (request: ClientRequest) => void,
): Promise<PushResult & { readonly headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: "POST", headers: { ...AGENT_HEADERS, ...headers } },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          resolve({ status: response.statusCode ?? 0, body, headers: response.headers });
        });
      },
    );
    request.on("error", reject);
    write(request);
  });
}
