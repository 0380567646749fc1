// Each sink's committed shard positions and trim point, in one file of
// fixed-size slots written in place with pwrite. Every sink owns two slots
// and writes them in turn (generation parity), so a write torn by a power
// loss damages only the newer copy: the older one is still whole and is
// used instead, which resends some samples and never skips any.
//
// Slot (512 bytes): u32 crc32 of bytes 4..512 | u32 sinkIdx | f64 generation |
// f64 startSeq | u32 shards | u32 reserved | shards × f64 next.
import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import type { ShardPositions } from "../sink/backlog.js";

export const SLOT_BYTES = 512;
const SLOT_HEAD_BYTES = 32;
export const MAX_SHARDS = (SLOT_BYTES - SLOT_HEAD_BYTES) / 8;

export interface SlotContent {
  readonly generation: number;
  /** The sink's trim point: seqs below it were given up (and counted) or delivered. */
  readonly startSeq: number;
  readonly positions: ShardPositions | undefined;
}

export function slotOffset(sinkIdx: number, generation: number): number {
  return (sinkIdx * 2 + (generation % 2)) * SLOT_BYTES;
}

export function encodeSlot(sinkIdx: number, content: SlotContent): Buffer {
  const buf = Buffer.alloc(SLOT_BYTES);
  const shards = content.positions?.shards ?? 0;
  if (shards > MAX_SHARDS)
    throw new RangeError(`at most ${MAX_SHARDS} shards can be persisted, got ${shards}`);
  buf.writeUInt32LE(sinkIdx, 4);
  buf.writeDoubleLE(content.generation, 8);
  buf.writeDoubleLE(content.startSeq, 16);
  buf.writeUInt32LE(shards, 24);
  for (let s = 0; s < shards; s++)
    buf.writeDoubleLE(content.positions?.next[s] ?? 0, SLOT_HEAD_BYTES + s * 8);
  buf.writeUInt32LE(crc32(buf.subarray(4)), 0);
  return buf;
}

export type SlotRead =
  { readonly kind: "empty" } | { readonly kind: "bad" } | ({ readonly kind: "ok" } & SlotContent);

export function decodeSlot(buf: Buffer, sinkIdx: number): SlotRead {
  if (buf.length < SLOT_BYTES || buf.every((byte) => byte === 0)) return { kind: "empty" };
  if (buf.readUInt32LE(0) !== crc32(buf.subarray(4, SLOT_BYTES))) return { kind: "bad" };
  const shards = buf.readUInt32LE(24);
  if (buf.readUInt32LE(4) !== sinkIdx || shards > MAX_SHARDS) return { kind: "bad" };
  const next: number[] = [];
  for (let s = 0; s < shards; s++) next.push(buf.readDoubleLE(SLOT_HEAD_BYTES + s * 8));
  return {
    kind: "ok",
    generation: buf.readDoubleLE(8),
    startSeq: buf.readDoubleLE(16),
    positions: shards === 0 ? undefined : { shards, next },
  };
}

/** A sink's persisted state, and whether a damaged copy had to be passed over. */
export interface RecoveredSlot {
  readonly content: SlotContent | undefined;
  readonly fellBack: boolean;
}

/** Picks the newest whole copy of a sink's two slots from the file's bytes. */
export function recoverSlot(file: Buffer, sinkIdx: number): RecoveredSlot {
  const copies = [0, 1].map((parity) => {
    const at = (sinkIdx * 2 + parity) * SLOT_BYTES;
    return decodeSlot(file.subarray(at, at + SLOT_BYTES), sinkIdx);
  });
  let best: SlotContent | undefined;
  for (const copy of copies) {
    if (copy.kind === "ok" && (best === undefined || copy.generation > best.generation)) best = copy;
  }
  const damaged = copies.some((copy) => copy.kind === "bad");
  return {
    content:
      best === undefined
        ? undefined
        : { generation: best.generation, startSeq: best.startSeq, positions: best.positions },
    fellBack: damaged,
  };
}

export async function writeSlot(handle: FileHandle, sinkIdx: number, content: SlotContent): Promise<void> {
  const buf = encodeSlot(sinkIdx, content);
  await handle.write(buf, 0, SLOT_BYTES, slotOffset(sinkIdx, content.generation));
}
