// A bounded FIFO of samples for one sink, stored as parallel arrays in a ring
// so that queueing a sample allocates nothing. When full, the oldest sample
// makes room for the newest: fresh data is worth more than stale data to a
// monitoring system, and the caller counts each drop.

/** Samples taken from a queue for one request; reused from request to request. */
export class SampleBatch<S> {
  readonly series: (S | undefined)[];
  readonly values: Float64Array;
  readonly timestamps: Float64Array;
  length = 0;

  constructor(readonly capacity: number) {
    this.series = new Array<S | undefined>(capacity).fill(undefined);
    this.values = new Float64Array(capacity);
    this.timestamps = new Float64Array(capacity);
  }

  clear(): void {
    this.series.fill(undefined, 0, this.length);
    this.length = 0;
  }
}

export class SampleQueue<S> {
  private readonly series: (S | undefined)[];
  private readonly values: Float64Array;
  private readonly timestamps: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be ≥ 1, got ${capacity}`);
    this.series = new Array<S | undefined>(capacity).fill(undefined);
    this.values = new Float64Array(capacity);
    this.timestamps = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends a sample; returns 1 when the oldest sample was dropped to make room, else 0. */
  push(series: S, value: number, timestampMs: number): number {
    let dropped = 0;
    if (this.size === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      dropped = 1;
    }
    const tail = (this.head + this.size) % this.capacity;
    this.series[tail] = series;
    this.values[tail] = value;
    this.timestamps[tail] = timestampMs;
    this.size++;
    return dropped;
  }

  /** Moves up to batch.capacity − batch.length oldest samples into the batch; returns how many. */
  drainInto(batch: SampleBatch<S>): number {
    const count = Math.min(this.size, batch.capacity - batch.length);
    for (let i = 0; i < count; i++) {
      const from = (this.head + i) % this.capacity;
      const to = batch.length + i;
      batch.series[to] = this.series[from];
      batch.values[to] = this.values[from] ?? 0;
      batch.timestamps[to] = this.timestamps[from] ?? 0;
      this.series[from] = undefined;
    }
    batch.length += count;
    this.head = (this.head + count) % this.capacity;
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
}
