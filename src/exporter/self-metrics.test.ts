import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "../metricsql/index.js";
import { encodeWriteRequest, uncompressBody } from "../remotewrite/index.js";
import { silentLogger, systemClock } from "../util/index.js";
import { startCountingReceiver, type CountingReceiver } from "../../test-support/counting-receiver.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import { Exporter, type FleetForwarding } from "./exporter.js";
import { RefusedRequestError } from "./ingest/processor.js";
import { MemoryCursorStore, PullSource } from "./pull/index.js";
import { SELF_METRICS, SELF_SERIES_PER_SINK, selfMetricsSelector } from "./self-metrics.js";

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

describe("self-metrics in a fleet (pull mode)", () => {
  let receiver: CountingReceiver;
  before(async () => {
    receiver = await startCountingReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  /** A pull source that is never started: the self-metrics do not come from the store. */
  const idlePull = () =>
    new PullSource({
      url: "http://127.0.0.1:9",
      intervalMs: 60_000,
      lagMs: 1000,
      cursorStore: new MemoryCursorStore(),
      clock: systemClock,
      logger: silentLogger,
    });

  const plan = (project: string, name: string, selector: string) =>
    policyPlan(project, {
      name,
      sources: { s: selector },
      sinks: [{ name: "k", endpoint: receiver.writeUrl, sources: ["s"], batch: { timeout: "50ms" } }],
    });

  it("each policy's owner sends its metrics to the replica of the selecting policy, of that project only, once", async () => {
    const gw = plan("p1", "gw", '{__name__="gateway_requests"}');
    const health = plan("p1", "health", '{__name__=~"telex_export_.*"}');
    const other = plan("p2", "health", '{__name__=~"telex_export_.*"}');
    const owners = new Map([
      [gw.uid, "a"],
      [health.uid, "b"],
      [other.uid, "b"],
    ]);
    const replicas = new Map<string, Exporter>();
    const sent: string[] = [];
    const forwarding: FleetForwarding = {
      ownerOf: (uid) => owners.get(uid),
      send: (peer, body) => {
        sent.push(peer);
        const target = replicas.get(peer);
        assert.ok(target);
        return (
          target.selfMetricsIntake.apply(Buffer.from(uncompressBody(body, 2 ** 24))) ?? Promise.resolve()
        );
      },
    };
    const a = new Exporter({ tenantLabel: TENANT_LABEL, fleet: forwarding, pull: idlePull() });
    const b = new Exporter({ tenantLabel: TENANT_LABEL, fleet: forwarding, pull: idlePull() });
    replicas.set("a", a).set("b", b);
    try {
      assert.ok(a.forwards && a.pulls);
      a.apply(gw);
      a.forwardTo(health);
      a.forwardTo(other);
      b.apply(health);
      b.apply(other);
      b.forwardTo(gw);
      const now = Date.now();
      await a.emitSelfMetrics(now);
      await b.emitSelfMetrics(now);
      const healthSink = b.health(health.uid)?.sinks.get("k");
      const otherSink = b.health(other.uid)?.sinks.get("k");
      const gwSink = a.health(gw.uid)?.sinks.get("k");
      assert.ok(healthSink && otherSink && gwSink);
      await Promise.all([healthSink.settled(), otherSink.settled()]);
      // a generated gw's 15 and sent them to b once; b generated health's and p2's own.
      assert.deepEqual(sent, ["b"], "one request, to the replica of the selecting policy");
      assert.equal(a.selfMetrics.generated, SELF_SERIES_PER_SINK);
      assert.equal(a.selfMetrics.forwarded, SELF_SERIES_PER_SINK);
      assert.equal(b.selfMetrics.received, SELF_SERIES_PER_SINK);
      assert.equal(healthSink.stats.samplesReceived, 2 * SELF_SERIES_PER_SINK, "its own and gw's");
      assert.equal(otherSink.stats.samplesReceived, SELF_SERIES_PER_SINK, "p2's own only, never p1's");
      assert.equal(gwSink.stats.samplesReceived, 0, "a source naming another metric does not select them");
      assert.equal(b.selfMetrics.routed, 3 * SELF_SERIES_PER_SINK);
      assert.equal(a.selfMetrics.skipped + b.selfMetrics.skipped, 0);

      // Received series are never forwarded again: a gets p1's series (it runs none of the
      // policies selecting them), skips them and sends nothing on.
      const series = (name: string, project: string) => ({
        labels: [
          { name: "__name__", value: name },
          { name: TENANT_LABEL, value: project },
          { name: "namespace", value: "default" },
          { name: "policy", value: "gw" },
          { name: "sink", value: "k" },
        ],
        samples: [{ value: 1, timestampMs: now }],
      });
      assert.equal(
        a.selfMetricsIntake.apply(encodeWriteRequest([series(SELF_METRICS.sent, "p1")])),
        undefined,
      );
      assert.deepEqual(sent, ["b"], "nothing forwarded on");
      assert.equal(a.selfMetrics.skipped, 1);
      // Anything but the delivery metrics is refused whole, nothing of it applied.
      const before = healthSink.stats.samplesReceived;
      assert.throws(
        () =>
          b.selfMetricsIntake.apply(
            encodeWriteRequest([series(SELF_METRICS.sent, "p1"), series("gateway_requests", "p1")]),
          ),
        RefusedRequestError,
      );
      assert.equal(healthSink.stats.samplesReceived, before);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
