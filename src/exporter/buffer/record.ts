// The record codec of the durable log (design section 4). All integers are
// little-endian. A record is framed as
//
//   u32 length | u32 crc | body
//
// where length counts the body only and crc = crc32(body, crc32(length
// bytes)), so a torn length is caught as surely as a torn body.
//
// Samples body (type 1):
//   u8 type | 3 reserved | u32 sectionCount | f64 lsn | f64 appendTimeMs |
//   u32 defCount | u32 defBytes |
//   section table: sectionCount × (u32 sinkIdx, u32 count, f64 firstSeq) |
//   series definitions: defCount × (u32 seriesId, u32 length, label bytes) |
//     an item definition (an exemplar or native histogram sample, see
//     series.ts) has ITEM_DEF_FLAG set in its seriesId and holds
//     (u32 baseSeriesId, item bytes) instead of label bytes; its base series
//     is defined earlier in the same segment |
//   sections, in table order: count × (u32 seriesId, f64 timestampMs, f64 value)
// A reader finds its section from the table alone; the sections' offsets
// follow from the counts, so it never decodes another sink's samples.
//
// Checkpoint body (type 2), the first record of every segment:
//   u8 type | 3 reserved | u32 count | f64 lsn | f64 appendTimeMs |
//   count × (u32 sinkIdx, u32 reserved, f64 endSeq)
// It says where every sink's seq numbering stood when the segment began, so
// a restart knows the numbering even when older segments are gone, and can
// tell exactly which seqs a damaged segment lost.
import { crc32 } from "node:zlib";

export const FRAME_BYTES = 8;
export const SAMPLE_BYTES = 20;
export const SECTION_ENTRY_BYTES = 16;
export const DEF_HEADER_BYTES = 8;
export const SAMPLES_HEAD_BYTES = 32;
export const CHECKPOINT_HEAD_BYTES = 24;
export const CHECKPOINT_ENTRY_BYTES = 16;

/** Set in a definition's seriesId: the definition is an item's (u32 base id, item bytes). */
export const ITEM_DEF_FLAG = 0x80000000;
/** Series ids stay below the flag: a segment of 64 MiB holds far fewer definitions. */
export const MAX_SERIES_ID = ITEM_DEF_FLAG - 1;

export const RECORD_SAMPLES = 1;
export const RECORD_CHECKPOINT = 2;

/** Fills in length and crc of a record whose body is already at start + FRAME_BYTES. */
export function sealFrame(buf: Buffer, start: number, bodyLength: number): void {
  buf.writeUInt32LE(bodyLength, start);
  buf.writeUInt32LE(frameCrc(buf, start, bodyLength), start + 4);
}

function frameCrc(buf: Buffer, start: number, bodyLength: number): number {
  const lengthCrc = crc32(buf.subarray(start, start + 4));
  return crc32(buf.subarray(start + FRAME_BYTES, start + FRAME_BYTES + bodyLength), lengthCrc);
}

/** What is at `start` of buf, holding `available` bytes from there. */
export type FrameCheck =
  | { readonly kind: "record"; readonly bodyLength: number }
  /** The length is plausible but the record does not fit in what is available. */
  | { readonly kind: "short"; readonly bodyLength: number }
  | { readonly kind: "bad" };

export function checkFrame(buf: Buffer, start: number, available: number, maxBody: number): FrameCheck {
  if (available < FRAME_BYTES) return { kind: "short", bodyLength: 0 };
  const bodyLength = buf.readUInt32LE(start);
  if (bodyLength < 4 || bodyLength > maxBody) return { kind: "bad" };
  if (available < FRAME_BYTES + bodyLength) return { kind: "short", bodyLength };
  if (buf.readUInt32LE(start + 4) !== frameCrc(buf, start, bodyLength)) return { kind: "bad" };
  return { kind: "record", bodyLength };
}

export function samplesBodyBytes(sectionCount: number, defBytes: number, sampleCount: number): number {
  return SAMPLES_HEAD_BYTES + sectionCount * SECTION_ENTRY_BYTES + defBytes + sampleCount * SAMPLE_BYTES;
}

