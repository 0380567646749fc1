// The delivery pipeline of one (policy, sink).
//
// Samples arrive with push() and get sequence numbers (seq) in arrival order.
// They go to shards by series (shard.ts): each shard batches at
// batch.maxSize or after batch.timeout and has one request in flight, so a
// series stays in order while several requests run at once. The shard count
// follows the measured send rate and backlog (resharder.ts), between 1 and
// maxShards; changing it is a barrier (every shard delivers what it holds
// first), as in Prometheus' queue manager.
//
// What a full shard cannot take waits in a ring. With a durable backlog
// (backlog.ts) the samples are already on disk: when the ring overflows the
// pipeline forgets them in memory and reads them back from the log, oldest
// first, until it has caught up. Without one, a full ring drops its oldest
// samples as buffer_full.
//
// A batch that still fails after retry.maxAttempts for a retryable reason is
// kept, not dropped: the sink goes down, stops sending and probes the
// endpoint with a growing backoff (capped at MAX_BACKOFF_MS); the first
// success resumes every shard from its oldest kept sample. Refusals that a
// retry cannot fix (4xx, egress policy) are dropped and counted as before.
// With a durable backlog a down sink keeps nothing in memory: its shards'
// batches and queues are in the log too, so it gives them back and reads
// the oldest again for each probe and when it recovers (releaseKept).
//
// Accounting: at every moment received = sent + Σ dropped[reason] + buffered.
import { crc32 } from "node:zlib";
import { silentLogger, systemClock, type Logger, type Clock, type TimerHandle } from "../../util/index.js";
import type { SeriesRef } from "../series.js";
import { backoffDelayMs } from "./backoff.js";
import type { ArrivalRange, BacklogTrimReason, ShardPositions, TrimListener } from "./backlog.js";
import { DeliveryBudget, type Release } from "./delivery-budget.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import { MemoryShare, type MemoryBudget } from "./memory-budget.js";
import { SampleBatch, SampleQueue } from "./queue.js";
import { desiredShards, Ewma, SHARD_UPDATE_INTERVAL_MS } from "./resharder.js";
import { sendWithRetry, type RetryPolicy } from "./retry.js";
import { SeqRuns } from "./seq-runs.js";
import { Shard } from "./shard.js";
import { SinkStats, type DropReason } from "./stats.js";

/**
 * Encodes samples [start, end) of a batch as a request body, at once or (compressed on a thread)
 * later; the batch is not changed until the body is there.
 */
export interface BatchEncoder<S> {
  encode(batch: SampleBatch<S>, start: number, end: number): Uint8Array | Promise<Uint8Array>;
}

/** The durable log's view of this sink (see backlog.ts), for any series type. */
export interface PipelineBacklog<S> {
  readonly startSeq: number;
  readonly endSeq: number;
  readonly recovered: ShardPositions | undefined;
  read(from: number, batch: SampleBatch<S>): Promise<number>;
  commit(positions: ShardPositions): void;
  onTrim: TrimListener | undefined;
}

/**
 * What a sink may always hold is two batches of at most this many samples, whatever its maxSize:
 * a thousand sinks of maxSize 5,000 catching up at once would otherwise own 10 M samples (over
 * 300 MB) before borrowing anything. Beyond it, a sink borrows from the process budget; short of
 * that, it sends the partial batches it has (see memoryStarved), so it still makes progress.
 */
export const OWN_BATCH_SAMPLES = 500;

/**
 * Until a sink has encoded a request, what a sample is taken to cost in a request body when it asks
 * for a permit (see DeliveryBudget): more than Remote Write usually takes compressed (20–60 bytes), so
 * the first requests of many new sinks at once do not pass the cap on bytes in flight by much.
 */
export const INITIAL_BYTES_PER_SAMPLE = 100;

/**
 * A down sink with a durable backlog probes with at most this many of its oldest samples, read
 * again from the log for each probe (see releaseKept): enough to tell the endpoint is back, and
 * cheap to read for a thousand sinks probing at once.
 */
export const PROBE_SAMPLES = OWN_BATCH_SAMPLES;

/**
 * A shard idle this long gives its arrays back (see Shard.shrink): longer
 * than the default batch timeout (5 s), so a sink that sends steadily keeps
 * them, and short enough that a burst's arrays do not outlive it by much.
 */
export const IDLE_SHRINK_MS = 10_000;

