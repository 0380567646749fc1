// Protobuf wire-format pieces shared by the encoder and the decoder: wire
// types, the field numbers of the prompb messages Remote Write 1.0 uses, and
// varint helpers.

export const WireType = {
  Varint: 0,
  I64: 1,
  Len: 2,
  StartGroup: 3,
  EndGroup: 4,
  I32: 5,
} as const;

/** Field numbers from prometheus/prompb types.proto and remote.proto. */
export const Field = {
  WriteRequest: { timeseries: 1, metadata: 3 },
  TimeSeries: { labels: 1, samples: 2, exemplars: 3, histograms: 4 },
  Label: { name: 1, value: 2 },
  Sample: { value: 1, timestamp: 2 },
  MetricMetadata: { type: 1, metricFamilyName: 2, help: 4, unit: 5 },
} as const;

export function fieldTag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

/** Bytes of the varint for an unsigned 32-bit value. */
export function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Writes an unsigned 32-bit value as a varint; returns the position after it. */
export function writeVarint32(buf: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

/** Bytes of the varint for the 64-bit two's complement value high:low (both as uint32). */
export function varint64Size(low: number, high: number): number {
  if (high === 0) return varint32Size(low);
  return Math.ceil((64 - Math.clz32(high)) / 7);
}

/** Writes the 64-bit two's complement value high:low as a varint; returns the position after it. */
export function writeVarint64(buf: Uint8Array, pos: number, low: number, high: number): number {
  while (high !== 0) {
    buf[pos++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  return writeVarint32(buf, pos, low);
}

/** Low 32 bits of a safe integer, two's complement. */
export function int64Low(value: number): number {
  return value >>> 0;
}

/** High 32 bits of a safe integer, two's complement, as uint32. */
export function int64High(value: number): number {
  return Math.floor(value / 4294967296) >>> 0;
}
