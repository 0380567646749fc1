// Growable typed arrays: the per-sink section index holds millions of
// entries for a large backlog, and typed arrays keep that at a few bytes
// each with no object per entry.

export class Float64List {
  data: Float64Array;
  length = 0;

  /** @param capacity entries before the first growth (a caller that knows its size saves the copies). */
  constructor(capacity = 16) {
    this.data = new Float64Array(Math.max(1, capacity));
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  at(index: number): number {
    return this.data[index] ?? NaN;
  }

  /** Empties the list and keeps its room, for a list reused again and again. */
  clear(): void {
    this.length = 0;
  }

  last(): number {
    return this.data[this.length - 1] ?? NaN;
  }

  /** Gives back the room beyond its length: a list that will not grow any more keeps only its entries. */
  compact(): void {
    if (this.data.length > this.length) this.data = this.data.slice(0, Math.max(1, this.length));
  }
}

export class Uint32List {
  data = new Uint32Array(16);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  at(index: number): number {
    return this.data[index] ?? 0;
  }

  /** Gives back the room beyond its length: a list that will not grow any more keeps only its entries. */
  compact(): void {
    if (this.data.length > this.length) this.data = this.data.slice(0, Math.max(1, this.length));
  }
}
