import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeLabelBytes, decodeToObjects, decodeWriteRequest } from "./decoder.js";
import type { DecodedTimeSeries } from "./decoder.js";
import { WriteRequestBuilder, encodeWriteRequest } from "./encoder.js";
import type { TimeSeriesInput } from "./encoder.js";
import { WriteRequestDecodeError } from "./errors.js";
import { encodeLabels } from "./labels.js";
import type { Label } from "./labels.js";
import { referenceDecode, referenceEncode } from "../../test-support/remotewrite/reference-prompb.js";
import { STALE_NAN_BITS, isStaleMarker } from "./stale-marker.js";
import { assertSameBytes, bitsOf, fromBits } from "../../test-support/remotewrite/bytes.js";
import {
  bytes,
  fixed32,
  fixed64,
  group,
  label,
  lengthDelimited,
  sample,
  string,
  tag,
  timeSeries,
  varint,
  varintField,
} from "../../test-support/remotewrite/protobuf.js";
import { generateLabelSets } from "../../test-support/remotewrite/series.js";

const labels = (record: Record<string, string>): Label[] =>
  Object.entries(record).map(([name, value]) => ({ name, value }));

function normalise(timeseries: DecodedTimeSeries[]): unknown {
  return timeseries.map((s) => ({
    labels: s.labels,
    samples: s.samples.map((x) => ({ bits: bitsOf(x.value), timestampMs: x.timestampMs })),
  }));
}

function decodeError(payload: Uint8Array): WriteRequestDecodeError {
  try {
    decodeToObjects(payload);
  } catch (error: unknown) {
    if (error instanceof WriteRequestDecodeError) return error;
    throw error;
  }
  assert.fail("decoding succeeded");
}

const realistic: TimeSeriesInput[] = generateLabelSets(5, 400).map((set, i) => ({
  labels: set,
  samples: Array.from({ length: (i % 3) + 1 }, (_, k) => ({
    value: i * 0.5 - k,
    timestampMs: 1_700_000_000_000 + k,
  })),
}));

describe("decoder round trips", () => {
  it("decodes our encoding back", () => {
    const decoded = decodeToObjects(encodeWriteRequest(realistic));
    assert.equal(decoded.timeseries.length, realistic.length);
    realistic.forEach((input, i) => {
      const output = decoded.timeseries[i];
      assert.deepEqual(
        output?.labels,
        [...input.labels].sort((a, b) => (a.name < b.name ? -1 : 1)),
      );
      assert.deepEqual(output.samples, input.samples);
    });
  });

  it("decodes what protobufjs encodes, as protobufjs decodes ours", () => {
    const ours = encodeWriteRequest(realistic);
    const reference = referenceEncode(referenceDecode(ours));
    assertSameBytes(reference, ours);
    assert.deepEqual(
      normalise(decodeToObjects(reference).timeseries),
      normalise(decodeToObjects(ours).timeseries),
    );
  });

  it("keeps special values, NaN payloads and timestamps exact", () => {
    // Kept as bits: a JS array of numbers may quiet or canonicalise NaN payloads.
    const valueBits = [0, -0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE].map(bitsOf);
    valueBits.push(0x7ff8000000000123n, 0xfff8000000000000n);
    const timestamps = [0, -1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, -(2 ** 32), 2 ** 32 + 1];
    const builder = new WriteRequestBuilder();
    const labelBytes = encodeLabels(labels({ a: "b" }));
    for (const bits of valueBits)
      for (const t of timestamps) builder.addSample(labelBytes, fromBits(bits), t);
    builder.addStaleMarker(labelBytes, 7);

    const seen: [bigint, number][] = [];
    let stale = 0;
    decodeWriteRequest(builder.finish(), {
      onSeries() {},
      onSample(value, timestampMs) {
        seen.push([bitsOf(value), timestampMs]);
        if (isStaleMarker(value)) stale++;
      },
    });
    const expected: [bigint, number][] = [];
    for (const bits of valueBits) for (const t of timestamps) expected.push([bits, t]);
    expected.push([STALE_NAN_BITS, 7]);
    assert.deepEqual(seen, expected);
    assert.equal(stale, 1);
  });

  it("decodes unicode labels and the empty request", () => {
    const record = { __name__: "ünïcödé", "😀": "日本語 ✓", é: "\u0000\uFFFF" };
    const decoded = decodeToObjects(
      encodeWriteRequest([{ labels: labels(record), samples: [{ value: 1, timestampMs: 2 }] }]),
    );
    assert.deepEqual(
      Object.fromEntries(decoded.timeseries[0]?.labels.map((l) => [l.name, l.value]) ?? []),
      record,
    );
    assert.deepEqual(decodeToObjects(new Uint8Array(0)), { timeseries: [] });
  });

  it("reports series and sample counts", () => {
    const summary = decodeWriteRequest(encodeWriteRequest(realistic), { onSeries() {}, onSample() {} });
    assert.deepEqual(summary, {
      series: realistic.length,
      samples: realistic.reduce((n, s) => n + s.samples.length, 0),
    });
  });

  it("hands out label bytes that re-encode the request unchanged (relay)", () => {
    const original = encodeWriteRequest(realistic);
    const builder = new WriteRequestBuilder({ validateLabels: true });
    let current: Uint8Array = new Uint8Array(0);
    decodeWriteRequest(original, {
      onSeries(_labels, labelBytes) {
        current = labelBytes;
      },
      onSample(value, timestampMs) {
        builder.addSample(current, value, timestampMs);
      },
    });
    assertSameBytes(builder.finish(), original);
  });
});

