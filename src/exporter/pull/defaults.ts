// Defaults of a PullSource's optional settings, each with its reason.

/**
 * Catch-up windows after downtime are at most this long (or one interval,
 * if longer): large enough that a day of backlog is a few hundred requests,
 * small enough that one request stays quick to retry when it fails.
 */
export const DEFAULT_MAX_WINDOW_MS = 5 * 60_000;

/** No response headers, or no body bytes, for this long fails the request; as the sinks' request timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Requests to the store at once, over all jobs. Exports are cheap for
 * VictoriaMetrics but not free; a handful in parallel keeps many jobs moving
 * without letting Telex become the store's heaviest reader.
 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 4;

/** First retry after one second, doubling up to a minute: a restarted store is picked up within a minute. */
export const DEFAULT_RETRY_BACKOFF_MS = 1000;
export const DEFAULT_MAX_RETRY_BACKOFF_MS = 60_000;

/**
 * On stop, a window that has started emitting may finish for this long, so a
 * graceful restart does not read its first half twice; then it is aborted.
 */
export const DEFAULT_STOP_GRACE_MS = 5000;

/**
 * A job whose cursor fell further behind than this (its sink down, or Telex
 * stopped, that long) skips ahead to now − this and counts the skipped time:
 * as the push buffer's --max-backlog-age, a day.
 */
export const DEFAULT_MAX_BACKLOG_AGE_MS = 24 * 3600_000;
