// Reads one window of one selector from VictoriaMetrics' `/api/v1/export`,
// streaming: the body is split into lines and each line is parsed and handed
// on before the next is read, so memory stays at one line whatever the
// window holds. Every failure becomes a PullError; an abort by the caller's
// signal is rethrown as is.
import type { Dispatcher } from "undici";
import { parseExportLine, type ExportedChunk } from "./export-parser.js";
import { exportForm, exportUrl } from "./export-request.js";
import { readLines, requestStore, storePool } from "./http-failure.js";
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

/** A line holds at most MAX_SAMPLES_PER_LINE samples (~40 bytes each) plus labels; far above that is garbage. */
const MAX_LINE_CHARS = 16 * 1024 * 1024;

export class ExportClient {
  private readonly pool: Dispatcher;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(options: ExportClientOptions) {
    const url = exportUrl(options.url);
    this.path = `${url.pathname}${url.search}`;
    this.pool = storePool(url.origin, options.requestTimeoutMs, options.maxConnections);
    this.headers = {
      ...options.headers,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
  }

  /**
   * Calls onChunk for every line of the window's export, waiting for it when
   * it returns a promise; resolves when the whole body was read.
   */
  async read(
    selector: string | readonly string[],
    window: TimeWindow,
    signal: AbortSignal,
    onChunk: (chunk: ExportedChunk) => PromiseLike<void> | undefined,
  ): Promise<ExportReadResult> {
    const response = await requestStore(
      this.pool,
      {
        method: "POST",
        path: this.path,
        headers: this.headers,
        body: exportForm(selector, window),
      },
      signal,
    );
    let lines = 0;
    let samples = 0;
    const handle = (line: string): PromiseLike<void> | undefined => {
      if (line.trim() === "") return;
      const chunk = parseExportLine(line);
      lines++;
      samples += chunk.values.length;
      return onChunk(chunk);
    };
    await readLines(response.body, MAX_LINE_CHARS, handle, signal);
    return { lines, samples };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