describe("decoder skips what it does not decode", () => {
  it("skips metadata, exemplars and native histograms written by protobufjs", () => {
    const payload = referenceEncode({
      timeseries: [
        {
          labels: labels({ __name__: "h" }),
          samples: [{ value: 1, timestamp: 10 }],
          exemplars: [{ labels: labels({ trace_id: "abc" }), value: 2, timestamp: 11 }],
          histograms: [
            {
              countInt: 5,
              sum: 3.5,
              schema: -2,
              positiveSpans: [{ offset: -1, length: 2 }],
              positiveDeltas: [1, -1],
              timestamp: 12,
            },
          ],
        },
        { labels: labels({ __name__: "histogram_only" }), histograms: [{ countInt: 1, timestamp: 13 }] },
      ],
      metadata: [{ type: "COUNTER", metricFamilyName: "h", help: "help", unit: "s" }],
    });
    assert.deepEqual(decodeToObjects(payload).timeseries, [
      { labels: labels({ __name__: "h" }), samples: [{ value: 1, timestampMs: 10 }] },
      { labels: labels({ __name__: "histogram_only" }), samples: [] },
    ]);
  });

  it("skips unknown fields of every wire type, groups included, at every level", () => {
    const unknown = [
      ...varintField(15, 2n ** 64n - 1n),
      ...fixed64(16, 5n),
      ...fixed32(17, 6),
      ...string(18, "x"),
      ...group(19, varintField(1, 1), group(2, string(3, "nested")), fixed32(4, 1)),
    ];
    const payload = bytes(
      unknown,
      timeSeries(
        unknown,
        lengthDelimited(1, unknown, string(1, "a"), unknown, string(2, "b"), unknown),
        lengthDelimited(2, unknown, fixed64(1, 0x3ff0000000000000n), unknown, varintField(2, 9), unknown),
        unknown,
      ),
      unknown,
    );
    assert.deepEqual(decodeToObjects(payload).timeseries, [
      { labels: labels({ a: "b" }), samples: [{ value: 1, timestampMs: 9 }] },
    ]);
  });

  it("reports labels before samples even when the wire has them the other way round", () => {
    const payload = bytes(timeSeries(sample(1, 1), label("a", "1"), sample(2, 2), label("b", "2")));
    const events: string[] = [];
    let labelBytes: Uint8Array = new Uint8Array(0);
    decodeWriteRequest(payload, {
      onSeries(seriesLabels, bytesOfLabels) {
        events.push(`series ${seriesLabels.map((l) => l.name).join(",")}`);
        labelBytes = bytesOfLabels;
      },
      onSample(value) {
        events.push(`sample ${value}`);
      },
    });
    assert.deepEqual(events, ["series a,b", "sample 1", "sample 2"]);
    // Non-contiguous label fields are gathered into one run.
    assertSameBytes(labelBytes, bytes(label("a", "1"), label("b", "2")));
  });

  it("takes defaults for missing fields and the last value of a repeated scalar", () => {
    const payload = bytes(
      timeSeries(
        lengthDelimited(1),
        lengthDelimited(2),
        lengthDelimited(2, varintField(2, 1), varintField(2, 3)),
      ),
    );
    assert.deepEqual(decodeToObjects(payload).timeseries, [
      {
        labels: [{ name: "", value: "" }],
        samples: [
          { value: 0, timestampMs: 0 },
          { value: 0, timestampMs: 3 },
        ],
      },
    ]);
  });

  it("decodes label bytes on their own", () => {
    assert.deepEqual(decodeLabelBytes(encodeLabels(labels({ b: "2", a: "1" }))), labels({ a: "1", b: "2" }));
    assert.throws(() => decodeLabelBytes(bytes(sample(1, 1))), WriteRequestDecodeError);
  });
});

