// A Prometheus Remote Write sink: the pipeline wired to an HTTP sender with
// the sink's credentials and to the Remote Write encoder.
import { silentLogger, systemClock, type Logger, type Clock } from "../../util/index.js";
import { EgressPolicy } from "../egress/index.js";
import type { SeriesRef } from "../series.js";
import { SinkMetadata, type FamilyRecord, type MetadataBook } from "../metadata.js";
import { basicAuthHeaders } from "./auth.js";
import { SINK_RUNTIME_DEFAULTS, type RemoteWriteSinkConfig } from "./config.js";
import type { SinkLog } from "../buffer/index.js";
import { DeliveryBudget } from "./delivery-budget.js";
import { DEFAULT_SINK_MEMORY_BYTES, MEMORY_BYTES_PER_SAMPLE, MemoryBudget } from "./memory-budget.js";
import { HttpSender } from "./http-sender.js";
import { SinkPipeline, seriesShardHash, type DownState } from "./pipeline.js";
import { RemoteWriteEncoder } from "./request-builder.js";
import type { CompressPool } from "./compress-pool.js";
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
  /** Upper bound on a sink's parallel requests (--sink-max-shards). */
  readonly maxShards?: number;
  /** The process-wide cap on requests in flight (--max-inflight-requests, --max-inflight-bytes); shared by all sinks. */
  readonly budget?: DeliveryBudget;
  /** The process-wide bound on samples sinks hold in memory (--buffer-memory); shared by all sinks. */
  readonly memory?: MemoryBudget;
  /** Push ingest's metric metadata: the sink sends that of the families it carries. */
  readonly metadata?: MetadataBook;
  /** The process' compression threads (--compress-threads); without it bodies are compressed inline. */
  readonly compressor?: CompressPool;
}

/** Without a policy of its own a sink still refuses metadata, link-local and the like. */
let defaultEgress: EgressPolicy | undefined;
/** Sinks made without a runtime budget share this one, so the cap stays process-wide. */
let defaultBudget: DeliveryBudget | undefined;
let defaultMemory: MemoryBudget | undefined;

export class RemoteWriteSink {
  private readonly pipeline: SinkPipeline<SeriesRef>;
  private readonly sender: HttpSender;
  private readonly metadata: SinkMetadata;

  /** The durable log's view of this sink, when it has one: ingest writes there first. */
  readonly durable: SinkLog | undefined;

  /**
   * @param durable the durable log's view of this sink (push mode with a
   * buffer); without it the sink runs from memory.
   * @param startAfter with `durable`: the sink this one replaces has stopped.
   * @param continues the counters of the sink this one replaces, when only its batch, retry or
   * credentials changed: its history (counters, readiness) goes on.
   */
  constructor(
    readonly config: RemoteWriteSinkConfig,
    runtime: SinkRuntime = {},
    durable?: SinkLog,
    startAfter?: Promise<void>,
    continues?: SinkStats,
  ) {
    this.durable = durable;
    const clock = runtime.clock ?? systemClock;
    this.metadata = new SinkMetadata(runtime.metadata);
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
      encoder: new RemoteWriteEncoder(this.metadata, clock, runtime.compressor),
      shardOf: seriesShardHash,
      maxShards: runtime.maxShards ?? SINK_RUNTIME_DEFAULTS.maxShards,
      budget: runtime.budget ?? (defaultBudget ??= new DeliveryBudget()),
      memory: runtime.memory ?? (defaultMemory ??= MemoryBudget.ofBytes(DEFAULT_SINK_MEMORY_BYTES)),
      onShardsChanged: (count) => void this.sender.closeLanes(count),
      ...(durable === undefined ? {} : { backlog: durable }),
      ...(startAfter === undefined ? {} : { startAfter }),
      ...(continues === undefined ? {} : { stats: continues }),
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

  /** Samples received and neither delivered nor dropped yet (memory, in flight, on disk). */
  get buffered(): number {
    return this.pipeline.buffered;
  }

  get bufferedBytes(): number {
    return this.durable?.bytes ?? this.pipeline.buffered * MEMORY_BYTES_PER_SAMPLE;
  }

  get shardCount(): number {
    return this.pipeline.shardCount;
  }

  get desiredShardCount(): number {
    return this.pipeline.desiredShardCount;
  }

  /** Set while the endpoint fails and the sink keeps its samples, probing it. */
  get down(): Readonly<DownState> | undefined {
    return this.pipeline.down;
  }

  get isDown(): boolean {
    return this.pipeline.down !== undefined;
  }

  /** Resolves once the sink is not down, or closed; rejects when the signal aborts (see SinkPipeline.whenUp). */
  whenUp(signal?: AbortSignal): Promise<void> {
    return this.pipeline.whenUp(signal);
  }

  lagSeconds(): number {
    return this.pipeline.lagSeconds();
  }

  /** Resolves once everything pushed so far is delivered or dropped for good (see SinkPipeline.settled). */
  settled(signal?: AbortSignal): Promise<void> {
    return this.pipeline.settled(signal);
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

  /** The router routes series of the family here: the sink sends its metadata. */
  noteFamily(record: FamilyRecord): void {
    this.metadata.add(record);
  }

  /** With a durable log: the next pushed sample has this seq there (see SinkPipeline.expectSeq). */
  expectSeq(seq: number): void {
    this.pipeline.expectSeq(seq);
  }

  /**
   * Delivers what it holds for up to drainTimeoutMs, then stops and closes
   * its connections. At "shutdown" a durable backlog keeps the rest for the
   * next start; otherwise the rest is counted as dropped.
   */
  async close(
    drainTimeoutMs: number = SINK_RUNTIME_DEFAULTS.drainTimeoutMs,
    reason: "shutdown" | "removed" | "replaced" = "shutdown",
  ): Promise<void> {
    await this.pipeline.close({ drainTimeoutMs, reason });
    await this.sender.close();
  }
}

export type { RemoteWriteSinkConfig } from "./config.js";
export { SINK_RUNTIME_DEFAULTS } from "./config.js";
export type { BasicAuth } from "./auth.js";
export { DROP_REASONS, LATENCY_BUCKETS_S, REQUEST_OUTCOMES } from "./stats.js";
export type { DropReason, FailureReason, LastError, RequestOutcome, SinkStats } from "./stats.js";
export {
  DeliveryBudget,
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_INFLIGHT_REQUESTS,
} from "./delivery-budget.js";
export { DEFAULT_SINK_MEMORY_BYTES, MemoryBudget } from "./memory-budget.js";
export { COMPRESS_DEFAULTS, CompressPool, defaultCompressThreads } from "./compress-pool.js";
export type { SinkBacklog, ShardPositions } from "./backlog.js";
