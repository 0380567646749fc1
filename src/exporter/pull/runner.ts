// What PullSource needs from the runner of one job, whichever way it pulls.
import type { Logger, Clock } from "../../util/index.js";
import type { RetryBackoffOptions } from "./backoff.js";
import type { ConcurrencyLimit } from "./concurrency-limit.js";
import type { PullHealth } from "./health.js";
import type { PullJob } from "./job.js";

export interface JobRunner {
  readonly key: string;
  /** Takes a new selector or emit target for the same key, from the next request on. */
  replace(job: PullJob): void;
  /** Starts pulling once `after` settles (a previous runner of the same key finishing). */
  start(after?: Promise<void>): void;
  /** Resolves once the runner has stopped; idempotent. */
  stop(): Promise<void>;
  snapshot(): PullHealth;
}

/** What every runner shares with the others of its PullSource. */
export interface RunnerDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Bounds the requests in flight over all jobs. */
  readonly limit: ConcurrencyLimit;
  readonly backoff: RetryBackoffOptions;
}