describe("decoder rejects malformed input", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated tag varint", bytes([0x8a]), /truncated varint/],
    ["truncated length", bytes(tag(1, 2)), /truncated varint/],
    ["length beyond the buffer", bytes(tag(1, 2), varint(10), [0, 0]), /runs past the end/],
    ["nested length beyond its message", bytes(timeSeries(tag(1, 2), varint(50))), /runs past the end/],
    ["huge length", bytes(tag(1, 2), varint(2n ** 63n)), /runs past the end/],
    ["field number 0", bytes([0x02, 0x00]), /field number 0/],
    ["wire type 6", bytes([0x0e]), /invalid wire type 6/],
    ["wire type 7", bytes([0x0f]), /invalid wire type 7/],
    ["tag beyond 32 bits", bytes(varint(2n ** 35n)), /field number out of range/],
    [
      "varint longer than 10 bytes",
      bytes(tag(9, 0), Array<number>(10).fill(0x80), [0]),
      /longer than 10 bytes|overflows/,
    ],
    [
      "varint overflowing 64 bits",
      bytes(tag(9, 0), Array<number>(9).fill(0xff), [0x02]),
      /overflows 64 bits/,
    ],
    [
      "timeseries as a varint",
      bytes(varintField(1, 1)),
      /WriteRequest.timeseries \(field 1\) has wire type 0, want 2/,
    ],
    ["metadata as a fixed32", bytes(fixed32(3, 1)), /WriteRequest.metadata \(field 3\) has wire type 5/],
    ["labels as a varint", bytes(timeSeries(varintField(1, 1))), /TimeSeries.labels .* wire type 0/],
    ["samples as a fixed64", bytes(timeSeries(fixed64(2, 1n))), /TimeSeries.samples .* wire type 1/],
    ["exemplars as a varint", bytes(timeSeries(varintField(3, 1))), /TimeSeries.exemplars .* wire type 0/],
    ["histograms as a fixed32", bytes(timeSeries(fixed32(4, 1))), /TimeSeries.histograms .* wire type 5/],
    [
      "label name as a varint",
      bytes(timeSeries(lengthDelimited(1, varintField(1, 1)))),
      /Label.name .* wire type 0/,
    ],
    [
      "sample value as a varint",
      bytes(timeSeries(lengthDelimited(2, varintField(1, 1)))),
      /Sample.value .* wire type 0, want 1/,
    ],
    [
      "timestamp as a fixed64",
      bytes(timeSeries(lengthDelimited(2, fixed64(2, 1n)))),
      /Sample.timestamp .* wire type 1, want 0/,
    ],
    ["truncated double", bytes(timeSeries(lengthDelimited(2, tag(1, 1), [0, 0, 0]))), /truncated double/],
    ["truncated timestamp", bytes(timeSeries(lengthDelimited(2, tag(2, 0), [0x80]))), /truncated varint/],
    [
      "truncated timestamp, 6th byte",
      bytes(timeSeries(lengthDelimited(2, tag(2, 0), [0x80, 0x80, 0x80, 0x80, 0x80]))),
      /truncated varint/,
    ],
    [
      "timestamp overflowing 64 bits",
      bytes(timeSeries(lengthDelimited(2, tag(2, 0), Array<number>(9).fill(0xff), [0x7f]))),
      /overflows 64 bits/,
    ],
    ["truncated fixed64", bytes(tag(20, 1), [1, 2, 3]), /truncated 8-byte field/],
    ["truncated fixed32", bytes(tag(20, 5), [1]), /truncated 4-byte field/],
    [
      "invalid UTF-8",
      bytes(timeSeries(lengthDelimited(1, lengthDelimited(1, [0xc3, 0x28])))),
      /not valid UTF-8/,
    ],
    [
      "overlong UTF-8",
      bytes(timeSeries(lengthDelimited(1, lengthDelimited(2, [0xc0, 0xaf])))),
      /not valid UTF-8/,
    ],
    [
      "UTF-8 surrogate",
      bytes(timeSeries(lengthDelimited(1, lengthDelimited(2, [0xed, 0xa0, 0x80])))),
      /not valid UTF-8/,
    ],
    ["stray end-group", bytes(tag(5, 4)), /unexpected end-group/],
    ["mismatched end-group", bytes(tag(5, 3), tag(6, 4)), /does not match/],
    ["unterminated group", bytes(tag(5, 3), varintField(1, 1)), /unterminated group/],
    [
      "groups nested too deeply",
      bytes(Array.from({ length: 100 }, () => tag(5, 3)).flat()),
      /nested too deeply/,
    ],
  ];
  for (const [name, payload, reason] of cases) {
    it(name, () => {
      const error = decodeError(payload);
      assert.match(error.message, reason);
      assert.ok(!error.message.includes("\n"), "one-line message");
      assert.ok(error.offset >= 0 && error.offset <= payload.length);
    });
  }

  it("lets errors thrown by the visitor through unchanged", () => {
    const boom = new Error("visitor failed");
    assert.throws(
      () =>
        decodeWriteRequest(encodeWriteRequest(realistic), {
          onSeries() {
            throw boom;
          },
          onSample() {},
        }),
      (error: unknown) => error === boom,
    );
  });
});

