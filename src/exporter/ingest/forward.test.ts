// Push mode in a fleet, inside one replica: series matching policies another
// replica runs are forwarded there once per replica, the request settles only
// when the forward did, a forwarded request that this replica would not apply
// in full is refused whole (421), and a policy that moves away keeps
// delivering the backlog its sinks hold here, then is forgotten. The peers'
// side (real replicas forwarding to each other) is src/fleet/push.peers.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { decodeToObjects, encodeWriteRequest, snappyUncompress } from "../../remotewrite/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan, type TestPolicy } from "../../../test-support/policies.js";
import { DurableLog } from "../buffer/index.js";
import { Exporter, type FleetForwarding } from "../exporter.js";
import { ForwardError, MisdirectedError } from "./processor.js";
import {
  referenceDecode,
  referenceEncode,
  type ReferenceWriteRequest,
} from "../../../test-support/remotewrite/reference-prompb.js";

/** The other replicas, as the processor sees them: who owns what, and what was sent to whom. */
class Peers implements FleetForwarding {
  readonly owners = new Map<string, string | undefined>();
  readonly sent: { peer: string; names: string[]; samples: number }[] = [];
  /** The bodies sent, decoded by the reference implementation. */
  readonly bodies: ReferenceWriteRequest[] = [];
  fail: Error | undefined;
  private releases: (() => void)[] = [];
  hold = false;

  ownerOf(uid: string): string | undefined {
    return this.owners.get(uid);
  }

  async send(peer: string, body: Uint8Array, samples: number): Promise<void> {
    const names = decodeToObjects(snappyUncompress(body, 2 ** 20)).timeseries.map(
      (series) => series.labels.find((l) => l.name === "__name__")?.value ?? "",
    );
    this.sent.push({ peer, names, samples });
    this.bodies.push(referenceDecode(snappyUncompress(body, 2 ** 20)));
    if (this.hold) await new Promise<void>((resolve) => this.releases.push(resolve));
    if (this.fail !== undefined) throw this.fail;
  }

  release(): void {
    for (const resolve of this.releases.splice(0)) resolve();
  }
}

