// Tenants' own delivery metrics, delivered to a real VictoriaMetrics: a
// project's policy that names telex_export_* gets the delivery metrics of its
// project's policies, with the right values, and never another project's; a
// `{}` source gets none; a policy exporting its own metrics converges. In
// push mode (through the durable buffer) and in pull mode (where the
// platform's series come from the store, and these from Telex itself).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeWriteRequest } from "../remotewrite/index.js";
import { silentLogger, systemClock } from "../util/index.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan, type TestPolicy } from "../../test-support/policies.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type ExportedSeries,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { DurableLog } from "./buffer/index.js";
import { Exporter } from "./exporter.js";
import { MemoryCursorStore, PullSource } from "./pull/index.js";
import { SELF_SERIES_PER_SINK } from "./self-metrics.js";

const HEALTH_ALL = '{__name__=~"telex_export_.*"}';

function policy(name: string, selector: string, endpoint: string): TestPolicy {
  return {
    name,
    sources: { s: selector },
    sinks: [{ name: "vm", endpoint, sources: ["s"], batch: { timeout: "100ms" } }],
  };
}

/** p1: a gateway policy, a `{}` policy and a health policy; p2: `{}` and one naming a single metric; p3: `{}` only. */
function plans(endpoint: string) {
  return [
    policyPlan("p1", policy("gw", '{service_name="networking.miloapis.com"}', endpoint)),
    policyPlan("p1", policy("all", "{}", endpoint)),
    policyPlan("p1", policy("health", HEALTH_ALL, endpoint)),
    policyPlan("p2", policy("all", "{}", endpoint)),
    policyPlan("p2", policy("health", "telex_export_samples_sent_total", endpoint)),
    policyPlan("p3", policy("all", "{}", endpoint)),
  ];
}

function sinkOf(exporter: Exporter, project: string, name: string) {
  const sink = exporter.health(`uid-${project}-${name}`)?.sinks.get("vm");
  assert.ok(sink, `${project}/${name} runs`);
  return sink;
}

async function settleAll(exporter: Exporter): Promise<void> {
  for (const plan of plans("http://unused")) await sinkOf(exporter, plan.project, plan.name).settled();
}

async function selfSeries(vm: RunningVictoriaMetrics): Promise<ExportedSeries[]> {
  await forceFlush(vm);
  return exportSamples(vm, '{__name__=~"telex_export_.*"}', {
    start: Math.floor(Date.now() / 1000) - 600,
    end: Math.floor(Date.now() / 1000) + 60,
  });
}

/** The value a series had at timestampMs in VictoriaMetrics. */
function valueAt(
  rows: readonly ExportedSeries[],
  labels: Record<string, string>,
  timestampMs: number,
): number {
  const row = rows.find((r) => Object.entries(labels).every(([name, value]) => r.metric[name] === value));
  assert.ok(row, `a series ${JSON.stringify(labels)}`);
  const at = row.timestamps.indexOf(timestampMs);
  assert.ok(at >= 0, `a sample at ${timestampMs} in ${JSON.stringify(row)}`);
  return row.values[at] ?? NaN;
}

/** What both modes must show once two intervals were generated at t1 and t2, after `gwSamples` of p1/gw. */
async function checkDelivered(
  vm: RunningVictoriaMetrics,
  exporter: Exporter,
  gwSamples: number,
  t1: number,
  t2: number,
): Promise<void> {
  const rows = await selfSeries(vm);
  const projects = new Set(rows.map((r) => r.metric[TENANT_LABEL]));
  assert.deepEqual([...projects].sort(), ["p1", "p2"], "p3 selects none: none of its series are generated");
  // p1 names every self-metric: 15 series for each of its 3 sinks.
  const p1 = rows.filter((r) => r.metric[TENANT_LABEL] === "p1");
  assert.equal(p1.length, 3 * SELF_SERIES_PER_SINK);
  assert.deepEqual(new Set(p1.map((r) => r.metric["policy"])), new Set(["gw", "all", "health"]));
  // p2 names one metric: one series per sink, its own policies only.
  const p2 = rows.filter((r) => r.metric[TENANT_LABEL] === "p2");
  assert.deepEqual(p2.map((r) => `${r.metric["__name__"]} ${r.metric["policy"]}`).sort(), [
    "telex_export_samples_sent_total all",
    "telex_export_samples_sent_total health",
  ]);
  const p1Labels = { [TENANT_LABEL]: "p1", namespace: "default", sink: "vm" };
  // Values: what the sinks sent before each interval.
  for (const at of [t1, t2]) {
    assert.equal(
      valueAt(rows, { ...p1Labels, __name__: "telex_export_samples_sent_total", policy: "gw" }, at),
      gwSamples,
    );
    assert.equal(
      valueAt(rows, { ...p1Labels, __name__: "telex_export_samples_received_total", policy: "all" }, at),
      gwSamples,
      "`{}` got the ingested samples and no self-metrics",
    );
    assert.equal(valueAt(rows, { ...p1Labels, __name__: "telex_export_sink_healthy", policy: "gw" }, at), 1);
    assert.equal(
      valueAt(
        rows,
        { ...p1Labels, __name__: "telex_export_samples_dropped_total", policy: "gw", reason: "buffer_full" },
        at,
      ),
      0,
    );
  }
  // The health policy exports its own metrics: it had sent nothing at t1, one interval's worth
  // (15 series × 3 sinks) at t2 — a fixed number per interval, whatever the values.
  const health = { ...p1Labels, __name__: "telex_export_samples_sent_total", policy: "health" };
  assert.equal(valueAt(rows, health, t1), 0);
  assert.equal(valueAt(rows, health, t2), 3 * SELF_SERIES_PER_SINK);
  // The sinks' own counters agree, and nothing else reached them.
  assert.equal(sinkOf(exporter, "p1", "health").stats.samplesSent, 2 * 3 * SELF_SERIES_PER_SINK);
  assert.equal(sinkOf(exporter, "p2", "health").stats.samplesSent, 2 * 2);
  assert.equal(sinkOf(exporter, "p1", "all").stats.samplesReceived, gwSamples);
  assert.equal(sinkOf(exporter, "p3", "all").stats.samplesReceived, 0);
  assert.equal(exporter.selfMetrics.generated, 2 * (3 * SELF_SERIES_PER_SINK + 2 * SELF_SERIES_PER_SINK));
  assert.equal(exporter.selfMetrics.routed, 2 * (3 * SELF_SERIES_PER_SINK + 2));
  assert.equal(exporter.selfMetrics.skipped, 0);
}

