// A Prometheus histogram kept as cumulative bucket counts, ready for
// ExpositionWriter.histogram(): observing costs one pass over the bounds.
export class Histogram {
  /** Cumulative counts per bucket of `bounds`, then +Inf. */
  readonly counts: Float64Array;
  sumSeconds = 0;
  count = 0;

  /** @param bounds upper bounds of the buckets, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.sumSeconds += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] ?? Infinity)) this.counts[i] = (this.counts[i] ?? 0) + 1;
    }
    this.counts[bounds.length] = this.count;
  }
}
