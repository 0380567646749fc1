// Decompression of ingest bodies with the `snappy` package (napi-rs bindings
// to Rust's snap crate) when its prebuilt binary loads, else with our own
// JavaScript decoder (snappy.ts). Why a native dependency here and nowhere
// else: decompressing label-heavy Remote Write bodies was the largest cost of
// ingest — 0.5 CPU-s per million samples in JavaScript against 0.14–0.24
// natively (`npm run bench`). The binary comes from the npm registry as an
// optional dependency per platform (no compiler), and the Rust decoder is
// memory-safe on untrusted input. Compression stays in JavaScript, which
// measured faster than the binding on our batches.
//
// The declared length is checked against the limit before the native call,
// so a hostile preamble cannot make it allocate; its errors become the same
// SnappyError("Corrupt") the JavaScript decoder throws.
import { createRequire } from "node:module";
import { SnappyError } from "./errors.js";
import { snappyUncompress, snappyUncompressedLength } from "./snappy.js";

interface NativeSnappy {
  uncompressSync(input: Uint8Array, options: { asBuffer: true; copyOutputData: true }): Buffer | string;
}

function loadNative(): NativeSnappy | undefined {
  try {
    return createRequire(import.meta.url)("snappy") as NativeSnappy;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Which decoder uncompressBody uses on this machine. */
export const snappyDecoder: "native" | "javascript" = native === undefined ? "javascript" : "native";

/**
 * The native decoder's reason without its own "snappy: corrupt input"
 * prefix and parentheses ("snappy: corrupt input (expected valid offset but
 * got offset 1; dst position: 0)"), so that ours is not said twice.
 */
function nativeReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message
    .replace(/^snappy:\s*/i, "")
    .replace(/^corrupt input\s*:?\s*/i, "")
    .replace(/^\((.*)\)$/s, "$1")
    .trim();
  return reason === "" ? "not a valid snappy block" : reason;
}

/**
 * snappyUncompress's contract (limit checked before allocating, SnappyError
 * for anything else wrong) with the native decoder when it is available;
 * `into` is used only by the JavaScript decoder.
 */
export function uncompressBody(buf: Uint8Array, maxLength: number, into?: Buffer): Buffer {
  if (native === undefined) return snappyUncompress(buf, maxLength, into);
  const length = snappyUncompressedLength(buf, maxLength);
  let out: Buffer | string;
  try {
    out = native.uncompressSync(buf, { asBuffer: true, copyOutputData: true });
  } catch (error: unknown) {
    throw new SnappyError("Corrupt", `snappy: corrupt input: ${nativeReason(error)}`);
  }
  if (typeof out === "string" || out.length !== length) {
    throw new SnappyError(
      "Corrupt",
      `snappy: corrupt input: ${out.length} bytes decoded but ${length} declared`,
    );
  }
  return out;
}
