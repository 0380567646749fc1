// prometheus.WriteRequest decoder for the ingest path: untrusted input, so
// every length and varint is bounds-checked and any malformation becomes a
// WriteRequestDecodeError with a one-line reason. A visitor receives each
// series and then its samples, with no object allocated per sample.
//
// Unknown fields of every message are skipped (groups included). Exemplars
// and native histograms are checked for structure (known fields with their
// wire types, label strings UTF-8) and handed over as their encoded field,
// tag included, to be forwarded verbatim: what a histogram means is the
// receiver's to judge. Metadata entries are handed over with their family
// name. Known fields with the wrong wire type are rejected. Strings must be
// valid UTF-8, as proto3 requires.
import { WriteRequestDecodeError } from "./errors.js";
import type { Label } from "./labels.js";
import { decodeUtf8 } from "./strings.js";
import { Field, WireType } from "./wire.js";

export interface WriteRequestVisitor {
  /**
   * Called once per TimeSeries, before its samples. labelBytes are the
   * series' encoded `labels` fields (a view into the input when they are
   * contiguous, as every encoder writes them): they can be handed to
   * WriteRequestBuilder.addSample as they are.
   */
  onSeries(labels: Label[], labelBytes: Uint8Array): void;
  /**
   * Called for each sample of the series last passed to onSeries. A NaN
   * value carries the bits from the wire; test for staleness with
   * isStaleMarker before storing it anywhere that may quiet NaNs.
   * Timestamps beyond ±2^53 ms are rounded to the nearest double.
   */
  onSample(value: number, timestampMs: number): void;
  /**
   * Called for each exemplar and native histogram sample of the series last
   * passed to onSeries, in wire order with its samples. `field` is the
   * encoded TimeSeries field (tag, length, message): a view into the input.
   */
  onItem?(kind: ItemKind, field: Uint8Array, timestampMs: number): void;
  /** Called for each MetricMetadata entry; `field` is the encoded WriteRequest field, a view into the input. */
  onMetadata?(family: string, field: Uint8Array): void;
}

/** What a TimeSeries carries besides float samples. */
export const ITEM_KINDS = ["exemplar", "histogram"] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** Everything a Remote Write 1.0 request carries besides float samples. */
export const UNSUPPORTED_KINDS = ["exemplar", "histogram", "metadata"] as const;
export type UnsupportedKind = (typeof UNSUPPORTED_KINDS)[number];

/**
 * Like WriteRequestVisitor, for callers that look series up by their label
 * bytes before paying for strings (the ingest hot path). The bytes' framing
 * is checked; their contents are not: decode them with decodeLabelBytes,
 * which validates, the first time a series is seen.
 */
export interface RawWriteRequestVisitor {
  onSeries(labelBytes: Uint8Array): void;
  onSample(value: number, timestampMs: number): void;
  onItem?(kind: ItemKind, field: Uint8Array, timestampMs: number): void;
  onMetadata?(family: string, field: Uint8Array): void;
}

export interface DecodeSummary {
  readonly series: number;
  readonly samples: number;
}

/** Nesting limit for (deprecated, skipped) protobuf groups. */
const MAX_GROUP_DEPTH = 64;

const MESSAGE_FIELDS: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  WriteRequest: { [Field.WriteRequest.timeseries]: "timeseries", [Field.WriteRequest.metadata]: "metadata" },
  TimeSeries: {
    [Field.TimeSeries.labels]: "labels",
    [Field.TimeSeries.samples]: "samples",
    [Field.TimeSeries.exemplars]: "exemplars",
    [Field.TimeSeries.histograms]: "histograms",
  },
  Label: { [Field.Label.name]: "name", [Field.Label.value]: "value" },
  Sample: { [Field.Sample.value]: "value", [Field.Sample.timestamp]: "timestamp" },
  Exemplar: { 1: "labels", 2: "value", 3: "timestamp" },
  MetricMetadata: { 1: "type", 2: "metric_family_name", 4: "help", 5: "unit" },
  BucketSpan: { 1: "offset", 2: "length" },
  Histogram: {
    1: "count_int",
    2: "count_float",
    3: "sum",
    4: "schema",
    5: "zero_threshold",
    6: "zero_count_int",
    7: "zero_count_float",
    8: "negative_spans",
    9: "negative_deltas",
    10: "negative_counts",
    11: "positive_spans",
    12: "positive_deltas",
    13: "positive_counts",
    14: "reset_hint",
    15: "timestamp",
    16: "custom_values",
  },
};

