import type { Label } from "../../metricsql/ast.js";

/**
 * What emit returns: nothing (every sample taken), the number of leading
 * samples it took when its target cannot take more now (it went down), or a
 * promise of either (backpressure).
 */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- returning nothing means "took them all"
export type EmitResult = void | number;

/**
 * Where a job's samples are delivered, as far as the runner needs to know:
 * the cursor only advances over what the target delivered or refused for
 * good, and reading pauses while the target is down.
 */
export interface PullTarget {
  /** True while the target keeps what it holds and cannot deliver (its endpoint fails). */
  readonly isDown: boolean;
  /** Resolves once everything emitted before the call is delivered or dropped for good; rejects on abort. */
  settled(signal: AbortSignal): Promise<void>;
  /** Resolves once the target is no longer down (or is closed); rejects on abort. */
  whenUp(signal: AbortSignal): Promise<void>;
}

/** One thing to read from the store: scoped selectors and where their samples go. */
export interface PullJob {
  /** Identifies the job and its persisted cursor, e.g. `${policyUid}/${sinkName}`. */
  readonly key: string;
  /**
   * The tenant-scoped selector(s), printed (`print(scope(parse(metricsql), …))`):
   * the store is asked for exactly these (one `match[]` each; the store
   * answers their union, each series once), so scoping must already be applied.
   */
  readonly selector: string | readonly string[];
  /**
   * Cursor keys this job replaces (the per-source keys of an older Telex).
   * When one of them is stored and not itself a running job's key, the job
   * starts at the minimum of its own and those cursors, and they are deleted.
   */
  readonly legacyKeys?: readonly string[];
  /**
   * The delivery barrier. With a target, a window's cursor is saved only
   * after target.settled(), and a down target stops reading (without holding
   * a store connection) until it is up; without one, once emitted.
   */
  readonly target?: PullTarget;
  /**
   * Receives one series' samples, in time order, labels sorted by name, while
   * the response streams in; the arrays belong to the callee afterwards. A
   * staleness marker arrives as Prometheus' stale NaN.
   *
   * Backpressure: returning a promise pauses reading (the store's response
   * waits in the socket) until it settles, so a catch-up after downtime can go
   * at the sinks' pace instead of overflowing their queues. It must settle;
   * returning nothing keeps reading at full speed.
   *
   * Returning (or resolving to) a number n below the sample count says only
   * the first n were taken and the target cannot take more now: the runner
   * stops reading the window, waits for the target and reads it again from
   * the first sample not taken.
   */
  emit(
    labels: readonly Label[],
    values: readonly number[],
    timestampsMs: readonly number[],
  ): EmitResult | PromiseLike<EmitResult>;
}

/** The job's selectors as a list. */
export function selectorsOf(job: PullJob): readonly string[] {
  return typeof job.selector === "string" ? [job.selector] : job.selector;
}

/** What emit returned, as something to wait for, or undefined when it returned nothing to wait for. */
export function pendingOf(result: EmitResult | PromiseLike<EmitResult>): PromiseLike<EmitResult> | undefined {
  const candidate = result as PromiseLike<EmitResult> | undefined;
  return typeof candidate?.then === "function" ? candidate : undefined;
}
