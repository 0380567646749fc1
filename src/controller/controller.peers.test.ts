// The controller against the embedded API server and a real VictoriaMetrics
// with basic auth as the customer's endpoint: finalizer, plan applied,
// status that follows delivery and Secret changes, events, teardown.
import { ExpositionWriter } from "../metrics/exposition.js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ExportPolicy } from "../api/index.js";
import { Exporter } from "../exporter/exporter.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { eventuallyValue as eventually } from "../../test-support/eventually.js";
import { encodeWriteRequest } from "../remotewrite/index.js";
import { Controller } from "./controller.js";
import { KubeApiError, KubeClient } from "../kube/index.js";
import { embeddedLayout } from "./layout.js";
import { FINALIZER } from "./reconciler.js";

const PROJECT = "test-rdzjb8";
const BASE = `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
const POLICY_PATH = `${BASE}/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;
const SECRET_PATH = `${BASE}/api/v1/namespaces/default/secrets`;

describe("controller with the embedded API", { skip: victoriaMetricsAvailability().skip }, () => {
  let server: TestApiServer;
  let vm: RunningVictoriaMetrics;
  let exporter: Exporter;
  let controller: Controller;
  let client: KubeClient;

  before(async () => {
    [server, vm] = await Promise.all([
      startTestApiServer(),
      startVictoriaMetrics({ httpAuth: { username: "1234567", password: "glc_token" } }),
    ]);
    client = new KubeClient({
      server: server.api.url,
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    });
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    controller = new Controller({
      client,
      layout: embeddedLayout(),
      exporter,
      tenantLabel: TENANT_LABEL,
      statusRefreshMs: 200,
    });
    await controller.start();
  });

  after(async () => {
    await controller.stop();
    await exporter.close();
    await client.close();
    await Promise.all([server.close(), vm.stop()]);
  });

  const getPolicy = () => client.request<ExportPolicy>("GET", `${POLICY_PATH}/gateways`);
  const sinkReason = (policy: ExportPolicy) =>
    policy.status?.sinks?.[0]?.conditions?.find((c) => c.type === "Ready")?.reason;
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "vm-creds", namespace: "default" },
    type: "kubernetes.io/basic-auth",
    stringData: { username: "1234567", password: "glc_token" },
  };
  const push = (value: number) => {
    exporter.ingest.apply(
      encodeWriteRequest([
        {
          labels: [
            { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
            { name: TENANT_LABEL, value: PROJECT },
            { name: "resource_kind", value: "Gateway" },
          ],
          samples: [{ value, timestampMs: Date.now() }],
        },
      ]),
    );
  };

  it("runs an applied policy, delivers, and reports Ready", async () => {
    await client.request("POST", SECRET_PATH, { body: secret });
    await client.request("POST", POLICY_PATH, {
      body: {
        apiVersion: "telemetry.miloapis.com/v1alpha1",
        kind: "ExportPolicy",
        metadata: { name: "gateways", namespace: "default" },
        spec: {
          sources: [{ name: "gw", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
          sinks: [
            {
              name: "vm",
              sources: ["gw"],
              target: {
                prometheusRemoteWrite: {
                  endpoint: `${vm.url}/api/v1/write`,
                  authentication: { basicAuth: { secretRef: { name: "vm-creds" } } },
                  batch: { timeout: "100ms" },
                },
              },
            },
          ],
        },
      },
    });
    const withFinalizer = await eventually(
      getPolicy,
      (p) => p.metadata.finalizers?.includes(FINALIZER) === true,
      "finalizer",
    );
    assert.ok(withFinalizer);
    const awaiting = await eventually(getPolicy, (p) => sinkReason(p) !== undefined, "a status");
    assert.equal(sinkReason(awaiting), "AwaitingData");
    push(1);
    const ready = await eventually(getPolicy, (p) => sinkReason(p) === "Delivering", "Delivering");
    const condition = ready.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(condition?.status, "True");
    assert.equal(condition.message, "1/1 sinks ready");
    assert.equal(condition.observedGeneration, ready.metadata.generation);
    await forceFlush(vm);
    const rows = await exportSamples(vm, "envoy_vhost_vcluster_upstream_rq", {
      start: Date.now() / 1000 - 60,
      end: Date.now() / 1000 + 60,
    });
    assert.equal(rows.length, 1);
  });

  it("neither reconciles nor rewrites status while delivery health stays the same", async () => {
    const writes = controller.reconciler.status.writes;
    const reconciles = controller.reconciles;
    // Five status checks (every 200 ms) while samples keep flowing.
    for (let i = 0; i < 5; i++) {
      push(3);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(controller.reconciles, reconciles, "no periodic reconciles");
    // A reconcile forced anyway (a resync does this) finds nothing to write.
    controller.queue.add(`${PROJECT}/default/gateways`);
    await eventually(
      () => Promise.resolve(controller.reconciles),
      (n) => n > reconciles,
      "the forced reconcile",
    );
    assert.equal(controller.reconciler.status.writes, writes);
    // Every reconcile is timed, and the histogram is on /metrics.
    assert.equal(controller.reconcileSeconds.count, controller.reconciles + controller.reconcileErrors);
    const writer = new ExpositionWriter();
    controller.writeMetrics(writer);
    const text = writer.render();
    assert.match(
      text,
      new RegExp(
        `^telex_controller_reconcile_duration_seconds_count ${controller.reconcileSeconds.count}$`,
        "m",
      ),
    );
    assert.match(text, /^telex_controller_reconcile_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    assert.match(text, /^telex_controller_events_total [1-9]\d*$/m);
  });

  it("turns the sink not Ready with SecretNotFound when the Secret goes, SecretInvalid when it is unusable, and back", async () => {
    await client.request("DELETE", `${SECRET_PATH}/vm-creds`);
    const missing = await eventually(getPolicy, (p) => sinkReason(p) === "SecretNotFound", "SecretNotFound");
    assert.equal(missing.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");
    // Missing, then present but unusable: the plan stays the same (no sink either way), the reason must not.
    await client.request("POST", SECRET_PATH, { body: { ...secret, type: "Opaque" } });
    await eventually(getPolicy, (p) => sinkReason(p) === "SecretInvalid", "SecretInvalid");
    await client.request("DELETE", `${SECRET_PATH}/vm-creds`);
    await client.request("POST", SECRET_PATH, { body: secret });
    await eventually(
      async () => {
        push(2);
        return getPolicy();
      },
      (p) => sinkReason(p) === "Delivering",
      "Delivering again",
    );
  });

  it("reports wrong credentials as Unauthorized and records events", async () => {
    await client.request("PATCH", `${SECRET_PATH}/vm-creds`, {
      contentType: "application/merge-patch+json",
      body: { stringData: { password: "wrong" } },
    });
    await eventually(
      async () => {
        push(3);
        return getPolicy();
      },
      (p) => sinkReason(p) === "Unauthorized",
      "Unauthorized",
    );
    // The Event follows the status write that records the transition (one more request).
    const events = await eventually(
      () =>
        client.request<{ items: { reason: string; message: string }[] }>(
          "GET",
          `${BASE}/api/v1/namespaces/default/events`,
        ),
      (list) => list.items.some((e) => e.reason === "NotReady" && e.message.includes("Unauthorized")),
      "the NotReady Event",
    );
    assert.ok(events.items.some((e) => e.reason === "Ready"));
    assert.ok(events.items.every((e) => !e.message.includes("wrong") && !e.message.includes("glc_token")));
  });

  it("reports EndpointUnreachable while the endpoint is down, and recovers when it is back", async () => {
    await client.request("PATCH", `${SECRET_PATH}/vm-creds`, {
      contentType: "application/merge-patch+json",
      body: { stringData: { password: "glc_token" } },
    });
    const pushing = async () => {
      push(Date.now());
      return getPolicy();
    };
    await eventually(pushing, (p) => sinkReason(p) === "Delivering", "Delivering with the right password");
    const { port } = vm;
    await vm.stop();
    const down = await eventually(
      pushing,
      (p) => sinkReason(p) === "EndpointUnreachable",
      "EndpointUnreachable",
      { timeoutMs: 30_000 },
    );
    // A request in flight when VictoriaMetrics stops sees the connection reset or closed
    // (undici: UND_ERR_SOCKET); later ones are refused. All mean the endpoint is unreachable.
    assert.match(
      down.status?.sinks?.[0]?.conditions?.[0]?.message ?? "",
      /ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET/,
    );
    vm = await startVictoriaMetrics({ httpAuth: { username: "1234567", password: "glc_token" }, port });
    await eventually(pushing, (p) => sinkReason(p) === "Delivering", "Delivering after the restart", {
      timeoutMs: 30_000,
    });
  });

  it("records a Warning Event when a sink drops samples as buffer_full or expired, once per growth", async () => {
    const uid = (await getPolicy()).metadata.uid ?? "";
    const sink = exporter.health(uid)?.sinks.get("vm");
    assert.ok(sink !== undefined);
    // What the pipeline does when its buffer overflows or the log expires old data.
    sink.stats.dropped.buffer_full += 1_234;
    sink.stats.dropped.expired += 500;
    sink.stats.noteExpired(Date.UTC(2026, 0, 1, 0, 0, 0), Date.UTC(2026, 0, 1, 6, 30, 0));
    const events = () =>
      client.request<{ items: { type: string; reason: string; message: string }[] }>(
        "GET",
        `${BASE}/api/v1/namespaces/default/events`,
      );
    const told = await eventually(
      events,
      (e) => e.items.some((i) => i.reason === "SamplesExpired"),
      "the drop Events",
    );
    const dropped = told.items.filter((i) => i.reason === "SamplesDropped");
    assert.deepEqual(
      dropped.map((i) => [i.type, i.message]),
      [["Warning", "sink vm: the buffer was full; dropped the oldest 1,234 samples (buffer_full)"]],
    );
    assert.deepEqual(
      told.items.filter((i) => i.reason === "SamplesExpired").map((i) => [i.type, i.message]),
      [
        [
          "Warning",
          "sink vm: dropped 500 samples older than the maximum backlog age (written 2026-01-01T00:00:00Z to 2026-01-01T06:30:00Z) (expired)",
        ],
      ],
    );
    // Told once: later refreshes find nothing new.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const again = await events();
    assert.equal(again.items.filter((i) => i.reason.startsWith("Samples")).length, 2);
  });

  it("tears the pipelines down before the policy goes", async () => {
    const uid = (await getPolicy()).metadata.uid ?? "";
    assert.ok(exporter.health(uid));
    await client.request("DELETE", `${POLICY_PATH}/gateways`);
    await eventually(
      () =>
        getPolicy().then(
          () => false,
          (error: unknown) => error instanceof KubeApiError && error.statusCode === 404,
        ),
      (gone) => gone,
      "policy deleted",
    );
    assert.equal(exporter.health(uid), undefined);
  });
});