/** The value at `path` in a decoded message, or undefined: for asserting on nested optional fields. */
function pick(value: unknown, ...path: (string | number)[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

const policy = (name: string, selector: string, endpoint: string): TestPolicy => ({
  name,
  sources: { s: selector },
  sinks: [
    {
      name: "out",
      endpoint,
      sources: ["s"],
      batch: { timeout: "20ms" },
      retry: { maxAttempts: 1, backoffDuration: "100ms" },
    },
  ],
});

const request = (...names: string[]): Uint8Array =>
  encodeWriteRequest(
    names.map((name, i) => ({
      labels: [
        { name: "__name__", value: name },
        { name: TENANT_LABEL, value: "p1" },
      ],
      samples: [{ value: i, timestampMs: 1_700_000_000_000 + i }],
    })),
  );

describe("forwarding to the replica that runs a policy", () => {
  let dir: string | undefined;
  let receiver: FaultServer;
  let log: DurableLog | undefined;
  let peers: Peers;
  let exporter: Exporter | undefined;
  let status = 204;

  before(async () => {
    receiver = await startFaultServer(() => ({ status }));
  });

  beforeEach(async () => {
    status = 204;
    await exporter?.close();
    await log?.close().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), "telex-forward-"));
    log = await DurableLog.open({ dir });
    peers = new Peers();
    exporter = new Exporter({ tenantLabel: TENANT_LABEL, log, fleet: peers });
  });

  after(async () => {
    await exporter?.close();
    await log?.close().catch(() => undefined);
    await receiver.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** The current test's exporter and log (beforeEach made them). */
  const running = (): { exporter: Exporter; log: DurableLog } => {
    assert.ok(exporter !== undefined && log !== undefined);
    return { exporter, log };
  };
  const local = () => running().exporter.health("uid-p1-local")?.sinks.get("out");

  it("sends a series to each replica once, however many of its policies match, and settles with the forwards", async () => {
    const { exporter } = running();
    exporter.apply(policyPlan("p1", policy("local", `{__name__=~"a|b"}`, receiver.url)));
    for (const name of ["r1", "r2"]) {
      const plan = policyPlan("p1", policy(name, `{__name__=~"b|c"}`, receiver.url));
      peers.owners.set(plan.uid, "replica-x");
      exporter.forwardTo(plan);
    }
    peers.hold = true;
    const written = exporter.ingest.apply(request("a", "b", "c", "d"));
    assert.ok(written !== undefined);
    let settled = false;
    void written.then(() => (settled = true));
    await eventually(() => peers.sent.length === 1, "forwarded");
    assert.deepEqual(peers.sent, [{ peer: "replica-x", names: ["b", "c"], samples: 2 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "not acknowledged before the owner has it");
    peers.release();
    await written;
    await eventually(() => local()?.stats.samplesSent === 2, "a and b delivered here");
    assert.equal(exporter.ingest.stats.samplesForwarded, 2);
    assert.equal(exporter.ingest.stats.samplesNotSelected, 1, "d matches nothing");
  });

  it("forwards exemplars, histograms and the request's metadata with the series; metadata alone to the replicas of its family", async () => {
    const { exporter } = running();
    const plan = policyPlan("p1", policy("remote", `{__name__="rq_seconds"}`, receiver.url));
    peers.owners.set(plan.uid, "replica-x");
    exporter.forwardTo(plan);
    const labels = [
      { name: "__name__", value: "rq_seconds" },
      { name: TENANT_LABEL, value: "p1" },
    ];
    const metadata = [{ type: "HISTOGRAM" as const, metricFamilyName: "rq_seconds", help: "h" }];
    await exporter.ingest.apply(
      referenceEncode({
        timeseries: [
          {
            labels,
            samples: [{ value: 1, timestamp: 1_700_000_000_000 }],
            exemplars: [
              { labels: [{ name: "trace_id", value: "t" }], value: 1, timestamp: 1_700_000_000_000 },
            ],
            histograms: [{ countInt: 2, sum: 1, schema: 0, timestamp: 1_700_000_000_000 }],
          },
        ],
        metadata,
      }),
    );
    assert.deepEqual(peers.sent[0], {
      peer: "replica-x",
      names: ["rq_seconds", "rq_seconds", "rq_seconds"],
      samples: 3,
    });
    const forwarded = peers.bodies[0];
    assert.equal(pick(forwarded, "timeseries", 1, "exemplars", 0, "labels", 0, "value"), "t");
    assert.equal(pick(forwarded, "timeseries", 2, "histograms", 0, "countInt"), 2);
    assert.equal(pick(forwarded, "metadata", 0, "metricFamilyName"), "rq_seconds");
    assert.equal(exporter.ingest.stats.samplesForwarded, 3);

    // Metadata on its own, as Prometheus sends it: to the replica whose policy takes the family.
    await exporter.ingest.apply(referenceEncode({ metadata }));
    assert.equal(peers.sent.length, 2);
    assert.deepEqual(peers.sent[1], { peer: "replica-x", names: [], samples: 0 });
    assert.equal(pick(peers.bodies[1], "metadata", 0, "help"), "h");
    // A forwarded metadata-only request is not forwarded again.
    await exporter.ingest.apply(referenceEncode({ metadata }), true);
    assert.equal(peers.sent.length, 2);
  });

  it("fails the request when forwarding fails, or no live replica runs a matched policy", async () => {
    const { exporter } = running();
    const plan = policyPlan("p1", policy("remote", `{__name__="a"}`, receiver.url));
    exporter.forwardTo(plan);
    await assert.rejects(exporter.ingest.apply(request("a")) ?? Promise.resolve(), ForwardError);
    peers.owners.set(plan.uid, "replica-x");
    peers.fail = new ForwardError("replica-x: connection refused");
    await assert.rejects(exporter.ingest.apply(request("a")) ?? Promise.resolve(), /connection refused/);
  });

  it("refuses a forwarded request whole when a series would go on, or matches nothing here", () => {
    const { exporter } = running();
    exporter.apply(policyPlan("p1", policy("local", `{__name__="a"}`, receiver.url)));
    const remote = policyPlan("p1", policy("remote", `{__name__="b"}`, receiver.url));
    peers.owners.set(remote.uid, "replica-x");
    exporter.forwardTo(remote);
    assert.throws(() => exporter.ingest.apply(request("a", "b"), true), MisdirectedError);
    assert.throws(() => exporter.ingest.apply(request("a", "z"), true), MisdirectedError);
    assert.equal(local()?.stats.samplesReceived, 0, "nothing applied");
    assert.equal(peers.sent.length, 0, "nothing forwarded again");
    assert.equal(exporter.ingest.stats.samplesReceived, 0);
  });

  it("delivers what was on its way into the log when its policy moved away, then forgets the sink", async () => {
    const { exporter, log } = running();
    const plan = policyPlan("p1", policy("local", `{__name__="a"}`, receiver.url));
    exporter.apply(plan);
    const key = `${plan.uid}/out`;
    const sent = () =>
      receiver.requests.reduce(
        (sum, r) =>
          sum +
          decodeToObjects(snappyUncompress(r.body, 2 ** 20)).timeseries.reduce(
            (n, series) => n + series.samples.length,
            0,
          ),
        0,
      );
    const before = sent();
    // Routed to the sink now, written to the log on a later turn; the policy moves in between.
    const acknowledged = exporter.ingest.apply(request("a", "a"));
    peers.owners.set(plan.uid, "replica-x");
    exporter.forwardTo(plan);
    await acknowledged;
    await eventually(() => !log.sinkKeys.includes(key), "the drained sink is forgotten", {
      timeoutMs: 10_000,
    });
    assert.equal(sent() - before, 2, "both acknowledged samples reached the endpoint");
    assert.equal(log.stats.abandonedSamples, 0);
  });

  it("keeps delivering the backlog of a policy that moved away, then forgets it; taken back, it runs on", async () => {
    const { exporter, log } = running();
    const plan = policyPlan("p1", policy("local", `{__name__="a"}`, receiver.url));
    exporter.apply(plan);
    status = 503;
    await exporter.ingest.apply(request("a", "a", "a"));
    await eventually(() => local()?.isDown === true, "the endpoint is down", { timeoutMs: 10_000 });
    peers.owners.set(plan.uid, "replica-x");
    exporter.forwardTo(plan);
    assert.equal(exporter.has(plan.uid), false);
    await exporter.ingest.apply(request("a"));
    assert.equal(peers.sent.length, 1, "new samples go to the new owner");
    assert.equal(log.backlogOf(`${plan.uid}/out`), 3, "the old ones wait here");
    // Longer than a removed sink's 5 s drain: the backlog is not given up.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    assert.equal(log.backlogOf(`${plan.uid}/out`), 3);
    status = 204;
    await eventually(() => log.backlogOf(`${plan.uid}/out`) === 0, "delivered after the outage", {
      timeoutMs: 20_000,
    });
    const delivered = receiver.requests.length;
    assert.ok(delivered > 0);

    // A backlog found for a forwarded policy (e.g. after a restart) drains; taken back, its sink runs on.
    status = 503;
    exporter.apply(plan);
    await exporter.ingest.apply(request("a", "a"));
    exporter.forwardTo(plan);
    exporter.apply(plan);
    status = 204;
    await eventually(() => local()?.stats.samplesSent === 2, "the taken-back sink delivers", {
      timeoutMs: 20_000,
    });
  });
});