/** Wire types of prompb.Histogram's fields (types.proto); packed repeated fields also come unpacked. */
const HISTOGRAM_WIRE_TYPES: Readonly<Record<number, readonly number[]>> = {
  1: [WireType.Varint],
  2: [WireType.I64],
  3: [WireType.I64],
  4: [WireType.Varint],
  5: [WireType.I64],
  6: [WireType.Varint],
  7: [WireType.I64],
  8: [WireType.Len],
  9: [WireType.Len, WireType.Varint],
  10: [WireType.Len, WireType.I64],
  11: [WireType.Len],
  12: [WireType.Len, WireType.Varint],
  13: [WireType.Len, WireType.I64],
  14: [WireType.Varint],
  15: [WireType.Varint],
  16: [WireType.Len, WireType.I64],
};
const HISTOGRAM_SPANS = new Set([8, 11]);
const HISTOGRAM_PACKED_DOUBLES = new Set([10, 13, 16]);
const HISTOGRAM_PACKED_VARINTS = new Set([9, 12]);
const HISTOGRAM_TIMESTAMP = 15;

/**
 * Decodes a WriteRequest, calling the visitor for every series and sample.
 * Throws WriteRequestDecodeError for malformed input; errors the visitor
 * throws propagate unchanged.
 */
export function decodeWriteRequest(bytes: Uint8Array, visitor: WriteRequestVisitor): DecodeSummary {
  return new Reader(bytes).writeRequest(visitor, true);
}

/** Decodes a WriteRequest without decoding label strings; see RawWriteRequestVisitor. */
export function decodeWriteRequestRaw(bytes: Uint8Array, visitor: RawWriteRequestVisitor): DecodeSummary {
  return new Reader(bytes).writeRequest(
    {
      onSeries: (_labels, labelBytes) => {
        visitor.onSeries(labelBytes);
      },
      onSample: visitor.onSample.bind(visitor),
      onItem: (kind, field, timestampMs) => visitor.onItem?.(kind, field, timestampMs),
      onMetadata: (family, field) => visitor.onMetadata?.(family, field),
    },
    false,
  );
}

/** Decodes label bytes (a sequence of TimeSeries `labels` fields, as encodeLabels returns). */
export function decodeLabelBytes(labelBytes: Uint8Array): Label[] {
  return new Reader(labelBytes).labelFields();
}

export interface DecodedSample {
  readonly value: number;
  readonly timestampMs: number;
}

export interface DecodedTimeSeries {
  readonly labels: Label[];
  readonly samples: DecodedSample[];
}

/** The whole request as objects, for tests and tools (metadata is skipped). */
export function decodeToObjects(bytes: Uint8Array): { timeseries: DecodedTimeSeries[] } {
  const timeseries: DecodedTimeSeries[] = [];
  let current: DecodedSample[] = [];
  decodeWriteRequest(bytes, {
    onSeries(labels) {
      current = [];
      timeseries.push({ labels, samples: current });
    },
    onSample(value, timestampMs) {
      current.push({ value, timestampMs });
    },
  });
  return { timeseries };
}

