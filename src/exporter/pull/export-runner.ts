// Runs one pull job: plan the next window, wait for it, read it, emit its
// samples, wait until the job's target (its sink) delivered them, then
// advance and persist the cursor; on failure, record it, back off and read
// the same window again. The cursor only moves over data that was read to
// the end and that the target delivered or refused for good, so neither a
// store failure, a sink outage nor a crash leaves a gap.
//
// A retried window may have been partly emitted by the failed attempt. The
// store sends each series' samples in time order, so the runner remembers,
// per series, the newest timestamp the target took in the current window and
// skips anything not newer on the next attempt: retries do not duplicate
// either. That covers a target that goes down mid-window: what it took stays
// in its memory and is delivered on recovery; the read stops, the store
// connection and the concurrency permit are released, the runner waits for
// the target to come back and reads the window again from what it did not take.
import { sleep, type TimerHandle } from "../../util/index.js";
import { retryDelayMs } from "./backoff.js";
import type { CursorStore } from "./cursor-store.js";
import type { ExportClient } from "./export-client.js";
import type { ExportedChunk } from "./export-parser.js";
import { HealthRecord, recordFailure, recordSuccess, type PullHealth } from "./health.js";
import { pendingOf, selectorsOf, type EmitResult, type PullJob, type PullTarget } from "./job.js";
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
  /** How long stop() lets a window that is already emitting finish (and its target deliver it). */
  readonly stopGraceMs: number;
  /** A cursor older than now − this jumps ahead to it; the skipped time is counted and logged. */
  readonly maxBacklogAgeMs: number;
}

/** The target took fewer samples than emitted: it is down. Not a store failure. */
class TargetUnavailable extends Error {
  override readonly name = "TargetUnavailable";
}

interface Attempt {
  readonly controller: AbortController;
  emitted: number;
  /** The emit the read waits on, if any; settled before a retry so emittedUpTo is complete. */
  pending: PromiseLike<void> | undefined;
  /** The target stopped taking samples during this attempt. */
  targetDown: boolean;
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
    const snapshot = this.health.snapshot(
      this.cursorMs,
      readableHorizonMs(this.deps.clock.now(), this.deps.planner),
    );
    // Also while the delivery barrier waits for a target that went down after the read.
    return snapshot.waitingForTarget || this.job.target?.isDown !== true
      ? snapshot
      : { ...snapshot, waitingForTarget: true };
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
      await this.skipExpired();
      const plan = planWindow(this.cursorMs, clock.now(), planner);
      try {
        if (plan.kind === "wait") await sleep(clock, plan.waitMs, signal);
        else await this.readWindow(plan.window, signal);
      } catch (error: unknown) {
        if (this.stopRequested()) break;
        if (error instanceof TargetUnavailable) continue;
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
    const target = this.job.target;
    // A down target waits here, holding neither a store connection nor a permit.
    if (target?.isDown === true) return this.waitForTarget(target, stopSignal);
    const release = await this.deps.limit.acquire(stopSignal);
    const attempt: Attempt = {
      controller: new AbortController(),
      emitted: 0,
      pending: undefined,
      targetDown: false,
    };
    this.attempt = attempt;
    try {
      try {
        await this.deps.client.read(selectorsOf(this.job), window, attempt.controller.signal, (chunk) =>
          this.emitNew(chunk, window, attempt),
        );
      } finally {
        release();
        // An emit still waiting for room (the read failed meanwhile) records what it took before a retry.
        if (attempt.pending !== undefined && !this.stopRequested()) {
          await Promise.resolve(attempt.pending).catch(() => undefined);
        }
      }
      if (attempt.targetDown) {
        if (target !== undefined) await this.waitForTarget(target, stopSignal);
        return;
      }
      // The delivery barrier: within stop()'s grace, like the read.
      if (target !== undefined) await target.settled(attempt.controller.signal);
    } catch (error: unknown) {
      if (attempt.targetDown && !this.stopRequested() && target !== undefined) {
        await this.waitForTarget(target, stopSignal);
        return;
      }
      throw error;
    } finally {
      this.attempt = undefined;
    }
    if (this.job.target !== target) {
      // The sink was replaced while this window went to the old one, which may not have delivered it.
      this.emittedUpTo.clear();
      return;
    }
    this.cursorMs = window.endMs;
    this.emittedUpTo.clear();
    recordSuccess(this.health, this.deps.clock.now(), this.deps.logger, this.job.key);
    await this.saveCursor();
  }

  /** Waits until the target is up; the window is then read again (its taken part skipped). */
  private async waitForTarget(target: PullTarget, signal: AbortSignal): Promise<void> {
    this.health.waitingForTarget = true;
    this.deps.logger.info("pull paused: the sink is down; resuming from the cursor when it is back", {
      job: this.job.key,
      cursorMs: this.cursorMs,
    });
    try {
      await target.whenUp(signal);
    } finally {
      this.health.waitingForTarget = false;
    }
    this.deps.logger.info("pull resumed: the sink is back", { job: this.job.key, cursorMs: this.cursorMs });
  }

  /** Jumps a cursor that fell behind now − maxBacklogAge ahead to it, counting and logging the gap. */
  private async skipExpired(): Promise<void> {
    const oldest = Math.floor(this.deps.clock.now()) - this.deps.maxBacklogAgeMs;
    if (this.cursorMs >= oldest) return;
    const skippedMs = oldest - this.cursorMs;
    this.health.skippedExpiredMs += skippedMs;
    this.deps.logger.warn("pull fell behind the max backlog age: skipping data never read", {
      job: this.job.key,
      fromMs: this.cursorMs,
      toMs: oldest,
      skippedSeconds: skippedMs / 1000,
    });
    this.cursorMs = oldest;
    this.emittedUpTo.clear();
    await this.saveCursor();
  }

  /** Emits the chunk's samples that lie in the window and were not taken by an earlier attempt. */
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
    const result = this.job.emit(chunk.labels, keptValues, keptTimestamps);
    const pending = pendingOf(result);
    if (pending === undefined) {
      this.taken(chunk.seriesKey, keptTimestamps, result as EmitResult, attempt);
      return;
    }
    const done = pending.then((taken) => {
      this.taken(chunk.seriesKey, keptTimestamps, taken, attempt);
    });
    attempt.pending = done;
    return done;
  }

  /** Records what the target took; stops the attempt when it took less than all (it is down). */
  private taken(
    seriesKey: string,
    timestampsMs: readonly number[],
    result: EmitResult,
    attempt: Attempt,
  ): void {
    const count =
      typeof result === "number" ? Math.max(0, Math.min(timestampsMs.length, result)) : timestampsMs.length;
    attempt.emitted += count;
    this.health.samplesPulled += count;
    let newest = this.emittedUpTo.get(seriesKey) ?? -Infinity;
    for (let i = 0; i < count; i++) newest = Math.max(newest, timestampsMs[i] ?? -Infinity);
    if (count > 0) this.emittedUpTo.set(seriesKey, newest);
    if (count < timestampsMs.length) {
      attempt.targetDown = true;
      const reason = new TargetUnavailable(`the target of pull job ${this.job.key} is down`);
      attempt.controller.abort(reason);
      throw reason;
    }
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
