// The ingest body decoder: the native one where it loads (and always in CI,
// so the tests above exercise it), with the JavaScript decoder's contract.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SnappyError } from "./errors.js";
import { snappyCompress } from "./snappy.js";
import { snappyDecoder, uncompressBody } from "./snappy-native.js";

describe("uncompressBody", () => {
  it("uses the native decoder on this platform (required under CI=true)", (t) => {
    t.diagnostic(`decoder: ${snappyDecoder}`);
    if (process.env["CI"] === "true") assert.equal(snappyDecoder, "native");
  });

  it("checks the declared length against the limit before decoding", () => {
    const body = snappyCompress(Buffer.alloc(10_000, 7));
    assert.equal(uncompressBody(body, 10_000).length, 10_000);
    assert.throws(
      () => uncompressBody(body, 9_999),
      (error: unknown) => error instanceof SnappyError && error.code === "TooLarge",
    );
    // A preamble claiming 4 GiB fails on the limit, not on an allocation.
    assert.throws(
      () => uncompressBody(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00), 1 << 20),
      (error: unknown) => error instanceof SnappyError && error.code === "TooLarge",
    );
  });

  it("reports a body shorter than it declares as corrupt", () => {
    const body = snappyCompress(Buffer.from("platform metrics ".repeat(20)));
    assert.throws(
      () => uncompressBody(body.subarray(0, body.length - 3), 1 << 20),
      (error: unknown) => error instanceof SnappyError && error.code === "Corrupt",
    );
  });

  it("says 'snappy: corrupt input' once, with the decoder's reason", () => {
    // A copy whose offset points before the start of the output: both decoders refuse it.
    const bodies = [Uint8Array.of(0x0a, 0x0a, 0x01, 0x00), Buffer.from("definitely not snappy")];
    for (const body of bodies) {
      assert.throws(
        () => uncompressBody(body, 1 << 20),
        (error: unknown) =>
          error instanceof SnappyError &&
          error.code === "Corrupt" &&
          /^snappy: corrupt input: \S/.test(error.message) &&
          error.message.split("snappy").length === 2 &&
          error.message.split("corrupt input").length === 2,
      );
    }
  });
});
