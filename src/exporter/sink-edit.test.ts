// Edits that don't disturb (issue 15 part 4): changing a sink's batch, retry
// or credentials replaces its pipeline but keeps its counters — the history
// status and Events are told from — and its backlog; only a new endpoint
// starts a new series of counters. With the durable buffer and without.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Secret } from "../api/index.js";
import { eventually } from "../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../test-support/fault-server.js";
import { TENANT_LABEL, upSamplesRequest } from "../../test-support/platform-series.js";
import { policyPlan, type TestSink } from "../../test-support/policies.js";
import { DurableLog } from "./buffer/index.js";
import { Exporter } from "./exporter.js";

const secret = (password: string): Secret => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "creds", namespace: "default" },
  type: "kubernetes.io/basic-auth",
  data: {
    username: Buffer.from("telex").toString("base64"),
    password: Buffer.from(password).toString("base64"),
  },
});

const request = (count: number): Uint8Array => upSamplesRequest("p1", count);

for (const buffer of ["disk", "memory"] as const) {
  describe(`editing a sink (${buffer} buffer)`, () => {
    let dir = "";
    let receiver: FaultServer;
    let other: FaultServer;
    let log: DurableLog | undefined;
    let exporter: Exporter;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-sink-edit-"));
      [receiver, other] = await Promise.all([startFaultServer(), startFaultServer()]);
      log = buffer === "disk" ? await DurableLog.open({ dir }) : undefined;
      exporter = new Exporter({ tenantLabel: TENANT_LABEL, ...(log === undefined ? {} : { log }) });
    });

    after(async () => {
      await exporter.close();
      await log?.close();
      await Promise.all([receiver.close(), other.close()]);
      await rm(dir, { recursive: true, force: true });
    });

    const apply = (sink: Partial<TestSink>, password = "first"): void => {
      exporter.apply(
        policyPlan(
          "p1",
          {
            name: "edited",
            sources: { all: "{}" },
            sinks: [
              {
                name: "out",
                endpoint: receiver.url,
                sources: ["all"],
                batch: { timeout: "20ms" },
                secret: "creds",
                ...sink,
              },
            ],
          },
          { creds: secret(password) },
        ),
      );
    };
    const sink = () => exporter.health("uid-p1-edited")?.sinks.get("out");
    const push = async (count: number): Promise<void> => {
      await exporter.ingest.apply(request(count));
    };

    it("keeps the counters through batch, retry and password changes; a new endpoint starts afresh", async () => {
      apply({});
      await push(5);
      await eventually(() => sink()?.stats.samplesSent === 5, "first samples delivered");
      const first = sink();
      const stats = first?.stats;

      apply({ batch: { maxSize: 100, timeout: "30ms" } });
      assert.notEqual(sink(), first, "the pipeline was replaced");
      assert.equal(sink()?.stats, stats, "its counters were not");
      apply({ batch: { maxSize: 100, timeout: "30ms" }, retry: { maxAttempts: 5, backoffDuration: "1s" } });
      apply(
        { batch: { maxSize: 100, timeout: "30ms" }, retry: { maxAttempts: 5, backoffDuration: "1s" } },
        "second",
      );
      assert.equal(sink()?.stats, stats);
      await push(3);
      await eventually(() => sink()?.stats.samplesSent === 8, "delivered after the edits");
      const after = sink()?.stats;
      assert.ok(after);
      assert.equal(after.samplesReceived, 8);
      assert.equal(sink()?.buffered, 0);
      assert.equal(
        after.samplesReceived,
        after.samplesSent + Object.values(after.dropped).reduce((a, b) => a + b, 0) + (sink()?.buffered ?? 0),
        "received = sent + dropped + buffered",
      );
      const last = receiver.requests[receiver.requests.length - 1];
      assert.equal(
        last?.headers.authorization,
        `Basic ${Buffer.from("telex:second").toString("base64")}`,
        "the new password is used",
      );

      apply({ endpoint: other.url });
      assert.notEqual(sink()?.stats, stats, "a new endpoint: new counters");
      assert.equal(sink()?.stats.samplesSent, 0);
    });
  });
}
