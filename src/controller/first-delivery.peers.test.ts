// Ready follows a sink's first delivery at once, not at the next health
// pass: with --status-interval at 10 minutes, a policy whose sink delivers
// turns Ready within seconds, in one reconcile, and a policy with two sinks
// delivering together is reconciled once for both.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer } from "../serve/index.js";
import type { RunningServer } from "../serve/options.js";
import { startCountingReceiver, type CountingReceiver } from "../../test-support/counting-receiver.js";
import { eventually, eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyManifest } from "../../test-support/policies.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest } from "../../test-support/telex-api.js";

const PROJECT = "p1";
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
}

describe("Ready after a first delivery", () => {
  let dir = "";
  let receiver: CountingReceiver;
  let server: RunningServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-first-delivery-"));
    receiver = await startCountingReceiver();
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: dir,
      statusRefreshMs: 10 * 60_000,
      endpointAllow: ["127.0.0.0/8"],
    });
  });

  after(async () => {
    await server.stop();
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  const readiness = async (name: string): Promise<string[]> => {
    const response = await apiRequest(server.api.projectUrl(PROJECT), "GET", `${POLICIES}/${name}`);
    assert.equal(response.status, 200, response.text);
    const status = response.json()["status"] as
      { conditions?: Condition[]; sinks?: { name: string; conditions?: Condition[] }[] } | undefined;
    const ready = (conditions: Condition[] | undefined) =>
      conditions?.find((c) => c.type === "Ready")?.reason ?? "none";
    return [
      ready(status?.conditions),
      ...(status?.sinks ?? []).map((s) => `${s.name}:${ready(s.conditions)}`),
    ];
  };

  it("turns a policy Ready within seconds of its sinks' first delivery, in one reconcile", async () => {
    const created = await apiRequest(server.api.projectUrl(PROJECT), "POST", POLICIES, {
      body: policyManifest({
        name: "gateways",
        sources: { gw: '{resource_kind="Gateway"}' },
        sinks: ["a", "b"].map((name) => ({
          name,
          endpoint: receiver.writeUrl,
          sources: ["gw"],
          batch: { timeout: "100ms" },
        })),
      }),
    });
    assert.equal(created.status, 201, created.text);
    await eventuallyValue(
      () => readiness("gateways"),
      (r) => r[0] === "AwaitingData",
      "the policy reconciled, awaiting data",
    );
    await eventually(() => server.controller.queue.idle, "the controller at rest");
    const reconciles = server.controller.reconciles;
    const pushed = await pushSeries(`${server.ingest?.url ?? ""}/api/v1/write`, [
      {
        labels: [
          { name: "__name__", value: "envoy_requests_total" },
          { name: TENANT_LABEL, value: PROJECT },
          { name: "resource_kind", value: "Gateway" },
        ],
        samples: [{ value: 1, timestampMs: Date.now() }],
      },
    ]);
    assert.equal(pushed.status, 204, pushed.body);
    // The health pass is 10 minutes away: only the first deliveries can make it Ready now.
    const ready = await eventuallyValue(
      () => readiness("gateways"),
      (r) => r.every((reason) => reason.endsWith("AllSinksReady") || reason.endsWith(":Delivering")),
      "Ready after the first deliveries",
      { timeoutMs: 5000 },
    );
    assert.deepEqual(ready.slice(1), ["a:Delivering", "b:Delivering"]);
    assert.equal(receiver.samples, 2);
    await eventually(() => server.controller.queue.idle, "the controller at rest");
    assert.equal(
      server.controller.reconciles - reconciles,
      1,
      "both sinks' first deliveries share one reconcile",
    );
  });
});
