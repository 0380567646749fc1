// Deterministic fuzzing: seeded random requests must round-trip, and seeded
// mutations of valid payloads (truncations, bit flips, inserted and deleted
// bytes) and random bytes must make the decoder and snappy either succeed or
// throw their own error types, never anything else, and never hang.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeToObjects, decodeWriteRequest, decodeWriteRequestRaw } from "./decoder.js";
import { WriteRequestBuilder } from "./encoder.js";
import { SnappyError, WriteRequestDecodeError } from "./errors.js";
import { encodeLabels } from "./labels.js";
import type { Label } from "./labels.js";
import { referenceDecode, referenceEncode } from "../../test-support/remotewrite/reference-prompb.js";
import { scanWriteRequest } from "./scan.js";
import { snappyCompress, snappyUncompress } from "./snappy.js";
import { snappyDecoder, uncompressBody } from "./snappy-native.js";
import { assertSameBytes, bitsOf, fromBits } from "../../test-support/remotewrite/bytes.js";
import { Random } from "../../test-support/random.js";

const SEED = 20_260_522;
const LIMIT = 1 << 20;
const TIME_LIMIT = { timeout: 60_000 };

const NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz_ABCXYZ0123456789";
/** Whole code points (Random.string would split the emoji's surrogate pair). */
const VALUE_CHARACTERS = [
  "a",
  "b",
  "c",
  "-",
  "_",
  ".",
  "/",
  ":",
  "0",
  "1",
  " ",
  "X",
  "é",
  "ü",
  "日",
  "本",
  "😀",
  "\u0000",
  "\n",
  '"',
  "\\",
];
const SPECIAL_BITS = [
  0n,
  0x8000000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0x7ff0000000000002n,
  0x7ff8000000000123n,
  0x0000000000000001n,
];
const SPECIAL_TIMESTAMPS = [
  0,
  -1,
  1,
  127,
  128,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 32,
  -(2 ** 32),
];

interface RandomSeries {
  readonly labels: Label[];
  /** Values as bits: JS arrays of numbers may quiet NaN payloads. */
  readonly samples: { bits: bigint; timestampMs: number }[];
}

function randomRequest(random: Random): RandomSeries[] {
  return Array.from({ length: random.int(12) }, () => {
    const names = new Set<string>();
    const labelCount = random.int(6);
    while (names.size < labelCount) names.add(random.string(NAME_ALPHABET, random.between(1, 12)));
    return {
      labels: [...names].map((name) => ({
        name,
        value: Array.from({ length: random.between(1, 20) }, () => random.pick(VALUE_CHARACTERS)).join(""),
      })),
      samples: Array.from({ length: random.between(1, 5) }, () => ({
        bits: random.chance(0.3)
          ? random.pick(SPECIAL_BITS)
          : bitsOf((random.next() - 0.5) * 10 ** random.int(20)),
        timestampMs: random.chance(0.3)
          ? random.pick(SPECIAL_TIMESTAMPS)
          : Math.floor((random.next() - 0.3) * 2 ** random.int(53)),
      })),
    };
  });
}

function encode(request: readonly RandomSeries[]): Uint8Array {
  const builder = new WriteRequestBuilder({ initialCapacity: 64, validateLabels: true });
  for (const series of request) {
    const labelBytes = encodeLabels(series.labels);
    for (const { bits, timestampMs } of series.samples)
      builder.addSample(labelBytes, fromBits(bits), timestampMs);
  }
  return builder.finish().slice();
}

function mutate(random: Random, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  switch (random.int(6)) {
    case 0:
      return new Uint8Array(bytes.slice(0, random.int(bytes.length + 1)));
    case 1:
      for (let flips = random.between(1, 4); flips > 0 && bytes.length > 0; flips--) {
        const at = random.int(bytes.length);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << random.int(8));
      }
      return new Uint8Array(bytes);
    case 2:
      if (bytes.length > 0) bytes[random.int(bytes.length)] = random.int(256);
      return new Uint8Array(bytes);
    case 3: {
      const insert = Array.from({ length: random.between(1, 8) }, () =>
        random.pick([0x00, 0x7f, 0x80, 0xff, random.int(256)]),
      );
      bytes.splice(random.int(bytes.length + 1), 0, ...insert);
      return new Uint8Array(bytes);
    }
    case 4:
      bytes.splice(random.int(bytes.length + 1), random.between(1, 16));
      return new Uint8Array(bytes);
    default:
      return Uint8Array.from({ length: random.int(200) }, () => random.int(256));
  }
}

