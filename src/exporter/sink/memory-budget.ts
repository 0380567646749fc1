// Samples that sinks hold in memory, bounded for the whole process. A sink
// may always hold a small share of its own (a batch in flight and one
// queued), so no sink is starved by others; beyond it, it borrows from the
// process-wide budget in chunks of a batch. Past the budget a sink with a
// durable backlog leaves its samples on disk and reads them back later; one
// without drops its oldest, counted as buffer_full.
import type { ExpositionWriter } from "../../metrics/exposition.js";

/**
 * 64 MiB (2 M samples) beyond each sink's own two batches: sinks that keep
 * up need little more than their own share, and sinks working off a backlog
 * read it from disk at the pace memory allows, so RSS stays well under the
 * 400 MB the backlog benchmark allows for a 1 GiB backlog.
 */
export const DEFAULT_SINK_MEMORY_BYTES = 64 * 2 ** 20;
/** A sample in a queue: series pointer, value, timestamp and seq, with array overhead. */
export const MEMORY_BYTES_PER_SAMPLE = 32;

export class MemoryBudget {
  used = 0;

  /** @param capacity samples all sinks may borrow together. */
  constructor(readonly capacity: number) {}

  static ofBytes(bytes: number): MemoryBudget {
    return new MemoryBudget(Math.floor(bytes / MEMORY_BYTES_PER_SAMPLE));
  }

  tryTake(samples: number): boolean {
    if (this.used + samples > this.capacity) return false;
    this.used += samples;
    return true;
  }

  give(samples: number): void {
    this.used = Math.max(0, this.used - samples);
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_delivery_memory_samples",
      "Samples sinks hold in memory beyond their own two batches (at most --buffer-memory).",
      "gauge",
      {},
      this.used,
    );
  }
}

/** One sink's use of memory: free up to `guaranteed` samples, borrowed beyond. */
export class MemoryShare {
  /** Samples the sink holds in memory (its ring and its shards' queues and batches). */
  held = 0;
  private borrowed = 0;

  constructor(
    private readonly budget: MemoryBudget | undefined,
    private readonly guaranteed: number,
    private readonly chunk: number,
  ) {}

  /** Takes room for n more samples; false when neither the share nor the budget has it. */
  tryHold(n: number): boolean {
    const over = this.held + n - this.guaranteed - this.borrowed;
    if (over > 0 && this.budget !== undefined) {
      const grant = Math.ceil(over / this.chunk) * this.chunk;
      if (!this.budget.tryTake(grant)) return false;
      this.borrowed += grant;
    }
    this.held += n;
    return true;
  }

  /**
   * Takes room for as many as it can of n more samples: all of them if the
   * share or the budget has it, else what is left of the share without
   * borrowing (0 when none is). Returns how many.
   */
  tryHoldUpTo(n: number): number {
    if (n <= 0) return 0;
    if (this.tryHold(n)) return n;
    const left = Math.min(n, this.guaranteed + this.borrowed - this.held);
    if (left <= 0) return 0;
    this.held += left;
    return left;
  }

  /** Gives back room for n samples; returns what it borrowed beyond a chunk of slack. */
  release(n: number): void {
    this.held = Math.max(0, this.held - n);
    const needed = Math.max(0, this.held - this.guaranteed);
    const spare = this.borrowed - needed;
    if (spare >= 2 * this.chunk) {
      const back = Math.floor((spare - this.chunk) / this.chunk) * this.chunk;
      this.borrowed -= back;
      this.budget?.give(back);
    }
  }

  releaseAll(): void {
    this.held = 0;
    this.budget?.give(this.borrowed);
    this.borrowed = 0;
  }
}