export interface SinkPipelineOptions<S> {
  readonly batchMaxSize: number;
  readonly batchTimeoutMs: number;
  readonly retry: RetryPolicy;
  /** Samples held in memory while the shards are full, before dropping (or reading back from the backlog). */
  readonly queueCapacity: number;
  readonly sender: Sender;
  readonly encoder: BatchEncoder<S>;
  /** A hash of the series, stable across restarts: which shard it goes to. Default: one shard for all. */
  readonly shardOf?: (series: S) => number;
  /** Upper bound on shards (parallel requests); default 1. */
  readonly maxShards?: number;
  /** The process-wide cap on requests (and their bytes) in flight; default: a budget of this sink's own. */
  readonly budget?: DeliveryBudget;
  /** The process-wide bound on samples sinks hold in memory; unbounded beyond the sink's own limits without it. */
  readonly memory?: MemoryBudget;
  /** Told the shard count after a reshard, e.g. to close connections of lanes no longer used. */
  readonly onShardsChanged?: (count: number) => void;
  /** Where the samples are kept on disk; without it the pipeline runs from memory alone. */
  readonly backlog?: PipelineBacklog<S>;
  /**
   * With a backlog: sends nothing until this settles, then resumes from the
   * backlog's latest positions. A pipeline replacing another on the same
   * backlog waits for the old one to stop, so the two never send the same samples.
   */
  readonly startAfter?: Promise<void>;
  /**
   * The counters of the sink this one replaces (same endpoint, other batch,
   * retry or credentials): the sink's history goes on instead of restarting.
   */
  readonly stats?: SinkStats;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface CloseOptions {
  /** How long to keep delivering what is held before stopping; 0 stops at once. */
  readonly drainTimeoutMs: number;
  /**
   * Why the sink stops: at "shutdown" a durable backlog keeps what was not
   * delivered for the next start; when "removed" (its policy or sink is gone)
   * it is given up. Without a backlog both are drops. "replaced": another
   * pipeline takes over the same backlog, so this one neither drops nor
   * commits anything more.
   */
  readonly reason?: "shutdown" | "removed" | "replaced";
}

/** Why a down sink stopped sending, and when it will try again. */
export interface DownState {
  readonly sinceMs: number;
  nextProbeMs: number;
  /** Probes sent so far; the backoff grows with them. */
  probes: number;
  timer: TimerHandle | undefined;
}

/**
 * What a down sink gave back to the log (see releaseKept): it reads again
 * from the oldest sample its shards held, and delivers each sample once.
 */
interface Reread {
  /** The reader had got this far: every seq from here on is still owed. */
  readonly until: number;
  /** The seqs in [readSeq, until) still owed; the others there were delivered or dropped already. */
  readonly owed: SeqRuns;
  /** Per shard, where it had got to: its samples below were delivered or dropped (for positions). */
  readonly next: readonly number[];
}

/** What sending a shard's batch came to. */
interface Delivery {
  /** The whole batch was delivered or dropped for good. */
  readonly worked: boolean;
  /** The server's Retry-After on the failure that stopped it. */
  readonly retryAfterMs: number | undefined;
}

class ShutdownError extends Error {
  override readonly name = "ShutdownError";
}

/** The shard hash of a SeriesRef: CRC32 of its label bytes, computed once per series. */
export function seriesShardHash(series: SeriesRef): number {
  return (series.shardHash ??= crc32(series.labelBytes));
}

export class SinkPipeline<S> {
  readonly stats: SinkStats;
  private readonly ring: SampleQueue<S>;
  private readonly memory: MemoryShare;
  private shards: Shard<S>[];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly budget: DeliveryBudget;
  private readonly maxShards: number;
  private readonly shardOf: (series: S) => number;
  private readonly backlog: PipelineBacklog<S> | undefined;
  private readonly abort = new AbortController();
  /**
   * The abort signal's state as a plain field: read for every sample pushed,
   * where AbortSignal's getter (with its receiver check) was 1–2 % of a
   * relaying process's CPU. Set only by stop().
   */
  private aborted = false;
  /** The seq the next pushed sample gets. */
  private nextSeq = 0;
  /** The next seq to hand to a shard: the ring holds [readSeq, nextSeq) unless catching up. */
  private readSeq = 0;
  /** Samples [readSeq, nextSeq) are on disk only and are read back from the backlog. */
  private catchingUp = false;
  private reading: Promise<void> | undefined;
  /** Samples read back and not dispatched yet: only while catching up (10,000 sinks must not each keep one). */
  private readBuffer: SampleBatch<S> | undefined;
  private readIndex = 0;
  /** After a restart: per shard of the recovered count, the seq below which samples were delivered. */
  private skip:
    { readonly shards: number; readonly next: readonly number[]; readonly until: number } | undefined;
  private downState: DownState | undefined;
  /** Set while a down sink reads again what it gave back to the log (releaseKept). */
  private reread: Reread | undefined;
  /** A probe is reading or sending: what the shards hold is its batch, not to be given back. */
  private probing = false;
  /** The reader runs for a probe although the sink is down. */
  private probeReading = false;
  /** The shard count a barrier is moving to. */
  private reshardTarget: number | undefined;
  private reshardTimer: TimerHandle | undefined;
  private readonly rates = { in: new Ewma(), out: new Ewma(), send: new Ewma() };
  private interval = { received: 0, sent: 0, sendSeconds: 0, succeeded: false, starved: false };
  /**
   * The last sample a shard could take found no memory: partial batches go
   * out at once instead of waiting for the batch timeout, since nothing more
   * comes until memory is freed, which only sending does.
   */
  private memoryStarved = false;
  private settleWaiters: { readonly seq: number; readonly resolve: () => void }[] = [];
  private upWaiters: (() => void)[] = [];
  private draining = false;
  private closing: Promise<void> | undefined;
  private commitQueued = false;
  private pumping = false;
  /** Pushes already counted from the log (see expectSeq). */
  private ignoredPushes = 0;
  /** Waiting for startAfter: nothing is sent yet. */
  private gated = false;
  private dropRun = 0;
  private startedMs: number | undefined;
  /** Bytes per sample of the last request body encoded: what a permit is asked for (see DeliveryBudget). */
  private bytesPerSample = INITIAL_BYTES_PER_SAMPLE;

  constructor(private readonly options: SinkPipelineOptions<S>) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.budget = options.budget ?? new DeliveryBudget(Math.max(1, options.maxShards ?? 1));
    this.maxShards = Math.max(1, options.maxShards ?? 1);
    this.shardOf = options.shardOf ?? (() => 0);
    this.ring = new SampleQueue<S>(Math.max(options.queueCapacity, options.batchMaxSize));
    this.backlog = options.backlog;
    this.stats = options.stats ?? new SinkStats();
    // Two batches of at most OWN_BATCH_SAMPLES are the sink's own; more is borrowed from the process.
    this.memory = new MemoryShare(
      options.memory,
      2 * Math.min(options.batchMaxSize, OWN_BATCH_SAMPLES),
      options.batchMaxSize,
    );
    this.shards = this.makeShards(1);
    if (this.backlog !== undefined) {
      this.backlog.onTrim = (from, to, reason, arrived) => {
        this.trimmed(from, to, reason, arrived);
      };
      this.nextSeq = this.backlog.endSeq;
      this.resume();
      const gate = options.startAfter;
      if (gate !== undefined) {
        // Until the gate opens everything arriving stays on disk; then reading starts from the latest positions.
        this.gated = true;
        this.catchingUp = true;
        void gate
          .catch(() => undefined)
          .then(() => {
            this.gated = false;
            if (!this.aborted) this.resume();
          });
      }
    }
  }

