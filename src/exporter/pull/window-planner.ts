// Decides which time window a pull job reads next. Pure: given the cursor
// (the first millisecond not yet exported) and the current time, it returns
// either the next half-open window [startMs, endMs) or how long to wait.
//
// Windows are consecutive: the next one starts where the last one ended, so
// no millisecond is read twice and none is skipped. Only data older than
// `now − lag` is read, giving agents and the store time to make recent
// samples searchable. A job is due once a whole interval has become readable;
// after downtime the backlog is read in windows of at most maxWindowMs.

export interface WindowPlannerOptions {
  /** How often a job reads, and the length of a window in steady state. */
  readonly intervalMs: number;
  /** Samples newer than now − lagMs are not read yet. */
  readonly lagMs: number;
  /** The longest window read in one request while catching up; at least intervalMs. */
  readonly maxWindowMs: number;
}

/** A half-open time range [startMs, endMs), in milliseconds since the epoch. */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

export type WindowPlan =
  { readonly kind: "read"; readonly window: TimeWindow } | { readonly kind: "wait"; readonly waitMs: number };

/** The newest instant that may be read: now − lag, in whole milliseconds. */
export function readableHorizonMs(nowMs: number, options: WindowPlannerOptions): number {
  return Math.floor(nowMs) - options.lagMs;
}

/**
 * Where a job without a stored cursor starts: one interval before the
 * readable horizon. History older than that is not exported (no backfill):
 * a new policy forwards what arrives from now on, as the ingest path does.
 */
export function initialCursorMs(nowMs: number, options: WindowPlannerOptions): number {
  return readableHorizonMs(nowMs, options) - options.intervalMs;
}

export function planWindow(cursorMs: number, nowMs: number, options: WindowPlannerOptions): WindowPlan {
  const horizon = readableHorizonMs(nowMs, options);
  const readable = horizon - cursorMs;
  if (readable < options.intervalMs) {
    return { kind: "wait", waitMs: options.intervalMs - readable };
  }
  const endMs = Math.min(horizon, cursorMs + options.maxWindowMs);
  return { kind: "read", window: { startMs: cursorMs, endMs } };
}

/** Throws a clear error for settings that cannot produce valid windows. */
export function validatePlannerOptions(options: WindowPlannerOptions): void {
  const { intervalMs, lagMs, maxWindowMs } = options;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
    throw new RangeError(`pull intervalMs must be a positive integer, got ${intervalMs}`);
  }
  if (!Number.isSafeInteger(lagMs) || lagMs < 0) {
    throw new RangeError(`pull lagMs must be a non-negative integer, got ${lagMs}`);
  }
  if (!Number.isSafeInteger(maxWindowMs) || maxWindowMs < intervalMs) {
    throw new RangeError(
      `pull maxWindowMs must be an integer of at least intervalMs (${intervalMs}), got ${maxWindowMs}`,
    );
  }
}
