// Prometheus marks a series as stale with one specific NaN bit pattern
// (value.StaleNaN). It is a signalling NaN, and V8 does not keep NaN bits
// intact everywhere: copying the number into a plain JS array or a Map may
// set the quiet bit (0x7ff8000000000002) or replace it with the canonical
// NaN. Detection therefore accepts the quieted form too, and the encoder
// always writes the exact bits for anything detected as a stale marker.

/** Bits of Prometheus' stale marker, as Prometheus defines it. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

const STALE_HIGH = 0x7ff00000;
const STALE_LOW = 0x00000002;
const QUIET_BIT_HIGH = 0x00080000;

const bits = new DataView(new ArrayBuffer(8));

/** A number holding the stale marker bits (as long as it is not copied through a path that quiets NaNs). */
export const STALE_NAN: number = staleNaN();

function staleNaN(): number {
  bits.setUint32(0, STALE_LOW, true);
  bits.setUint32(4, STALE_HIGH, true);
  return bits.getFloat64(0, true);
}

/** Whether value is Prometheus' stale marker (also in the quieted form V8 may turn it into). */
export function isStaleMarker(value: number): boolean {
  if (!Number.isNaN(value)) return false;
  bits.setFloat64(0, value, true);
  return bits.getUint32(0, true) === STALE_LOW && (bits.getUint32(4, true) & ~QUIET_BIT_HIGH) === STALE_HIGH;
}

/** Writes the exact stale marker bits, little-endian, at offset. */
export function writeStaleMarker(view: DataView, offset: number): void {
  view.setUint32(offset, STALE_LOW, true);
  view.setUint32(offset + 4, STALE_HIGH, true);
}
