// Remote Write 1.0 protocol constants (request headers) and the
// classification of a receiver's response that the sender acts on.
import { VERSION } from "../util/index.js";
import { parseRetryAfter } from "./retry-after.js";

export const REMOTE_WRITE_VERSION = "0.1.0";
export const USER_AGENT = `telex/${VERSION}`;

/**
 * The loop marker: every request a Telex sink sends carries this header, and
 * Telex's ingest refuses requests that carry it, so samples that already passed
 * through Telex are never routed again (no amplification through any chain of
 * policies). Lower case, as Node presents incoming header names.
 */
export const LOOP_MARKER_HEADER = "telex-exported";
export const LOOP_MARKER_VALUE = "1";

/** Headers of every Remote Write 1.0 request (the body: a snappy-compressed WriteRequest). */
export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Encoding": "snappy",
  "Content-Type": "application/x-protobuf",
  "X-Prometheus-Remote-Write-Version": REMOTE_WRITE_VERSION,
  "User-Agent": USER_AGENT,
  [LOOP_MARKER_HEADER]: LOOP_MARKER_VALUE,
});

export type ResponseClass =
  | { readonly kind: "ok" }
  | {
      readonly kind: "retryable";
      readonly reason: "ServerError" | "Throttled";
      /** From Retry-After (429 and 503 only), capped at MAX_RETRY_AFTER_MS. */
      readonly retryAfterMs?: number;
    }
  | { readonly kind: "fatal"; readonly reason: "Unauthorized" | "Rejected" | "TooLarge" };

export interface ResponseHeaders {
  /** The Retry-After header, if the response had one. */
  readonly retryAfter?: string;
}

/**
 * What the sender should do after a response: 2xx ok; 429 and 5xx retry
 * (honouring Retry-After on 429 and 503); 401/403 Unauthorized, 413
 * TooLarge, and every other status (other 4xx, and 1xx/3xx, which a
 * Remote Write receiver has no business answering) Rejected.
 */
export function classifyResponse(status: number, headers: ResponseHeaders, nowMs: number): ResponseClass {
  if (status >= 200 && status < 300) return { kind: "ok" };
  if (status === 429 || status === 503) {
    const reason = status === 429 ? "Throttled" : "ServerError";
    const retryAfterMs = parseRetryAfter(headers.retryAfter, nowMs);
    return retryAfterMs === undefined
      ? { kind: "retryable", reason }
      : { kind: "retryable", reason, retryAfterMs };
  }
  if (status >= 500 && status < 600) return { kind: "retryable", reason: "ServerError" };
  if (status === 401 || status === 403) return { kind: "fatal", reason: "Unauthorized" };
  if (status === 413) return { kind: "fatal", reason: "TooLarge" };
  return { kind: "fatal", reason: "Rejected" };
}
