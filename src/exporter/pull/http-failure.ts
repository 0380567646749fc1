// The HTTP pieces both pull clients share: one keep-alive pool per source,
// transport failures classified into PullErrors, and error bodies read capped.
import { Pool, errors as undiciErrors, type Dispatcher } from "undici";
import { PullError } from "./pull-error.js";

/** How much of an error body goes into the message. */
const ERROR_BODY_BYTES = 512;
const CONNECT_TIMEOUT_CAP_MS = 10_000;
const IDLE_CONNECTION_MS = 60_000;

/**
 * undici rather than global fetch: a Pool of our own bounds the connections
 * to the store and keeps them alive between pulls, and its separate header
 * and body timeouts let a long answer keep streaming as long as bytes keep
 * coming, where fetch offers one deadline for the whole exchange.
 */
export function storePool(origin: string, requestTimeoutMs: number, maxConnections: number): Pool {
  return new Pool(origin, {
    connections: maxConnections,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    keepAliveTimeout: IDLE_CONNECTION_MS,
    connect: { timeout: Math.min(requestTimeoutMs, CONNECT_TIMEOUT_CAP_MS) },
  });
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

/** A PullError for a transport failure, or the abort reason itself when the caller aborted. */
export function networkFailure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof PullError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && TIMEOUT_CODES.has(code)) {
    return new PullError("Timeout", `no response in time (${code})`);
  }
  if (error instanceof undiciErrors.RequestAbortedError) return new PullError("Timeout", "request aborted");
  const detail = typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return new PullError("Unreachable", detail);
}

/** The start of an error body as `: text`, or "" when empty; the rest is discarded. */
export async function errorText(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // The status alone still explains the failure.
  }
  body.destroy();
  const text = Buffer.concat(chunks)
    .subarray(0, ERROR_BODY_BYTES)
    .toString("utf8")
    .replace(/\s+/g, " ")
    .trim();
  return text === "" ? "" : `: ${text}`;
}
