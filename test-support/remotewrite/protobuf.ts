// Test helper: hand-assembled protobuf, for payloads no well-behaved encoder
// writes (unknown fields, groups, odd field order, malformations).

export type Bytes = readonly number[];

export function varint(value: number | bigint): number[] {
  let rest = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
}

export function tag(field: number, wireType: number): number[] {
  return varint((field << 3) | wireType);
}

export function lengthDelimited(field: number, ...parts: Bytes[]): number[] {
  const body = parts.flat();
  return [...tag(field, 2), ...varint(body.length), ...body];
}

export function string(field: number, text: string): number[] {
  return lengthDelimited(field, [...Buffer.from(text)]);
}

export function varintField(field: number, value: number | bigint): number[] {
  return [...tag(field, 0), ...varint(value)];
}

export function fixed64(field: number, bits: bigint): number[] {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, bits));
  return [...tag(field, 1), ...bytes];
}

export function fixed32(field: number, value: number): number[] {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return [...tag(field, 5), ...bytes];
}

export function group(field: number, ...parts: Bytes[]): number[] {
  return [...tag(field, 3), ...parts.flat(), ...tag(field, 4)];
}

export function double(field: number, value: number): number[] {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return [...tag(field, 1), ...bytes];
}

/** prompb shorthands. */
export const label = (name: string, value: string): number[] =>
  lengthDelimited(1, string(1, name), string(2, value));
export const sample = (value: number, timestamp: number): number[] =>
  lengthDelimited(2, double(1, value), varintField(2, timestamp));
export const timeSeries = (...parts: Bytes[]): number[] => lengthDelimited(1, ...parts);

export function bytes(...parts: Bytes[]): Uint8Array {
  return new Uint8Array(parts.flat());
}
