import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "../metricsql/index.js";
import { uncompressBody } from "../remotewrite/index.js";
import { startCountingReceiver, type CountingReceiver } from "../../test-support/counting-receiver.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import { Exporter, type FleetForwarding } from "./exporter.js";
import { SELF_SERIES_PER_SINK, selfMetricsSelector } from "./self-metrics.js";

describe("self-metrics opt-in", () => {
  it("is given by a group that names a metric with = or =~, and by nothing else", () => {
    const opted = (text: string) => selfMetricsSelector(parse(text))?.groups.length ?? 0;
    assert.equal(opted("{}"), 0, "everything of the project does not include them");
    assert.equal(opted('{service_name="x"}'), 0);
    assert.equal(opted('{__name__!="up"}'), 0, "a negative name filter names nothing");
    assert.equal(opted('{__name__!~"go_.*"}'), 0);
    assert.equal(opted('{__name__=~"telex_export_.*"}'), 1);
    assert.equal(opted("telex_export_samples_sent_total"), 1);
    assert.equal(opted('{__name__=~"telex_.*" or service_name="x"}'), 1, "only the naming group");
    assert.equal(opted('up{a="1" or b="2"}'), 2);
  });
});

describe("self-metrics in a fleet (push mode)", () => {
  let receiver: CountingReceiver;
  before(async () => {
    receiver = await startCountingReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  it("each policy's owner generates its metrics; they reach the selecting policy on its own replica", async () => {
    const gw = policyPlan("p1", {
      name: "gw",
      sources: { s: "{}" },
      sinks: [{ name: "k", endpoint: receiver.writeUrl, sources: ["s"], batch: { timeout: "50ms" } }],
    });
    const health = policyPlan("p1", {
      name: "health",
      sources: { s: '{__name__=~"telex_export_.*"}' },
      sinks: [{ name: "k", endpoint: receiver.writeUrl, sources: ["s"], batch: { timeout: "50ms" } }],
    });
    const owners = new Map([
      [gw.uid, "a"],
      [health.uid, "b"],
    ]);
    const replicas = new Map<string, Exporter>();
    const forwarding: FleetForwarding = {
      ownerOf: (uid) => owners.get(uid),
      send: async (peer, body) => {
        const target = replicas.get(peer);
        assert.ok(target);
        await target.ingest.apply(Buffer.from(uncompressBody(body, 2 ** 24)), true);
      },
    };
    const a = new Exporter({ tenantLabel: TENANT_LABEL, fleet: forwarding });
    const b = new Exporter({ tenantLabel: TENANT_LABEL, fleet: forwarding });
    replicas.set("a", a).set("b", b);
    try {
      a.apply(gw);
      a.forwardTo(health);
      b.apply(health);
      b.forwardTo(gw);
      const now = Date.now();
      await a.emitSelfMetrics(now);
      await b.emitSelfMetrics(now);
      const healthSink = b.health(health.uid)?.sinks.get("k");
      const gwSink = a.health(gw.uid)?.sinks.get("k");
      assert.ok(healthSink && gwSink);
      await healthSink.settled();
      // gw's series were generated on a (its owner) and forwarded to b; health's on b itself.
      assert.equal(a.selfMetrics.generated, SELF_SERIES_PER_SINK);
      assert.equal(b.selfMetrics.generated, SELF_SERIES_PER_SINK);
      assert.equal(healthSink.stats.samplesReceived, 2 * SELF_SERIES_PER_SINK);
      assert.equal(healthSink.stats.samplesSent, 2 * SELF_SERIES_PER_SINK);
      assert.equal(gwSink.stats.samplesReceived, 0, "`{}` does not select them");
      assert.equal(a.ingest.stats.samplesForwarded, 0, "the forward was the self-metrics' own");
      assert.equal(receiver.samples, 2 * SELF_SERIES_PER_SINK);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
