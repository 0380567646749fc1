// `telex serve --demo` end to end: the whole server in one process, a policy
// created through the API, synthetic platform metrics reaching a real
// VictoriaMetrics — only the policy's project, only what it selects — and
// the status saying so.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ExportPolicy } from "../api/index.js";
import { KubeClient } from "../kube/index.js";
import { startServer, type RunningServer } from "../serve/index.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";

const POLICIES =
  "/apis/resourcemanager.miloapis.com/v1alpha1/projects/my-project/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

describe("telex serve --demo", { skip: victoriaMetricsAvailability().skip }, () => {
  let dataDir: string;
  let vm: RunningVictoriaMetrics;
  let server: RunningServer;
  let client: KubeClient;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "telex-demo-"));
    vm = await startVictoriaMetrics();
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir,
      demo: true,
      statusRefreshMs: 200,
    });
    client = new KubeClient({
      server: server.api.url,
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    });
  });

  after(async () => {
    await client.close();
    await server.stop();
    await vm.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("delivers the selected demo metrics of the policy's project and reports Ready", async () => {
    await client.request("POST", POLICIES, {
      body: {
        apiVersion: "telemetry.miloapis.com/v1alpha1",
        kind: "ExportPolicy",
        metadata: { name: "gateway-errors" },
        spec: {
          sources: [
            {
              name: "errors",
              metrics: { metricsql: 'envoy_vhost_vcluster_upstream_rq{envoy_response_code=~"5.."}' },
            },
          ],
          sinks: [
            {
              name: "vm",
              sources: ["errors"],
              target: {
                prometheusRemoteWrite: { endpoint: `${vm.url}/api/v1/write`, batch: { timeout: "200ms" } },
              },
            },
          ],
        },
      },
    });
    const ready = await eventuallyValue(
      () => client.request<ExportPolicy>("GET", `${POLICIES}/gateway-errors`),
      (p) => p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True",
      "policy Ready",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.equal(ready.status?.sinks?.[0]?.conditions?.[0]?.reason, "Delivering");
    await forceFlush(vm);
    const now = Date.now() / 1000;
    const rows = await exportSamples(vm, '{__name__!=""}', { start: now - 120, end: now + 60 });
    assert.equal(rows.length, 3, "one 503 series per demo gateway");
    for (const row of rows) {
      assert.equal(row.metric[TENANT_LABEL], "my-project");
      assert.equal(row.metric["__name__"], "envoy_vhost_vcluster_upstream_rq");
      assert.equal(row.metric["envoy_response_code"], "503");
    }
    assert.match(
      server.metrics(),
      /^telex_sink_samples_sent_total\{project="my-project",namespace="default",policy="gateway-errors",sink="vm"\} [1-9]/m,
    );
  });
});
