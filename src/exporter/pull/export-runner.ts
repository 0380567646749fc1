// Runs one pull job: plan the next window, wait for it, read it, emit its
// samples, advance and persist the cursor; on failure, record it, back off and
// read the same window again. The cursor only moves after a window was read
// to the end, so a failure never leaves a gap.
//
// A retried window may have been partly emitted by the failed attempt. The
// store sends each series' samples in time order, so the runner remembers,
// per series, the newest timestamp it emitted in the current window and skips
// anything not newer on the next attempt: retries do not duplicate either.
import { sleep, type TimerHandle } from "../util/clock.js";
import { retryDelayMs } from "./backoff.js";
import type { CursorStore } from "./cursor-store.js";
import type { ExportClient } from "./export-client.js";
import type { ExportedChunk } from "./export-parser.js";
import { HealthRecord, recordFailure, recordSuccess, type PullHealth } from "./health.js";
import { pendingOf, type PullJob } from "./job.js";
import type { JobRunner, RunnerDeps } from "./runner.js";
import {
  initialCursorMs,
  planWindow,
  readableHorizonMs,
  type TimeWindow,
  type WindowPlannerOptions,
} from "./window-planner.js";

export interface ExportRunnerDeps extends RunnerDeps {
  readonly client: ExportClient;
  readonly planner: WindowPlannerOptions;
  readonly cursorStore: CursorStore;
  /** How long stop() lets a window that is already emitting finish. */
  readonly stopGraceMs: number;
}

interface Attempt {
  readonly controller: AbortController;
  emitted: number;
}

export class ExportJobRunner implements JobRunner {
  private readonly health = new HealthRecord();
  private readonly stopController = new AbortController();
  private cursorMs: number;
  private attempt: Attempt | undefined;
  private running: Promise<void> | undefined;
  /** Per series (by its printed metric), the newest timestamp emitted in the current window. */
  private readonly emittedUpTo = new Map<string, number>();

  constructor(
    private job: PullJob,
    private readonly deps: ExportRunnerDeps,
  ) {
    this.cursorMs = this.startingCursor();
  }

  get key(): string {
    return this.job.key;
  }

  replace(job: PullJob): void {
    this.job = job;
  }

  start(after: Promise<void> = Promise.resolve()): void {
    this.running ??= after.then(() => this.loop());
  }

  /**
   * Stops waiting and backing off at once; a request that has not emitted
   * anything is aborted at once, one that has gets stopGraceMs to finish.
   */
  async stop(): Promise<void> {
    let grace: TimerHandle | undefined;
    if (!this.stopController.signal.aborted) {
      const reason = new Error(`pull job ${this.job.key} stopped`);
      this.stopController.abort(reason);
      const attempt = this.attempt;
      if (attempt !== undefined) {
        if (attempt.emitted === 0) attempt.controller.abort(reason);
        else
          grace = this.deps.clock.setTimer(this.deps.stopGraceMs, () => {
            attempt.controller.abort(reason);
          });
      }
    }
    try {
      await this.running;
    } finally {
      grace?.cancel();
    }
  }

  /** A method, not a property read, so the compiler does not assume it stays false across awaits. */
  private stopRequested(): boolean {
    return this.stopController.signal.aborted;
  }

  snapshot(): PullHealth {
    return this.health.snapshot(this.cursorMs, readableHorizonMs(this.deps.clock.now(), this.deps.planner));
  }

  private startingCursor(): number {
    return (
      this.deps.cursorStore.load(this.job.key) ?? initialCursorMs(this.deps.clock.now(), this.deps.planner)
    );
  }

  private async loop(): Promise<void> {
    const { clock, planner } = this.deps;
    const signal = this.stopController.signal;
    if (this.stopRequested()) return;
    // Reload: a runner this one replaces may have advanced the cursor meanwhile.
    const stored = this.deps.cursorStore.load(this.job.key);
    this.cursorMs = stored ?? initialCursorMs(clock.now(), planner);
    // Persisted at once, so a restart before the first window resumes here instead of later.
    if (stored === undefined) await this.saveCursor();
    while (!this.stopRequested()) {
      const plan = planWindow(this.cursorMs, clock.now(), planner);
      try {
        if (plan.kind === "wait") await sleep(clock, plan.waitMs, signal);
        else await this.readWindow(plan.window, signal);
      } catch (error: unknown) {
        if (this.stopRequested()) break;
        recordFailure(this.health, error, clock.now(), this.deps.logger, this.job.key);
        try {
          await sleep(clock, retryDelayMs(this.health.consecutiveFailures, this.deps.backoff), signal);
        } catch {
          break;
        }
      }
    }
  }

  private async readWindow(window: TimeWindow, stopSignal: AbortSignal): Promise<void> {
    const release = await this.deps.limit.acquire(stopSignal);
    const attempt: Attempt = { controller: new AbortController(), emitted: 0 };
    this.attempt = attempt;
    try {
      await this.deps.client.read(this.job.selector, window, attempt.controller.signal, (chunk) =>
        this.emitNew(chunk, window, attempt),
      );
    } finally {
      this.attempt = undefined;
      release();
    }
    this.cursorMs = window.endMs;
    this.emittedUpTo.clear();
    recordSuccess(this.health, this.deps.clock.now(), this.deps.logger, this.job.key);
    await this.saveCursor();
  }

  /** Emits the chunk's samples that lie in the window and were not emitted by an earlier attempt. */
  private emitNew(chunk: ExportedChunk, window: TimeWindow, attempt: Attempt): PromiseLike<void> | undefined {
    const { timestampsMs, values } = chunk;
    const after = this.emittedUpTo.get(chunk.seriesKey) ?? -Infinity;
    let keepAll = true;
    for (const t of timestampsMs) {
      if (t < window.startMs || t >= window.endMs || t <= after) {
        keepAll = false;
        break;
      }
    }
    let keptValues = values;
    let keptTimestamps = timestampsMs;
    if (!keepAll) {
      keptValues = [];
      keptTimestamps = [];
      for (let i = 0; i < timestampsMs.length; i++) {
        const t = timestampsMs[i] ?? NaN;
        if (t < window.startMs || t >= window.endMs || t <= after) continue;
        keptValues.push(values[i] ?? NaN);
        keptTimestamps.push(t);
      }
    }
    if (keptTimestamps.length === 0) return;
    const pending = pendingOf(this.job.emit(chunk.labels, keptValues, keptTimestamps));
    attempt.emitted += keptTimestamps.length;
    this.health.samplesPulled += keptTimestamps.length;
    let newest = after;
    for (const t of keptTimestamps) if (t > newest) newest = t;
    this.emittedUpTo.set(chunk.seriesKey, newest);
    return pending;
  }

  private async saveCursor(): Promise<void> {
    try {
      await this.deps.cursorStore.save(this.job.key, this.cursorMs);
    } catch (error: unknown) {
      // The samples are out already; an unsaved cursor costs a re-read after a restart, not a gap.
      this.deps.logger.warn("could not persist the pull cursor", {
        job: this.job.key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
