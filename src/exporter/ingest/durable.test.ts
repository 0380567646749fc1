// Ingest with the durable buffer: the answer waits for the write, samples
// reach the sink through the log, a log that cannot take data makes the
// request a 503 that no sink counted, and a log writing behind makes it 429
// (the server refuses while the processor says it is overloaded).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeWriteRequest } from "../../remotewrite/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import { DurableLog } from "../buffer/index.js";
import { Exporter } from "../exporter.js";
import { startIngestServer, type IngestServer } from "./server.js";

describe("ingest with the durable buffer", () => {
  let dir: string;
  let receiver: FaultServer;
  let log: DurableLog;
  let exporter: Exporter;
  let ingest: IngestServer;
  let url = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-ingest-durable-"));
    receiver = await startFaultServer(() => ({ status: 204 }));
    log = await DurableLog.open({ dir, maxPendingBytes: 1 });
    exporter = new Exporter({ tenantLabel: TENANT_LABEL, log });
    exporter.apply(
      policyPlan("p1", {
        name: "all",
        sources: { all: "{}" },
        sinks: [{ name: "null", endpoint: receiver.url, sources: ["all"], batch: { timeout: "50ms" } }],
      }),
    );
    ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
    url = `${ingest.url}/api/v1/write`;
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
    await log.close().catch(() => undefined);
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  const series = (n: number) => [
    {
      labels: [
        { name: "__name__", value: "up" },
        { name: TENANT_LABEL, value: "p1" },
      ],
      samples: Array.from({ length: n }, (_, i) => ({ value: i, timestampMs: 1_700_000_000_000 + i })),
    },
  ];
  const sink = () => exporter.health("uid-p1-all")?.sinks.get("null");

  it("acknowledges once written, and the sink delivers from there", async () => {
    const answer = await pushSeries(url, series(5));
    assert.equal(answer.status, 204, answer.body);
    const durable = sink()?.durable;
    assert.equal(durable?.endSeq, 5, "written to the log before the answer");
    await eventually(() => sink()?.stats.samplesSent === 5, "delivered");
  });

  it("is overloaded (ingest answers 429) while more than the pending cap waits to be written", async () => {
    assert.equal(exporter.ingest.overloaded, false);
    const written = exporter.ingest.apply(encodeWriteRequest(series(10)));
    assert.ok(written !== undefined, "a promise for the write");
    assert.equal(exporter.ingest.overloaded, true, "a 1-byte cap is over while the record waits");
    await written;
    assert.equal(exporter.ingest.overloaded, false);
  });

  it("answers 503 when the log cannot take data, and no sink counts the samples", async () => {
    const received = sink()?.stats.samplesReceived ?? 0;
    await log.close();
    const answer = await pushSeries(url, series(3));
    assert.equal(answer.status, 503, answer.body);
    assert.match(answer.body, /durable buffer/);
    assert.equal(sink()?.stats.samplesReceived, received);
    assert.equal(ingest.requests.unavailable, 1);
  });
});
