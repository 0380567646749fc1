// A bounded FIFO of samples for one sink, stored as parallel arrays in a ring
// so that queueing a sample allocates nothing once the ring has grown. The
// ring starts small and doubles up to its capacity, so an idle sink costs a
// few hundred bytes, not its worst case. When full, the oldest sample makes
// room for the newest: fresh data is worth more to a monitoring system than
// stale data, and the caller counts each drop.

const INITIAL_SLOTS = 64;

/** Samples taken from a queue for one request; reused from request to request. */
export class SampleBatch<S> {
  series: (S | undefined)[] = [];
  values = new Float64Array(0);
  timestamps = new Float64Array(0);
  length = 0;

  constructor(readonly capacity: number) {}

  /** Makes room for `size` samples, keeping those already in the batch. */
  reserve(size: number): void {
    if (size <= this.values.length) return;
    const slots = Math.min(this.capacity, Math.max(size, this.values.length * 2, INITIAL_SLOTS));
    this.values = grow(this.values, slots);
    this.timestamps = grow(this.timestamps, slots);
    this.series.length = slots;
  }

  clear(): void {
    this.series.fill(undefined, 0, this.length);
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
  private values = new Float64Array(0);
  private timestamps = new Float64Array(0);
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be ≥ 1, got ${capacity}`);
  }

  get length(): number {
    return this.size;
  }

  /** Appends a sample; returns 1 when the oldest sample was dropped to make room, else 0. */
  push(series: S, value: number, timestampMs: number): number {
    let dropped = 0;
    if (this.size === this.values.length) {
      if (this.size < this.capacity) {
        this.growRing();
      } else {
        this.head = (this.head + 1) % this.values.length;
        this.size--;
        dropped = 1;
      }
    }
    const tail = (this.head + this.size) % this.values.length;
    this.series[tail] = series;
    this.values[tail] = value;
    this.timestamps[tail] = timestampMs;
    this.size++;
    return dropped;
  }

  /** Moves up to batch.capacity − batch.length oldest samples into the batch; returns how many. */
  drainInto(batch: SampleBatch<S>): number {
    const count = Math.min(this.size, batch.capacity - batch.length);
    batch.reserve(batch.length + count);
    const slots = this.values.length;
    for (let i = 0; i < count; i++) {
      const from = (this.head + i) % slots;
      const to = batch.length + i;
      batch.series[to] = this.series[from];
      batch.values[to] = this.values[from] ?? 0;
      batch.timestamps[to] = this.timestamps[from] ?? 0;
      this.series[from] = undefined;
    }
    batch.length += count;
    if (count > 0) this.head = (this.head + count) % slots;
    this.size -= count;
    return count;
  }

  /** Empties the queue; returns how many samples it held. */
  clear(): number {
    const count = this.size;
    this.series.fill(undefined);
    this.head = 0;
    this.size = 0;
    return count;
  }

  /** Doubles the ring (up to capacity), unrolling it so the oldest sample is first. */
  private growRing(): void {
    const slots = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.values.length * 2));
    const values = new Float64Array(slots);
    const timestamps = new Float64Array(slots);
    const series = new Array<S | undefined>(slots).fill(undefined);
    const old = this.values.length;
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) % old;
      values[i] = this.values[from] ?? 0;
      timestamps[i] = this.timestamps[from] ?? 0;
      series[i] = this.series[from];
    }
    this.values = values;
    this.timestamps = timestamps;
    this.series = series;
    this.head = 0;
  }
}
