// Test helper: float bits and byte comparisons with readable failures.
import assert from "node:assert/strict";

const scratch = new DataView(new ArrayBuffer(8));

export function bitsOf(value: number): bigint {
  scratch.setFloat64(0, value, true);
  return scratch.getBigUint64(0, true);
}

/** A number with exactly these bits (as long as it is not stored where V8 quiets NaNs). */
export function fromBits(bits: bigint): number {
  scratch.setBigUint64(0, bits, true);
  return scratch.getFloat64(0, true);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Asserts equal bytes; on failure names the first differing offset and shows the bytes around it. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message = "bytes differ"): void {
  if (Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const window = (bytes: Uint8Array): string => hex(bytes.subarray(Math.max(0, at - 8), at + 16));
  assert.fail(
    `${message}: lengths ${actual.length} vs ${expected.length}, first difference at byte ${at}\n` +
      `  actual   …${window(actual)}\n  expected …${window(expected)}`,
  );
}
