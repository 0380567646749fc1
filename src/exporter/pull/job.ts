import type { Label } from "../../metricsql/ast.js";

/** One (policy, source) to read from the store: a scoped selector and where its samples go. */
export interface PullJob {
  /** Identifies the job and its persisted cursor, e.g. `${policyUid}/${sourceName}`. */
  readonly key: string;
  /**
   * The tenant-scoped selector, printed (`print(scope(parse(metricsql), …))`):
   * the store is asked for exactly this, so scoping must already be applied.
   */
  readonly selector: string;
  /**
   * Receives one series' samples, in time order, labels sorted by name, while
   * the response streams in; the arrays belong to the callee afterwards. A
   * staleness marker arrives as Prometheus' stale NaN.
   *
   * Backpressure: returning a promise pauses reading (the store's response
   * waits in the socket) until it settles, so a catch-up after downtime can go
   * at the sinks' pace instead of overflowing their queues. It must settle;
   * returning nothing keeps reading at full speed.
   */
  emit(
    labels: readonly Label[],
    values: readonly number[],
    timestampsMs: readonly number[],
  ): void | PromiseLike<void>;
}

/** What emit returned, as something to wait for, or undefined when it returned nothing to wait for. */
export function pendingOf(result: void | PromiseLike<void>): PromiseLike<void> | undefined {
  const candidate = result as PromiseLike<void> | undefined;
  return typeof candidate?.then === "function" ? candidate : undefined;
}
