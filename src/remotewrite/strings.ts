// Strict UTF-8 string decoding for the decoder, with a small interning cache.
// Creating strings is most of the cost of decoding a WriteRequest (a series
// has some twenty), and label names and many values repeat across series and
// requests, so short strings are looked up by their bytes first. The cache is
// direct-mapped and bounded: colliding input only causes misses.

const CACHE_SLOTS = 4096;
/** Longer strings are decoded every time. */
const MAX_CACHED_LENGTH = 64;

const cachedBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(CACHE_SLOTS).fill(
  undefined,
);
const cachedStrings: string[] = new Array<string>(CACHE_SLOTS).fill("");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The string in bytes[start, end) of buf (the same bytes as bytes, as a
 * Buffer, for its fast Latin-1 path), or undefined if it is not valid UTF-8.
 */
export function decodeUtf8(bytes: Uint8Array, buf: Buffer, start: number, end: number): string | undefined {
  const length = end - start;
  if (length === 0) return "";
  if (length > MAX_CACHED_LENGTH) return decodeUncached(bytes, buf, start, end);

  // A hash of the length and a few bytes: cheap, and a collision only costs a miss.
  let hash = Math.imul(length, 0x9e3779b1);
  hash = Math.imul(hash ^ (bytes[start] ?? 0), 0x01000193);
  hash = Math.imul(hash ^ (bytes[start + (length >> 1)] ?? 0), 0x01000193);
  hash = Math.imul(hash ^ (bytes[end - 1] ?? 0), 0x01000193);
  hash = Math.imul(hash ^ (bytes[end - 2] ?? 0), 0x01000193);
  hash = Math.imul(hash ^ (bytes[end - 3] ?? 0), 0x01000193);
  hash ^= hash >>> 15;
  const slot = (hash >>> 0) % CACHE_SLOTS;
  const cached = cachedBytes[slot];
  if (cached !== undefined && cached.length === length && sameBytes(cached, bytes, start)) {
    return cachedStrings[slot];
  }
  const text = decodeUncached(bytes, buf, start, end);
  if (text !== undefined) {
    // A copy: Buffer's slice() is a view, and would keep the whole request body alive in the cache.
    cachedBytes[slot] = Uint8Array.prototype.slice.call(bytes, start, end);
    cachedStrings[slot] = text;
  }
  return text;
}

/** Bytes the cache keeps alive: its entries' backing buffers (for tests). */
export function cacheRetainedBytes(): number {
  const buffers = new Set<ArrayBufferLike>();
  for (const bytes of cachedBytes) if (bytes !== undefined) buffers.add(bytes.buffer);
  let total = 0;
  for (const buffer of buffers) total += buffer.byteLength;
  return total;
}

function sameBytes(cached: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < cached.length; i++) {
    if (cached[i] !== bytes[start + i]) return false;
  }
  return true;
}

function decodeUncached(bytes: Uint8Array, buf: Buffer, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) {
    if ((bytes[i] ?? 0) >= 0x80) {
      try {
        return strictUtf8.decode(bytes.subarray(start, end));
      } catch {
        return undefined;
      }
    }
  }
  // All ASCII, where Latin-1 decoding is the same and faster.
  return buf.toString("latin1", start, end);
}
