// A set of sequence numbers kept as sorted, disjoint runs [start, end): what
// a down sink still owes of the samples it had read before it gave them back
// to the log (see SinkPipeline.releaseKept). A sink with one shard owes one
// run; with several, the runs are as many as the shards' positions split it.
// Seqs leave the set only from the bottom, as the reader passes them.

export class SeqRuns {
  private starts: number[] = [];
  private ends: number[] = [];
  private head = 0;
  /** Seqs in the set. */
  size = 0;

  /** The set of `seqs`, which must be sorted ascending without duplicates. */
  static fromSorted(seqs: ArrayLike<number>): SeqRuns {
    const runs = new SeqRuns();
    for (let i = 0; i < seqs.length; i++) runs.add(seqs[i] ?? 0);
    return runs;
  }

  /** Runs held (for tests and memory estimates). */
  get runs(): number {
    return this.starts.length - this.head;
  }

  /** The smallest seq in the set; undefined when empty. */
  get first(): number | undefined {
    return this.size === 0 ? undefined : this.starts[this.head];
  }

  /** Adds a seq above every seq in the set. */
  add(seq: number): void {
    const last = this.ends.length - 1;
    if (last >= this.head && this.ends[last] === seq) this.ends[last] = seq + 1;
    else {
      if (last >= this.head && seq < (this.ends[last] ?? 0))
        throw new RangeError(`seq ${seq} is not above the set`);
      this.starts.push(seq);
      this.ends.push(seq + 1);
    }
    this.size++;
  }

  /** Adds every seq of `other`, all of which are above every seq in this set. */
  append(other: SeqRuns): void {
    for (let i = other.head; i < other.starts.length; i++) {
      const start = other.starts[i] ?? 0;
      const end = other.ends[i] ?? 0;
      const last = this.ends.length - 1;
      if (last >= this.head && this.ends[last] === start) this.ends[last] = end;
      else {
        this.starts.push(start);
        this.ends.push(end);
      }
      this.size += end - start;
    }
  }

  has(seq: number): boolean {
    let low = this.head;
    let high = this.starts.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.ends[mid] ?? 0) <= seq) low = mid + 1;
      else high = mid;
    }
    return low < this.starts.length && (this.starts[low] ?? Infinity) <= seq;
  }

  /** How many seqs of the set are below `to`. */
  countBelow(to: number): number {
    let count = 0;
    for (let i = this.head; i < this.starts.length; i++) {
      const start = this.starts[i] ?? 0;
      if (start >= to) break;
      count += Math.min(to, this.ends[i] ?? 0) - start;
    }
    return count;
  }

  /** Removes every seq below `to`; returns how many it removed. */
  dropBelow(to: number): number {
    let removed = 0;
    while (this.head < this.starts.length) {
      const start = this.starts[this.head] ?? 0;
      const end = this.ends[this.head] ?? 0;
      if (start >= to) break;
      if (end > to) {
        removed += to - start;
        this.starts[this.head] = to;
        break;
      }
      removed += end - start;
      this.head++;
    }
    this.size -= removed;
    if (this.head > 32 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
    return removed;
  }
}
