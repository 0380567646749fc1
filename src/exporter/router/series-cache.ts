import { randomBytes } from "node:crypto";

// Routing decisions cached per series, keyed by the series' encoded label
// bytes exactly as they arrive, looked up where they lie in the request. In
// the steady state a series costs a hash of its bytes, one map lookup and one
// byte comparison: no copies, strings or regexes.
//
// Bounded by two generations: when the current map reaches half the limit
// (of entries, or of key bytes) it becomes the previous one and a new map
// starts; an entry found in the previous map moves back to the current.
// Series not seen for a whole generation fall out, which approximates LRU at
// the cost of a Map swap. Both bounds count: an entry bound alone let long
// label sets (10 KB each) grow the cache to gigabytes.

/**
 * Seeded per process, so label values chosen to collide on one machine do not
 * collide on another: hash flooding would turn lookups into long scans.
 */
const HASH_SEED = randomBytes(4).readUInt32LE(0);

/**
 * A 32-bit hash of bytes[start, end), read through view (a DataView of the
 * same bytes): two Murmur3-style lanes over alternate 32-bit words, so the
 * multiplications of one word overlap with the next (~80 ns for 370 bytes,
 * against ~250 ns for one lane assembling words byte by byte).
 */
export function hashRange(view: DataView, bytes: Uint8Array, start: number, end: number): number {
  let h1 = HASH_SEED ^ (end - start);
  let h2 = ~HASH_SEED;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    let k = Math.imul(view.getUint32(i, true), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h1 ^= Math.imul(k, 0x1b873593);
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let m = Math.imul(view.getUint32(i + 4, true), 0x85ebca6b);
    m = (m << 17) | (m >>> 15);
    h2 ^= Math.imul(m, 0xc2b2ae35);
    h2 = (h2 << 15) | (h2 >>> 17);
    h2 = (Math.imul(h2, 5) + 0x561ccd1b) | 0;
  }
  let tail = 0;
  for (; i < end; i++) tail = Math.imul(tail ^ (bytes[i] ?? 0), 0x01000193);
  let h = h1 ^ Math.imul(h2, 0x9e3779b1) ^ tail;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** hashRange of all of bytes. */
export function hashBytes(bytes: Uint8Array): number {
  return hashRange(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0, bytes.length);
}

/** bytes[start, end) equals key: native memcmp, 3× faster than a JavaScript loop on 400 bytes. */
function sameBytes(key: Uint8Array, bytes: Buffer, start: number, end: number): boolean {
  return key.length === end - start && bytes.compare(key, 0, key.length, start, end) === 0;
}

export interface CacheEntry<V> {
  /** A copy of the label bytes: request buffers are not kept. */
  readonly key: Uint8Array;
  readonly hash: number;
  value: V;
  /** The entry looked up right after this one, the last time (see follow()). */
  next: CacheEntry<V> | undefined;
  /** The generation the entry was last placed in; older than the previous one means evicted. */
  epoch: number;
}

type Bucket<V> = CacheEntry<V> | CacheEntry<V>[];

export class SeriesCache<V> {
  private current = new Map<number, Bucket<V>>();
  private previous = new Map<number, Bucket<V>>();
  private currentSize = 0;
  private currentBytes = 0;
  private previousBytes = 0;
  private epoch = 2;
  private currentStartedMs = 0;
  private previousStartedMs = 0;

  /**
   * @param maxEntries upper bound on cached series across both generations.
   * @param maxKeyBytes upper bound on their key bytes across both generations.
   * @param now the time, read once per generation (for evictedBeforeMs).
   */
  constructor(
    private readonly maxEntries: number,
    private readonly maxKeyBytes = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Every entry still cached was looked up after this time or is still here:
   * no series looked up at or after it has been evicted (0: none ever was).
   * An entry falls out with the generation before the previous one, so it
   * was last looked up before the previous generation started.
   */
  get evictedBeforeMs(): number {
    return this.previousStartedMs;
  }

  /** Every cached entry once (those moved back to the current generation are in both maps). */
  *entries(): IterableIterator<CacheEntry<V>> {
    for (const bucket of this.current.values()) {
      if (Array.isArray(bucket)) yield* bucket;
      else yield bucket;
    }
    for (const bucket of this.previous.values()) {
      for (const entry of Array.isArray(bucket) ? bucket : [bucket]) {
        if (entry.epoch !== this.epoch) yield entry;
      }
    }
  }

  /** Key bytes held by both generations (an entry moved back is counted in both until the older one is dropped). */
  get keyBytes(): number {
    return this.currentBytes + this.previousBytes;
  }

  get size(): number {
    return this.currentSize + this.previous.size;
  }

  /** The entry for the label bytes bytes[start, end), or undefined, without keeping an old one from expiring. */
  peek(bytes: Buffer, start: number, end: number, hash: number): CacheEntry<V> | undefined {
    return (
      find(this.current.get(hash), bytes, start, end) ?? find(this.previous.get(hash), bytes, start, end)
    );
  }

  /** The entry for the label bytes bytes[start, end), or undefined. */
  get(bytes: Buffer, start: number, end: number, hash: number): CacheEntry<V> | undefined {
    const found = find(this.current.get(hash), bytes, start, end);
    if (found !== undefined) return found;
    const old = find(this.previous.get(hash), bytes, start, end);
    if (old === undefined) return undefined;
    this.insert(old);
    return old;
  }

  /**
   * The entry that followed `last` the last time, if it is still cached and
   * its key is bytes[start, end): agents send their series in the same order
   * scrape after scrape, so this finds most series with one comparison and
   * no hashing. Undefined otherwise: look the bytes up with get().
   */
  follow(
    last: CacheEntry<V> | undefined,
    bytes: Buffer,
    start: number,
    end: number,
  ): CacheEntry<V> | undefined {
    const guess = last?.next;
    if (guess === undefined || guess.epoch < this.epoch - 1 || !sameBytes(guess.key, bytes, start, end)) {
      return undefined;
    }
    if (guess.epoch !== this.epoch) this.insert(guess);
    return guess;
  }

  /** Adds an entry for bytes[start, end) (the caller checked it is absent); copies the key. */
  set(bytes: Uint8Array, start: number, end: number, hash: number, value: V): CacheEntry<V> {
    // A copy of its own: Buffer#slice would return a view, keeping the request's buffer alive (or,
    // when the server reuses that buffer, letting the next request overwrite the key).
    const key = new Uint8Array(end - start);
    key.set(bytes.subarray(start, end));
    const entry: CacheEntry<V> = { key, hash, value, next: undefined, epoch: this.epoch };
    this.insert(entry);
    return entry;
  }

  private insert(entry: CacheEntry<V>): void {
    if (
      this.currentSize >= this.maxEntries / 2 ||
      this.currentBytes + entry.key.length > this.maxKeyBytes / 2
    ) {
      // Entries moved from it to the current generation stay linked.
      this.evict(this.previous, this.epoch);
      this.previous = this.current;
      this.previousBytes = this.currentBytes;
      this.current = new Map();
      this.currentSize = 0;
      this.currentBytes = 0;
      this.epoch++;
      this.previousStartedMs = this.currentStartedMs;
      this.currentStartedMs = this.now();
    }
    entry.epoch = this.epoch;
    const bucket = this.current.get(entry.hash);
    if (bucket === undefined) this.current.set(entry.hash, entry);
    else if (Array.isArray(bucket)) bucket.push(entry);
    else this.current.set(entry.hash, [bucket, entry]);
    this.currentSize++;
    this.currentBytes += entry.key.length;
  }

  /** Unlinks a dropped generation's entries (not those moved on), so next pointers keep no evicted chains alive. */
  private evict(generation: Map<number, Bucket<V>>, survivor: number): void {
    for (const bucket of generation.values()) {
      for (const entry of Array.isArray(bucket) ? bucket : [bucket]) {
        if (entry.epoch !== survivor) entry.next = undefined;
      }
    }
  }
}

function find<V>(
  bucket: Bucket<V> | undefined,
  bytes: Buffer,
  start: number,
  end: number,
): CacheEntry<V> | undefined {
  if (bucket === undefined) return undefined;
  if (!Array.isArray(bucket)) return sameBytes(bucket.key, bytes, start, end) ? bucket : undefined;
  for (const entry of bucket) if (sameBytes(entry.key, bytes, start, end)) return entry;
  return undefined;
}
