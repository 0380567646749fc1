// Exemplars and native histogram samples are items of their series: routed,
// counted and delivered like its float samples. Metric metadata is kept for
// the projects whose series carry its family; what no project takes is
// counted — never silently skipped — and only for requests Telex accepted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExpositionWriter } from "../../metrics/exposition.js";
import { referenceDecode, referenceEncode } from "../../../test-support/remotewrite/reference-prompb.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { Exporter } from "../exporter.js";
import type { SeriesRef } from "../series.js";
import { RemoteWriteEncoder } from "../sink/request-builder.js";
import { SampleBatch } from "../sink/queue.js";
import { MetadataBook, SinkMetadata } from "../metadata.js";
import { snappyUncompress } from "../../remotewrite/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { startCountingReceiver } from "../../../test-support/counting-receiver.js";
import { eventually } from "../../../test-support/eventually.js";

/** The value at `path` in a decoded message, or undefined: for asserting on nested optional fields. */
function pick(value: unknown, ...path: (string | number)[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

const labels = (project: string) => [
  { name: "__name__", value: "http_request_duration_seconds" },
  { name: TENANT_LABEL, value: project },
];

const request = referenceEncode({
  timeseries: [
    {
      labels: labels("p1"),
      samples: [{ value: 1, timestamp: 1_700_000_000_000 }],
      exemplars: [{ labels: [{ name: "trace_id", value: "abc" }], value: 0.2, timestamp: 1_700_000_000_000 }],
      histograms: [
        { countInt: 3, sum: 1.5, schema: 0, timestamp: 1_700_000_000_000 },
        { countInt: 4, sum: 2, schema: 0, timestamp: 1_700_000_001_000 },
      ],
    },
  ],
  metadata: [
    { type: "HISTOGRAM", metricFamilyName: "http_request_duration_seconds", help: "h" },
    { type: "COUNTER", metricFamilyName: "unknown_family", help: "u" },
  ],
});

describe("exemplars, native histograms and metadata at ingest", () => {
  it("counts items as samples of their series, and metadata no project takes as unsupported", () => {
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    assert.equal(exporter.ingest.apply(request), undefined);
    const stats = exporter.ingest.stats;
    assert.deepEqual(stats.itemsReceived, { exemplar: 1, histogram: 2 });
    assert.equal(stats.samplesReceived, 4, "one float sample, one exemplar, two histogram samples");
    assert.equal(stats.samplesNotSelected, 4, "no policy selects them");
    assert.deepEqual(
      stats.unsupported,
      { exemplar: 0, histogram: 0, metadata: 2 },
      "no project has the families",
    );

    // A request refused as malformed counts nothing.
    assert.throws(() => exporter.ingest.apply(request.slice(0, request.length - 3)));
    assert.equal(stats.samplesReceived, 4);

    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    const text = writer.render();
    assert.match(text, /^telex_ingest_samples_dropped_total\{reason="unsupported"\} 0$/m);
    assert.match(text, /^telex_ingest_items_received_total\{kind="histogram"\} 2$/m);
    assert.match(text, /^telex_ingest_unsupported_total\{kind="metadata"\} 2$/m);
  });

  it("delivers items with their series and the family's metadata to the project's sink", async () => {
    const receiver = await startCountingReceiver();
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    const plan = policyPlan("p1", {
      name: "rq",
      sources: { all: '{__name__="http_request_duration_seconds"}' },
      sinks: [{ name: "s", endpoint: receiver.writeUrl, sources: ["all"], batch: { timeout: "20ms" } }],
    });
    exporter.apply(plan);
    try {
      assert.equal(exporter.ingest.apply(request), undefined);
      const stats = exporter.ingest.stats;
      assert.equal(stats.samplesRouted, 4);
      assert.equal(stats.metadataKept, 1);
      assert.deepEqual(
        stats.unsupported,
        { exemplar: 0, histogram: 0, metadata: 1 },
        "unknown_family: no project",
      );
      const sink = exporter.health(plan.uid)?.sinks.get("s");
      assert.ok(sink);
      await eventually(() => sink.stats.samplesSent === 4, "the sink sends all four");
      assert.equal(
        sink.stats.samplesReceived,
        sink.stats.samplesSent + sink.stats.droppedTotal() + sink.buffered,
      );
      assert.equal(receiver.samples, 1, "one float sample; the rest are an exemplar and histograms");
      assert.deepEqual([...receiver.metadataFamilies], ["http_request_duration_seconds"]);
    } finally {
      await exporter.close();
      await receiver.close();
    }
  });

  it("encodes items as TimeSeries of their own and attaches the sink's metadata when due", async () => {
    const series: SeriesRef = {
      labelBytes: Uint8Array.from([0x0a, 0x07, 0x0a, 0x01, 0x61, 0x12, 0x02, 0x62, 0x63]),
    };
    // TimeSeries.histograms (field 4) holding Histogram{count_int: 5, timestamp: 7}.
    const histogramField = Uint8Array.from([0x22, 0x04, 0x08, 0x05, 0x78, 0x07]);
    const clock = new ManualClock(0);
    const book = new MetadataBook();
    const metadata = new SinkMetadata(book);
    book.noteSeries("p1", "a_bucket", [
      {
        noteFamily: (record) => {
          metadata.add(record);
        },
      },
    ]);
    const other = new SinkMetadata(book);
    book.noteSeries("p2", "a", [
      {
        noteFamily: (record) => {
          other.add(record);
        },
      },
    ]);
    assert.equal(metadata.size, 2, "a_bucket may be of family a_bucket or a");
    const entry = (family: string): Uint8Array =>
      referenceEncode({ metadata: [{ type: "HISTOGRAM", metricFamilyName: family, help: "h" }] });
    assert.equal(book.offer("a", entry("a"), undefined), true);
    assert.equal(book.offer("a", entry("a"), new Set(["p3"])), false, "p3 has no family a");
    const encoder = new RemoteWriteEncoder(metadata, clock);
    const batch = new SampleBatch<SeriesRef>(4);
    batch.add(series, 1.5, 1000, 0);
    batch.add({ labelBytes: series.labelBytes, item: histogramField, base: series }, 0, 7, 1);
    const encode = () => {
      const body = encoder.encode(batch, 0, 2);
      // Without compression threads a body is compressed inline, at once.
      if (!(body instanceof Uint8Array)) throw new Error("expected a body compressed inline");
      return referenceDecode(snappyUncompress(body, 1 << 20));
    };
    const decoded = encode();
    assert.equal(decoded.timeseries?.length, 2);
    assert.deepEqual(pick(decoded, "timeseries", 0, "samples"), [{ value: 1.5, timestamp: 1000 }]);
    assert.deepEqual(pick(decoded, "timeseries", 1, "samples"), []);
    assert.equal(pick(decoded, "timeseries", 1, "histograms", 0, "countInt"), 5);
    assert.deepEqual(pick(decoded, "timeseries", 1, "labels"), [{ name: "a", value: "bc" }]);
    assert.deepEqual(
      decoded.metadata?.map((m) => m.metricFamilyName),
      ["a"],
    );
    assert.equal(encode().metadata?.length, 0, "not again before the interval");
    await clock.advance(60_000);
    assert.equal(encode().metadata?.length, 1, "again a minute later");
  });
});
