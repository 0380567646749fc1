// A series' labels as the bytes of its TimeSeries `labels` fields, encoded
// once per series and then copied into every request that carries it.
//
// encodeLabels sorts: callers may pass labels in any order. Remote Write wants
// them sorted by name, and Prometheus compares names as bytes, so the order is
// that of the names' UTF-8 bytes (code point order), not JavaScript's UTF-16
// string order. A label with an empty value is dropped: in Prometheus an empty
// value means the label is absent.
import { decodeLabelBytes } from "./decoder.js";
import { InvalidLabelsError, WriteRequestDecodeError } from "./errors.js";
import { Field, WireType, fieldTag, varint32Size, writeVarint32 } from "./wire.js";

export interface Label {
  readonly name: string;
  readonly value: string;
}

const LABEL_TAG = fieldTag(Field.TimeSeries.labels, WireType.Len);
const NAME_TAG = fieldTag(Field.Label.name, WireType.Len);
const VALUE_TAG = fieldTag(Field.Label.value, WireType.Len);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const utf8 = new TextEncoder();

interface EncodedLabel {
  readonly name: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * The encoded `labels` fields of a TimeSeries for this label set: sorted by
 * name, empty values dropped. Throws InvalidLabelsError for an empty or
 * repeated name, or a string with an unpaired surrogate (not valid UTF-8).
 */
export function encodeLabels(labels: Iterable<Label>): Uint8Array {
  const encoded: EncodedLabel[] = [];
  let size = 0;
  for (const { name, value } of labels) {
    if (name === "") throw new InvalidLabelsError("label with an empty name");
    if (value === "") continue;
    checkWellFormed(name);
    checkWellFormed(value);
    const label = { name: utf8.encode(name), value: utf8.encode(value) };
    encoded.push(label);
    size += labelFieldSize(label);
  }
  encoded.sort((a, b) => compareBytes(a.name, b.name));

  const out = new Uint8Array(size);
  let pos = 0;
  let previous: Uint8Array | undefined;
  for (const label of encoded) {
    if (previous !== undefined && compareBytes(previous, label.name) === 0) {
      throw new InvalidLabelsError(
        `label name ${JSON.stringify(new TextDecoder().decode(label.name))} repeated`,
      );
    }
    previous = label.name;
    pos = writeLabelField(out, pos, label);
  }
  return out;
}

function checkWellFormed(text: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw new InvalidLabelsError(`label string ${JSON.stringify(text)} has an unpaired surrogate`);
  }
}

function labelMessageSize({ name, value }: EncodedLabel): number {
  return 1 + varint32Size(name.length) + name.length + 1 + varint32Size(value.length) + value.length;
}

function labelFieldSize(label: EncodedLabel): number {
  const size = labelMessageSize(label);
  return 1 + varint32Size(size) + size;
}

function writeLabelField(out: Uint8Array, pos: number, label: EncodedLabel): number {
  out[pos++] = LABEL_TAG;
  pos = writeVarint32(out, pos, labelMessageSize(label));
  out[pos++] = NAME_TAG;
  pos = writeVarint32(out, pos, label.name.length);
  out.set(label.name, pos);
  pos += label.name.length;
  out[pos++] = VALUE_TAG;
  pos = writeVarint32(out, pos, label.value.length);
  out.set(label.value, pos);
  return pos + label.value.length;
}

/**
 * Checks that labelBytes are exactly what encodeLabels writes for some label
 * set: well-formed, names non-empty, unique and sorted, values non-empty,
 * canonical encoding. Throws InvalidLabelsError otherwise. For tests and
 * debugging (WriteRequestBuilder's validateLabels option): it decodes and
 * re-encodes.
 */
export function validateLabelBytes(labelBytes: Uint8Array): void {
  let labels: Label[];
  try {
    labels = decodeLabelBytes(labelBytes);
  } catch (error: unknown) {
    if (error instanceof WriteRequestDecodeError)
      throw new InvalidLabelsError(`label bytes: ${error.reason}`);
    throw error;
  }
  let previous: Uint8Array | undefined;
  for (const { name, value } of labels) {
    if (name === "") throw new InvalidLabelsError("label bytes: a label has an empty name");
    if (value === "")
      throw new InvalidLabelsError(`label bytes: label ${JSON.stringify(name)} has an empty value`);
    const current = utf8.encode(name);
    if (previous !== undefined && compareBytes(previous, current) >= 0) {
      throw new InvalidLabelsError(`label bytes: label ${JSON.stringify(name)} is out of order or repeated`);
    }
    previous = current;
  }
  if (compareBytes(encodeLabels(labels), labelBytes) !== 0) {
    throw new InvalidLabelsError("label bytes: not in canonical encoding");
  }
}

/** Byte-wise comparison: UTF-8 bytes compare in code point order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}