describe("exemplars, native histograms and metadata", () => {
  const labels = [{ name: "__name__", value: "rq_seconds" }];
  const collect = (bytes: Uint8Array) => {
    const seen: string[] = [];
    const fields: Uint8Array[] = [];
    decodeWriteRequest(bytes, {
      onSeries: () => seen.push("series"),
      onSample: (value, ts) => seen.push(`sample ${value}@${ts}`),
      onItem: (kind, field, ts) => {
        seen.push(`${kind}@${ts}`);
        fields.push(field.slice());
      },
      onMetadata: (family) => seen.push(`metadata ${family}`),
    });
    return { seen, fields };
  };

  it("hands each over in wire order with its timestamp; the fields re-encode to what was sent", () => {
    const request = {
      timeseries: [
        {
          labels,
          samples: [{ value: 1, timestamp: 10 }],
          exemplars: [{ labels: [{ name: "trace_id", value: "t" }], value: 0.5, timestamp: 11 }],
          histograms: [
            {
              countInt: 3,
              sum: 1.5,
              schema: 1,
              positiveSpans: [{ offset: -1, length: 2 }],
              positiveDeltas: [1, -1],
              timestamp: 12,
            },
          ],
        },
      ],
      metadata: [{ type: "HISTOGRAM" as const, metricFamilyName: "rq_seconds", help: "h", unit: "seconds" }],
    };
    const { seen, fields } = collect(referenceEncode(request));
    assert.deepEqual(seen, ["series", "sample 1@10", "exemplar@11", "histogram@12", "metadata rq_seconds"]);
    const builder = new WriteRequestBuilder();
    builder.addSample(encodeLabels(labels), 1, 10);
    for (const field of fields) builder.addItem(encodeLabels(labels), field);
    const again = referenceDecode(builder.finish());
    assert.deepEqual(
      again.timeseries?.[1]?.exemplars,
      referenceDecode(referenceEncode(request)).timeseries?.[0]?.exemplars,
    );
    assert.deepEqual(
      again.timeseries?.[2]?.histograms,
      referenceDecode(referenceEncode(request)).timeseries?.[0]?.histograms,
    );
  });

  it("refuses a histogram or exemplar whose known fields have the wrong wire type", () => {
    // TimeSeries{histograms: Histogram{schema (4) as a 64-bit field}}.
    const badHistogram = Uint8Array.from([0x0a, 11, 0x22, 9, 0x21, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(
      () => collect(badHistogram),
      (error: unknown) => {
        assert.ok(error instanceof WriteRequestDecodeError);
        assert.match(error.message, /Histogram\.schema \(field 4\) has wire type 1/);
        return true;
      },
    );
    // TimeSeries{exemplars: Exemplar{timestamp (3) as a string}}.
    const badExemplar = Uint8Array.from([0x0a, 5, 0x1a, 3, 0x1a, 1, 0x41]);
    assert.throws(() => collect(badExemplar), /Exemplar\.timestamp \(field 3\) has wire type 2/);
    // Packed counts whose length is no multiple of 8.
    const badCounts = Uint8Array.from([0x0a, 7, 0x22, 5, 0x6a, 3, 1, 2, 3]);
    assert.throws(() => collect(badCounts), /not a multiple of 8/);
  });
});
