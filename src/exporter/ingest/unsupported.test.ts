// Exemplars, native histograms and metadata ride along in Remote Write 1.0
// requests; Telex forwards float samples only, so the rest is counted —
// never silently skipped — and only for requests it accepted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExpositionWriter } from "../../metrics/exposition.js";
import { referenceEncode } from "../../../test-support/remotewrite/reference-prompb.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { Exporter } from "../exporter.js";

const labels = [
  { name: "__name__", value: "http_request_duration_seconds" },
  { name: TENANT_LABEL, value: "p1" },
];

describe("what Telex does not forward", () => {
  it("counts exemplars, native histogram samples and metadata of accepted requests", () => {
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    const request = referenceEncode({
      timeseries: [
        {
          labels,
          samples: [{ value: 1, timestamp: 1_700_000_000_000 }],
          exemplars: [
            { labels: [{ name: "trace_id", value: "abc" }], value: 0.2, timestamp: 1_700_000_000_000 },
          ],
          histograms: [
            { countInt: 3, sum: 1.5, schema: 0, timestamp: 1_700_000_000_000 },
            { countInt: 4, sum: 2, schema: 0, timestamp: 1_700_000_001_000 },
          ],
        },
      ],
      metadata: [{ type: "HISTOGRAM", metricFamilyName: "http_request_duration_seconds", help: "h" }],
    });
    assert.equal(exporter.ingest.apply(request), undefined);
    assert.deepEqual(exporter.ingest.stats.unsupported, { exemplar: 1, histogram: 2, metadata: 1 });
    assert.equal(exporter.ingest.stats.samplesReceived, 1, "the float sample is taken");

    // A request refused as malformed counts nothing.
    const broken = request.slice(0, request.length - 3);
    assert.throws(() => exporter.ingest.apply(broken));
    assert.deepEqual(exporter.ingest.stats.unsupported, { exemplar: 1, histogram: 2, metadata: 1 });

    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    const text = writer.render();
    assert.match(text, /^telex_ingest_samples_dropped_total\{reason="unsupported"\} 2$/m);
    assert.match(text, /^telex_ingest_unsupported_total\{kind="exemplar"\} 1$/m);
    assert.match(text, /^telex_ingest_unsupported_total\{kind="metadata"\} 1$/m);
  });
});
