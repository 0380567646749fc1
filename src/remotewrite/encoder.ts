// prometheus.WriteRequest encoder for the send path. A series' labels are
// encoded once (encodeLabels) and the bytes kept with the series; a batch is
// built by appending samples, each copying those bytes into one reusable
// buffer. No object is allocated per sample.
//
// Output is canonical proto3, byte for byte what protobufjs and the Go
// protobuf libraries write: fields in number order, default values (+0,
// timestamp 0, empty strings) omitted. -0 is written, so it survives.
import type { Label } from "./labels.js";
import { encodeLabels, validateLabelBytes } from "./labels.js";
import { isStaleMarker, writeStaleMarker } from "./stale-marker.js";
import {
  Field,
  WireType,
  fieldTag,
  int64High,
  int64Low,
  varint32Size,
  varint64Size,
  writeVarint32,
  writeVarint64,
} from "./wire.js";

const TIMESERIES_TAG = fieldTag(Field.WriteRequest.timeseries, WireType.Len);
const METADATA_TAG = fieldTag(Field.WriteRequest.metadata, WireType.Len);
const SAMPLE_TAG = fieldTag(Field.TimeSeries.samples, WireType.Len);
const VALUE_TAG = fieldTag(Field.Sample.value, WireType.I64);
const TIMESTAMP_TAG = fieldTag(Field.Sample.timestamp, WireType.Varint);
const METADATA_TYPE_TAG = fieldTag(Field.MetricMetadata.type, WireType.Varint);
const METADATA_FAMILY_TAG = fieldTag(Field.MetricMetadata.metricFamilyName, WireType.Len);
const METADATA_HELP_TAG = fieldTag(Field.MetricMetadata.help, WireType.Len);
const METADATA_UNIT_TAG = fieldTag(Field.MetricMetadata.unit, WireType.Len);

/** Tag, length and body of the largest Sample field: 9 bytes of value, 11 of timestamp. */
const MAX_SAMPLE_FIELD_SIZE = 2 + 9 + 11;
/** Tag and the largest length varint of a TimeSeries field. */
const MAX_SERIES_HEADER_SIZE = 1 + 5;
const DEFAULT_INITIAL_CAPACITY = 256 * 1024;

/** MetricMetadata.MetricType, by the names Prometheus uses in its metadata API. */
export const METRIC_TYPES = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  gaugehistogram: 4,
  summary: 5,
  info: 6,
  stateset: 7,
} as const;
export type MetricType = keyof typeof METRIC_TYPES;

export interface MetricMetadata {
  readonly type: MetricType;
  readonly metricFamilyName: string;
  readonly help: string;
  readonly unit: string;
}

export interface WriteRequestBuilderOptions {
  /** Starting buffer size in bytes; the buffer doubles whenever it is full. */
  readonly initialCapacity?: number;
  /**
   * Check the label bytes of every new series (well-formed, sorted, unique,
   * non-empty): a decode and re-encode per series, for tests and debugging.
   */
  readonly validateLabels?: boolean;
}

const utf8 = new TextEncoder();

/**
 * Builds one WriteRequest. Samples added one after another with the same
 * label bytes object (compared by identity) share one TimeSeries; any other
 * order is valid too, a series then simply appears more than once.
 *
 * finish() returns a view of the internal buffer, valid until reset(). Call
 * reset() to reuse the builder (and its buffer) for the next request.
 */
export class WriteRequestBuilder {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private readonly validateLabels: boolean;
  private readonly metadata: Uint8Array[] = [];
  private finished = false;
  private samples = 0;
  private series = 0;
  /** The label bytes of the TimeSeries being written, while more samples may join it. */
  private openLabels: Uint8Array | undefined;
  /** Where the open TimeSeries' length varint starts, its size in bytes, and the length it holds. */
  private openLengthAt = 0;
  private openLengthSize = 0;
  private openLength = 0;

  constructor(options: WriteRequestBuilderOptions = {}) {
    const capacity = Math.max(64, options.initialCapacity ?? DEFAULT_INITIAL_CAPACITY);
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.validateLabels = options.validateLabels ?? false;
  }

