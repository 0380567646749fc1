// The encoder against protobufjs with the official prompb definitions, byte
// for byte, plus the builder's grouping, growth and reuse.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { METRIC_TYPES, WriteRequestBuilder, encodeWriteRequest } from "./encoder.js";
import type { MetricMetadata, TimeSeriesInput } from "./encoder.js";
import { InvalidLabelsError } from "./errors.js";
import { encodeLabels } from "./labels.js";
import type { Label } from "./labels.js";
import { referenceDecode, referenceEncode } from "../../test-support/remotewrite/reference-prompb.js";
import type {
  ReferenceMetadata,
  ReferenceWriteRequest,
} from "../../test-support/remotewrite/reference-prompb.js";
import { STALE_NAN, STALE_NAN_BITS } from "./stale-marker.js";
import { assertSameBytes, bitsOf, fromBits } from "../../test-support/remotewrite/bytes.js";
import { generateLabelSets } from "../../test-support/remotewrite/series.js";

/** The label order Remote Write wants: by UTF-8 bytes of the name; empty values dropped. */
function canonicalLabels(labels: Iterable<Label>): Label[] {
  return [...labels]
    .filter((label) => label.value !== "")
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

function toReference(timeseries: readonly TimeSeriesInput[], metadata: readonly MetricMetadata[] = []) {
  const request: ReferenceWriteRequest = {
    timeseries: timeseries
      .filter((series) => series.samples.length > 0)
      .map((series) => ({
        labels: canonicalLabels(series.labels),
        samples: series.samples.map((sample) => ({ value: sample.value, timestamp: sample.timestampMs })),
      })),
    metadata: metadata.map((entry): ReferenceMetadata => ({
      type: entry.type.toUpperCase() as Uppercase<typeof entry.type>,
      metricFamilyName: entry.metricFamilyName,
      help: entry.help,
      unit: entry.unit,
    })),
  };
  return request;
}

function assertMatchesReference(
  timeseries: readonly TimeSeriesInput[],
  metadata: readonly MetricMetadata[] = [],
) {
  assertSameBytes(
    encodeWriteRequest(timeseries, metadata),
    referenceEncode(toReference(timeseries, metadata)),
  );
}

const labels = (record: Record<string, string>): Label[] =>
  Object.entries(record).map(([name, value]) => ({ name, value }));

const series = (record: Record<string, string>, ...samples: [number, number][]): TimeSeriesInput => ({
  labels: labels(record),
  samples: samples.map(([value, timestampMs]) => ({ value, timestampMs })),
});

describe("encoder matches protobufjs with the official prompb types", () => {
  it("encodes the empty request as zero bytes", () => {
    assert.equal(encodeWriteRequest([]).length, 0);
    assertMatchesReference([]);
  });

  it("encodes many realistic series", () => {
    const sets = generateLabelSets(11, 2000);
    assertMatchesReference(
      sets.map((set, i) =>
        series(Object.fromEntries(set.map((l) => [l.name, l.value])), [i / 3, 1_763_780_000_000 + i]),
      ),
    );
  });

  it("encodes special float values bit for bit", () => {
    const values = [
      0,
      -0,
      1,
      -1.5,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      Number.MAX_VALUE,
      Number.EPSILON,
      2 ** 53 + 2,
    ];
    assertMatchesReference(values.map((value, i) => series({ __name__: "m", i: String(i) }, [value, 1000])));
  });

  it("writes -0 but leaves +0 and timestamp 0 out, like proto3", () => {
    const bytes = encodeWriteRequest([series({ a: "b" }, [0, 0], [-0, 0])]);
    const decoded = referenceDecode(bytes);
    const samples = decoded.timeseries?.[0]?.samples ?? [];
    assert.equal(samples.length, 2);
    assert.ok(Object.is(samples[1]?.value, -0));
    assertMatchesReference([series({ a: "b" }, [0, 0], [-0, 0])]);
  });

  it("encodes negative, zero and large timestamps", () => {
    const timestamps = [
      0,
      1,
      -1,
      127,
      128,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      2 ** 32 - 1,
      2 ** 32,
      -(2 ** 32),
      2 ** 35,
      1_763_780_000_000,
      -1_763_780_000_000,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
    ];
    assertMatchesReference(timestamps.map((t, i) => series({ __name__: "t", i: String(i) }, [1, t])));
    const decoded = referenceDecode(encodeWriteRequest(timestamps.map((t) => series({ a: "b" }, [1, t]))));
    assert.deepEqual(
      decoded.timeseries?.map((s) => s.samples?.[0]?.timestamp),
      timestamps,
    );
  });

  it("encodes negative timestamps as 10-byte two's complement varints", () => {
    const builder = new WriteRequestBuilder();
    const labelBytes = encodeLabels(labels({ a: "b" }));
    builder.addSample(labelBytes, 0, -1);
    const bytes = builder.finish();
    assert.equal(Buffer.from(bytes.subarray(bytes.length - 11)).toString("hex"), "10ffffffffffffffffff01");
  });

  it("encodes unicode labels, sorted by UTF-8 bytes", () => {
    // UTF-16 order would put the emoji (a surrogate pair, 0xD83D…) before U+FF5E.
    const record = { "\uFF5E": "tilde", "😀": "grin", é: "日本語 ✓", __name__: "ünïcödé", z: "" };
    assertMatchesReference([series(record, [1, 2])]);
    const names = referenceDecode(encodeWriteRequest([series(record, [1, 2])])).timeseries?.[0]?.labels?.map(
      (l) => l.name,
    );
    assert.deepEqual(names, ["__name__", "é", "\uFF5E", "😀"]);
  });

  it("encodes series with many samples, including lengths whose varint grows", () => {
    // 1 to 1500 samples: TimeSeries lengths cross the 128 and 16384 varint boundaries.
    const counts = [1, 2, 5, 6, 7, 100, 740, 1500];
    assertMatchesReference(
      counts.map((count) =>
        series(
          { __name__: "many", n: String(count) },
          ...Array.from({ length: count }, (_, i): [number, number] => [
            i % 3 === 0 ? 0 : i * 0.25,
            1_700_000_000_000 + i * 15_000,
          ]),
        ),
      ),
    );
  });

  it("encodes metadata after the series", () => {
    const metadata: MetricMetadata[] = [
      { type: "counter", metricFamilyName: "http_requests_total", help: "Requests.", unit: "" },
      { type: "unknown", metricFamilyName: "", help: "", unit: "" },
      { type: "gauge", metricFamilyName: "temperature", help: "Température ✓", unit: "celsius" },
    ];
    assertMatchesReference([series({ a: "1" }, [1, 1])], metadata);
    for (const type of Object.keys(METRIC_TYPES) as (keyof typeof METRIC_TYPES)[]) {
      assertMatchesReference([], [{ type, metricFamilyName: "m", help: "h", unit: "u" }]);
    }
  });
});

describe("NaN bits and stale markers", () => {
  function sampleBits(bytes: Uint8Array): bigint {
    // The request holds one series with label {a="b"} and one sample: its value is 8 bytes after the 0x09 tag.
    const at = Buffer.from(bytes).indexOf(0x09, 1 + 1 + encodeLabels(labels({ a: "b" })).length);
    return Buffer.from(bytes).readBigUInt64LE(at + 1);
  }
  function encodeOne(add: (builder: WriteRequestBuilder, labelBytes: Uint8Array) => void): Uint8Array {
    const builder = new WriteRequestBuilder();
    add(builder, encodeLabels(labels({ a: "b" })));
    return builder.finish();
  }

  it("writes STALE_NAN with the exact stale marker bits", () => {
    assert.equal(bitsOf(STALE_NAN), STALE_NAN_BITS);
    assert.equal(
      sampleBits(
        encodeOne((b, l) => {
          b.addSample(l, STALE_NAN, 5);
        }),
      ),
      STALE_NAN_BITS,
    );
  });

  it("writes addStaleMarker with the exact bits", () => {
    assert.equal(
      sampleBits(
        encodeOne((b, l) => {
          b.addStaleMarker(l, 5);
        }),
      ),
      STALE_NAN_BITS,
    );
  });

  it("restores a stale marker V8 has quieted", () => {
    const quieted = fromBits(0x7ff8000000000002n);
    assert.equal(
      sampleBits(
        encodeOne((b, l) => {
          b.addSample(l, quieted, 5);
        }),
      ),
      STALE_NAN_BITS,
    );
  });

  it("keeps other NaN payloads and the sign bit", () => {
    for (const bits of [0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff8000000000123n, 0x7ff0000000000001n]) {
      const value = fromBits(bits);
      assert.equal(
        sampleBits(
          encodeOne((b, l) => {
            b.addSample(l, value, 5);
          }),
        ),
        bits,
      );
    }
  });

  it("matches protobufjs, up to protobufjs quieting the stale marker", () => {
    // protobufjs may set the quiet bit (depending on the JIT), which Prometheus would not read as stale.
    const ours = encodeOne((b, l) => {
      b.addSample(l, STALE_NAN, 1);
    });
    const reference = Buffer.from(referenceEncode(toReference([series({ a: "b" }, [STALE_NAN, 1])])));
    assert.equal(sampleBits(reference) | 0x0008000000000000n, 0x7ff8000000000002n);
    // The value's last two bytes, little-endian: 0xf8 0x7f when quieted, 0xf0 0x7f for the marker.
    const quieted = reference.indexOf(Buffer.from("f87f", "hex"));
    if (quieted >= 0) reference[quieted] = 0xf0;
    assertSameBytes(ours, reference);
  });
});

describe("WriteRequestBuilder", () => {
  const a = encodeLabels(labels({ __name__: "a" }));
  const b = encodeLabels(labels({ __name__: "b" }));

  it("groups consecutive samples of the same label bytes into one TimeSeries", () => {
    const builder = new WriteRequestBuilder();
    builder.addSample(a, 1, 1);
    builder.addSample(a, 2, 2);
    builder.addSample(b, 3, 3);
    builder.addSample(a, 4, 4);
    assert.equal(builder.seriesCount, 3);
    assert.equal(builder.sampleCount, 4);
    const decoded = referenceDecode(builder.finish());
    assert.deepEqual(
      decoded.timeseries?.map((s) => [s.labels?.[0]?.value, s.samples?.map((x) => x.value)]),
      [
        ["a", [1, 2]],
        ["b", [3]],
        ["a", [4]],
      ],
    );
  });

  it("grows from a tiny buffer and stays byte-identical to a roomy one", () => {
    const sets = generateLabelSets(3, 300).map((set) => encodeLabels(set));
    const small = new WriteRequestBuilder({ initialCapacity: 1 });
    const large = new WriteRequestBuilder({ initialCapacity: 1 << 20 });
    for (const builder of [small, large]) {
      sets.forEach((labelBytes, i) => {
        for (let k = 0; k <= i % 4; k++) builder.addSample(labelBytes, i + k, 1_700_000_000_000 + k);
      });
    }
    assertSameBytes(small.finish(), large.finish());
  });

  it("is reusable after reset, and finish is idempotent", () => {
    const builder = new WriteRequestBuilder();
    builder.addSample(a, 1, 1);
    const first = builder.finish().slice();
    assertSameBytes(builder.finish(), first);
    builder.reset();
    assert.equal(builder.byteLength, 0);
    builder.addSample(b, 2, 2);
    builder.reset();
    builder.addSample(a, 1, 1);
    assertSameBytes(builder.finish(), first);
  });

  it("refuses samples after finish and invalid timestamps", () => {
    const builder = new WriteRequestBuilder();
    assert.throws(() => {
      builder.addSample(a, 1, 1.5);
    }, RangeError);
    assert.throws(() => {
      builder.addSample(a, 1, Number.NaN);
    }, RangeError);
    assert.throws(() => {
      builder.addSample(a, 1, 2 ** 53);
    }, RangeError);
    builder.finish();
    assert.throws(() => {
      builder.addSample(a, 1, 1);
    }, /after finish/);
    assert.throws(() => {
      builder.addMetadata({ type: "gauge", metricFamilyName: "m", help: "", unit: "" });
    }, /after finish/);
  });

  it("checks label bytes when asked to", () => {
    const unsorted = new Uint8Array([
      ...encodeLabels(labels({ b: "1" })),
      ...encodeLabels(labels({ a: "1" })),
    ]);
    const checking = new WriteRequestBuilder({ validateLabels: true });
    checking.addSample(a, 1, 1);
    assert.throws(() => {
      checking.addSample(unsorted, 1, 1);
    }, InvalidLabelsError);
    assert.throws(() => {
      checking.addSample(new Uint8Array([0x0a, 0x05, 0x0a]), 1, 1);
    }, InvalidLabelsError);
    // Without the option the bytes are taken as they are.
    new WriteRequestBuilder().addSample(unsorted, 1, 1);
  });
});
