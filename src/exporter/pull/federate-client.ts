// Reads the latest sample of every series matching a selector from a
// Prometheus-compatible `/federate` (Prometheus itself, VictoriaMetrics, or
// anything else that federates), streaming line by line like ExportClient.
import type { Dispatcher } from "undici";
import { parseFederateLine, type FederatedSample } from "./federate-parser.js";
import { readLines, requestStore, storePool } from "./http-failure.js";

export interface FederateClientOptions {
  /** The store's root: `http://prometheus:9090`, or vmselect's `…/select/<accountID>/prometheus`. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

/** One sample line is short; a megabyte is garbage. */
const MAX_LINE_CHARS = 1024 * 1024;

export class FederateClient {
  private readonly pool: Dispatcher;
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(options: FederateClientOptions) {
    this.url = new URL(options.url);
    this.url.pathname = `${this.url.pathname.replace(/\/+$/, "")}/federate`;
    this.pool = storePool(this.url.origin, options.requestTimeoutMs, options.maxConnections);
    // The text format: without it Prometheus may answer in protobuf.
    this.headers = { ...options.headers, accept: "text/plain;version=0.0.4" };
  }

  /** Calls onSample for every sample line, waiting for it when it returns a promise. */
  async read(
    selector: string | readonly string[],
    signal: AbortSignal,
    onSample: (sample: FederatedSample) => PromiseLike<void> | undefined,
  ): Promise<void> {
    const query = new URLSearchParams();
    for (const one of typeof selector === "string" ? [selector] : selector) query.append("match[]", one);
    const response = await requestStore(
      this.pool,
      {
        method: "GET",
        path: `${this.url.pathname}?${query.toString()}`,
        headers: this.headers,
      },
      signal,
    );
    const handle = (line: string): PromiseLike<void> | undefined => {
      const sample = parseFederateLine(line);
      return sample === undefined ? undefined : onSample(sample);
    };
    await readLines(response.body, MAX_LINE_CHARS, handle, signal);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