  /** Samples added since the last reset. */
  get sampleCount(): number {
    return this.samples;
  }

  /** TimeSeries messages written since the last reset. */
  get seriesCount(): number {
    return this.series;
  }

  /** Size of the request so far, in bytes (without metadata not yet written). */
  get byteLength(): number {
    return this.pos;
  }

  /**
   * Appends a sample of the series whose encodeLabels bytes are labelBytes.
   * timestampMs must be a safe integer (negative allowed). NaN values keep
   * the bits V8 hands over; a stale marker, even one V8 has quieted, is
   * written with its exact bits.
   */
  addSample(labelBytes: Uint8Array, value: number, timestampMs: number): void {
    this.append(labelBytes, value, timestampMs, Number.isNaN(value) && isStaleMarker(value));
  }

  /** Appends Prometheus' stale marker for the series at timestampMs. */
  addStaleMarker(labelBytes: Uint8Array, timestampMs: number): void {
    this.append(labelBytes, Number.NaN, timestampMs, true);
  }

  /**
   * Appends a TimeSeries of the series whose encodeLabels bytes are
   * labelBytes carrying `field`: one encoded TimeSeries field (an exemplar or
   * a native histogram, tag included), as the decoder hands it over. It gets
   * a TimeSeries of its own, as Prometheus sends them.
   */
  addItem(labelBytes: Uint8Array, field: Uint8Array): void {
    if (this.finished) throw new Error("WriteRequestBuilder: item added after finish(); call reset() first");
    if (this.validateLabels) validateLabelBytes(labelBytes);
    const length = labelBytes.length + field.length;
    this.ensureCapacity(MAX_SERIES_HEADER_SIZE + length);
    let pos = this.pos;
    this.buf[pos++] = TIMESERIES_TAG;
    pos = writeVarint32(this.buf, pos, length);
    this.buf.set(labelBytes, pos);
    this.buf.set(field, pos + labelBytes.length);
    this.pos = pos + length;
    this.openLabels = undefined;
    this.series++;
    this.samples++;
  }

  /** Adds an encoded MetricMetadata field (tag included), as the decoder hands it over. */
  addMetadataField(field: Uint8Array): void {
    if (this.finished) throw new Error("WriteRequestBuilder: addMetadata after finish(); call reset() first");
    this.metadata.push(field);
  }

  /** Adds a MetricMetadata entry; entries are written after all series, in the order added. */
  addMetadata(metadata: MetricMetadata): void {
    if (this.finished) throw new Error("WriteRequestBuilder: addMetadata after finish(); call reset() first");
    this.metadata.push(encodeMetadata(metadata));
  }

  /** The encoded WriteRequest: a view of the internal buffer, valid until reset(). */
  finish(): Uint8Array {
    if (!this.finished) {
      this.finished = true;
      this.openLabels = undefined;
      for (const entry of this.metadata) {
        this.ensureCapacity(entry.length);
        this.buf.set(entry, this.pos);
        this.pos += entry.length;
      }
    }
    return this.buf.subarray(0, this.pos);
  }

  /** Starts a new request, reusing the buffer. Views returned by finish() become invalid. */
  reset(): void {
    this.pos = 0;
    this.samples = 0;
    this.series = 0;
    this.finished = false;
    this.openLabels = undefined;
    this.metadata.length = 0;
  }

  private append(labelBytes: Uint8Array, value: number, timestampMs: number, stale: boolean): void {
    if (!Number.isSafeInteger(timestampMs)) {
      throw new RangeError(`timestamp must be a safe integer of milliseconds, got ${timestampMs}`);
    }
    if (this.finished) {
      throw new Error("WriteRequestBuilder: sample added after finish(); call reset() first");
    }
    const writeValue = value !== 0 || 1 / value < 0;
    const low = int64Low(timestampMs);
    const high = int64High(timestampMs);
    const bodySize = (writeValue ? 9 : 0) + (timestampMs !== 0 ? 1 + varint64Size(low, high) : 0);
    const fieldSize = 2 + bodySize;
    if (labelBytes === this.openLabels) this.growOpenSeries(fieldSize);
    else this.openSeries(labelBytes, fieldSize);

    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = SAMPLE_TAG;
    buf[pos++] = bodySize;
    if (writeValue) {
      buf[pos++] = VALUE_TAG;
      if (stale) writeStaleMarker(this.view, pos);
      else this.view.setFloat64(pos, value, true);
      pos += 8;
    }
    if (timestampMs !== 0) {
      buf[pos++] = TIMESTAMP_TAG;
      pos = writeVarint64(buf, pos, low, high);
    }
    this.pos = pos;
    this.samples++;
  }

