// How many shards (parallel requests) a sink should run, recomputed every
// SHARD_UPDATE_INTERVAL_MS from what it measured. Modelled on Prometheus'
// queue manager (storage/remote/queue_manager.go, calculateDesiredShards):
// the time one sample costs to send, times the samples that must be sent per
// second — the incoming rate plus a share of the backlog — is the number of
// requests that must be in flight at once. Unlike Prometheus a sink knows its
// backlog exactly, so it does not estimate it from timestamps.
//
// Prometheus decides every 10 s with a weight of 0.2, so a burst waits tens
// of seconds for its shards. A sink here decides every 2 s with a weight of
// 0.5 (about the same memory of the last 4–6 s): a far endpoint gets its
// shards within seconds, and the ±30 % band keeps them from flapping.

export const SHARD_UPDATE_INTERVAL_MS = 2_000;
/** Weight of the newest interval in the moving averages. */
const EWMA_WEIGHT = 0.5;
/** The share of the backlog to work off per second on top of the incoming rate. */
const BACKLOG_SHARE = 0.05;
/** Changes within ±30 % are noise: resharding costs a barrier. */
const TOLERANCE = 0.3;
/** Behind by more than this, a sink never gives up shards. */
const NO_SHRINK_LAG_S = 10;

/** An exponentially weighted moving average of a per-second rate, fed with counts per interval. */
export class Ewma {
  private value: number | undefined;

  /** Adds an interval's count; returns the new rate per second. */
  update(count: number, intervalS: number): number {
    const rate = count / intervalS;
    this.value = this.value === undefined ? rate : this.value + EWMA_WEIGHT * (rate - this.value);
    return this.value;
  }

  get rate(): number {
    return this.value ?? 0;
  }
}

export interface ShardInputs {
  readonly current: number;
  readonly max: number;
  /** Samples per second arriving for the sink. */
  readonly inRate: number;
  /** Samples per second delivered. */
  readonly outRate: number;
  /** Seconds spent in requests per second of wall time (2.0 = two requests in flight on average). */
  readonly sendRate: number;
  /** Samples received and not yet delivered or dropped. */
  readonly backlog: number;
  /** Seconds between now and the newest delivered sample, when behind. */
  readonly lagS: number;
  /** A request succeeded during the last interval. */
  readonly recentSuccess: boolean;
}

/** The shard count to run next; `current` when nothing warrants a change. */
export function desiredShards(inputs: ShardInputs): number {
  const { current, max } = inputs;
  if (!inputs.recentSuccess || inputs.outRate <= 0) return current;
  const secondsPerSample = inputs.sendRate / inputs.outRate;
  const wanted = secondsPerSample * (inputs.inRate + BACKLOG_SHARE * inputs.backlog);
  if (wanted >= current * (1 - TOLERANCE) && wanted <= current * (1 + TOLERANCE)) return current;
  let next = Math.ceil(wanted);
  if (next < current && inputs.lagS > NO_SHRINK_LAG_S) return current;
  next = Math.max(1, Math.min(max, next));
  return next;
}
