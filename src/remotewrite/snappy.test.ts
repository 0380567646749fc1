import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeWriteRequest } from "./encoder.js";
import { SnappyError } from "./errors.js";
import { maxCompressedLength, snappyCompress, snappyUncompress, snappyUncompressedLength } from "./snappy.js";
import { assertSameBytes } from "../../test-support/remotewrite/bytes.js";
import { generateLabelSets } from "../../test-support/remotewrite/series.js";
import { Random } from "../../test-support/random.js";

const LIMIT = 64 << 20;

function repetitive(length: number): Uint8Array {
  const text = 'envoy_vhost_vcluster_upstream_rq{gateway_name="default",code="200"} ';
  return new Uint8Array(Buffer.from(text.repeat(Math.ceil(length / text.length)).slice(0, length)));
}

function randomBytes(seed: number, length: number): Uint8Array {
  const random = new Random(seed);
  return Uint8Array.from({ length }, () => random.int(256));
}

function snappyError(run: () => unknown): SnappyError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof SnappyError) return error;
    throw error;
  }
  assert.fail("no SnappyError");
}

/** A block: the length preamble, then the elements. */
function block(declaredLength: number, ...elements: (number[] | Uint8Array)[]): Uint8Array {
  const preamble: number[] = [];
  let rest = declaredLength;
  while (rest >= 0x80) {
    preamble.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  preamble.push(rest);
  return new Uint8Array([...preamble, ...elements.flatMap((e) => [...e])]);
}

const ascii = (text: string): number[] => [...Buffer.from(text)];

describe("snappy round trip", () => {
  const sizes = [0, 1, 4, 15, 16, 17, 18, 100, 65_535, 65_536, 65_537, 200_000, 1 << 20];
  for (const size of sizes) {
    it(`round-trips ${size} bytes, repetitive and random`, () => {
      for (const input of [repetitive(size), randomBytes(size, size)]) {
        const compressed = snappyCompress(input);
        assert.ok(compressed.length <= maxCompressedLength(size));
        assert.equal(snappyUncompressedLength(compressed), size);
        assertSameBytes(snappyUncompress(compressed, size), input);
      }
    });
  }

  it("compresses a WriteRequest well", () => {
    const sets = generateLabelSets(9, 500);
    const payload = encodeWriteRequest(
      sets.map((labels, i) => ({ labels, samples: [{ value: i, timestampMs: 1e12 + i }] })),
    );
    const compressed = snappyCompress(payload);
    assert.ok(compressed.length < payload.length * 0.3, `ratio ${compressed.length / payload.length}`);
    assertSameBytes(snappyUncompress(compressed, payload.length), payload);
  });

  it("compresses a view into a larger buffer", () => {
    const backing = repetitive(10_000);
    const view = backing.subarray(1234, 7777);
    assertSameBytes(snappyUncompress(snappyCompress(view), LIMIT), view);
  });

  it("returns buffers that later calls do not overwrite", () => {
    const first = snappyCompress(repetitive(5000));
    const copy = Buffer.from(first);
    snappyCompress(randomBytes(1, 5000));
    assertSameBytes(first, copy);
  });
});

describe("snappy decodes every element kind", () => {
  const cases: [string, Uint8Array, string][] = [
    ["short literal", block(5, [4 << 2], ascii("hello")), "hello"],
    ["literal with a 1-byte length", block(61, [60 << 2, 60], ascii("x".repeat(61))), "x".repeat(61)],
    ["literal with a 2-byte length", block(300, [61 << 2, 43, 1], ascii("y".repeat(300))), "y".repeat(300)],
    ["literal with a 3-byte length", block(5, [62 << 2, 4, 0, 0], ascii("three")), "three"],
    ["literal with a 4-byte length", block(4, [63 << 2, 3, 0, 0, 0], ascii("four")), "four"],
    ["copy, 1-byte offset", block(12, [3 << 2], ascii("abcd"), [((8 - 4) << 2) | 1, 4]), "abcdabcdabcd"],
    ["copy, 2-byte offset", block(10, [4 << 2], ascii("hello"), [(4 << 2) | 2, 5, 0]), "hellohello"],
    ["copy, 4-byte offset", block(10, [4 << 2], ascii("hello"), [(4 << 2) | 3, 5, 0, 0, 0]), "hellohello"],
    ["overlapping copy (a run)", block(11, [0], ascii("a"), [((10 - 1) << 2) | 2, 1, 0]), "a".repeat(11)],
    [
      "long non-overlapping copy",
      block(80, [39 << 2], ascii("0123456789".repeat(4)), [(39 << 2) | 2, 40, 0]),
      "0123456789".repeat(8),
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      assert.equal(snappyUncompress(input, LIMIT).toString("latin1"), expected);
    });
  }

  it("copy with a 1-byte offset whose high bits sit in the tag", () => {
    const literal = Array.from({ length: 300 }, (_, i) => i % 251);
    const input = block(304, [61 << 2, 299 & 0xff, 299 >> 8], literal, [
      ((260 >> 8) << 5) | ((4 - 4) << 2) | 1,
      260 & 0xff,
    ]);
    assert.deepEqual([...snappyUncompress(input, LIMIT)], [...literal, ...literal.slice(40, 44)]);
  });
});

