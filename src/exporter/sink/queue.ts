// A bounded FIFO of samples for one sink, stored as parallel arrays in a ring
// so that queueing a sample allocates nothing once the ring has grown. The
// ring starts small and doubles up to its capacity, so an idle sink costs a
// few hundred bytes, not its worst case. Every sample carries its sequence
// number in the sink (see backlog.ts), which is how delivery progress is
// tracked per shard.

const INITIAL_SLOTS = 64;

/**
 * What an empty queue or batch holds: one array for all of them (length 0, so
 * nothing is ever written to it; growing replaces it). Three arrays of its own
 * per queue and batch were ten typed arrays and their buffers per idle sink,
 * 15 MB at 10,000 policies.
 */
const EMPTY: Float64Array<ArrayBuffer> = new Float64Array(0);

/** Samples taken from a queue for one request; reused from request to request. */
export class SampleBatch<S> {
  series: (S | undefined)[] = [];
  values = EMPTY;
  timestamps = EMPTY;
  seqs = EMPTY;
  length = 0;

  constructor(readonly capacity: number) {}

  /** Samples the arrays have room for now (they grow up to capacity). */
  get slots(): number {
    return this.values.length;
  }

  /** Makes room for `size` samples, keeping those already in the batch. */
  reserve(size: number): void {
    if (size <= this.values.length) return;
    const slots = Math.min(this.capacity, Math.max(size, this.values.length * 2, INITIAL_SLOTS));
    this.values = grow(this.values, slots);
    this.timestamps = grow(this.timestamps, slots);
    this.seqs = grow(this.seqs, slots);
    this.series.length = slots;
  }

  /** Appends one sample; the caller checked there is room. */
  add(series: S, value: number, timestampMs: number, seq: number): void {
    this.reserve(this.length + 1);
    const at = this.length++;
    this.series[at] = series;
    this.values[at] = value;
    this.timestamps[at] = timestampMs;
    this.seqs[at] = seq;
  }

  /** Removes the first `count` samples, keeping the order of the rest. */
  shift(count: number): void {
    if (count <= 0) return;
    if (count >= this.length) {
      this.clear();
      return;
    }
    this.series.copyWithin(0, count, this.length);
    this.values.copyWithin(0, count, this.length);
    this.timestamps.copyWithin(0, count, this.length);
    this.seqs.copyWithin(0, count, this.length);
    this.series.fill(undefined, this.length - count, this.length);
    this.length -= count;
  }

  clear(): void {
    this.series.fill(undefined, 0, this.length);
    this.length = 0;
  }

  /** Empties the batch and gives its arrays back: it grows again from nothing when next used. */
  release(): void {
    this.series = [];
    this.values = EMPTY;
    this.timestamps = EMPTY;
    this.seqs = EMPTY;
    this.length = 0;
  }
}

function grow(array: Float64Array, size: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(size);
  grown.set(array);
  return grown;
}

export class SampleQueue<S> {
  private series: (S | undefined)[] = [];
  private values = EMPTY;
  private timestamps = EMPTY;
  private seqs = EMPTY;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be ≥ 1, got ${capacity}`);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Samples the ring has room for now (it grows up to capacity). */
  get slots(): number {
    return this.values.length;
  }

  /** The sequence number of the oldest sample; undefined when empty. */
  get firstSeq(): number | undefined {
    return this.size === 0 ? undefined : this.seqs[this.head];
  }

  /** Appends a sample; returns 1 when the oldest sample was dropped to make room, else 0. */
  push(series: S, value: number, timestampMs: number, seq = 0): number {
    let dropped = 0;
    if (this.size === this.values.length) {
      if (this.size < this.capacity) {
        this.growRing();
      } else {
        this.series[this.head] = undefined;
        this.head = (this.head + 1) % this.values.length;
        this.size--;
        dropped = 1;
      }
    }
    const tail = (this.head + this.size) % this.values.length;
    this.series[tail] = series;
    this.values[tail] = value;
    this.timestamps[tail] = timestampMs;
    this.seqs[tail] = seq;
    this.size++;
    return dropped;
  }

  /** Moves up to `max` (default: the batch's free room) oldest samples into the batch; returns how many. */
  drainInto(batch: SampleBatch<S>, max = batch.capacity - batch.length): number {
    const count = Math.min(this.size, batch.capacity - batch.length, max);
    batch.reserve(batch.length + count);
    const slots = this.values.length;
    for (let i = 0; i < count; i++) {
      const from = (this.head + i) % slots;
      const to = batch.length + i;
      batch.series[to] = this.series[from];
      batch.values[to] = this.values[from] ?? 0;
      batch.timestamps[to] = this.timestamps[from] ?? 0;
      batch.seqs[to] = this.seqs[from] ?? 0;
      this.series[from] = undefined;
    }
    batch.length += count;
    if (count > 0) this.head = (this.head + count) % slots;
    this.size -= count;
    return count;
  }

  /**
   * Hands the oldest samples to `take`, in order, removing each one it
   * accepts; stops at the first it refuses. Returns how many were taken.
   */
  drainWhile(take: (series: S, value: number, timestampMs: number, seq: number) => boolean): number {
    const slots = this.values.length;
    let taken = 0;
    while (this.size > 0) {
      const at = this.head;
      const series = this.series[at] as S;
      if (!take(series, this.values[at] ?? 0, this.timestamps[at] ?? 0, this.seqs[at] ?? 0)) break;
      this.series[at] = undefined;
      this.head = (at + 1) % slots;
      this.size--;
      taken++;
    }
    return taken;
  }

  /** Writes the queued samples' seqs, oldest first, into `into` from `at`; returns how many. */
  copySeqs(into: Float64Array, at: number): number {
    const slots = this.values.length;
    for (let i = 0; i < this.size; i++) into[at + i] = this.seqs[(this.head + i) % slots] ?? 0;
    return this.size;
  }

  /** Removes up to `count` oldest samples; returns how many were removed. */
  dropOldest(count: number): number {
    const removed = Math.min(count, this.size);
    const slots = this.values.length;
    for (let i = 0; i < removed; i++) this.series[(this.head + i) % slots] = undefined;
    if (removed > 0) this.head = (this.head + removed) % slots;
    this.size -= removed;
    return removed;
  }

  /** Empties the queue; returns how many samples it held. */
  clear(): number {
    const count = this.size;
    this.series.fill(undefined);
    this.head = 0;
    this.size = 0;
    return count;
  }

  /**
   * Empties the queue and gives its arrays back (a full ring of a large batch
   * size is megabytes): it grows again from nothing when next used. Returns
   * how many samples it held.
   */
  release(): number {
    const count = this.size;
    this.series = [];
    this.values = EMPTY;
    this.timestamps = EMPTY;
    this.seqs = EMPTY;
    this.head = 0;
    this.size = 0;
    return count;
  }

  /** Doubles the ring (up to capacity), unrolling it so the oldest sample is first. */
  private growRing(): void {
    const slots = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.values.length * 2));
    const values = new Float64Array(slots);
    const timestamps = new Float64Array(slots);
    const seqs = new Float64Array(slots);
    const series = new Array<S | undefined>(slots).fill(undefined);
    const old = this.values.length;
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) % old;
      values[i] = this.values[from] ?? 0;
      timestamps[i] = this.timestamps[from] ?? 0;
      seqs[i] = this.seqs[from] ?? 0;
      series[i] = this.series[from];
    }
    this.values = values;
    this.timestamps = timestamps;
    this.seqs = seqs;
    this.series = series;
    this.head = 0;
  }
}
