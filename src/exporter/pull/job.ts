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
   * Receives one series' samples, in time order, labels sorted by name. Called
   * synchronously while the response streams in; the arrays belong to the
   * callee afterwards. A staleness marker arrives as Prometheus' stale NaN.
   */
  emit(labels: readonly Label[], values: readonly number[], timestampsMs: readonly number[]): void;
}
