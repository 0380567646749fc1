// A Prometheus Remote Write sink: the pipeline wired to an HTTP sender with
// the sink's credentials and to the Remote Write encoder.
import { silentLogger, type Logger } from "../../log.js";
import { EgressPolicy } from "../egress/index.js";
import type { SeriesRef } from "../series.js";
import { systemClock, type Clock } from "../util/clock.js";
import { basicAuthHeaders } from "./auth.js";
import { SINK_RUNTIME_DEFAULTS, type RemoteWriteSinkConfig } from "./config.js";
import { HttpSender } from "./http-sender.js";
import { SinkPipeline } from "./pipeline.js";
import { RemoteWriteEncoder } from "./request-builder.js";
import type { SinkStats } from "./stats.js";

export interface SinkRuntime {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly requestTimeoutMs?: number;
  /** Queue capacity in batches of batch.maxSize. */
  readonly queueBatches?: number;
  /** Jitter source for backoff; injectable for tests. */
  readonly random?: () => number;
  /** Which addresses sinks may connect to; the single-user defaults when absent. */
  readonly egress?: EgressPolicy;
}

/** Without a policy of its own a sink still refuses metadata, link-local and the like. */
let defaultEgress: EgressPolicy | undefined;

export class RemoteWriteSink {
  private readonly pipeline: SinkPipeline<SeriesRef>;
  private readonly sender: HttpSender;

  constructor(
    readonly config: RemoteWriteSinkConfig,
    runtime: SinkRuntime = {},
  ) {
    const clock = runtime.clock ?? systemClock;
    this.sender = new HttpSender({
      endpoint: config.endpoint,
      requestTimeoutMs: runtime.requestTimeoutMs ?? SINK_RUNTIME_DEFAULTS.requestTimeoutMs,
      headers: basicAuthHeaders(config.credentials),
      clock,
      egress: runtime.egress ?? (defaultEgress ??= new EgressPolicy()),
    });
    this.pipeline = new SinkPipeline<SeriesRef>({
      batchMaxSize: config.batchMaxSize,
      batchTimeoutMs: config.batchTimeoutMs,
      retry: {
        maxAttempts: config.maxAttempts,
        backoffMs: config.backoffMs,
        ...(runtime.random ? { random: runtime.random } : {}),
      },
      queueCapacity: config.batchMaxSize * (runtime.queueBatches ?? SINK_RUNTIME_DEFAULTS.queueBatches),
      sender: this.sender,
      encoder: new RemoteWriteEncoder(),
      clock,
      logger: runtime.logger ?? silentLogger,
    });
  }

  get stats(): SinkStats {
    return this.pipeline.stats;
  }

  get queued(): number {
    return this.pipeline.queued;
  }

  get capacity(): number {
    return this.pipeline.capacity;
  }

  get closed(): boolean {
    return this.pipeline.closed;
  }

  push(series: SeriesRef, value: number, timestampMs: number): void {
    this.pipeline.push(series, value, timestampMs);
  }

  /** Delivers what is queued for up to drainTimeoutMs, then drops the rest and closes connections. */
  async close(drainTimeoutMs: number = SINK_RUNTIME_DEFAULTS.drainTimeoutMs): Promise<void> {
    await this.pipeline.close({ drainTimeoutMs });
    await this.sender.close();
  }
}

export type { RemoteWriteSinkConfig } from "./config.js";
export { SINK_RUNTIME_DEFAULTS } from "./config.js";
export type { BasicAuth } from "./auth.js";
export { DROP_REASONS, LATENCY_BUCKETS_S, REQUEST_OUTCOMES } from "./stats.js";
export type { DropReason, FailureReason, LastError, RequestOutcome, SinkStats } from "./stats.js";
