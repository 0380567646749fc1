// Reads one window of one selector from VictoriaMetrics' `/api/v1/export`,
// streaming: the body is split into lines and each line is parsed and handed
// on before the next is read, so memory stays at one line whatever the
// window holds. Every failure becomes a PullError; an abort by the caller's
// signal is rethrown as is.
//
// undici rather than global fetch: a Pool of our own bounds the connections
// to the store and keeps them alive between windows, and its separate header
// and body timeouts let a long export keep streaming as long as bytes keep
// coming, where fetch offers only one deadline for the whole exchange.
import { Pool, errors as undiciErrors, type Dispatcher } from "undici";
import { ExportFormatError } from "./export-format-error.js";
import { parseExportLine, type ExportedChunk } from "./export-parser.js";
import { exportForm, exportUrl } from "./export-request.js";
import { LineSplitter } from "./line-splitter.js";
import { PullError, reasonForStatus } from "./pull-error.js";
import type { TimeWindow } from "./window-planner.js";

export interface ExportClientOptions {
  /** Single-node root (`http://vm:8428`) or vmselect's `http://vmselect:8481/select/<accountID>/prometheus`. */
  readonly url: string;
  /** Added to every request, e.g. Authorization. Never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** No response headers, or no body bytes for this long, fails the request as a Timeout. */
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

export interface ExportReadResult {
  readonly lines: number;
  readonly samples: number;
}

/** How much of an error body goes into the message. */
const ERROR_BODY_BYTES = 512;
/** A line holds at most MAX_SAMPLES_PER_LINE samples (~40 bytes each) plus labels; far above that is garbage. */
const MAX_LINE_CHARS = 16 * 1024 * 1024;
const CONNECT_TIMEOUT_CAP_MS = 10_000;
const IDLE_CONNECTION_MS = 60_000;

export class ExportClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(options: ExportClientOptions) {
    const url = exportUrl(options.url);
    this.path = `${url.pathname}${url.search}`;
    this.pool = new Pool(url.origin, {
      connections: options.maxConnections,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: IDLE_CONNECTION_MS,
      connect: { timeout: Math.min(options.requestTimeoutMs, CONNECT_TIMEOUT_CAP_MS) },
    });
    this.headers = {
      ...options.headers,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
  }

  /** Calls onChunk for every line of the window's export; resolves when the whole body was read. */
  async read(
    selector: string,
    window: TimeWindow,
    signal: AbortSignal,
    onChunk: (chunk: ExportedChunk) => void,
  ): Promise<ExportReadResult> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method: "POST",
        path: this.path,
        headers: this.headers,
        body: exportForm(selector, window),
        signal,
      });
    } catch (error: unknown) {
      throw networkFailure(error, signal);
    }
    if (response.statusCode < 200 || response.statusCode > 299) {
      const text = await errorText(response.body);
      throw new PullError(reasonForStatus(response.statusCode), `HTTP ${response.statusCode}${text}`);
    }
    const splitter = new LineSplitter(MAX_LINE_CHARS);
    let lines = 0;
    let samples = 0;
    const handle = (line: string): void => {
      if (line.trim() === "") return;
      const chunk = parseExportLine(line);
      lines++;
      samples += chunk.values.length;
      onChunk(chunk);
    };
    try {
      for await (const data of response.body) {
        for (const line of splitter.push(data as Buffer)) handle(line);
      }
      const last = splitter.end();
      if (last !== undefined) handle(last);
    } catch (error: unknown) {
      response.body.destroy();
      if (error instanceof ExportFormatError) throw new PullError("BadResponse", error.message);
      throw networkFailure(error, signal);
    }
    return { lines, samples };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

/** A PullError for a transport failure, or the abort reason itself when the caller aborted. */
function networkFailure(error: unknown, signal: AbortSignal): unknown {
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
async function errorText(body: Dispatcher.ResponseData["body"]): Promise<string> {
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