/** Runs fn; it may succeed or throw errorType, nothing else. Returns whether it threw. */
function expectOnly(
  errorType: typeof SnappyError | typeof WriteRequestDecodeError,
  fn: () => unknown,
  input: Uint8Array,
): boolean {
  try {
    fn();
    return false;
  } catch (error: unknown) {
    if (error instanceof errorType) return true;
    assert.fail(`unexpected ${String(error)} for input ${Buffer.from(input).toString("hex").slice(0, 400)}`);
  }
}

const noopVisitor = { onSeries(): void {}, onSample(): void {} };

/** What a decoder reported, as comparable text: label bytes in hex, value bits, timestamps. */
function rawEvents(input: Uint8Array): string[] {
  const events: string[] = [];
  decodeWriteRequestRaw(input, {
    onSeries: (labelBytes) => events.push(Buffer.from(labelBytes).toString("hex")),
    onSample: (value, timestampMs) => events.push(`${bitsOf(value)}@${timestampMs}`),
  });
  return events;
}

/** The scanner's events, or undefined when it left the request to the decoder. */
function scannedEvents(input: Uint8Array): string[] | undefined {
  const events: string[] = [];
  const accepted = scanWriteRequest(input, {
    series: (bytes, start, end) => events.push(Buffer.from(bytes.subarray(start, end)).toString("hex")),
    sample: (value, timestampMs) => events.push(`${bitsOf(value)}@${timestampMs}`),
  });
  return accepted ? events : undefined;
}

describe("fuzz: random valid requests", () => {
  it("round-trip through our decoder and protobufjs", TIME_LIMIT, () => {
    const random = new Random(SEED);
    for (let round = 0; round < 400; round++) {
      const request = randomRequest(random);
      const bytes = encode(request);
      const decoded = decodeToObjects(bytes).timeseries;
      assert.equal(decoded.length, request.length);
      request.forEach((series, i) => {
        const output = decoded[i];
        const sortedNames = series.labels
          .map((l) => l.name)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual(
          output?.labels.map((l) => l.name),
          sortedNames,
          `round ${round}`,
        );
        assert.deepEqual(
          output.samples.map((s) => [
            bitsOf(s.value) === 0x7ff8000000000002n ? 0x7ff0000000000002n : bitsOf(s.value),
            s.timestampMs,
          ]),
          series.samples.map((s) => [s.bits, s.timestampMs]),
          `round ${round}`,
        );
      });
      // protobufjs re-encodes it identically, except that it may quiet the stale marker (depending on the JIT).
      const quietStale = (hex: string): string => hex.replaceAll("020000000000f07f", "020000000000f87f");
      assert.equal(
        quietStale(Buffer.from(referenceEncode(referenceDecode(bytes))).toString("hex")),
        quietStale(Buffer.from(bytes).toString("hex")),
        `round ${round}`,
      );
    }
  });
});

describe("fuzz: the ingest scanner agrees with the decoder", () => {
  it("on random valid requests it takes (all but negative timestamps)", TIME_LIMIT, () => {
    const random = new Random(SEED + 2);
    let scanned = 0;
    for (let round = 0; round < 400; round++) {
      const request = randomRequest(random);
      // Agents send non-negative timestamps: make most requests look like theirs.
      if (round % 4 !== 0)
        for (const series of request) for (const s of series.samples) s.timestampMs = Math.abs(s.timestampMs);
      const bytes = encode(request);
      const events = scannedEvents(bytes);
      const negative = request.some((series) => series.samples.some((s) => s.timestampMs < 0));
      assert.equal(
        events === undefined,
        negative,
        `round ${round}: fell back ${String(events === undefined)}`,
      );
      if (events === undefined) continue;
      scanned++;
      assert.deepEqual(events, rawEvents(bytes), `round ${round}`);
    }
    assert.ok(scanned > 250, `${scanned} requests scanned`);
  });

  it("never throws, and what it accepts decodes to the same series and samples", TIME_LIMIT, () => {
    const random = new Random(SEED + 3);
    const bases = Array.from({ length: 8 }, () => {
      const request = randomRequest(random);
      for (const series of request)
        for (const sample of series.samples) sample.timestampMs = Math.abs(sample.timestampMs);
      return encode(request);
    });
    let accepted = 0;
    const iterations = 30_000;
    for (let i = 0; i < iterations; i++) {
      const input = mutate(random, random.pick(bases));
      const events = scannedEvents(input);
      if (events === undefined) continue;
      accepted++;
      // Label contents are checked later, by the router on first sight (decodeLabelBytes); framing here.
      assert.deepEqual(events, rawEvents(input), Buffer.from(input).toString("hex").slice(0, 400));
    }
    assert.ok(accepted > iterations / 20 && accepted < iterations, `${accepted} of ${iterations} accepted`);
  });
});