class Reader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  /** buf as a Buffer, for its string decoding. */
  private readonly buffer: Buffer;
  private pos = 0;
  /** Field number and wire type of the tag read last. */
  private field = 0;
  private wireType = 0;
  /** Where the tag read last starts. */
  private lastTagAt = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.buffer = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  writeRequest(visitor: WriteRequestVisitor, decodeLabels: boolean): DecodeSummary {
    const end = this.buf.length;
    let series = 0;
    let samples = 0;
    while (this.pos < end) {
      this.tag(end);
      if (this.field === Field.WriteRequest.timeseries) {
        const seriesEnd = this.lengthDelimited("WriteRequest", end);
        samples += this.timeSeries(seriesEnd, visitor, decodeLabels);
        series++;
      } else {
        if (this.field === Field.WriteRequest.metadata) {
          const fieldStart = this.lastTagAt;
          const entryEnd = this.lengthDelimited("WriteRequest", end);
          const family = this.metadata(entryEnd);
          visitor.onMetadata?.(family, this.buf.subarray(fieldStart, entryEnd));
        } else {
          this.skipField(end);
        }
      }
    }
    return { series, samples };
  }

  labelFields(): Label[] {
    const end = this.buf.length;
    const labels: Label[] = [];
    while (this.pos < end) {
      const at = this.pos;
      this.tag(end);
      if (this.field !== Field.TimeSeries.labels) {
        throw new WriteRequestDecodeError(`field ${this.field} in label bytes, want only labels (1)`, at);
      }
      const labelEnd = this.lengthDelimited("TimeSeries", end);
      labels.push(this.label(labelEnd));
    }
    return labels;
  }

  /** Decodes the TimeSeries in [pos, end); returns its sample count. */
  private timeSeries(end: number, visitor: WriteRequestVisitor, decodeLabels: boolean): number {
    const start = this.pos;
    const labels: Label[] = [];
    let labelCount = 0;
    let labelsStart = start;
    let labelsEnd = start;
    let labelsContiguous = true;
    let firstItemAt = -1;

    // First pass: labels, so that onSeries comes first even if samples precede them on the wire.
    while (this.pos < end) {
      const fieldStart = this.pos;
      this.tag(end);
      const field = this.field;
      if (field === Field.TimeSeries.labels) {
        const labelEnd = this.lengthDelimited("TimeSeries", end);
        if (decodeLabels) labels.push(this.label(labelEnd));
        else this.pos = labelEnd;
        if (labelCount === 0) labelsStart = fieldStart;
        else if (fieldStart !== labelsEnd) labelsContiguous = false;
        labelCount++;
        labelsEnd = labelEnd;
      } else if (
        field === Field.TimeSeries.samples ||
        field === Field.TimeSeries.exemplars ||
        field === Field.TimeSeries.histograms
      ) {
        if (firstItemAt < 0) firstItemAt = fieldStart;
        this.pos = this.lengthDelimited("TimeSeries", end);
      } else {
        this.skipField(end);
      }
    }
    const labelBytes = labelsContiguous
      ? this.buf.subarray(labelsStart, labelsEnd)
      : this.gatherLabelFields(start, end);
    visitor.onSeries(labels, labelBytes);
    if (firstItemAt < 0) return 0;

    // Second pass: samples, exemplars and histograms in wire order. The first pass checked the
    // framing, so other fields are skipped quickly.
    let samples = 0;
    this.pos = firstItemAt;
    while (this.pos < end) {
      const fieldStart = this.pos;
      this.tag(end);
      const field = this.field;
      if (field === Field.TimeSeries.samples) {
        const sampleEnd = this.lengthDelimited("TimeSeries", end);
        this.sample(sampleEnd, visitor);
        samples++;
      } else if (field === Field.TimeSeries.exemplars || field === Field.TimeSeries.histograms) {
        const itemEnd = this.lengthDelimited("TimeSeries", end);
        const timestampMs =
          field === Field.TimeSeries.exemplars ? this.exemplar(itemEnd) : this.histogram(itemEnd);
        visitor.onItem?.(
          field === Field.TimeSeries.exemplars ? "exemplar" : "histogram",
          this.buf.subarray(fieldStart, itemEnd),
          timestampMs,
        );
      } else {
        this.skipField(end);
      }
    }
    return samples;
  }

  /** Copies the label fields of the TimeSeries in [start, end) together (when other fields sit between them). */
  private gatherLabelFields(start: number, end: number): Uint8Array {
    const ranges: number[] = [];
    let size = 0;
    this.pos = start;
    while (this.pos < end) {
      const fieldStart = this.pos;
      this.tag(end);
      this.skipField(end);
      if (this.field === Field.TimeSeries.labels) {
        ranges.push(fieldStart, this.pos);
        size += this.pos - fieldStart;
      }
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      const range = this.buf.subarray(ranges[i], ranges[i + 1]);
      out.set(range, at);
      at += range.length;
    }
    return out;
  }

  private label(end: number): Label {
    let name = "";
    let value = "";
    while (this.pos < end) {
      this.tag(end);
      if (this.field === Field.Label.name) {
        name = this.string("Label", end);
      } else if (this.field === Field.Label.value) {
        value = this.string("Label", end);
      } else {
        this.skipField(end);
      }
    }
    return { name, value };
  }

  /** Checks an Exemplar in [pos, end); returns its timestamp. */
  private exemplar(end: number): number {
    let timestampMs = 0;
    while (this.pos < end) {
      this.tag(end);
      if (this.field === 1) {
        this.label(this.lengthDelimited("Exemplar", end));
      } else if (this.field === 2) {
        this.expectWireType("Exemplar", WireType.I64);
        this.skipBytes(8, end);
      } else if (this.field === 3) {
        this.expectWireType("Exemplar", WireType.Varint);
        timestampMs = this.int64(end);
      } else {
        this.skipField(end);
      }
    }
    return timestampMs;
  }

  /** Checks the structure of a native Histogram in [pos, end); returns its timestamp. */
  private histogram(end: number): number {
    let timestampMs = 0;
    while (this.pos < end) {
      this.tag(end);
      const field = this.field;
      const wireTypes = HISTOGRAM_WIRE_TYPES[field];
      if (wireTypes === undefined) {
        this.skipField(end);
        continue;
      }
      if (!wireTypes.includes(this.wireType)) this.expectWireType("Histogram", wireTypes[0] ?? WireType.Len);
      if (field === HISTOGRAM_TIMESTAMP) {
        timestampMs = this.int64(end);
      } else if (HISTOGRAM_SPANS.has(field)) {
        this.bucketSpan(this.lengthDelimited("Histogram", end));
      } else if (this.wireType === WireType.Len && HISTOGRAM_PACKED_DOUBLES.has(field)) {
        const packedEnd = this.lengthDelimited("Histogram", end);
        if ((packedEnd - this.pos) % 8 !== 0)
          throw this.error("packed doubles of a histogram are not a multiple of 8 bytes", this.pos);
        this.pos = packedEnd;
      } else if (this.wireType === WireType.Len && HISTOGRAM_PACKED_VARINTS.has(field)) {
        const packedEnd = this.lengthDelimited("Histogram", end);
        while (this.pos < packedEnd) this.varint(packedEnd);
      } else {
        this.skipField(end);
      }
    }
    return timestampMs;
  }

  private bucketSpan(end: number): void {
    while (this.pos < end) {
      this.tag(end);
      if (this.field === 1 || this.field === 2) this.expectWireType("BucketSpan", WireType.Varint);
      this.skipField(end);
    }
  }

  /** Checks a MetricMetadata in [pos, end); returns its family name. */
  private metadata(end: number): string {
    let family = "";
    while (this.pos < end) {
      this.tag(end);
      if (this.field === Field.MetricMetadata.type) {
        this.expectWireType("MetricMetadata", WireType.Varint);
        this.varint(end);
      } else if (this.field === Field.MetricMetadata.metricFamilyName) {
        family = this.string("MetricMetadata", end);
      } else if (this.field === Field.MetricMetadata.help || this.field === Field.MetricMetadata.unit) {
        this.string("MetricMetadata", end);
      } else {
        this.skipField(end);
      }
    }
    return family;
  }

  private sample(end: number, visitor: WriteRequestVisitor): void {
    let value = 0;
    let timestampMs = 0;
    while (this.pos < end) {
      this.tag(end);
      if (this.field === Field.Sample.value) {
        this.expectWireType("Sample", WireType.I64);
        if (end - this.pos < 8) throw this.error("truncated double", this.pos);
        value = this.view.getFloat64(this.pos, true);
        this.pos += 8;
      } else if (this.field === Field.Sample.timestamp) {
        this.expectWireType("Sample", WireType.Varint);
        timestampMs = this.int64(end);
      } else {
        this.skipField(end);
      }
    }
    visitor.onSample(value, timestampMs);
  }

  /** Reads a tag into field and wireType. */
  private tag(end: number): void {
    const at = this.pos;
    this.lastTagAt = at;
    const tag = this.varint(end);
    if (tag > 0xffffffff) throw this.error("field number out of range", at);
    const wireType = tag & 7;
    const field = tag >>> 3;
    if (field === 0) throw this.error("field number 0", at);
    if (wireType > WireType.I32) throw this.error(`invalid wire type ${wireType}`, at);
    this.field = field;
    this.wireType = wireType;
  }

  private expectWireType(message: string, want: number): void {
    if (this.wireType !== want) {
      const name = MESSAGE_FIELDS[message]?.[this.field] ?? "?";
      throw this.error(
        `${message}.${name} (field ${this.field}) has wire type ${this.wireType}, want ${want}`,
        this.pos,
      );
    }
  }

  /** Reads the length of a length-delimited known field; returns where its contents end. */
  private lengthDelimited(message: string, end: number): number {
    this.expectWireType(message, WireType.Len);
    const at = this.pos;
    const length = this.varint(end);
    if (length > end - this.pos) {
      throw this.error(
        `length ${length} runs past the end of its message (${end - this.pos} bytes left)`,
        at,
      );
    }
    return this.pos + length;
  }

  private string(message: string, end: number): string {
    const stringEnd = this.lengthDelimited(message, end);
    const start = this.pos;
    this.pos = stringEnd;
    const text = decodeUtf8(this.buf, this.buffer, start, stringEnd);
    if (text === undefined) throw this.error("string is not valid UTF-8", start);
    return text;
  }

  /** Skips the value of the field whose tag was read last. */
  private skipField(end: number): void {
    switch (this.wireType) {
      case WireType.Varint:
        this.varint(end);
        return;
      case WireType.I64:
        this.skipBytes(8, end);
        return;
      case WireType.Len: {
        const at = this.pos;
        const length = this.varint(end);
        if (length > end - this.pos)
          throw this.error(`length ${length} runs past the end of its message`, at);
        this.pos += length;
        return;
      }
      case WireType.I32:
        this.skipBytes(4, end);
        return;
      case WireType.StartGroup:
        this.skipGroup(end);
        return;
      default:
        throw this.error(`unexpected end-group tag for field ${this.field}`, this.pos);
    }
  }

  private skipBytes(count: number, end: number): void {
    if (end - this.pos < count) throw this.error(`truncated ${count}-byte field`, this.pos);
    this.pos += count;
  }

  /** Skips a group (deprecated proto2 encoding) up to its matching end-group tag. */
  private skipGroup(end: number): void {
    const open = [this.field];
    while (open.length > 0) {
      if (this.pos >= end) throw this.error("unterminated group", this.pos);
      const at = this.pos;
      this.tag(end);
      if (this.wireType === WireType.EndGroup) {
        if (open.pop() !== this.field)
          throw this.error(`end-group tag for field ${this.field} does not match`, at);
      } else if (this.wireType === WireType.StartGroup) {
        if (open.length >= MAX_GROUP_DEPTH) throw this.error("groups nested too deeply", at);
        open.push(this.field);
      } else {
        this.skipField(end);
      }
    }
  }

  /** An unsigned varint of up to 64 bits, as a number (exact up to 2^53). */
  private varint(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw this.error("truncated varint", pos);
    let byte = buf[pos++] ?? 0;
    if (byte < 0x80) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw this.error("truncated varint", this.pos);
      byte = buf[pos++] ?? 0;
      if (i === 9 && byte > 1) throw this.error("varint overflows 64 bits", this.pos);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 0x80;
    }
    throw this.error("varint longer than 10 bytes", this.pos);
  }

  /** A two's complement int64 varint, as a number (exact within ±2^53). */
  private int64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let low = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw this.error("truncated varint", this.pos);
      const byte = buf[pos++] ?? 0;
      low |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return low;
      }
    }
    if (pos >= end) throw this.error("truncated varint", this.pos);
    let byte = buf[pos++] ?? 0;
    low |= (byte & 0x0f) << 28;
    let high = (byte & 0x7f) >>> 4;
    if (byte >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw this.error("varint longer than 10 bytes", this.pos);
        if (pos >= end) throw this.error("truncated varint", this.pos);
        byte = buf[pos++] ?? 0;
        if (shift === 31 && byte > 1) throw this.error("varint overflows 64 bits", this.pos);
        high |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
    }
    this.pos = pos;
    return (high | 0) * 4294967296 + (low >>> 0);
  }

  private error(reason: string, offset: number): WriteRequestDecodeError {
    return new WriteRequestDecodeError(reason, offset);
  }
}
