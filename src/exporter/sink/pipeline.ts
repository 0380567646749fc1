// The delivery pipeline of one (policy, sink): a bounded queue, a batcher that
// flushes at batch.maxSize samples or after batch.timeout, whichever comes
// first, and one request in flight at a time through the retrying sender.
//
// One request at a time keeps the samples of every series in order (receivers
// reject out-of-order samples) and bounds what a slow endpoint can hold: the
// queue's capacity plus one batch. Pushing never waits; a full queue drops its
// oldest samples and counts them.
import { silentLogger, type Logger } from "../../log.js";
import { systemClock, type Clock, type TimerHandle } from "../util/clock.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import { SampleBatch, SampleQueue } from "./queue.js";
import { sendWithRetry, type RetryPolicy } from "./retry.js";
import { SinkStats, type DropReason } from "./stats.js";

/** Encodes samples [start, end) of a batch as a request body. */
export interface BatchEncoder<S> {
  encode(batch: SampleBatch<S>, start: number, end: number): Uint8Array;
}

export interface SinkPipelineOptions<S> {
  readonly batchMaxSize: number;
  readonly batchTimeoutMs: number;
  readonly retry: RetryPolicy;
  /** Samples the queue holds before it drops the oldest. */
  readonly queueCapacity: number;
  readonly sender: Sender;
  readonly encoder: BatchEncoder<S>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface CloseOptions {
  /** How long to keep delivering what is queued before dropping it; 0 drops at once. */
  readonly drainTimeoutMs: number;
}

class ShutdownError extends Error {
  override readonly name = "ShutdownError";
}

export class SinkPipeline<S> {
  readonly stats = new SinkStats();
  private readonly queue: SampleQueue<S>;
  private readonly batch: SampleBatch<S>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  private timer: TimerHandle | undefined;
  private deadlineReached = false;
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private dropRun = 0;

  constructor(private readonly options: SinkPipelineOptions<S>) {
    this.queue = new SampleQueue<S>(Math.max(options.queueCapacity, options.batchMaxSize));
    this.batch = new SampleBatch<S>(options.batchMaxSize);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** Samples waiting in the queue (not yet in a request). */
  get queued(): number {
    return this.queue.length;
  }

  /** Samples the queue holds before it drops the oldest. */
  get capacity(): number {
    return this.queue.capacity;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Queues one sample. Never blocks; after close() the sample is counted as dropped. */
  push(series: S, value: number, timestampMs: number): void {
    this.stats.samplesReceived++;
    if (this.closing !== undefined) {
      this.stats.dropped.shutdown++;
      return;
    }
    if (this.queue.push(series, value, timestampMs) === 1) this.countQueueDrop();
    else if (this.dropRun > 0) this.endDropRun();
    if (this.queue.length >= this.options.batchMaxSize) this.start();
    else this.armTimer();
  }

  /**
   * Stops the pipeline: delivers what is queued for up to drainTimeoutMs,
   * then aborts and counts the rest as dropped. Idempotent.
   */
  close(options: CloseOptions = { drainTimeoutMs: 0 }): Promise<void> {
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown({ drainTimeoutMs }: CloseOptions): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    if (drainTimeoutMs > 0 && (this.queue.length > 0 || this.running)) {
      const deadline = this.clock.setTimer(drainTimeoutMs, () => {
        this.abort.abort(new ShutdownError("sink closed"));
      });
      this.deadlineReached = true;
      this.start();
      await this.running;
      // Drain everything, batch by batch, until the deadline aborts.
      while (this.queue.length > 0 && !this.abort.signal.aborted) {
        this.deadlineReached = true;
        this.start();
        await this.running;
      }
      deadline.cancel();
    }
    this.abort.abort(new ShutdownError("sink closed"));
    await this.running;
    this.drop("shutdown", this.queue.clear());
    if (this.dropRun > 0) this.endDropRun();
  }

  private armTimer(): void {
    if (this.timer !== undefined || this.running !== undefined || this.queue.length === 0) return;
    this.timer = this.clock.setTimer(this.options.batchTimeoutMs, () => {
      this.timer = undefined;
      this.deadlineReached = true;
      this.start();
    });
  }

  private start(): void {
    if (this.running !== undefined) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.running = this.drainLoop().finally(() => {
      this.running = undefined;
      if (this.closing === undefined) this.armTimer();
    });
  }

  private async drainLoop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const full = this.queue.length >= this.options.batchMaxSize;
      if (!full && !(this.deadlineReached && this.queue.length > 0)) break;
      this.deadlineReached = false;
      this.batch.clear();
      this.queue.drainInto(this.batch);
      this.stats.samplesInFlight = this.batch.length;
      try {
        await this.deliver(0, this.batch.length);
      } catch (error) {
        // A bug, not a delivery failure: count the loss and keep the sink alive.
        this.logger.error("sink failed to deliver a batch", { error: String(error) });
        this.dropInFlight("internal_error", this.stats.samplesInFlight);
      } finally {
        this.batch.clear();
      }
    }
  }

  /**
   * Sends samples [start, end) of the current batch. A 413 splits the range
   * in halves, each sent on its own, instead of dropping it.
   */
  private async deliver(start: number, end: number): Promise<void> {
    const count = end - start;
    const body = this.options.encoder.encode(this.batch, start, end);
    let outcome: DeliveryOutcome;
    try {
      outcome = await sendWithRetry(this.options.sender, body, this.options.retry, {
        clock: this.clock,
        signal: this.abort.signal,
        onAttempt: (attempt, seconds) => {
          this.recordAttempt(attempt, seconds, count, body.length);
        },
      });
    } catch (error) {
      if (!this.abort.signal.aborted) throw error;
      this.dropInFlight("shutdown", count);
      return;
    }
    if (outcome.kind === "ok") return;
    if (this.abort.signal.aborted) {
      this.dropInFlight("shutdown", count);
    } else if (outcome.kind === "fatal" && outcome.reason === "TooLarge" && count > 1) {
      const middle = start + Math.floor(count / 2);
      await this.deliver(start, middle);
      await this.deliver(middle, end);
    } else {
      this.dropInFlight(dropReasonOf(outcome), count);
    }
  }

  private recordAttempt(outcome: DeliveryOutcome, seconds: number, samples: number, bytes: number): void {
    const now = this.clock.now();
    if (outcome.kind === "ok") {
      this.stats.recordSuccess(now, samples, bytes, seconds);
      this.stats.samplesInFlight -= samples;
      return;
    }
    const reason = outcome.reason === "TooLarge" ? "Rejected" : outcome.reason;
    this.stats.recordFailure(now, reason, outcome.message, seconds);
  }

  private drop(reason: DropReason, count: number): void {
    this.stats.dropped[reason] += count;
  }

  private dropInFlight(reason: DropReason, count: number): void {
    this.drop(reason, count);
    this.stats.samplesInFlight -= count;
  }

  private countQueueDrop(): void {
    this.stats.dropped.queue_full++;
    if (this.dropRun === 0) {
      this.logger.warn("sink queue full, dropping oldest samples", { capacity: this.queue.capacity });
    }
    this.dropRun++;
  }

  private endDropRun(): void {
    this.logger.warn("sink queue no longer full", { dropped: this.dropRun });
    this.dropRun = 0;
  }
}

function dropReasonOf(outcome: Exclude<DeliveryOutcome, { kind: "ok" }>): DropReason {
  if (outcome.kind === "retryable") return "retries_exhausted";
  if (outcome.reason === "Forbidden") return "endpoint_forbidden";
  return outcome.reason === "Unauthorized" ? "unauthorized" : "rejected";
}