describe("snappy rejects bad input with SnappyError", () => {
  it("refuses a declared length above the limit before allocating", () => {
    const error = snappyError(() => snappyUncompress(block(0xffffffff, [0], ascii("a")), 1 << 20));
    assert.equal(error.code, "TooLarge");
    assert.match(error.message, /4294967295 exceeds the limit of 1048576/);
    assert.equal(
      snappyError(() => snappyUncompress(snappyCompress(repetitive(1001)), 1000)).code,
      "TooLarge",
    );
    assert.equal(snappyUncompress(snappyCompress(repetitive(1000)), 1000).length, 1000);
  });

  const corrupt: [string, Uint8Array, RegExp][] = [
    ["empty input", new Uint8Array(0), /truncated length preamble/],
    ["truncated preamble", new Uint8Array([0x80, 0x80]), /truncated length preamble/],
    ["preamble beyond 32 bits", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x1f]), /exceeds 32 bits/],
    ["preamble of six bytes", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), /exceeds 32 bits/],
    ["copy offset 0", block(5, [0], ascii("a"), [(0 << 2) | 1, 0]), /copy offset 0/],
    ["copy before any output", block(4, [(0 << 2) | 1, 1]), /copy offset 1 outside the 0 bytes/],
    [
      "copy offset beyond the output",
      block(10, [0], ascii("a"), [(3 << 2) | 2, 2, 0]),
      /copy offset 2 outside/,
    ],
    ["literal past the input", block(10, [9 << 2], ascii("abc")), /literal runs past the input/],
    ["literal past the declared length", block(2, [4 << 2], ascii("hello")), /past the declared length/],
    [
      "copy past the declared length",
      block(6, [0], ascii("a"), [(9 << 2) | 2, 1, 0]),
      /copy runs past the declared length/,
    ],
    ["fewer bytes than declared", block(6, [4 << 2], ascii("hello")), /5 bytes decoded but 6 declared/],
    ["truncated literal length", block(100, [60 << 2]), /truncated literal length/],
    ["truncated 1-byte-offset copy", block(5, [0], ascii("a"), [1]), /truncated copy/],
    ["truncated 2-byte-offset copy", block(5, [0], ascii("a"), [2, 1]), /truncated copy/],
    ["truncated 4-byte-offset copy", block(5, [0], ascii("a"), [3, 1, 0, 0]), /truncated copy/],
  ];
  for (const [name, input, reason] of corrupt) {
    it(name, () => {
      const error = snappyError(() => snappyUncompress(input, LIMIT));
      assert.equal(error.code, "Corrupt");
      assert.match(error.message, reason);
    });
  }

  it("reports a malformed preamble from snappyUncompressedLength too", () => {
    assert.equal(snappyError(() => snappyUncompressedLength(new Uint8Array([0x80]))).code, "Corrupt");
  });

  it("needs a non-negative limit", () => {
    assert.throws(() => snappyUncompress(block(0), -1), RangeError);
    assert.throws(() => snappyUncompress(block(0), Number.NaN), RangeError);
    assert.equal(snappyUncompress(block(0), 0).length, 0);
  });
});