export function writeSamplesHead(
  buf: Buffer,
  body: number,
  sectionCount: number,
  lsn: number,
  appendTimeMs: number,
  defCount: number,
  defBytes: number,
): void {
  buf.writeUInt32LE(RECORD_SAMPLES, body);
  buf.writeUInt32LE(sectionCount, body + 4);
  buf.writeDoubleLE(lsn, body + 8);
  buf.writeDoubleLE(appendTimeMs, body + 16);
  buf.writeUInt32LE(defCount, body + 24);
  buf.writeUInt32LE(defBytes, body + 28);
}

export function writeSectionEntry(
  buf: Buffer,
  body: number,
  index: number,
  sinkIdx: number,
  count: number,
  firstSeq: number,
): void {
  const at = body + SAMPLES_HEAD_BYTES + index * SECTION_ENTRY_BYTES;
  buf.writeUInt32LE(sinkIdx, at);
  buf.writeUInt32LE(count, at + 4);
  buf.writeDoubleLE(firstSeq, at + 8);
}

/** Writes one series definition at `at`; returns the offset after it. */
export function writeDefinition(buf: Buffer, at: number, seriesId: number, labelBytes: Uint8Array): number {
  buf.writeUInt32LE(seriesId, at);
  buf.writeUInt32LE(labelBytes.length, at + 4);
  buf.set(labelBytes, at + DEF_HEADER_BYTES);
  return at + DEF_HEADER_BYTES + labelBytes.length;
}

/** Writes one item definition at `at`; returns the offset after it. */
export function writeItemDefinition(
  buf: Buffer,
  at: number,
  seriesId: number,
  baseId: number,
  item: Uint8Array,
): number {
  buf.writeUInt32LE((seriesId | ITEM_DEF_FLAG) >>> 0, at);
  buf.writeUInt32LE(4 + item.length, at + 4);
  buf.writeUInt32LE(baseId, at + DEF_HEADER_BYTES);
  buf.set(item, at + DEF_HEADER_BYTES + 4);
  return at + DEF_HEADER_BYTES + 4 + item.length;
}

/** Bytes of a definition of `ref` (a series, or an item by reference to its series). */
export function definitionBytes(ref: {
  readonly labelBytes: Uint8Array;
  readonly item?: Uint8Array;
}): number {
  return DEF_HEADER_BYTES + (ref.item === undefined ? ref.labelBytes.length : 4 + ref.item.length);
}

export function writeSample(
  buf: Buffer,
  at: number,
  seriesId: number,
  timestampMs: number,
  value: number,
): void {
  buf.writeUInt32LE(seriesId, at);
  buf.writeDoubleLE(timestampMs, at + 4);
  buf.writeDoubleLE(value, at + 12);
}

/** writeSample through a DataView over the same bytes: the writer's hot loop (no per-call checks). */
export function writeSampleAt(
  view: DataView,
  at: number,
  seriesId: number,
  timestampMs: number,
  value: number,
): void {
  view.setUint32(at, seriesId, true);
  view.setFloat64(at + 4, timestampMs, true);
  view.setFloat64(at + 12, value, true);
}

export function checkpointBodyBytes(entries: number): number {
  return CHECKPOINT_HEAD_BYTES + entries * CHECKPOINT_ENTRY_BYTES;
}

export function writeCheckpoint(
  buf: Buffer,
  body: number,
  lsn: number,
  appendTimeMs: number,
  entries: readonly { readonly sinkIdx: number; readonly endSeq: number }[],
): void {
  buf.writeUInt32LE(RECORD_CHECKPOINT, body);
  buf.writeUInt32LE(entries.length, body + 4);
  buf.writeDoubleLE(lsn, body + 8);
  buf.writeDoubleLE(appendTimeMs, body + 16);
  let at = body + CHECKPOINT_HEAD_BYTES;
  for (const entry of entries) {
    buf.writeUInt32LE(entry.sinkIdx, at);
    buf.writeUInt32LE(0, at + 4);
    buf.writeDoubleLE(entry.endSeq, at + 8);
    at += CHECKPOINT_ENTRY_BYTES;
  }
}

/** The parts of a samples body, as offsets into the buffer it was read into. */
export interface SamplesLayout {
  readonly lsn: number;
  readonly appendTimeMs: number;
  readonly sectionCount: number;
  readonly tableStart: number;
  readonly defCount: number;
  readonly defStart: number;
  readonly defBytes: number;
  readonly sectionsStart: number;
}

