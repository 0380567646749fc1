// Segment files: `<first LSN, 16 hex digits>.seg`, a 32-byte header, then
// records (record.ts). A record never spans two segments, so damage in one
// segment cannot reach into the next.
//
// Header: "TLXB" | u16 version | u16 reserved | f64 firstLsn | f64 createdMs |
// u32 reserved | u32 crc32 of the 28 bytes before it.
import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { MAX_RECORD_BYTES, READ_WINDOW_BYTES } from "./defaults.js";
import { FRAME_BYTES, checkFrame } from "./record.js";

export const SEGMENT_HEADER_BYTES = 32;
const MAGIC = 0x4258_4c54; // "TLXB" read as a little-endian u32
const FORMAT_VERSION = 1;
const SEGMENT_NAME = /^([0-9a-f]{16})\.seg$/;

export function segmentFileName(firstLsn: number): string {
  return `${firstLsn.toString(16).padStart(16, "0")}.seg`;
}

/** The first LSN named by a segment file name, or undefined for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 16);
}

export function encodeSegmentHeader(firstLsn: number, createdMs: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt16LE(FORMAT_VERSION, 4);
  buf.writeDoubleLE(firstLsn, 8);
  buf.writeDoubleLE(createdMs, 16);
  buf.writeUInt32LE(crc32(buf.subarray(0, 28)), 28);
  return buf;
}

/** The header's first LSN, or undefined when the header is damaged or from another format. */
export function decodeSegmentHeader(buf: Buffer): { firstLsn: number; createdMs: number } | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES) return undefined;
  if (buf.readUInt32LE(0) !== MAGIC || buf.readUInt16LE(4) !== FORMAT_VERSION) return undefined;
  if (buf.readUInt32LE(28) !== crc32(buf.subarray(0, 28))) return undefined;
  return { firstLsn: buf.readDoubleLE(8), createdMs: buf.readDoubleLE(16) };
}

/** How a scan of a segment's records ended. */
export interface ScanEnd {
  /** Offset after the last whole, valid record: where the valid part ends. */
  readonly validEnd: number;
  /** True when bytes follow validEnd that are not a valid record (torn or corrupt). */
  readonly damaged: boolean;
}

/**
 * Reads the records of a segment in order through a bounded window and calls
 * onRecord with each valid one (buf holds it at `start`, framed). Stops at the
 * first length past the end, zero length or checksum mismatch, or when
 * onRecord returns false (a record whose checksum holds but whose parts do not). A record larger
 * than the window gets a buffer of its own for the moment it is looked at.
 */
export async function scanSegment(
  handle: FileHandle,
  fileSize: number,
  onRecord: (buf: Buffer, start: number, bodyLength: number, fileOffset: number) => boolean,
): Promise<ScanEnd> {
  let window = Buffer.allocUnsafe(Math.min(READ_WINDOW_BYTES, Math.max(fileSize, FRAME_BYTES)));
  let windowOffset = SEGMENT_HEADER_BYTES;
  let windowLength = 0;
  let offset = SEGMENT_HEADER_BYTES;
  const maxBody = Math.min(MAX_RECORD_BYTES, fileSize);
  for (;;) {
    if (offset >= fileSize) return { validEnd: offset, damaged: false };
    const start = offset - windowOffset;
    const check = checkFrame(window, start, windowLength - start, maxBody);
    if (check.kind === "record") {
      if (!onRecord(window, start, check.bodyLength, offset)) return { validEnd: offset, damaged: true };
      offset += FRAME_BYTES + check.bodyLength;
      continue;
    }
    if (check.kind === "bad") return { validEnd: offset, damaged: true };
    const needed = FRAME_BYTES + check.bodyLength;
    if (offset + needed > fileSize) return { validEnd: offset, damaged: true };
    if (needed > window.length) window = Buffer.allocUnsafe(needed);
    const length = Math.min(window.length, fileSize - offset);
    await readFully(handle, window, length, offset);
    windowOffset = offset;
    windowLength = length;
  }
}

/** pread until `length` bytes are in buf from 0 (a short read only happens at EOF). */
export async function readFully(
  handle: FileHandle,
  buf: Buffer,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

export async function writeFully(
  handle: FileHandle,
  buf: Buffer,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await handle.write(buf, done, length - done, position + done);
    done += bytesWritten;
  }
}
