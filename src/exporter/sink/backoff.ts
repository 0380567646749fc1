// The retry schedule of a sink.
//
// Attempt n (n ≥ 2) waits backoffDuration × 2^(n−2), capped at
// plus up to 20 % random jitter, capped at MAX_BACKOFF_MS so that many sinks failing
// together do not retry in lockstep. The first retry therefore waits at least
// backoffDuration, as the API promises. A server's Retry-After (429,
// 503) replaces the computed wait, capped at MAX_RETRY_AFTER_MS.

/** No single wait between attempts exceeds five minutes, whatever the policy says. */
export const MAX_BACKOFF_MS = 5 * 60_000;
export const JITTER_FRACTION = 0.2;

export interface BackoffOptions {
  readonly backoffMs: number;
  /** Returns a number in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

/** The wait before attempt `attempt` (2 = first retry). */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const exponent = Math.max(0, attempt - 2);
  const random = options.random ?? Math.random;
  const jittered = options.backoffMs * 2 ** exponent * (1 + JITTER_FRACTION * random());
  return Math.round(Math.min(jittered, MAX_BACKOFF_MS));
}
