// Ingest with real peers: a real Prometheus scrapes a target and remote-writes
// into telex; telex routes by tenant and delivers to VictoriaMetrics. What
// arrives must be exactly what the policy selects, and nothing of another
// project may ever reach a project's sink.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import {
  prometheusAvailability,
  queryRawSamples,
  startPrometheus,
  type RunningPrometheus,
} from "../../../test-support/prometheus.js";
import { eventually } from "../../../test-support/eventually.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";
import { Exporter } from "../exporter.js";
import { startIngestServer, type IngestServer } from "./server.js";

const skip = prometheusAvailability().skip ?? victoriaMetricsAvailability().skip;

/** A scrape target exposing gateway metrics of three projects, values changing every scrape. */
async function startTarget(): Promise<{ url: string; close(): Promise<void> }> {
  let scrapes = 0;
  const server: Server = createServer((_req, res) => {
    scrapes++;
    const lines: string[] = ["# TYPE envoy_vhost_vcluster_upstream_rq counter"];
    for (const project of ["alpha-1", "beta-2", "gamma-3"]) {
      for (const kind of ["Gateway", "HTTPProxy"]) {
        for (const code of ["200", "503"]) {
          const labels = `${TENANT_LABEL}="${project}",resource_kind="${kind}",envoy_response_code="${code}",service_name="networking.miloapis.com"`;
          lines.push(
            `envoy_vhost_vcluster_upstream_rq{${labels}} ${scrapes * 10 + (code === "503" ? 1 : 0)}`,
          );
        }
      }
    }
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

type SampleSet = Set<string>;
const sampleKey = (metric: Record<string, string>, ts: number, value: number) =>
  `${metric["resource_kind"]}|${metric["envoy_response_code"]}|${metric[TENANT_LABEL]}|${ts}|${value}`;

describe("ingest from a real Prometheus agent to VictoriaMetrics", { skip }, () => {
  let vm: RunningVictoriaMetrics;
  let exporter: Exporter;
  let ingest: IngestServer;
  let target: { url: string; close(): Promise<void> };
  let prometheus: RunningPrometheus;

  before(async () => {
    vm = await startVictoriaMetrics();
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    exporter.apply(
      policyPlan("beta-2", {
        name: "gateways",
        sources: { gateways: '{service_name="networking.miloapis.com", resource_kind="Gateway"}' },
        sinks: [
          {
            name: "vm",
            endpoint: `${vm.url}/api/v1/write`,
            sources: ["gateways"],
            batch: { timeout: "200ms" },
          },
        ],
      }),
    );
    ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
    target = await startTarget();
    prometheus = await startPrometheus({
      config: [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: platform",
        "    honor_labels: true",
        "    static_configs:",
        `      - targets: ["${target.url}"]`,
        "remote_write:",
        `  - url: ${ingest.url}/api/v1/write`,
        "    queue_config:",
        "      batch_send_deadline: 500ms",
        "      min_backoff: 100ms",
        "",
      ].join("\n"),
    });
  });

  after(async () => {
    await prometheus.stop();
    await target.close();
    await ingest.close();
    await exporter.close();
    await vm.stop();
  });

  it("delivers exactly the samples the policy selects", async () => {
    // Everything since the peers started: both sides are queried over the same wide window.
    const started = Date.now() / 1000 - 600;
    // Let Prometheus scrape and forward a few times.
    await eventually(() => exporter.ingest.stats.samplesReceived > 60, "samples reaching ingest", {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const end = Date.now() / 1000;
    const selector = `envoy_vhost_vcluster_upstream_rq{${TENANT_LABEL}="beta-2", resource_kind="Gateway"}`;

    // What Prometheus scraped and stored in the window, for the policy's selector.
    const scraped = await queryRawSamples(prometheus, selector, Math.ceil(end - started) + 1, end);
    const expected: SampleSet = new Set(
      scraped.flatMap((s) => s.values.map(([t, v]) => sampleKey(s.metric, Math.round(t * 1000), Number(v)))),
    );
    assert.ok(expected.size >= 4, `Prometheus scraped ${expected.size} matching samples`);
    const cutoff = Math.max(...[...expected].map((k) => Number(k.split("|")[3])));

    let delivered: SampleSet = new Set();
    let foreign: string[] = [];
    await eventually(
      async () => {
        await forceFlush(vm);
        const rows = await exportSamples(vm, '{__name__!=""}', { start: started, end: end + 60 });
        foreign = rows
          .filter((r) => r.metric[TENANT_LABEL] !== "beta-2" || r.metric["resource_kind"] !== "Gateway")
          .map((r) => JSON.stringify(r.metric));
        delivered = new Set(
          rows.flatMap((r) =>
            r.timestamps.flatMap((t, i) => (t <= cutoff ? [sampleKey(r.metric, t, r.values[i] ?? NaN)] : [])),
          ),
        );
        return [...expected].every((k) => delivered.has(k));
      },
      "every selected sample at VictoriaMetrics",
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.deepEqual(foreign, [], "nothing outside the selector");
    assert.deepEqual([...delivered].sort(), [...expected].sort());
  });
});

describe("tenant isolation through ingest", { skip: victoriaMetricsAvailability().skip }, () => {
  const projects = Array.from({ length: 20 }, (_, i) => `project-${i.toString().padStart(2, "0")}`);
  let vmA: RunningVictoriaMetrics;
  let vmB: RunningVictoriaMetrics;
  let exporter: Exporter;
  let ingest: IngestServer;

  before(async () => {
    [vmA, vmB] = await Promise.all([startVictoriaMetrics(), startVictoriaMetrics()]);
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    const sink = (vm: RunningVictoriaMetrics) => ({
      name: "sink",
      endpoint: `${vm.url}/api/v1/write`,
      sources: ["s"],
      batch: { timeout: "100ms" },
    });
    exporter.apply(
      policyPlan("project-03", {
        name: "everything",
        sources: { s: '{__name__=~".+"}' },
        sinks: [sink(vmA)],
      }),
    );
    // Selectors that try to reach beyond the project: alternatives, negations, look-alike labels.
    exporter.apply(
      policyPlan("project-07", {
        name: "adversarial",
        sources: {
          s: '{__name__=~".*" or resourcemanager_datumapis_com_project_name_x=~".*" or resource_kind!="nothing"}',
        },
        sinks: [sink(vmB)],
      }),
    );
    ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
    await Promise.all([vmA.stop(), vmB.stop()]);
  });

  it("lets no other project's series reach a project's sink", async () => {
    const now = Date.now() - 60_000;
    const series = projects.flatMap((project) =>
      ["Gateway", "HTTPProxy", "Workload"].map((kind) => ({
        labels: [
          { name: "__name__", value: "datum_cloud_networking_gateway_requests" },
          { name: TENANT_LABEL, value: project },
          { name: "resource_kind", value: kind },
          { name: `${TENANT_LABEL}_x`, value: "project-03" },
        ],
        samples: [{ value: 1, timestampMs: now }],
      })),
    );
    assert.equal((await pushSeries(`${ingest.url}/api/v1/write`, series)).status, 204);
    const projectsAt = async (vm: RunningVictoriaMetrics) => {
      await forceFlush(vm);
      const rows = await exportSamples(vm, '{__name__!=""}', {
        start: now / 1000 - 60,
        end: now / 1000 + 60,
      });
      return rows.map((r) => r.metric[TENANT_LABEL]);
    };
    await eventually(
      async () => (await projectsAt(vmA)).length === 3 && (await projectsAt(vmB)).length === 3,
      "both sinks",
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.deepEqual(await projectsAt(vmA), ["project-03", "project-03", "project-03"]);
    assert.deepEqual(await projectsAt(vmB), ["project-07", "project-07", "project-07"]);
  });
});