  /** With a backlog: continues from its latest positions, reading back what they have not passed. */
  private resume(): void {
    const backlog = this.backlog;
    if (backlog === undefined) return;
    const recovered = backlog.recovered;
    let shardCount = 1;
    this.reread = undefined;
    this.readSeq = backlog.startSeq;
    if (recovered !== undefined && recovered.next.length === recovered.shards) {
      shardCount = Math.max(1, recovered.shards);
      const low = Math.min(...recovered.next);
      const until = Math.max(...recovered.next);
      this.readSeq = Math.min(this.nextSeq, Math.max(backlog.startSeq, low));
      if (until > this.readSeq) this.skip = { shards: shardCount, next: [...recovered.next], until };
    }
    this.readSeq = Math.min(this.readSeq, this.nextSeq);
    // Nothing was sent or dropped before: what the log holds past the positions is still owed.
    // Counters carried over from a replaced sink counted it already.
    if (this.options.stats === undefined) this.stats.samplesReceived = this.nextSeq - this.readSeq;
    this.shards = this.makeShards(shardCount);
    this.catchingUp = this.readSeq < this.nextSeq;
    if (this.catchingUp) {
      this.startedMs ??= this.clock.now();
      this.ensureReading();
    }
  }

  /**
   * With a backlog: the next pushed sample has this seq in the log. Pushes
   * follow the log's order, but one that a replaced pipeline received, or
   * one this pipeline already counted from the log's end when it started,
   * would shift the numbering: this keeps both in step.
   */
  expectSeq(seq: number): void {
    if (this.backlog === undefined || seq === this.nextSeq) return;
    if (seq < this.nextSeq) {
      this.ignoredPushes = this.nextSeq - seq;
      return;
    }
    const missed = seq - this.nextSeq;
    this.stats.samplesReceived += missed;
    this.interval.received += missed;
    this.nextSeq = seq;
    if (!this.catchingUp) {
      // The ring's samples are in the log too: read everything from there, in order.
      this.memory.release(this.ring.release());
      this.catchingUp = true;
    }
    this.ensureReading();
  }

  /** Samples received and neither delivered nor dropped: in memory, in flight, or in the backlog on disk. */
  get buffered(): number {
    let held = this.owedBetween(this.readSeq, this.nextSeq);
    for (const shard of this.shards) held += shard.pending;
    return held;
  }

  /** Samples in memory: waiting in the ring, read back and not dispatched yet, queued in shards, in their batches. */
  get inMemory(): number {
    let held =
      this.ring.length + (this.readBuffer === undefined ? 0 : this.readBuffer.length - this.readIndex);
    for (const shard of this.shards) held += shard.pending;
    return held;
  }

  /** Sample slots of the ring's and the shards' arrays: what the sink keeps allocated, used or not. */
  get slots(): number {
    let slots = this.ring.slots;
    for (const shard of this.shards) slots += shard.queue.slots + shard.batch.slots;
    return slots;
  }

  /** Samples waiting in memory for a shard (not yet in a shard's queue). */
  get queued(): number {
    return this.ring.length;
  }

