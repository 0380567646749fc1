// The HTTP pieces both pull clients share: one keep-alive pool per source,
// transport failures classified into PullErrors, and error bodies read capped.
import type { Dispatcher } from "undici";
import { keepAlivePool, transportFailure } from "../util/http.js";
import { ExportFormatError } from "./export-format-error.js";
import { LineSplitter } from "./line-splitter.js";
import { PullError, reasonForStatus } from "./pull-error.js";

import { errorText } from "../util/http.js";

/** One keep-alive pool per store (see util/http.ts). */
export function storePool(origin: string, requestTimeoutMs: number, maxConnections: number): Dispatcher {
  return keepAlivePool(origin, { requestTimeoutMs, connections: maxConnections });
}

/** A PullError for a transport failure, or the abort reason itself when the caller aborted. */
export function networkFailure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof PullError) return error;
  const failure = transportFailure(error);
  return new PullError(failure.reason, failure.message);
}

/**
 * Feeds each line of a streamed response body to handle, waiting for what it
 * returns before reading on (backpressure). A malformed line becomes a
 * "BadResponse" PullError, a broken stream a transport PullError.
 */
export async function readLines(
  body: Dispatcher.ResponseData["body"],
  maxLineChars: number,
  handle: (line: string) => PromiseLike<void> | undefined,
  signal: AbortSignal,
): Promise<void> {
  const splitter = new LineSplitter(maxLineChars);
  try {
    for await (const data of body) {
      for (const line of splitter.push(data as Buffer)) {
        const pending = handle(line);
        if (pending !== undefined) await pending;
      }
    }
    const last = splitter.end();
    if (last !== undefined) await handle(last);
  } catch (error: unknown) {
    body.destroy();
    if (error instanceof ExportFormatError) throw new PullError("BadResponse", error.message);
    throw networkFailure(error, signal);
  }
}

/**
 * One request to the store: a transport failure or a non-2xx answer becomes
 * a PullError (with the start of the error body); a 2xx response is returned
 * with its body unread.
 */
export async function requestStore(
  pool: Dispatcher,
  options: Dispatcher.RequestOptions,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  let response: Dispatcher.ResponseData;
  try {
    response = await pool.request({ ...options, signal });
  } catch (error: unknown) {
    throw networkFailure(error, signal);
  }
  if (response.statusCode < 200 || response.statusCode > 299) {
    const text = await errorText(response.body);
    throw new PullError(reasonForStatus(response.statusCode), `HTTP ${response.statusCode}${text}`);
  }
  return response;
}
