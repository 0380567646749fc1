// The HTTP pieces both pull clients share: one keep-alive pool per source,
// transport failures classified into PullErrors, and error bodies read capped.
import type { Pool } from "undici";
import { keepAlivePool, transportFailure } from "../util/http.js";
import { PullError } from "./pull-error.js";

export { errorText } from "../util/http.js";

/** One keep-alive pool per store (see util/http.ts). */
export function storePool(origin: string, requestTimeoutMs: number, maxConnections: number): Pool {
  return keepAlivePool(origin, { requestTimeoutMs, connections: maxConnections });
}

/** A PullError for a transport failure, or the abort reason itself when the caller aborted. */
export function networkFailure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof PullError) return error;
  const failure = transportFailure(error);
  return new PullError(failure.reason, failure.message);
}