  private openSeries(labelBytes: Uint8Array, sampleFieldSize: number): void {
    if (this.validateLabels) validateLabelBytes(labelBytes);
    this.ensureCapacity(MAX_SERIES_HEADER_SIZE + labelBytes.length + MAX_SAMPLE_FIELD_SIZE);
    const length = labelBytes.length + sampleFieldSize;
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = TIMESERIES_TAG;
    this.openLengthAt = pos;
    pos = writeVarint32(buf, pos, length);
    this.openLengthSize = pos - this.openLengthAt;
    this.openLength = length;
    buf.set(labelBytes, pos);
    this.pos = pos + labelBytes.length;
    this.openLabels = labelBytes;
    this.series++;
  }

  /** Makes room for one more sample in the open TimeSeries and updates its length. */
  private growOpenSeries(sampleFieldSize: number): void {
    this.ensureCapacity(MAX_SAMPLE_FIELD_SIZE + 1);
    const length = this.openLength + sampleFieldSize;
    const lengthSize = varint32Size(length);
    if (lengthSize !== this.openLengthSize) {
      // The length varint grew a byte: move the series body one byte on.
      const bodyStart = this.openLengthAt + this.openLengthSize;
      this.buf.copyWithin(bodyStart + 1, bodyStart, this.pos);
      this.pos += 1;
      this.openLengthSize = lengthSize;
    }
    writeVarint32(this.buf, this.openLengthAt, length);
    this.openLength = length;
  }

  private ensureCapacity(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}

function encodeMetadata(metadata: MetricMetadata): Uint8Array {
  const family = utf8.encode(metadata.metricFamilyName);
  const help = utf8.encode(metadata.help);
  const unit = utf8.encode(metadata.unit);
  const type = METRIC_TYPES[metadata.type];
  const stringFieldSize = (bytes: Uint8Array): number =>
    bytes.length === 0 ? 0 : 1 + varint32Size(bytes.length) + bytes.length;
  const bodySize =
    (type === 0 ? 0 : 2) + stringFieldSize(family) + stringFieldSize(help) + stringFieldSize(unit);
  const out = new Uint8Array(1 + varint32Size(bodySize) + bodySize);
  let pos = 0;
  out[pos++] = METADATA_TAG;
  pos = writeVarint32(out, pos, bodySize);
  if (type !== 0) {
    out[pos++] = METADATA_TYPE_TAG;
    out[pos++] = type;
  }
  const writeString = (tag: number, bytes: Uint8Array): void => {
    if (bytes.length === 0) return;
    out[pos++] = tag;
    pos = writeVarint32(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  };
  writeString(METADATA_FAMILY_TAG, family);
  writeString(METADATA_HELP_TAG, help);
  writeString(METADATA_UNIT_TAG, unit);
  return out;
}

export interface TimeSeriesInput {
  readonly labels: Iterable<Label>;
  readonly samples: readonly { readonly value: number; readonly timestampMs: number }[];
}

/**
 * Encodes a whole WriteRequest from objects: for tests and small requests.
 * Series without samples are left out (they would carry nothing).
 */
export function encodeWriteRequest(
  timeseries: Iterable<TimeSeriesInput>,
  metadata: readonly MetricMetadata[] = [],
): Uint8Array {
  const builder = new WriteRequestBuilder({ initialCapacity: 4096 });
  for (const series of timeseries) {
    const labelBytes = encodeLabels(series.labels);
    for (const sample of series.samples) builder.addSample(labelBytes, sample.value, sample.timestampMs);
  }
  for (const entry of metadata) builder.addMetadata(entry);
  return builder.finish().slice();
}
