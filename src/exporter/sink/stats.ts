// Health and accounting of one sink. Every sample a sink receives ends in
// exactly one place, so at any moment
//   received = sent + Σ dropped[reason] + buffered
// (buffered: in memory, in flight, or on disk; see pipeline.ts) and loss is
// never silent. Counters are plain numbers bumped on the hot path;
// /metrics and status conditions read them.

import { Histogram } from "../../metrics/histogram.js";

/** Why a delivery attempt failed, as status conditions and /metrics name it. */
export type FailureReason =
  "Unreachable" | "Timeout" | "Unauthorized" | "Rejected" | "ServerError" | "Throttled" | "Forbidden";

/** Why samples were dropped. */
export const DROP_REASONS = [
  /** The buffer was full (memory without a durable log, or the log's bounds); the oldest samples made room. */
  "buffer_full",
  /** Older than --max-backlog-age while the endpoint was down. */
  "expired",
  /** The endpoint refused the data for good (4xx other than 401, 403, 429). */
  "rejected",
  /** The endpoint refused our credentials (401, 403). */
  "unauthorized",
  /** The egress policy refused the endpoint's address. */
  "endpoint_forbidden",
  /** Telex stopped before the samples could be sent, and had no durable log to keep them in. */
  "shutdown",
  /** The sink or its policy was deleted while samples were still waiting. */
  "removed",
  /** The durable log could not read them back (a damaged record); logged. */
  "corrupt",
  /** A fault in Telex itself (logged); never expected. */
  "internal_error",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const REQUEST_OUTCOMES = [
  "success",
  "unreachable",
  "timeout",
  "unauthorized",
  "rejected",
  "server_error",
  "throttled",
  "forbidden",
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Upper bounds, in seconds, of the send-latency histogram buckets. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export interface LastError {
  readonly reason: FailureReason;
  /** Human-readable, never containing credentials. */
  readonly message: string;
  readonly atMs: number;
}

/** Send latencies, in seconds, over LATENCY_BUCKETS_S. */
export class LatencyHistogram extends Histogram {
  constructor() {
    super(LATENCY_BUCKETS_S);
  }
}

const OUTCOME_OF_REASON: Readonly<Record<FailureReason, RequestOutcome>> = {
  Unreachable: "unreachable",
  Timeout: "timeout",
  Unauthorized: "unauthorized",
  Rejected: "rejected",
  ServerError: "server_error",
  Throttled: "throttled",
  Forbidden: "forbidden",
};

export class SinkStats {
  samplesReceived = 0;
  samplesSent = 0;
  /** Samples sent again after a failed attempt (retries and probes), counted once per attempt. */
  samplesRetried = 0;
  bytesSent = 0;
  /** The newest timestamp among delivered samples: lag is measured from it. */
  newestSentTimestampMs: number | undefined;
  /** Times the shard count changed. */
  reshards = 0;
  readonly dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<
    DropReason,
    number
  >;
  readonly requests: Record<RequestOutcome, number> = {
    success: 0,
    unreachable: 0,
    timeout: 0,
    unauthorized: 0,
    rejected: 0,
    server_error: 0,
    throttled: 0,
    forbidden: 0,
  };
  readonly latency = new LatencyHistogram();
  lastSuccessMs: number | undefined;
  lastError: LastError | undefined;
  consecutiveFailures = 0;
  /**
   * When known, the time range of the samples counted as dropped{expired}
   * over the sink's life: the write time of the oldest and of the newest
   * (what --max-backlog-age is measured against). Optional: Events name the
   * range when set (see noteExpired), the count alone otherwise.
   */
  expiredOldestMs: number | undefined;
  expiredNewestMs: number | undefined;
  /**
   * Called at the sink's first delivery (the exporter points it at the
   * controller): readiness follows data at once instead of at the next
   * health pass. Must be cheap: it runs inside the delivery's bookkeeping.
   */
  onFirstSuccess: (() => void) | undefined;

  droppedTotal(): number {
    let total = 0;
    for (const reason of DROP_REASONS) total += this.dropped[reason];
    return total;
  }

  /** Widens the expired range by [oldestMs, newestMs]; call with every expiry trim. */
  noteExpired(oldestMs: number, newestMs: number): void {
    this.expiredOldestMs = Math.min(this.expiredOldestMs ?? oldestMs, oldestMs);
    this.expiredNewestMs = Math.max(this.expiredNewestMs ?? newestMs, newestMs);
  }

  recordSuccess(atMs: number, samples: number, bytes: number, seconds: number): void {
    this.requests.success++;
    this.samplesSent += samples;
    this.bytesSent += bytes;
    this.latency.observe(seconds);
    const first = this.lastSuccessMs === undefined;
    this.lastSuccessMs = atMs;
    this.consecutiveFailures = 0;
    if (first) this.onFirstSuccess?.();
  }

  recordFailure(atMs: number, reason: FailureReason, message: string, seconds: number | undefined): void {
    this.requests[OUTCOME_OF_REASON[reason]]++;
    if (seconds !== undefined) this.latency.observe(seconds);
    this.lastError = { reason, message, atMs };
    this.consecutiveFailures++;
  }
}
