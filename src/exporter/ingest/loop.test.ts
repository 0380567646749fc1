// A sink pointed at Telex's own ingest must not loop: before the loop marker,
// one sample into a policy with two sources on one such sink became 36 M
// samples in 20 s. Now the sink's request is refused (400, counted as loop)
// and the sample is counted once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../../test-support/eventually.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import { Exporter } from "../exporter.js";
import { LOOP_MESSAGE, startIngestServer, type IngestServer } from "./server.js";

describe("a sink whose endpoint is this Telex's ingest", () => {
  let exporter: Exporter;
  let ingest: IngestServer;

  before(async () => {
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
    exporter.apply(
      policyPlan("loopy", {
        name: "echo",
        // Two matching sources on one sink: every sample goes out twice.
        sources: { all: "{}", up: "up" },
        sinks: [
          {
            name: "self",
            endpoint: `${ingest.url}/api/v1/write`,
            sources: ["all", "up"],
            batch: { timeout: "50ms" },
            retry: { maxAttempts: 3, backoffDuration: "50ms" },
          },
        ],
      }),
    );
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
  });

  it("is refused with 400 (loop): one sample in is counted once, nothing amplifies", async () => {
    const result = await pushSeries(`${ingest.url}/api/v1/write`, [
      {
        labels: [
          { name: "__name__", value: "up" },
          { name: TENANT_LABEL, value: "loopy" },
        ],
        samples: [{ value: 1, timestampMs: Date.now() }],
      },
    ]);
    assert.equal(result.status, 204);
    const sink = exporter.health("uid-loopy-echo")?.sinks.get("self");
    assert.ok(sink);
    await eventually(() => sink.stats.dropped.rejected === 2, "the sink's two copies refused for good");
    // Time for any retry or re-export to show.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    assert.equal(exporter.ingest.stats.samplesReceived, 1, "the agent's sample, counted once");
    assert.equal(ingest.requests.ok, 1, "only the agent's request accepted");
    assert.equal(ingest.requests.loop, 1, "the sink's one request refused, not retried");
    assert.equal(sink.stats.samplesReceived, 2, "one sample, two matching sources");
    assert.equal(sink.stats.samplesSent, 0);
    assert.equal(sink.stats.dropped.rejected, 2);
    assert.equal(sink.stats.requests.rejected, 1);
    assert.equal(sink.stats.lastError?.reason, "Rejected");
    assert.ok(
      sink.stats.lastError.message.includes(LOOP_MESSAGE),
      `the tenant sees why: ${sink.stats.lastError.message}`,
    );
  });
});