export class RecordFormatError extends Error {
  override readonly name = "RecordFormatError";
}

export function recordType(buf: Buffer, body: number): number {
  return buf.readUInt8(body);
}

/** Reads a samples body's head and checks that its parts add up to bodyLength. */
export function samplesLayout(buf: Buffer, body: number, bodyLength: number): SamplesLayout {
  if (bodyLength < SAMPLES_HEAD_BYTES) throw new RecordFormatError("samples record shorter than its head");
  const sectionCount = buf.readUInt32LE(body + 4);
  const defCount = buf.readUInt32LE(body + 24);
  const defBytes = buf.readUInt32LE(body + 28);
  const tableStart = body + SAMPLES_HEAD_BYTES;
  const defStart = tableStart + sectionCount * SECTION_ENTRY_BYTES;
  const sectionsStart = defStart + defBytes;
  let samples = 0;
  if (sectionsStart > body + bodyLength) throw new RecordFormatError("section table past the record");
  for (let i = 0; i < sectionCount; i++)
    samples += buf.readUInt32LE(tableStart + i * SECTION_ENTRY_BYTES + 4);
  if (sectionsStart + samples * SAMPLE_BYTES !== body + bodyLength)
    throw new RecordFormatError("section sizes do not add up to the record length");
  return {
    lsn: buf.readDoubleLE(body + 8),
    appendTimeMs: buf.readDoubleLE(body + 16),
    sectionCount,
    tableStart,
    defCount,
    defStart,
    defBytes,
    sectionsStart,
  };
}

export function checkpointEntries(
  buf: Buffer,
  body: number,
  bodyLength: number,
): { sinkIdx: number; endSeq: number }[] {
  const count = buf.readUInt32LE(body + 4);
  if (checkpointBodyBytes(count) !== bodyLength) throw new RecordFormatError("checkpoint length mismatch");
  const entries: { sinkIdx: number; endSeq: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = body + CHECKPOINT_HEAD_BYTES + i * CHECKPOINT_ENTRY_BYTES;
    entries.push({ sinkIdx: buf.readUInt32LE(at), endSeq: buf.readDoubleLE(at + 8) });
  }
  return entries;
}

/**
 * Calls fn for each definition of a samples body (the bytes are a view into
 * buf): a series' label bytes, or for an item definition (baseId ≥ 0) the
 * item's bytes and the id of its series.
 */
export function forEachDefinition(
  buf: Buffer,
  defStart: number,
  defBytes: number,
  fn: (seriesId: number, bytes: Buffer, baseId: number) => void,
): void {
  const end = defStart + defBytes;
  let at = defStart;
  while (at < end) {
    if (at + DEF_HEADER_BYTES > end) throw new RecordFormatError("definition header past its area");
    const id = buf.readUInt32LE(at);
    const length = buf.readUInt32LE(at + 4);
    const labelsEnd = at + DEF_HEADER_BYTES + length;
    if (labelsEnd > end) throw new RecordFormatError("definition past its area");
    if ((id & ITEM_DEF_FLAG) !== 0) {
      if (length < 4) throw new RecordFormatError("item definition shorter than its base id");
      fn(
        (id & MAX_SERIES_ID) >>> 0,
        buf.subarray(at + DEF_HEADER_BYTES + 4, labelsEnd),
        buf.readUInt32LE(at + DEF_HEADER_BYTES),
      );
    } else {
      fn(id, buf.subarray(at + DEF_HEADER_BYTES, labelsEnd), -1);
    }
    at = labelsEnd;
  }
}

// A whole record as plain data: for tests, tools and the round trip; the log
// itself writes and reads through the functions above without this step.

export interface DecodedSection {
  readonly sinkIdx: number;
  readonly firstSeq: number;
  readonly seriesIds: number[];
  readonly timestamps: number[];
  readonly values: number[];
}

export interface DecodedSamples {
  readonly type: "samples";
  readonly lsn: number;
  readonly appendTimeMs: number;
  /** labelBytes holds an item's bytes when baseId is set (an item definition). */
  readonly definitions: {
    readonly seriesId: number;
    readonly labelBytes: Uint8Array;
    readonly baseId?: number;
  }[];
  readonly sections: DecodedSection[];
}