describe("tenants' own delivery metrics", { skip: victoriaMetricsAvailability().skip }, () => {
  let vm: RunningVictoriaMetrics;
  before(async () => {
    vm = await startVictoriaMetrics();
  });
  after(async () => {
    await vm.stop();
  });

  it("push mode (durable buffer): a project's policy gets its project's delivery metrics, right, and only those", async () => {
    const dir = await mkdtemp(join(tmpdir(), "telex-self-metrics-"));
    const log = await DurableLog.open({ dir });
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL, log });
    try {
      for (const plan of plans(`${vm.url}/api/v1/write`)) exporter.apply(plan);
      const now = Date.now();
      const gwSamples = 120;
      const written = exporter.ingest.apply(
        encodeWriteRequest(
          Array.from({ length: gwSamples }, (_, i) => ({
            labels: [
              { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
              { name: TENANT_LABEL, value: "p1" },
              { name: "service_name", value: "networking.miloapis.com" },
              { name: "gateway_name", value: `gw-${i}` },
            ],
            samples: [{ value: i, timestampMs: now - 1000 }],
          })),
        ),
      );
      await written;
      await settleAll(exporter);
      const t1 = Date.now();
      await exporter.emitSelfMetrics(t1);
      await settleAll(exporter);
      const t2 = t1 + 15_000;
      await exporter.emitSelfMetrics(t2);
      await settleAll(exporter);
      await checkDelivered(vm, exporter, gwSamples, t1, t2);
    } finally {
      await exporter.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pull mode: the platform's series come from the store, the delivery metrics from Telex", async () => {
    const store = await startVictoriaMetrics();
    const customer = await startVictoriaMetrics();
    const pull = new PullSource({
      url: store.url,
      intervalMs: 500,
      lagMs: 2000,
      cursorStore: new MemoryCursorStore(),
      clock: systemClock,
      logger: silentLogger,
    });
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL, pull });
    try {
      for (const plan of plans(`${customer.url}/api/v1/write`)) exporter.apply(plan);
      pull.start();
      const base = Date.now();
      const gwSamples = 40;
      const lines = Array.from(
        { length: gwSamples },
        (_, i) =>
          `envoy_vhost_vcluster_upstream_rq{${TENANT_LABEL}="p1",service_name="networking.miloapis.com",gateway_name="gw-${i}"} ${i} ${base}`,
      );
      const response = await fetch(`${store.url}/api/v1/import/prometheus`, {
        method: "POST",
        body: `${lines.join("\n")}\n`,
      });
      assert.equal(response.status, 204);
      await forceFlush(store);
      const gw = sinkOf(exporter, "p1", "gw");
      const deadline = Date.now() + 20_000;
      while (gw.stats.samplesSent < gwSamples && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(gw.stats.samplesSent, gwSamples, "the pull job delivered the gateway samples");
      await settleAll(exporter);
      const t1 = Date.now();
      await exporter.emitSelfMetrics(t1);
      await settleAll(exporter);
      const t2 = t1 + 15_000;
      await exporter.emitSelfMetrics(t2);
      await settleAll(exporter);
      await checkDelivered(customer, exporter, gwSamples, t1, t2);
    } finally {
      await pull.stop();
      await exporter.close();
      await Promise.all([store.stop(), customer.stop()]);
    }
  });
});
