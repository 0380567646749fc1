// HTTP pieces the sinks and the pull source share: keep-alive connections per
// peer, transport failures classified once, and error bodies read capped.
import { Client, Pool, errors as undiciErrors, type Dispatcher } from "undici";
import { guardedConnector, type EgressPolicy } from "../egress/index.js";
import { noRedaction, type Redactor } from "./redact.js";

/** How much of an error response's body goes into a message (characters, after redaction). */
const ERROR_BODY_BYTES = 512;
/**
 * Read past the cap before redacting, so that a secret that starts inside the
 * cap is seen whole (and redacted) rather than cut into an unrecognisable,
 * still revealing prefix.
 */
const REDACTION_MARGIN_BYTES = 4096;
/** How much of an error body is read to keep the connection reusable before giving up on it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_CAP_MS = 10_000;
const IDLE_CONNECTION_MS = 60_000;

export interface PoolOptions {
  readonly requestTimeoutMs: number;
  /** At most this many connections; 1 gives a single-connection Client. */
  readonly connections: number;
  /** CAs for https peers; Node's bundled roots when absent. */
  readonly ca?: readonly string[];
  /** Checked on every connection, on the address actually connected to (see src/exporter/egress). */
  readonly egress?: EgressPolicy;
}

/**
 * undici rather than global fetch: a dispatcher of our own bounds the
 * connections to one peer and keeps them alive, and its separate header and
 * body idle timeouts let a long answer stream as long as bytes keep coming,
 * where fetch offers one deadline for the whole exchange.
 *
 * One connection is a Client (it reconnects by itself): a Pool carries a
 * 16 KB request queue of its own, 160 MB across 10,000 sinks that each send
 * one request at a time anyway.
 */
export function keepAlivePool(origin: string, options: PoolOptions): Dispatcher {
  const connectTimeoutMs = Math.min(options.requestTimeoutMs, CONNECT_TIMEOUT_CAP_MS);
  const common = {
    pipelining: 1,
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
    keepAliveTimeout: IDLE_CONNECTION_MS,
    connect:
      options.egress === undefined
        ? { timeout: connectTimeoutMs, ...(options.ca === undefined ? {} : { ca: [...options.ca] }) }
        : guardedConnector({
            policy: options.egress,
            timeoutMs: connectTimeoutMs,
            ...(options.ca === undefined ? {} : { ca: options.ca }),
          }),
  };
  return options.connections === 1
    ? new Client(origin, common)
    : new Pool(origin, { ...common, connections: options.connections });
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

export interface TransportFailure {
  readonly reason: "Timeout" | "Unreachable";
  readonly message: string;
}

/** Classifies a failure to get any response at all (refused, DNS, TLS, no answer in time). */
export function transportFailure(error: unknown): TransportFailure {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && TIMEOUT_CODES.has(code)) {
    return { reason: "Timeout", message: `no response in time (${code})` };
  }
  if (
    error instanceof undiciErrors.RequestAbortedError ||
    (error as { name?: unknown }).name === "AbortError"
  ) {
    return { reason: "Timeout", message: "request aborted" };
  }
  const detail = typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return { reason: "Unreachable", message: detail };
}

/** Reads a body so the connection can be reused; gives up (closing it) past the drain limit. */
export async function drainBody(body: Dispatcher.ResponseData["body"]): Promise<void> {
  try {
    await body.dump({ limit: DRAIN_LIMIT_BYTES });
  } catch {
    // The connection is discarded; nothing else to do.
  }
}

/**
 * The start of an error body as `: text` on one line, or "" when empty; the
 * rest is drained. `redact` removes what must never be shown (the request's
 * credentials) before the text is cut to size.
 */
export async function errorText(
  body: Dispatcher.ResponseData["body"],
  redact: Redactor = noRedaction,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      if (size < ERROR_BODY_BYTES + REDACTION_MARGIN_BYTES) chunks.push(buffer);
      size += buffer.length;
      if (size > DRAIN_LIMIT_BYTES) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A body that fails mid-way still gave us its status.
  }
  const read = Buffer.concat(chunks)
    .subarray(0, ERROR_BODY_BYTES + REDACTION_MARGIN_BYTES)
    .toString("utf8");
  const text = redact(redact(read).replace(/\s+/g, " ")).slice(0, ERROR_BODY_BYTES).trim();
  return text === "" ? "" : `: ${text}`;
}