describe("fuzz: malformed input", () => {
  const random = new Random(SEED + 1);
  const bases = Array.from({ length: 8 }, () => encode(randomRequest(random)));
  bases.push(
    referenceEncode({
      timeseries: [
        {
          labels: [{ name: "__name__", value: "h" }],
          samples: [{ value: 1, timestamp: 2 }],
          exemplars: [{ labels: [{ name: "trace_id", value: "t" }], value: 1, timestamp: 3 }],
          histograms: [
            {
              countInt: 3,
              sum: 1.5,
              schema: 1,
              positiveSpans: [{ offset: 0, length: 2 }],
              positiveDeltas: [1, 1],
            },
          ],
        },
      ],
      metadata: [{ type: "GAUGE", metricFamilyName: "h", help: "help", unit: "" }],
    }),
  );

  it("the decoder throws only WriteRequestDecodeError", TIME_LIMIT, () => {
    let rejected = 0;
    const iterations = 30_000;
    for (let i = 0; i < iterations; i++) {
      const input = mutate(random, random.pick(bases));
      if (expectOnly(WriteRequestDecodeError, () => decodeWriteRequest(input, noopVisitor), input))
        rejected++;
    }
    // Sanity: the mutations do reach the error paths, and many inputs still decode.
    assert.ok(rejected > iterations / 10 && rejected < iterations, `${rejected} of ${iterations} rejected`);
  });

  it("snappy throws only SnappyError, and never allocates beyond the limit", TIME_LIMIT, () => {
    const compressed = bases.map((base) => snappyCompress(base));
    let rejected = 0;
    const iterations = 30_000;
    for (let i = 0; i < iterations; i++) {
      const input = mutate(random, random.pick(compressed));
      if (expectOnly(SnappyError, () => snappyUncompress(input, 4096), input)) rejected++;
    }
    assert.ok(rejected > iterations / 10, `${rejected} of ${iterations} rejected`);
  });

  it(
    `the ingest body decoder (${snappyDecoder}) accepts and rejects what ours does, only with SnappyError`,
    TIME_LIMIT,
    () => {
      const compressed = bases.map((base) => snappyCompress(base));
      for (const [i, body] of compressed.entries())
        assertSameBytes(uncompressBody(body, LIMIT), bases[i] ?? new Uint8Array(0));
      let rejected = 0;
      const iterations = 30_000;
      for (let i = 0; i < iterations; i++) {
        const input = mutate(random, random.pick(compressed));
        let ours: Buffer | SnappyError;
        try {
          ours = snappyUncompress(input, 4096);
        } catch (error: unknown) {
          if (!(error instanceof SnappyError)) throw error;
          ours = error;
        }
        const hex = Buffer.from(input).toString("hex").slice(0, 200);
        if (expectOnly(SnappyError, () => uncompressBody(input, 4096), input)) {
          rejected++;
          assert.ok(ours instanceof SnappyError, `only ${snappyDecoder} rejected ${hex}`);
        } else {
          assert.ok(!(ours instanceof SnappyError), `only ${snappyDecoder} accepted ${hex}`);
          assertSameBytes(uncompressBody(input, 4096), ours);
        }
      }
      assert.ok(rejected > iterations / 10, `${rejected} of ${iterations} rejected`);
    },
  );

  it("snappy then decode, as the ingest path does, fails only with the two error types", TIME_LIMIT, () => {
    const compressed = bases.map((base) => snappyCompress(base));
    for (let i = 0; i < 10_000; i++) {
      const input = mutate(random, random.pick(compressed));
      try {
        decodeWriteRequest(snappyUncompress(input, LIMIT), noopVisitor);
      } catch (error: unknown) {
        if (!(error instanceof SnappyError) && !(error instanceof WriteRequestDecodeError)) throw error;
      }
    }
  });

  it("the untouched bases still decode", () => {
    for (const base of bases) assertSameBytes(snappyUncompress(snappyCompress(base), LIMIT), base);
    for (const base of bases) decodeWriteRequest(base, noopVisitor);
  });
});
