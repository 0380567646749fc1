// One shard of a sink: a short queue, the batch being sent (or kept while the
// sink is down), and a timer for partial batches. A shard sends one request at
// a time, and a series always goes to the same shard, so every series is
// delivered in the order it arrived however many shards run.
import type { TimerHandle } from "../../util/index.js";
import { SampleBatch, SampleQueue } from "./queue.js";

/** A shard queues this many batches before the sink stops handing it samples. */
export const SHARD_QUEUE_BATCHES = 2;

export class Shard<S> {
  readonly queue: SampleQueue<S>;
  readonly batch: SampleBatch<S>;
  /** A send loop is running. */
  sending = false;
  /** The batch timeout passed: send what is queued even if the batch is not full. */
  deadlineReached = false;
  timer: TimerHandle | undefined;
  /** The loop's promise, awaited on close. */
  loop: Promise<void> | undefined;
  /** Armed when the shard went idle: it gives its arrays back if it is still idle then. */
  idleTimer: TimerHandle | undefined;

  constructor(
    readonly index: number,
    batchMaxSize: number,
  ) {
    this.queue = new SampleQueue<S>(batchMaxSize * SHARD_QUEUE_BATCHES);
    this.batch = new SampleBatch<S>(batchMaxSize);
  }

  /** The oldest sequence number this shard has not delivered yet; Infinity when it owes nothing. */
  get lowSeq(): number {
    if (this.batch.length > 0) return this.batch.seqs[0] ?? Infinity;
    return this.queue.firstSeq ?? Infinity;
  }

  /** Samples queued or in the batch. */
  get pending(): number {
    return this.batch.length + this.queue.length;
  }

  get idle(): boolean {
    return !this.sending && this.pending === 0;
  }

  /**
   * An idle shard gives its arrays back: after a catch-up, thousands of sinks
   * with many shards must not each keep batches of the size they once needed.
   * They grow again from a few slots, which costs little next to a request;
   * the pipeline waits IDLE_SHRINK_MS first, so a shard that sends every
   * second keeps its arrays (growing them again each time was 3 % of the
   * CPU of relaying for 1,000 policies).
   */
  shrink(): void {
    this.queue.release();
    this.batch.release();
  }

  cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
  }
}
