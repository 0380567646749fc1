import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeLabelBytes } from "./decoder.js";
import { InvalidLabelsError } from "./errors.js";
import { encodeLabels, validateLabelBytes } from "./labels.js";
import type { Label } from "./labels.js";
import { hex } from "../../test-support/remotewrite/bytes.js";

const labels = (...pairs: [string, string][]): Label[] => pairs.map(([name, value]) => ({ name, value }));

describe("encodeLabels", () => {
  it("writes the labels fields of a TimeSeries", () => {
    // field 1 (LEN) { field 1 "a", field 2 "bc" }
    assert.equal(hex(encodeLabels(labels(["a", "bc"]))), "0a070a0161120262" + "63");
  });

  it("sorts by name in UTF-8 byte order and drops empty values", () => {
    const encoded = encodeLabels(labels(["😀", "1"], ["\uFF5E", "2"], ["b", ""], ["a", "3"], ["B", "4"]));
    assert.deepEqual(decodeLabelBytes(encoded), labels(["B", "4"], ["a", "3"], ["\uFF5E", "2"], ["😀", "1"]));
  });

  it("returns no bytes for no labels", () => {
    assert.equal(encodeLabels([]).length, 0);
  });

  it("rejects empty and repeated names and unpaired surrogates", () => {
    assert.throws(() => encodeLabels(labels(["", "x"])), InvalidLabelsError);
    assert.throws(() => encodeLabels(labels(["a", "1"], ["a", "2"])), /repeated/);
    assert.throws(() => encodeLabels(labels(["a", "\uD800"])), /unpaired surrogate/);
    assert.throws(() => encodeLabels(labels(["\uDC00x", "1"])), /unpaired surrogate/);
    assert.doesNotThrow(() => encodeLabels(labels(["a", "\uD83D\uDE00"])));
  });

  it("handles long names and values (multi-byte length varints)", () => {
    const long = "x".repeat(20_000);
    assert.deepEqual(decodeLabelBytes(encodeLabels(labels([long, long]))), labels([long, long]));
  });
});

describe("validateLabelBytes", () => {
  it("accepts what encodeLabels writes", () => {
    validateLabelBytes(encodeLabels(labels(["job", "x"], ["__name__", "up"])));
    validateLabelBytes(new Uint8Array(0));
  });

  it("rejects unsorted, repeated, empty and non-canonical label bytes", () => {
    const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
    const one = (name: string, value: string): Uint8Array => encodeLabels(labels([name, value]));
    assert.throws(() => {
      validateLabelBytes(concat(one("b", "1"), one("a", "1")));
    }, /out of order/);
    assert.throws(() => {
      validateLabelBytes(concat(one("a", "1"), one("a", "2")));
    }, /repeated/);
    // {name: "a"} without a value, and a label without a name.
    assert.throws(() => {
      validateLabelBytes(Buffer.from("0a030a0161", "hex"));
    }, /empty value/);
    assert.throws(() => {
      validateLabelBytes(Buffer.from("0a03120161", "hex"));
    }, /empty name/);
    // Value before name: the same label, not canonical.
    assert.throws(() => {
      validateLabelBytes(Buffer.from("0a06120162" + "0a0161", "hex"));
    }, /canonical/);
    // Not label fields at all.
    assert.throws(() => {
      validateLabelBytes(Buffer.from("1200", "hex"));
    }, InvalidLabelsError);
    assert.throws(() => {
      validateLabelBytes(Buffer.from("0a05", "hex"));
    }, InvalidLabelsError);
  });
});