export interface DecodedCheckpoint {
  readonly type: "checkpoint";
  readonly lsn: number;
  readonly appendTimeMs: number;
  readonly entries: { sinkIdx: number; endSeq: number }[];
}

export function encodeRecord(record: DecodedSamples | DecodedCheckpoint): Buffer {
  if (record.type === "checkpoint") {
    const bodyLength = checkpointBodyBytes(record.entries.length);
    const buf = Buffer.alloc(FRAME_BYTES + bodyLength);
    writeCheckpoint(buf, FRAME_BYTES, record.lsn, record.appendTimeMs, record.entries);
    sealFrame(buf, 0, bodyLength);
    return buf;
  }
  const defBytes = record.definitions.reduce(
    (n, d) => n + DEF_HEADER_BYTES + (d.baseId === undefined ? 0 : 4) + d.labelBytes.length,
    0,
  );
  const samples = record.sections.reduce((n, s) => n + s.seriesIds.length, 0);
  const bodyLength = samplesBodyBytes(record.sections.length, defBytes, samples);
  const buf = Buffer.alloc(FRAME_BYTES + bodyLength);
  const body = FRAME_BYTES;
  const sections = record.sections.length;
  writeSamplesHead(buf, body, sections, record.lsn, record.appendTimeMs, record.definitions.length, defBytes);
  let at = body + SAMPLES_HEAD_BYTES + sections * SECTION_ENTRY_BYTES;
  for (const d of record.definitions) {
    at =
      d.baseId === undefined
        ? writeDefinition(buf, at, d.seriesId, d.labelBytes)
        : writeItemDefinition(buf, at, d.seriesId, d.baseId, d.labelBytes);
  }
  record.sections.forEach((section, index) => {
    writeSectionEntry(buf, body, index, section.sinkIdx, section.seriesIds.length, section.firstSeq);
    section.seriesIds.forEach((id, i) => {
      writeSample(buf, at, id, section.timestamps[i] ?? 0, section.values[i] ?? 0);
      at += SAMPLE_BYTES;
    });
  });
  sealFrame(buf, 0, bodyLength);
  return buf;
}

/** Decodes one framed record; throws RecordFormatError on any damage. */
export function decodeRecord(buf: Buffer, maxBody = buf.length): DecodedSamples | DecodedCheckpoint {
  const check = checkFrame(buf, 0, buf.length, maxBody);
  if (check.kind !== "record") throw new RecordFormatError(`record is ${check.kind}`);
  const body = FRAME_BYTES;
  const type = recordType(buf, body);
  if (type === RECORD_CHECKPOINT) {
    return {
      type: "checkpoint",
      lsn: buf.readDoubleLE(body + 8),
      appendTimeMs: buf.readDoubleLE(body + 16),
      entries: checkpointEntries(buf, body, check.bodyLength),
    };
  }
  if (type !== RECORD_SAMPLES) throw new RecordFormatError(`unknown record type ${type}`);
  const layout = samplesLayout(buf, body, check.bodyLength);
  const definitions: { seriesId: number; labelBytes: Uint8Array; baseId?: number }[] = [];
  forEachDefinition(buf, layout.defStart, layout.defBytes, (seriesId, bytes, baseId) => {
    definitions.push({ seriesId, labelBytes: Uint8Array.from(bytes), ...(baseId < 0 ? {} : { baseId }) });
  });
  const sections: DecodedSection[] = [];
  let at = layout.sectionsStart;
  for (let i = 0; i < layout.sectionCount; i++) {
    const entry = layout.tableStart + i * SECTION_ENTRY_BYTES;
    const count = buf.readUInt32LE(entry + 4);
    const section: DecodedSection = {
      sinkIdx: buf.readUInt32LE(entry),
      firstSeq: buf.readDoubleLE(entry + 8),
      seriesIds: [],
      timestamps: [],
      values: [],
    };
    for (let j = 0; j < count; j++) {
      section.seriesIds.push(buf.readUInt32LE(at));
      section.timestamps.push(buf.readDoubleLE(at + 4));
      section.values.push(buf.readDoubleLE(at + 12));
      at += SAMPLE_BYTES;
    }
    sections.push(section);
  }
  return { type: "samples", lsn: layout.lsn, appendTimeMs: layout.appendTimeMs, definitions, sections };
}
