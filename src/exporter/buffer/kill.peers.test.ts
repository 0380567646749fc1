// The issue's outage + SIGKILL scenario in push mode, end to end: `telex
// serve` with its durable buffer delivers to a real VictoriaMetrics behind a
// proxy that answers 503 for a while; the process is killed with SIGKILL in
// the middle of the outage and started again on the same data directory.
// Every sample ingest acknowledged must finally be in VictoriaMetrics.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULTS } from "../../api/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { startOutageProxy, type OutageProxy } from "../../../test-support/outage-proxy.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import { apiRequest } from "../../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../../test-support/telex-serve.js";
import {
  exportSamples,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";

const PROJECT = "kill-test";
const POLICIES = `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

function policy(endpoint: string): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: "durable" },
    spec: {
      sources: [{ name: "all", metrics: { metricsql: '{__name__="kill_probe"}' } }],
      sinks: [
        {
          name: "vm",
          sources: ["all"],
          target: {
            prometheusRemoteWrite: {
              endpoint,
              batch: { maxSize: 50, timeout: "500ms" },
              retry: { maxAttempts: 2, backoffDuration: "200ms" },
            },
          },
        },
      ],
    },
  };
}

/** Pushes numbered samples of four series; remembers which values were acknowledged. */
class NumberedPusher {
  readonly acknowledged: number[] = [];
  refused = 0;
  private next = 0;
  constructor(private readonly baseMs: number) {}

  async push(ingestUrl: string, count: number): Promise<void> {
    const values = Array.from({ length: count }, () => this.next++);
    const series = [0, 1, 2, 3].map((lane) => ({
      labels: [
        { name: "__name__", value: "kill_probe" },
        { name: "lane", value: String(lane) },
        { name: DEFAULTS.tenantLabel, value: PROJECT },
      ],
      samples: values
        .filter((v) => v % 4 === lane)
        .map((v) => ({ value: v, timestampMs: this.baseMs + v * 10 })),
    }));
    try {
      const answer = await pushSeries(`${ingestUrl}/api/v1/write`, series);
      if (answer.status === 204) this.acknowledged.push(...values);
      else this.refused += count;
    } catch {
      this.refused += count;
    }
  }
}

describe(
  "durable buffer: outage and SIGKILL in push mode",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let vm: RunningVictoriaMetrics;
    let proxy: OutageProxy;
    let dataDir: string;
    const servers: TelexServe[] = [];

    before(async () => {
      vm = await startVictoriaMetrics();
      proxy = await startOutageProxy({ upstream: vm.url });
      dataDir = await mkdtemp(join(tmpdir(), "telex-kill-"));
    });
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await proxy.close();
      await vm.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it("loses no acknowledged sample", async () => {
      const start = async (): Promise<TelexServe> => {
        const server = await startTelexServe([
          "--api-listen",
          "127.0.0.1:0",
          "--data-dir",
          dataDir,
          "--buffer-sync-interval",
          "100ms",
          // KILL_TEST_BUFFER=memory shows the test failing without the durable buffer.
          ...(process.env["KILL_TEST_BUFFER"] === undefined
            ? []
            : ["--buffer", process.env["KILL_TEST_BUFFER"]]),
        ]);
        servers.push(server);
        return server;
      };
      let server = await start();
      const created = await apiRequest(server.url, "POST", POLICIES, {
        body: policy(`${proxy.url}/api/v1/write`),
      });
      assert.equal(created.status, 201, created.text);
      const pusher = new NumberedPusher(Date.now() - 60_000);
      const ingest = (): string => server.ingestUrl ?? assert.fail("push mode has an ingest URL");
      // The policy is running once its first pushes arrive downstream.
      await eventually(
        async () => {
          await pusher.push(ingest(), 20);
          return proxy.stats.forwarded > 0;
        },
        "the policy delivers",
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      proxy.outage(503);
      for (let round = 0; round < 20; round++) {
        await pusher.push(ingest(), 20);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await server.kill();
      server = await start();
      for (let round = 0; round < 20; round++) {
        await pusher.push(ingest(), 20);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      proxy.restore();
      const wanted = new Set(pusher.acknowledged);
      const missingSamples = async (): Promise<number[]> => {
        const exported = await exportSamples(vm, '{__name__="kill_probe"}', {
          start: Math.floor(Date.now() / 1000) - 3600,
          end: Math.ceil(Date.now() / 1000) + 60,
        });
        const arrived = new Set(exported.flatMap((series) => series.values));
        return [...wanted].filter((value) => !arrived.has(value));
      };
      await eventually(
        async () => (await missingSamples()).length === 0,
        "every acknowledged sample arrives",
        {
          timeoutMs: 60_000,
          intervalMs: 1000,
        },
      ).catch(() => undefined);
      const missing = await missingSamples();
      assert.equal(
        missing.length,
        0,
        `${missing.length} of ${wanted.size} acknowledged samples missing, e.g. ${missing.slice(0, 10).join(", ")}`,
      );
      assert.ok(wanted.size >= 400, `enough acknowledged to mean something (${wanted.size})`);
    });
  },
);
