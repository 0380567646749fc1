// Backlogs of policies deleted while Telex was stopped (issue 12): once the
// controller has seen every policy, the durable log gives up the sinks no
// existing policy has, counts what they held, and keeps everything else.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExpositionWriter } from "../metrics/exposition.js";
import { startFaultServer, type FaultServer } from "../../test-support/fault-server.js";
import { TENANT_LABEL, upSamplesRequest } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import { DurableLog, writeBufferMetrics } from "./buffer/index.js";
import { Exporter } from "./exporter.js";

const request = (count: number): Uint8Array => upSamplesRequest("p1", count);

describe("backlogs of policies deleted while stopped", () => {
  let dir = "";
  let down: FaultServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-prune-"));
    down = await startFaultServer(() => ({ status: 503 }));
  });

  after(async () => {
    await down.close();
    await rm(dir, { recursive: true, force: true });
  });

  const plan = (name: string, sinks: string[]) =>
    policyPlan("p1", {
      name,
      sources: { all: "{}" },
      sinks: sinks.map((sink) => ({
        name: sink,
        endpoint: down.url,
        sources: ["all"],
        retry: { maxAttempts: 1, backoffDuration: "1h" },
      })),
    });

  it("gives up what no existing policy's sink holds, and nothing else", async () => {
    const kept = plan("kept", ["a", "b"]);
    const deleted = plan("deleted", ["a"]);
    let log = await DurableLog.open({ dir });
    let exporter = new Exporter({ tenantLabel: TENANT_LABEL, log });
    exporter.apply(kept);
    exporter.apply(deleted);
    await exporter.ingest.apply(request(40));
    await exporter.close();
    await log.close();

    log = await DurableLog.open({ dir });
    const keys = [`${kept.uid}/a`, `${kept.uid}/b`, `${deleted.uid}/a`];
    assert.deepEqual([...log.sinkKeys].sort(), [...keys].sort(), "every sink's backlog survived the restart");
    for (const key of keys) assert.equal(log.backlogOf(key), 40, key);
    exporter = new Exporter({ tenantLabel: TENANT_LABEL, log });
    // The API now holds `kept` without its sink b (edited while stopped), and no `deleted`.
    const givenUp = exporter.pruneBacklogs(new Map([[kept.uid, ["a"]]]));
    assert.equal(givenUp, 80);
    assert.equal(log.backlogOf(`${kept.uid}/a`), 40, "the existing sink keeps its backlog");
    assert.equal(log.backlogOf(`${kept.uid}/b`), 0);
    assert.equal(log.backlogOf(`${deleted.uid}/a`), 0);
    assert.equal(log.stats.abandonedSamples, 80);
    const writer = new ExpositionWriter();
    writeBufferMetrics(writer, log);
    assert.match(writer.render(), /^telex_buffer_abandoned_samples_total 80$/m, "counted, not silent");
    // A sink running now is never pruned, whatever the map says.
    exporter.apply(plan("kept", ["a"]));
    assert.equal(exporter.pruneBacklogs(new Map()), 0);
    assert.equal(log.backlogOf(`${kept.uid}/a`), 40);
    await exporter.close();
    await log.close();

    log = await DurableLog.open({ dir });
    assert.deepEqual(log.sinkKeys, [`${kept.uid}/a`], "the pruned sinks stay gone after a restart");
    await log.close();
  });
});
