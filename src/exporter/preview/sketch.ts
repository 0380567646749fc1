// Counting distinct series across the replicas of a fleet (`telex preview`
// through `telex serve --api-only`): each replica sees only the series
// ingested through it, and one series may reach several (an agent's
// connections move between replicas). Each replica answers, per source and
// sink, the SKETCH_SIZE smallest hashes of the series it matched — a "k
// minimum values" sketch: the union of the replicas' sketches holds the
// SKETCH_SIZE smallest hashes of the union of their series, so
// - when every replica matched at most SKETCH_SIZE series, the union is
//   complete and its size is the exact number of distinct series;
// - otherwise the number is estimated from how small the SKETCH_SIZE-th
//   smallest hash is: (k - 1) / (that hash / 2^53), within about 3 % at
//   k = 1,024 — and a series seen by two replicas still counts once.
// A sketch costs at most 1,024 numbers (about 17 KB of JSON) per source and sink.

/** Hashes kept per source and per sink. */
export const SKETCH_SIZE = 1024;

const HASH_RANGE = 2 ** 53;

/**
 * A 53-bit hash of a series as formatSeries prints it (labels sorted, so the
 * same series hashes alike whatever order an agent sent its labels in):
 * cyrb53, two 32-bit multiply-xorshift lanes — fast, well spread, and exact
 * in a JavaScript number.
 */
export function seriesHash(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** What a replica answers of one source's or sink's series: how many, and the smallest hashes. */
export interface SeriesSketch {
  /** Distinct series matched on that replica. */
  readonly series: number;
  /** The min(series, SKETCH_SIZE) smallest hashes, ascending. */
  readonly hashes: readonly number[];
}

/** Collects the smallest SKETCH_SIZE distinct hashes offered (a max-heap would do; the cap keeps this cheap). */
export class SketchBuilder {
  private readonly kept = new Set<number>();
  private largest = -1;
  private count = 0;

  constructor(private readonly size: number = SKETCH_SIZE) {}

  /** One distinct series (the caller offers each series once). */
  offer(hash: number): void {
    this.count++;
    if (this.kept.size < this.size) {
      this.kept.add(hash);
      if (hash > this.largest) this.largest = hash;
      return;
    }
    if (hash >= this.largest || this.kept.has(hash)) return;
    this.kept.delete(this.largest);
    this.kept.add(hash);
    let largest = -1;
    for (const kept of this.kept) if (kept > largest) largest = kept;
    this.largest = largest;
  }

  get sketch(): SeriesSketch {
    return { series: this.count, hashes: [...this.kept].sort((a, b) => a - b) };
  }
}

/** Distinct series across the sketches of several replicas; `estimated` when it is not exact. */
export function distinctSeries(
  sketches: readonly SeriesSketch[],
  size: number = SKETCH_SIZE,
): { readonly series: number; readonly estimated: boolean } {
  if (sketches.length === 1) return { series: sketches[0]?.series ?? 0, estimated: false };
  const union = new Set<number>();
  for (const sketch of sketches) for (const hash of sketch.hashes) union.add(hash);
  if (sketches.every((sketch) => sketch.hashes.length === sketch.series))
    return { series: union.size, estimated: false };
  const smallest = [...union].sort((a, b) => a - b);
  const kth = smallest[size - 1];
  // Fewer than `size` hashes in all, though one replica held more series: its sketch was cut short.
  if (kth === undefined) return { series: Math.max(...sketches.map((s) => s.series)), estimated: true };
  const estimate = Math.round((size - 1) / ((kth + 1) / HASH_RANGE));
  // Never fewer than one replica alone counted, nor more than all of them together.
  const most = sketches.reduce((sum, s) => sum + s.series, 0);
  const least = Math.max(...sketches.map((s) => s.series));
  return { series: Math.min(most, Math.max(least, estimate)), estimated: true };
}
