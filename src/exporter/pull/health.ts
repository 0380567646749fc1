// What a pull job reports about itself: progress (cursor, samples, windows)
// and failures (the last one, and how many in a row). Read by the exporter for
// the source's status and metrics.
import type { Logger } from "../../util/index.js";
import { PullError, type PullFailureReason } from "./pull-error.js";

export interface PullFailure {
  /** The classification of the failure; "Internal" when emitting failed rather than the store. */
  readonly reason: PullFailureReason | "Internal";
  /** Never contains credentials: status codes, error text from the store, transport errors. */
  readonly message: string;
  readonly atMs: number;
}

export interface PullHealth {
  /** When a window was last read completely. */
  readonly lastSuccessMs?: number;
  /** The most recent failure, kept after recovery; compare atMs with lastSuccessMs. */
  readonly lastError?: PullFailure;
  /** Failed attempts since the last success; 0 when healthy. */
  readonly consecutiveFailures: number;
  /** Failed attempts since this PullSource started. */
  readonly failures: number;
  /** Samples emitted since this PullSource started. */
  readonly samplesPulled: number;
  /** Windows read completely since this PullSource started (federate mode: pulls). */
  readonly windowsCompleted: number;
  /** The first millisecond not yet exported (federate mode: when the last pull started). */
  readonly cursorMs: number;
  /**
   * How much readable data (older than now − lag) waits to be exported:
   * below one interval when keeping up, growing while the store fails.
   */
  readonly lagBehindMs: number;
  /**
   * Time ranges given up without reading them, in seconds, by reason:
   * `expired` when the cursor fell behind now − maxBacklogAge (a sink down,
   * or Telex stopped, for longer than that). A metric-ready counter.
   */
  readonly skippedSeconds: { readonly expired: number };
  /** True while reading waits for the job's sink to come back up. */
  readonly waitingForTarget: boolean;
}

/** The mutable counterpart a job updates as it goes. */
export class HealthRecord {
  lastSuccessMs: number | undefined;
  lastError: PullFailure | undefined;
  consecutiveFailures = 0;
  failures = 0;
  samplesPulled = 0;
  windowsCompleted = 0;
  skippedExpiredMs = 0;
  waitingForTarget = false;

  snapshot(cursorMs: number, readableHorizonMs: number): PullHealth {
    return {
      ...(this.lastSuccessMs === undefined ? {} : { lastSuccessMs: this.lastSuccessMs }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      consecutiveFailures: this.consecutiveFailures,
      failures: this.failures,
      samplesPulled: this.samplesPulled,
      windowsCompleted: this.windowsCompleted,
      cursorMs,
      lagBehindMs: Math.max(0, readableHorizonMs - cursorMs),
      skippedSeconds: { expired: this.skippedExpiredMs / 1000 },
      waitingForTarget: this.waitingForTarget,
    };
  }
}

/** Records a failed attempt in health, and logs it once per run of failures (health carries the rest). */
export function recordFailure(
  health: HealthRecord,
  error: unknown,
  atMs: number,
  logger: Logger,
  key: string,
): void {
  const failure =
    error instanceof PullError
      ? { reason: error.reason, message: error.detail }
      : { reason: "Internal" as const, message: error instanceof Error ? error.message : String(error) };
  health.lastError = { ...failure, atMs };
  health.consecutiveFailures++;
  health.failures++;
  if (health.consecutiveFailures === 1) {
    logger.warn("pull failed; retrying", { job: key, reason: failure.reason, error: failure.message });
  }
}

/** Records a successful pull, logging the recovery when it ends a run of failures. */
export function recordSuccess(health: HealthRecord, atMs: number, logger: Logger, key: string): void {
  if (health.consecutiveFailures > 0) {
    logger.info("pull recovered", { job: key, failures: health.consecutiveFailures });
  }
  health.consecutiveFailures = 0;
  health.windowsCompleted++;
  health.lastSuccessMs = atMs;
}