  /** Samples the memory ring holds before it drops (or, with a backlog, reads back from disk). */
  get capacity(): number {
    return this.ring.capacity;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** The shard count the resharder last asked for (the current one outside a barrier). */
  get desiredShardCount(): number {
    return this.reshardTarget ?? this.shards.length;
  }

  /** Set while the sink keeps its samples and probes a failing endpoint. */
  get down(): Readonly<DownState> | undefined {
    return this.downState;
  }

  /** Seconds from the newest delivered sample's timestamp to now while samples are waiting; 0 when none are. */
  lagSeconds(nowMs = this.clock.now()): number {
    if (this.buffered === 0) return 0;
    const reference = this.stats.newestSentTimestampMs ?? this.startedMs ?? nowMs;
    return Math.max(0, (nowMs - reference) / 1000);
  }

  /** Queues one sample. Never blocks; after close() the sample is counted as dropped. */
  push(series: S, value: number, timestampMs: number): void {
    if (this.ignoredPushes > 0) {
      this.ignoredPushes--;
      return;
    }
    this.stats.samplesReceived++;
    this.interval.received++;
    const seq = this.nextSeq++;
    this.startedMs ??= this.clock.now();
    if (this.closing !== undefined) {
      this.moveReadSeq(this.nextSeq);
      this.stats.dropped.shutdown++;
      return;
    }
    this.reshardTimer ??= this.armReshardTimer();
    if (this.catchingUp) {
      this.ensureReading();
      return;
    }
    if (
      this.ring.length === 0 &&
      this.canDispatch() &&
      this.dispatch(series, value, timestampMs, seq, true)
    ) {
      this.readSeq = this.nextSeq;
      return;
    }
    const room = !this.ring.full && this.memory.tryHold(1);
    if (!room && this.backlog !== undefined) {
      // Everything in the ring is on disk too: read it back from there once the shards have room.
      // Its arrays go too: a thousand lagging sinks must not each keep a full ring.
      this.memory.release(this.ring.release());
      this.catchingUp = true;
      this.ensureReading();
      return;
    }
    if (room) {
      this.ring.push(series, value, timestampMs, seq);
      if (this.dropRun > 0) this.endDropRun();
      return;
    }
    // Full: the oldest waiting sample makes room for this one, or this one goes when none waits.
    if (this.ring.length > 0) {
      this.ring.dropOldest(1);
      this.ring.push(series, value, timestampMs, seq);
    }
    this.readSeq++;
    this.countRingDrop();
  }

  /**
   * Resolves when every sample pushed before the call is delivered or
   * dropped for good; sends partial batches at once meanwhile. A down sink
   * holds it until the endpoint recovers. Rejects when the signal aborts.
   */
  settled(signal?: AbortSignal): Promise<void> {
    const seq = this.nextSeq;
    if (this.lowWatermark() >= seq) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        seq,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.settleWaiters = this.settleWaiters.filter((w) => w !== waiter);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.settleWaiters.push(waiter);
      for (const shard of this.shards) this.kick(shard);
    });
  }

  /**
   * Resolves once the sink is not down (at once when it is not), or when it
   * closes; rejects when the signal aborts. For readers that pause while the
   * sink cannot deliver (pull mode).
   */
  whenUp(signal?: AbortSignal): Promise<void> {
    if (this.downState === undefined || this.closing !== undefined) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.upWaiters = this.upWaiters.filter((w) => w !== waiter);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.upWaiters.push(waiter);
    });
  }

  /**
   * Stops the pipeline: delivers what it holds for up to drainTimeoutMs,
   * then aborts. Idempotent.
   */
  close(options: CloseOptions = { drainTimeoutMs: 0 }): Promise<void> {
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown({ drainTimeoutMs, reason = "shutdown" }: CloseOptions): Promise<void> {
    this.reshardTimer?.cancel();
    this.downState?.timer?.cancel();
    if (drainTimeoutMs > 0 && this.buffered > 0 && this.downState === undefined) {
      this.draining = true;
      const deadline = this.clock.setTimer(drainTimeoutMs, () => {
        this.stop();
      });
      const drained = new Promise<void>((resolve) => {
        this.settleWaiters.push({ seq: this.nextSeq, resolve });
      });
      this.pump();
      for (const shard of this.shards) this.kick(shard);
      await Promise.race([
        drained,
        new Promise<void>((resolve) => {
          this.abort.signal.addEventListener("abort", () => {
            resolve();
          });
        }),
      ]);
      deadline.cancel();
    }
    this.stop();
    for (const shard of this.shards) shard.cancelTimer();
    await Promise.all([this.reading, ...this.shards.map((shard) => shard.loop)]);
    if (this.backlog !== undefined && reason === "replaced") {
      // The replacing pipeline resumes from the positions committed so far.
    } else if (this.backlog !== undefined && reason === "shutdown") {
      // Kept on disk for the next start; counted as buffered, not dropped.
      this.commitNow();
    } else {
      this.drop(reason === "replaced" ? "shutdown" : reason, this.buffered);
      this.ring.clear();
      this.memory.releaseAll();
      for (const shard of this.shards) {
        shard.queue.clear();
        shard.batch.clear();
      }
      this.moveReadSeq(this.nextSeq);
      if (this.backlog !== undefined) this.commitNow();
    }
    // Whatever it still holds, the budget gets its share back: a pipeline replaced on the same backlog
    // must not keep what it borrowed.
    this.memory.releaseAll();
    if (this.dropRun > 0) this.endDropRun();
    for (const waiter of this.settleWaiters.splice(0)) waiter.resolve();
    for (const waiter of this.upWaiters.splice(0)) waiter();
  }

  private makeShards(count: number): Shard<S>[] {
    return Array.from({ length: count }, (_, index) => new Shard<S>(index, this.options.batchMaxSize));
  }

  /** The bytes a request body of `samples` is expected to take, from this sink's last one. */
  private bodyEstimate(samples: number): number {
    return Math.ceil(samples * this.bytesPerSample);
  }

  /** Aborts sending: in-flight requests and waits end, the shards' loops return. */
  private stop(): void {
    this.aborted = true;
    this.abort.abort(new ShutdownError("sink closed"));
  }

  /** A method, not a property read, so the compiler does not assume it stays false across awaits. */
  private stopped(): boolean {
    return this.aborted;
  }

  private canDispatch(): boolean {
    return this.reshardTarget === undefined && !this.gated && !this.aborted;
  }

  /**
   * Hands a sample to its shard; false when that shard's queue is full, or
   * when a sample not yet in memory (`fresh`) finds no memory left.
   */
  private dispatch(series: S, value: number, timestampMs: number, seq: number, fresh: boolean): boolean {
    const shards = this.shards;
    const shard = shards.length === 1 ? shards[0] : shards[this.shardOf(series) % shards.length];
    if (shard === undefined || shard.queue.full) return false;
    if (fresh && !this.memory.tryHold(1)) {
      this.starve();
      return false;
    }
    this.memoryStarved = false;
    shard.queue.push(series, value, timestampMs, seq);
    if (shard.queue.length >= this.options.batchMaxSize) this.kick(shard);
    else this.armTimer(shard);
    return true;
  }

  /** Moves waiting samples into shards with room: from the ring, or from the backlog when catching up. */
  private pump(): void {
    // Dispatching can start a shard, which frees room and pumps again: the outer call does that work.
    if (this.pumping || !this.canDispatch()) return;
    if (this.catchingUp) {
      this.ensureReading();
      return;
    }
    this.pumping = true;
    try {
      this.readSeq += this.ring.drainWhile((series, value, timestampMs, seq) =>
        this.dispatch(series, value, timestampMs, seq, false),
      );
    } finally {
      this.pumping = false;
    }
  }

  private ensureReading(): void {
    if (this.reading !== undefined || !this.catchingUp || !this.canDispatch()) return;
    // A down sink sends nothing: what it would read now would only wait in memory. goUp() pumps.
    if (this.downState !== undefined && !this.probeReading) return;
    // Started on a microtask: dispatching starts shards, which call back here, and must find `reading` set.
    this.reading = Promise.resolve()
      .then(() => this.readBack())
      .catch((error: unknown) => {
        this.logger.error("sink could not read its backlog", { error: String(error) });
      })
      .finally(() => {
        this.reading = undefined;
        // No pump here: a reader that stopped at a full shard restarts when that shard frees room.
        this.settle();
        this.queueCommit();
        this.releaseKept();
      });
  }

  /**
   * Reads the backlog from readSeq and dispatches it until caught up or a
   * shard is full. What it reads counts as held in memory from the read on
   * (see MemoryShare), and it reads no more than its shards have room for
   * and memory allows: a thousand sinks catching up at once hold nothing but
   * what the memory budget grants them, read buffers included.
   */
  private async readBack(): Promise<void> {
    const backlog = this.backlog;
    if (backlog === undefined) return;
    while (this.catchingUp && this.canDispatch() && (this.downState === undefined || this.probeReading)) {
      // No local names the buffer: this frame waits for the next read below, and would keep it alive.
      if (this.readBuffer !== undefined) {
        if (!this.dispatchRead()) return;
        // A probe needs one small batch, not the whole backlog in memory.
        if (this.downState !== undefined && this.probeBatchRead()) return;
      }
      if (this.readSeq >= this.nextSeq) {
        this.catchingUp = false;
        this.skip = undefined;
        return;
      }
      let room = 0;
      for (const shard of this.shards) room += shard.queue.capacity - shard.queue.length;
      const wanted = Math.min(
        this.downState === undefined ? this.options.batchMaxSize : this.probeSize,
        room,
        this.nextSeq - this.readSeq,
      );
      // No room: the reader starts again when a shard sends (afterProgress pumps).
      if (wanted <= 0) return;
      const granted = this.memory.tryHoldUpTo(wanted);
      if (granted === 0) {
        this.starve();
        return;
      }
      const next = new SampleBatch<S>(granted);
      this.readBuffer = next;
      this.readIndex = 0;
      let read = 0;
      try {
        read = await backlog.read(this.readSeq, next);
      } finally {
        this.memory.release(granted - read);
      }
      if (read === 0) {
        this.readBuffer = undefined;
        this.logger.error("sink backlog ended before its last sample", {
          readSeq: this.readSeq,
          endSeq: backlog.endSeq,
        });
        this.drop("corrupt", this.owedBetween(this.readSeq, this.nextSeq));
        this.moveReadSeq(this.nextSeq);
      } else {
        const first = next.seqs[0] ?? this.readSeq;
        if (first > this.readSeq) {
          // The log gave up these without telling through onTrim: still never silent.
          this.drop("corrupt", this.owedBetween(this.readSeq, first));
          this.moveReadSeq(first);
        }
      }
    }
  }

  /**
   * Hands what the read buffer holds to the shards, in order; false when a
   * shard is full (the rest waits in the buffer, still held). Every sample
   * read was held from the read on: one dispatched stays held (by its shard),
   * one skipped is given back.
   */
  private dispatchRead(): boolean {
    const buffer = this.readBuffer;
    if (buffer === undefined) return true;
    while (this.readIndex < buffer.length) {
      const at = this.readIndex;
      const seq = buffer.seqs[at] ?? 0;
      const series = buffer.series[at] as S;
      if (seq < this.readSeq) {
        // Trimmed while it waited here: counted by trimmed().
        this.memory.release(1);
      } else {
        const reread = this.reread;
        // Read before the sink gave its samples back to the log (releaseKept): owed, or counted then.
        const readBefore = reread !== undefined && seq < reread.until;
        if (readBefore && !reread.owed.has(seq)) {
          // Delivered or dropped before: counted then.
          this.memory.release(1);
        } else if (!readBefore && this.deliveredBeforeRestart(series, seq)) {
          // Sent by the previous run before it stopped: counted as sent, not sent twice.
          this.stats.samplesSent++;
          this.memory.release(1);
        } else if (!this.dispatch(series, buffer.values[at] ?? 0, buffer.timestamps[at] ?? 0, seq, false)) {
          return false;
        }
        this.moveReadSeq(seq + 1);
      }
      this.readIndex++;
    }
    // Emptied: its arrays go, and the next read takes what it needs then.
    this.readBuffer = undefined;
    this.readIndex = 0;
    return true;
  }

  /** A down sink reading for a probe has enough once a shard holds a probe's worth. */
  private probeBatchRead(): boolean {
    const size = this.probeSize;
    return this.shards.some((shard) => shard.queue.length >= size);
  }

  private get probeSize(): number {
    return Math.min(PROBE_SAMPLES, this.options.batchMaxSize);
  }

  private deliveredBeforeRestart(series: S, seq: number): boolean {
    const skip = this.skip;
    if (skip === undefined) return false;
    if (seq >= skip.until) {
      this.skip = undefined;
      return false;
    }
    const shard = skip.shards === 1 ? 0 : this.shardOf(series) % skip.shards;
    return seq < (skip.next[shard] ?? 0);
  }

  /** The log gave up [from, to): what was not handed to a shard yet is dropped. */
  private trimmed(from: number, to: number, reason: BacklogTrimReason, arrived?: ArrivalRange): void {
    const start = Math.max(from, this.readSeq);
    const end = Math.min(to, this.nextSeq);
    if (end <= start) return;
    // Read again after the sink gave its samples back: what was delivered before is not lost now.
    const lost = this.owedBetween(start, end);
    this.drop(reason, lost);
    if (lost > 0 && reason === "expired" && arrived !== undefined && Number.isFinite(arrived.oldestMs)) {
      this.stats.noteExpired(arrived.oldestMs, arrived.newestMs);
    }
    if (!this.catchingUp) this.memory.release(this.ring.dropOldest(lost));
    this.moveReadSeq(end);
    if (lost > 0) this.logger.warn("sink backlog trimmed", { reason, samples: lost });
    this.afterProgress();
  }

  /** Samples in [from, to) still owed, from ≥ readSeq: all of them unless some were read before a release. */
  private owedBetween(from: number, to: number): number {
    if (to <= from) return 0;
    const reread = this.reread;
    if (reread === undefined) return to - from;
    const inRange = reread.owed.countBelow(Math.min(to, reread.until)) - reread.owed.countBelow(from);
    return inRange + Math.max(0, to - Math.max(from, reread.until));
  }

  /** Moves the reader forward to `to`: what a release left owed below it was handed on or counted. */
  private moveReadSeq(to: number): void {
    const reread = this.reread;
    if (reread !== undefined) {
      reread.owed.dropBelow(to);
      if (to >= reread.until) this.reread = undefined;
    }
    this.readSeq = to;
  }

  private armTimer(shard: Shard<S>): void {
    if (shard.timer !== undefined || shard.sending || shard.queue.length === 0) return;
    if (this.aborted) return;
    shard.timer = this.clock.setTimer(this.options.batchTimeoutMs, () => {
      shard.timer = undefined;
      shard.deadlineReached = true;
      this.kick(shard);
    });
  }

  /** Starts the shard's send loop if it has something to send and the sink may send. */
  /** Gives an idle shard's arrays back IDLE_SHRINK_MS later if it is idle then (see Shard.shrink). */
  private shrinkWhenIdle(shard: Shard<S>): void {
    if (shard.idleTimer !== undefined) return;
    shard.idleTimer = this.clock.setTimer(IDLE_SHRINK_MS, () => {
      shard.idleTimer = undefined;
      if (shard.idle && this.shards.includes(shard)) shard.shrink();
    });
  }

  private kick(shard: Shard<S>): void {
    if (shard.sending || this.downState !== undefined || this.aborted) return;
    if (!this.readyToSend(shard)) return;
    shard.cancelTimer();
    shard.sending = true;
    shard.loop = this.runShard(shard)
      .catch((error: unknown) => {
        // A bug, not a delivery failure: count the loss and keep the sink alive.
        this.logger.error("sink failed to deliver a batch", { error: String(error) });
        this.drop("internal_error", shard.batch.length);
        this.memory.release(shard.batch.length);
        shard.batch.clear();
      })
      .finally(() => {
        shard.sending = false;
        this.afterProgress();
        this.releaseKept();
        if (!this.shards.includes(shard)) return;
        if (this.readyToSend(shard)) this.kick(shard);
        else if (shard.idle) this.shrinkWhenIdle(shard);
        else this.armTimer(shard);
      });
  }

  private starve(): void {
    this.interval.starved = true;
    if (this.memoryStarved) return;
    this.memoryStarved = true;
    for (const shard of this.shards) this.kick(shard);
  }

  private readyToSend(shard: Shard<S>): boolean {
    if (shard.batch.length > 0) return true;
    const queued = shard.queue.length;
    if (queued === 0) return false;
    return (
      queued >= this.options.batchMaxSize ||
      shard.deadlineReached ||
      this.memoryStarved ||
      this.draining ||
      this.reshardTarget !== undefined ||
      this.settleWaiters.length > 0
    );
  }

  private async runShard(shard: Shard<S>): Promise<void> {
    while (this.downState === undefined && !this.aborted && this.readyToSend(shard)) {
      if (shard.batch.length === 0) {
        shard.deadlineReached = false;
        shard.queue.drainInto(shard.batch);
        this.pump();
      }
      let release: Release;
      try {
        release = await this.budget.acquire(this.abort.signal, this.bodyEstimate(shard.batch.length));
      } catch {
        return;
      }
      try {
        await this.deliverBatch(shard, false, release);
      } catch (error) {
        if (this.stopped()) return;
        throw error;
      } finally {
        release();
      }
    }
  }

  /**
   * Sends the shard's batch, oldest first. A 413 halves the request size
   * instead of dropping; a final refusal drops what it refused; a retryable
   * failure that outlasts retry.maxAttempts keeps the rest of the batch and
   * takes the sink down. A probe makes one attempt per request.
   */
  private async deliverBatch(shard: Shard<S>, probing: boolean, permit: Release): Promise<Delivery> {
    const retry = probing ? { ...this.options.retry, maxAttempts: 1 } : this.options.retry;
    let size = shard.batch.length;
    while (shard.batch.length > 0) {
      const count = Math.min(size, shard.batch.length);
      const encoded = this.options.encoder.encode(shard.batch, 0, count);
      // Awaited only when it is a promise: an inline body costs no extra turn.
      const body = encoded instanceof Uint8Array ? encoded : await encoded;
      // The permit was taken for an estimate: it holds the body's actual size while the body is held.
      permit.resize(body.length);
      if (count > 0) this.bytesPerSample = body.length / count;
      let attempt = 0;
      const outcome = await sendWithRetry(this.options.sender, body, retry, {
        clock: this.clock,
        signal: this.abort.signal,
        lane: shard.index,
        onAttempt: (result, seconds) => {
          attempt++;
          if (attempt > 1 || probing) this.stats.samplesRetried += count;
          this.recordAttempt(result, seconds, shard, count, body.length);
        },
      });
      if (outcome.kind === "ok") {
        shard.batch.shift(count);
        this.memory.release(count);
      } else if (outcome.kind === "fatal" && outcome.reason === "TooLarge" && count > 1) {
        size = Math.ceil(count / 2);
      } else if (outcome.kind === "fatal") {
        this.drop(dropReasonOf(outcome.reason), count);
        shard.batch.shift(count);
        this.memory.release(count);
      } else {
        if (!probing) this.goDown(outcome.retryAfterMs);
        return { worked: false, retryAfterMs: outcome.retryAfterMs };
      }
      this.afterProgress();
    }
    return { worked: true, retryAfterMs: undefined };
  }

  private recordAttempt(
    outcome: DeliveryOutcome,
    seconds: number,
    shard: Shard<S>,
    samples: number,
    bytes: number,
  ): void {
    const now = this.clock.now();
    this.interval.sendSeconds += seconds;
    if (outcome.kind === "ok") {
      let newest = this.stats.newestSentTimestampMs ?? -Infinity;
      const timestamps = shard.batch.timestamps;
      for (let i = 0; i < samples; i++) newest = Math.max(newest, timestamps[i] ?? -Infinity);
      this.stats.newestSentTimestampMs = newest;
      this.stats.recordSuccess(now, samples, bytes, seconds);
      this.interval.sent += samples;
      this.interval.succeeded = true;
      return;
    }
    const reason = outcome.reason === "TooLarge" ? "Rejected" : outcome.reason;
    this.stats.recordFailure(now, reason, outcome.message, seconds);
  }

  private goDown(retryAfterMs: number | undefined): void {
    if (this.downState !== undefined || this.aborted) return;
    this.downState = { sinceMs: this.clock.now(), nextProbeMs: 0, probes: 0, timer: undefined };
    if (this.backlog !== undefined && !this.catchingUp) {
      // The ring's samples are on disk too, as is all that arrives while down: memory keeps none of
      // it (a down sink would otherwise fill its ring, megabytes each), and it is read back on recovery.
      this.memory.release(this.ring.release());
      this.catchingUp = true;
    }
    this.logger.warn("sink endpoint down: keeping its samples and probing", {
      reason: this.stats.lastError?.reason,
      error: this.stats.lastError?.message,
      buffered: this.buffered,
    });
    this.scheduleProbe(retryAfterMs);
    // Usually a shard is still sending (the one that failed): it gives back once it has stopped.
    this.releaseKept();
  }

  /**
   * A down sink with a durable backlog gives back what its shards hold: it
   * is all in the log, and a thousand down sinks would otherwise each pin a
   * batch of up to maxSize and its queue for as long as the outage lasts. It
   * reads again from the oldest sample a shard held; what its shards had
   * delivered or dropped past that is remembered as runs of seqs, so every
   * sample is still delivered once, per series in order, and counted once.
   */
  private releaseKept(): void {
    if (this.backlog === undefined || this.downState === undefined || this.probing) return;
    if (this.reading !== undefined || this.closing !== undefined || this.aborted) return;
    if (this.shards.some((shard) => shard.sending)) return;
    // What the read buffer holds is at readSeq and on: read again when needed.
    if (this.readBuffer !== undefined) this.memory.release(this.readBuffer.length - this.readIndex);
    this.readBuffer = undefined;
    this.readIndex = 0;
    if (!this.catchingUp) {
      this.memory.release(this.ring.release());
      this.catchingUp = true;
    }
    let held = 0;
    let low = Infinity;
    for (const shard of this.shards) {
      held += shard.pending;
      low = Math.min(low, shard.lowSeq);
    }
    if (held === 0) return;
    // The log trimmed some of them while a probe was sending them: they are kept, not read again as a gap.
    if (low < this.backlog.startSeq) return;
    const next = this.positions().next;
    const seqs = new Float64Array(held);
    let at = 0;
    for (const shard of this.shards) {
      seqs.set(shard.batch.seqs.subarray(0, shard.batch.length), at);
      at += shard.batch.length;
      at += shard.queue.copySeqs(seqs, at);
      shard.cancelTimer();
      shard.deadlineReached = false;
      shard.batch.release();
      shard.queue.release();
    }
    seqs.sort();
    const owed = SeqRuns.fromSorted(seqs);
    const until = this.reread?.until ?? this.readSeq;
    if (this.reread !== undefined) owed.append(this.reread.owed);
    this.memory.release(held);
    // It holds nothing now: what it borrowed goes back whole (release() keeps a chunk of slack), or a
    // thousand down sinks would keep the budget from the sinks still delivering.
    this.memory.releaseAll();
    // A barrier would change the shard count the positions above are per.
    this.reshardTarget = undefined;
    this.reread = { until, owed, next };
    this.readSeq = seqs[0] ?? this.readSeq;
  }

  private scheduleProbe(retryAfterMs: number | undefined): void {
    const down = this.downState;
    if (down === undefined || this.aborted) return;
    const { maxAttempts, backoffMs, random } = this.options.retry;
    // The schedule continues where the request's own retries stopped, doubling up to the cap.
    const wait =
      retryAfterMs ??
      backoffDelayMs(maxAttempts + 1 + down.probes, { backoffMs, ...(random ? { random } : {}) });
    down.nextProbeMs = this.clock.now() + wait;
    down.timer = this.clock.setTimer(wait, () => {
      down.timer = undefined;
      void this.probe().catch((error: unknown) => {
        this.logger.error("sink probe failed", { error: String(error) });
        this.scheduleProbe(undefined);
      });
    });
  }

  /** One attempt with the oldest kept batch; an answer that is not retryable brings the sink back. */
  private async probe(): Promise<void> {
    const down = this.downState;
    if (down === undefined || this.aborted) return;
    down.probes++;
    this.probing = true;
    let result: Delivery;
    let shard: Shard<S> | undefined;
    try {
      shard = this.shards.find((s) => s.batch.length > 0 && !s.sending) ?? (await this.readProbeBatch());
      if (this.downState !== down || this.stopped()) return;
      if (shard === undefined) {
        this.probing = false;
        this.goUp();
        return;
      }
      result = await this.sendProbe(shard);
    } finally {
      this.probing = false;
    }
    if (result.worked) this.goUp();
    else {
      this.scheduleProbe(result.retryAfterMs);
      this.releaseKept();
    }
  }

  /** A down sink that gave its samples back reads its oldest again: a batch for one shard to probe with. */
  private async readProbeBatch(): Promise<Shard<S> | undefined> {
    if (this.backlog === undefined) return undefined;
    await this.reading;
    if (this.catchingUp) {
      this.probeReading = true;
      try {
        this.ensureReading();
        await this.reading;
      } finally {
        this.probeReading = false;
      }
    }
    let oldest: Shard<S> | undefined;
    for (const shard of this.shards) {
      if (shard.sending || shard.pending === 0) continue;
      if (oldest === undefined || shard.lowSeq < oldest.lowSeq) oldest = shard;
    }
    if (oldest !== undefined && oldest.batch.length === 0)
      oldest.queue.drainInto(oldest.batch, this.probeSize);
    return oldest;
  }

  /** One attempt with the shard's batch. */
  private async sendProbe(shard: Shard<S>): Promise<Delivery> {
    shard.sending = true;
    let result: Delivery;
    try {
      const release = await this.budget.acquire(this.abort.signal, this.bodyEstimate(shard.batch.length));
      try {
        result = await this.deliverBatch(shard, true, release);
      } finally {
        release();
      }
    } catch (error) {
      if (this.stopped()) return { worked: false, retryAfterMs: undefined };
      throw error;
    } finally {
      shard.sending = false;
    }
    return result;
  }

  private goUp(): void {
    const down = this.downState;
    if (down === undefined) return;
    down.timer?.cancel();
    this.downState = undefined;
    this.logger.info("sink endpoint back: resuming from the oldest kept sample", {
      downSeconds: Math.round((this.clock.now() - down.sinceMs) / 1000),
      buffered: this.buffered,
    });
    for (const shard of this.shards) this.kick(shard);
    this.pump();
    for (const waiter of this.upWaiters.splice(0)) waiter();
  }

  /** After any delivery, drop or read: room may have freed, watermarks moved, a barrier may be done. */
  private afterProgress(): void {
    if (this.reshardTarget !== undefined && this.shards.every((shard) => shard.idle)) this.finishReshard();
    this.pump();
    this.settle();
    this.queueCommit();
  }

  /** Resolves the settled() waiters the low watermark has passed. */
  private settle(): void {
    if (this.settleWaiters.length === 0) return;
    const low = this.lowWatermark();
    const done = this.settleWaiters.filter((w) => w.seq <= low);
    if (done.length === 0) return;
    this.settleWaiters = this.settleWaiters.filter((w) => w.seq > low);
    for (const waiter of done) waiter.resolve();
  }

  /** Every sample below this seq is delivered or dropped for good. */
  private lowWatermark(): number {
    let low = this.readSeq;
    for (const shard of this.shards) low = Math.min(low, shard.lowSeq);
    return low;
  }

  private positions(): ShardPositions {
    const skip = this.skip;
    const reread = this.reread;
    const next = this.shards.map((shard) => {
      let owed = skip === undefined ? this.readSeq : Math.max(this.readSeq, skip.next[shard.index] ?? 0);
      if (reread !== undefined) owed = Math.max(owed, reread.next[shard.index] ?? 0);
      return Math.min(shard.lowSeq, owed);
    });
    return { shards: this.shards.length, next };
  }

  private queueCommit(): void {
    if (this.backlog === undefined || this.commitQueued || this.gated) return;
    this.commitQueued = true;
    queueMicrotask(() => {
      this.commitQueued = false;
      this.commitNow();
    });
  }

  private commitNow(): void {
    // A gated pipeline has not taken over yet: the positions belong to the one it replaces.
    if (!this.gated) this.backlog?.commit(this.positions());
  }

  private armReshardTimer(): TimerHandle | undefined {
    if (this.maxShards <= 1 || this.aborted) return undefined;
    return this.clock.setTimer(SHARD_UPDATE_INTERVAL_MS, () => {
      this.reshardTimer = this.armReshardTimer();
      this.updateShards();
    });
  }

  private updateShards(): void {
    const seconds = SHARD_UPDATE_INTERVAL_MS / 1000;
    const inRate = this.rates.in.update(this.interval.received, seconds);
    const outRate = this.rates.out.update(this.interval.sent, seconds);
    const sendRate = this.rates.send.update(this.interval.sendSeconds, seconds);
    const recentSuccess = this.interval.succeeded;
    const starved = this.interval.starved;
    this.interval = { received: 0, sent: 0, sendSeconds: 0, succeeded: false, starved: false };
    if (
      this.downState !== undefined ||
      this.reshardTarget !== undefined ||
      this.skip !== undefined ||
      this.reread !== undefined
    )
      return;
    const current = this.shards.length;
    let target = desiredShards({
      current,
      max: this.maxShards,
      inRate,
      outRate,
      sendRate,
      backlog: this.buffered,
      lagS: this.lagSeconds(),
      recentSuccess,
    });
    // Short of memory (many sinks catching up at once), more shards would only split the samples it
    // can hold into smaller requests: it runs as many as it can fill batches for.
    const fillable = Math.max(1, Math.floor(this.memory.held / this.options.batchMaxSize));
    if (starved) target = Math.min(target, fillable);
    if (target === current) return;
    this.logger.info("sink resharding", { from: current, to: target });
    this.reshardTarget = target;
    for (const shard of this.shards) this.kick(shard);
    this.afterProgress();
  }

  /** The barrier is passed (every shard idle): start the new shards. */
  private finishReshard(): void {
    const target = this.reshardTarget;
    if (target === undefined) return;
    for (const shard of this.shards) shard.cancelTimer();
    this.shards = this.makeShards(target);
    this.reshardTarget = undefined;
    this.stats.reshards++;
    this.options.onShardsChanged?.(target);
    this.queueCommit();
  }

  private drop(reason: DropReason, count: number): void {
    if (count > 0) this.stats.dropped[reason] += count;
  }

  private countRingDrop(): void {
    this.stats.dropped.buffer_full++;
    if (this.dropRun === 0) {
      this.logger.warn("sink buffer full, dropping oldest samples", { capacity: this.ring.capacity });
    }
    this.dropRun++;
  }

  private endDropRun(): void {
    this.logger.warn("sink buffer no longer full", { dropped: this.dropRun });
    this.dropRun = 0;
  }
}

function dropReasonOf(reason: Extract<DeliveryOutcome, { kind: "fatal" }>["reason"]): DropReason {
  if (reason === "Forbidden") return "endpoint_forbidden";
  return reason === "Unauthorized" ? "unauthorized" : "rejected";
}
