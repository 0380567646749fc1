// What a Remote Write sink needs to run, in the exporter's own terms
// (milliseconds, resolved credentials); the controller compiles an
// ExportPolicy's sink into this.
import type { BasicAuth } from "./auth.js";

export interface RemoteWriteSinkConfig {
  readonly endpoint: string;
  readonly batchMaxSize: number;
  readonly batchTimeoutMs: number;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly credentials?: BasicAuth;
}

/** Settings of the exporter process rather than of a policy. */
export const SINK_RUNTIME_DEFAULTS = {
  // As Prometheus' remote_timeout: long enough for a loaded receiver, short
  // enough that a black hole does not hold a sink for minutes.
  requestTimeoutMs: 30_000,
  // The queue holds this many batches: at 24 bytes a sample, 120 KB for the
  // default batch of 500, and enough to ride out a few failed attempts.
  queueBatches: 10,
  // On shutdown or removal, queued samples get this long to be delivered.
  drainTimeoutMs: 5_000,
  // Parallel requests per sink. 200,000 samples/s to an endpoint 100 ms away
  // in batches of 5,000 needs about 5; 16 leaves room for slower endpoints
  // and catching up after an outage.
  maxShards: 16,
} as const;
