// The ingest hot path's WriteRequest walker. It handles the layout every
// agent writes (each TimeSeries: its `labels` fields together, then its
// `samples`, each sample a double and a timestamp of at most 8 varint bytes)
// in one tight loop, reporting each series as a byte range of the request:
// no view, string or object is created per series or sample.
//
// Anything else — other fields, another order, negative or huge timestamps,
// and malformed input — makes it give up and return false, and the caller
// runs decodeWriteRequestRaw, which handles every valid request and explains
// every invalid one. Like that decoder it checks the framing of label fields,
// not their contents.
//
// Why not just the general decoder: it spends ~400 ns per 11-label series
// on per-field bookkeeping (wire types, error context, a view per series);
// this loop ~5× less (`npm run bench`, remotewrite suite).

export interface WriteRequestScanner {
  /** A series whose encoded label fields are bytes[start, end) of the request. */
  series(bytes: Uint8Array, start: number, end: number): void;
  /** A sample of the series reported last. */
  sample(value: number, timestampMs: number): void;
}

// Tags (field number << 3 | wire type) of the fields the fast path knows.
const TIMESERIES_TAG = 0x0a; // WriteRequest.timeseries = 1, length-delimited
const LABELS_TAG = 0x0a; // TimeSeries.labels = 1, length-delimited
const SAMPLES_TAG = 0x12; // TimeSeries.samples = 2, length-delimited
const VALUE_TAG = 0x09; // Sample.value = 1, 64-bit
const TIMESTAMP_TAG = 0x10; // Sample.timestamp = 2, varint

/**
 * Walks bytes, calling the scanner for each series and sample. Returns false
 * (possibly after some calls) when the request needs the general decoder:
 * the caller must then discard what the scanner collected and decode again.
 */
export function scanWriteRequest(bytes: Uint8Array, scanner: WriteRequestScanner): boolean {
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p < end) {
    if (bytes[p] !== TIMESERIES_TAG) return false;
    // Inline varints of up to 4 bytes (lengths below 256 MiB); longer ones go the slow way.
    let b = bytes[p + 1] ?? 0;
    let length = b & 0x7f;
    p += 2;
    if (b >= 0x80) {
      b = bytes[p++] ?? 0;
      length |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = bytes[p++] ?? 0;
        length |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = bytes[p++] ?? 0;
          if (b >= 0x80) return false;
          length |= b << 21;
        }
      }
    }
    const seriesEnd = p + length;
    if (seriesEnd > end) return false;

    const labelsStart = p;
    while (p < seriesEnd && bytes[p] === LABELS_TAG) {
      b = bytes[p + 1] ?? 0;
      length = b & 0x7f;
      p += 2;
      if (b >= 0x80) {
        b = bytes[p++] ?? 0;
        if (b >= 0x80) return false;
        length |= b << 7;
      }
      p += length;
    }
    if (p > seriesEnd) return false;
    scanner.series(bytes, labelsStart, p);

    while (p < seriesEnd) {
      if (bytes[p] !== SAMPLES_TAG) return false;
      const sampleEnd = p + 2 + (bytes[p + 1] ?? 0x80);
      // A sample is at most 1 + 8 + 1 + 10 bytes: its length is one varint byte.
      if ((bytes[p + 1] ?? 0x80) >= 0x80 || sampleEnd > seriesEnd) return false;
      p += 2;
      let value = 0;
      let timestampMs = 0;
      while (p < sampleEnd) {
        const tag = bytes[p++];
        if (tag === VALUE_TAG) {
          if (p + 8 > sampleEnd) return false;
          value = view.getFloat64(p, true);
          p += 8;
        } else if (tag === TIMESTAMP_TAG) {
          // Up to 8 bytes: 56 bits, every non-negative millisecond timestamp a double holds exactly.
          let scale = 1;
          timestampMs = 0;
          for (let i = 0; ; i++) {
            if (i === 8 || p >= sampleEnd) return false;
            b = bytes[p++] ?? 0;
            timestampMs += (b & 0x7f) * scale;
            if (b < 0x80) break;
            scale *= 0x80;
          }
        } else {
          return false;
        }
      }
      if (p !== sampleEnd) return false;
      scanner.sample(value, timestampMs);
    }
  }
  return p === end;
}
