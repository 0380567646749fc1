// The wait before retrying a failed window: exponential from baseMs, capped at
// maxMs, with up to 20 % random jitter on top so that many jobs failing
// together (the store is down) do not retry in lockstep.

export const RETRY_JITTER_FRACTION = 0.2;

export interface RetryBackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  /** In [0, 1); injectable for tests. */
  readonly random: () => number;
}

/** The wait after the `failures`-th consecutive failure (1 = the first). */
export function retryDelayMs(failures: number, options: RetryBackoffOptions): number {
  const exponential = options.baseMs * 2 ** Math.max(0, failures - 1);
  const capped = Math.min(exponential, options.maxMs);
  return Math.round(capped * (1 + RETRY_JITTER_FRACTION * options.random()));
}
