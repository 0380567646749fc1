// Sends Remote Write request bodies over HTTP(S) with a keep-alive connection
// pool of its own (one per sink, so a slow endpoint holds only its own
// sockets), a request timeout, and every result classified once into a
// DeliveryOutcome. Error bodies are read capped and always drained.
import { Pool, errors as undiciErrors, type Dispatcher } from "undici";
import { REMOTE_WRITE_HEADERS, classifyResponse } from "../../remotewrite/index.js";
import type { Clock } from "../util/clock.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import { processTrustedCertificates } from "./trust.js";

export interface HttpSenderOptions {
  readonly endpoint: string;
  /** No answer (headers or body) within this time counts as a Timeout. */
  readonly requestTimeoutMs: number;
  /** Added to every request, e.g. Authorization (see auth.ts). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock: Clock;
  /** CAs for https endpoints; defaults to the process's trusted set (see trust.ts). */
  readonly ca?: readonly string[];
}

/** How much of an error response's body goes into the message. */
const ERROR_BODY_BYTES = 512;
/** How much of a response body is read to keep the connection reusable before giving up on it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_CAP_MS = 10_000;
const IDLE_CONNECTION_MS = 60_000;

export class HttpSender implements Sender {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: HttpSenderOptions) {
    const url = new URL(options.endpoint);
    this.path = `${url.pathname}${url.search}`;
    this.pool = new Pool(url.origin, {
      // One request in flight per sink; a second socket only covers a reconnect.
      connections: 2,
      pipelining: 1,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: IDLE_CONNECTION_MS,
      connect: {
        timeout: Math.min(options.requestTimeoutMs, CONNECT_TIMEOUT_CAP_MS),
        ...(url.protocol === "https:" ? { ca: [...(options.ca ?? processTrustedCertificates())] } : {}),
      },
    });
    this.headers = { ...REMOTE_WRITE_HEADERS, ...options.headers };
  }

  async send(body: Uint8Array, signal: AbortSignal): Promise<DeliveryOutcome> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method: "POST",
        path: this.path,
        headers: this.headers,
        body,
        signal,
      });
    } catch (error) {
      return networkOutcome(error);
    }
    const { statusCode } = response;
    const retryAfter = headerValue(response.headers["retry-after"]);
    const verdict = classifyResponse(
      statusCode,
      retryAfter === undefined ? {} : { retryAfter },
      this.options.clock.now(),
    );
    if (verdict.kind === "ok") {
      await drain(response.body);
      return verdict;
    }
    const message = `HTTP ${statusCode}${await errorText(response.body)}`;
    if (verdict.kind === "retryable") {
      return verdict.retryAfterMs === undefined
        ? { kind: "retryable", reason: verdict.reason, message }
        : { kind: "retryable", reason: verdict.reason, message, retryAfterMs: verdict.retryAfterMs };
    }
    return { kind: "fatal", reason: verdict.reason, message };
  }

  /** Closes the pool's connections; in-flight requests are aborted by the caller's signal. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

/** Classifies a failure to get any response at all. */
export function networkOutcome(error: unknown): DeliveryOutcome {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && TIMEOUT_CODES.has(code)) {
    return { kind: "retryable", reason: "Timeout", message: `no response in time (${code})` };
  }
  if (
    error instanceof undiciErrors.RequestAbortedError ||
    (error as { name?: unknown }).name === "AbortError"
  ) {
    return { kind: "retryable", reason: "Timeout", message: "request aborted" };
  }
  const detail = typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return { kind: "retryable", reason: "Unreachable", message: detail };
}

/** Reads the body so the connection can be reused; gives up (closing it) past DRAIN_LIMIT_BYTES. */
async function drain(body: Dispatcher.ResponseData["body"]): Promise<void> {
  try {
    await body.dump({ limit: DRAIN_LIMIT_BYTES });
  } catch {
    // The connection is discarded; nothing else to do.
  }
}

/** The start of an error body as `: first line`, or "" when empty; the rest is drained. */
async function errorText(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      if (size < ERROR_BODY_BYTES) chunks.push(buffer);
      size += buffer.length;
      if (size > DRAIN_LIMIT_BYTES) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A body that fails mid-way still gave us its status.
  }
  const text = Buffer.concat(chunks)
    .subarray(0, ERROR_BODY_BYTES)
    .toString("utf8")
    .replace(/\s+/g, " ")
    .trim();
  return text === "" ? "" : `: ${text}`;
}
