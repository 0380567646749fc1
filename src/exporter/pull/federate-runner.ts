// Runs one job in federate mode: every interval, read the latest sample of
// each matching series from `/federate` and emit those not emitted before.
//
// What federation cannot give, by its nature: only the newest sample per
// series at the moment of the pull is seen, so samples written between two
// pulls (other than the last) are never exported — gaps at any interval
// longer than the scrape interval; there are no windows and no cursor, so a
// restart re-emits each series' current sample once; timestamps are the
// store's. A series' sample is emitted again only when its timestamp moved.
import { sleep } from "../../util/index.js";
import { retryDelayMs } from "./backoff.js";
import type { FederateClient } from "./federate-client.js";
import { HealthRecord, recordFailure, recordSuccess, type PullHealth } from "./health.js";
import { pendingOf, type PullJob } from "./job.js";
import type { JobRunner, RunnerDeps } from "./runner.js";

export interface FederateRunnerDeps extends RunnerDeps {
  readonly client: FederateClient;
  readonly intervalMs: number;
}

export class FederateJobRunner implements JobRunner {
  private readonly health = new HealthRecord();
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;
  /** When the last pull completed: everything the store had then was seen. */
  private lastPullMs: number;
  /** Per series (as printed), the timestamp of the sample last emitted. */
  private emittedAt = new Map<string, number>();

  constructor(
    private job: PullJob,
    private readonly deps: FederateRunnerDeps,
  ) {
    this.lastPullMs = deps.clock.now();
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

  /** Aborts at once: an interrupted pull costs nothing that the next one does not bring back. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error(`pull job ${this.job.key} stopped`));
    await this.running;
  }

  snapshot(): PullHealth {
    // "Behind" once a pull is overdue by more than one interval.
    return this.health.snapshot(this.lastPullMs, this.deps.clock.now() - this.deps.intervalMs);
  }

  private stopRequested(): boolean {
    return this.stopController.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { clock } = this.deps;
    const signal = this.stopController.signal;
    while (!this.stopRequested()) {
      try {
        await this.pull(signal);
        await sleep(clock, this.deps.intervalMs, signal);
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

  private async pull(signal: AbortSignal): Promise<void> {
    const release = await this.deps.limit.acquire(signal);
    const startedMs = this.deps.clock.now();
    const seen = new Set<string>();
    try {
      await this.deps.client.read(this.job.selector, signal, (sample) => {
        seen.add(sample.seriesKey);
        const timestampMs = sample.timestampMs ?? startedMs;
        const previous = this.emittedAt.get(sample.seriesKey);
        if (previous !== undefined && timestampMs <= previous) return;
        const pending = pendingOf(this.job.emit(sample.labels, [sample.value], [timestampMs]));
        this.emittedAt.set(sample.seriesKey, timestampMs);
        this.health.samplesPulled++;
        // Federate keeps no cursor: a target that took fewer samples gets the next pull's.
        return pending?.then(() => undefined);
      });
    } finally {
      release();
    }
    // Forget series the store no longer returns, so the map does not grow with churn.
    for (const key of this.emittedAt.keys()) if (!seen.has(key)) this.emittedAt.delete(key);
    this.lastPullMs = startedMs;
    recordSuccess(this.health, this.deps.clock.now(), this.deps.logger, this.job.key);
  }
}
