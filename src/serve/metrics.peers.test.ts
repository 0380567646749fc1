// promtool's lint over what real replicas serve on /metrics, scraped over
// HTTP once they carry a policy and traffic: the all-in-one server in push
// mode (durable buffer, sinks delivering, samples without the tenant label,
// a series over a label limit), and a replica of a fleet that joins its API
// in pull mode (Lease, pull positions, the policy's pull job, a /metrics
// listener of its own). Each one's /readyz lists the checks of its mode.
import { policyManifest } from "../../test-support/policies.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { VERSION } from "../util/index.js";
import { startCountingReceiver, type CountingReceiver } from "../../test-support/counting-receiver.js";
import { eventually, eventuallyValue } from "../../test-support/eventually.js";
import { startFakeExportServer, type FakeExportServer } from "../../test-support/fake-export-server.js";
import { peerAvailability } from "../../test-support/peers.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { startServer } from "./all-in-one.js";
import { startJoinedReplica } from "./join.js";
import type { RunningExporter, RunningServer } from "./options.js";

const promtool = peerAvailability("promtool", "apt-get install prometheus");

const PROJECT = "p1";
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

const policy = (endpoint: string) =>
  policyManifest({
    name: "gateways",
    sources: { gw: '{resource_kind="Gateway"}' },
    sinks: [{ name: "receiver", endpoint, sources: ["gw"], batch: { timeout: "100ms" } }],
  });

async function scrape(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  return response.text();
}

function lint(exposition: string): void {
  const result = spawnSync(promtool.requirePath(), ["check", "metrics"], {
    input: exposition,
    encoding: "utf8",
  });
  assert.equal(result.status, 0, `promtool check metrics:\n${result.stdout}${result.stderr}`);
}

const value = (exposition: string, series: string): number | undefined => {
  const line = exposition.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("/metrics of running replicas, as promtool sees it", { skip: promtool.skip }, () => {
  let dir = "";
  let receiver: CountingReceiver;
  let store: FakeExportServer;
  let server: RunningServer;
  let puller: RunningExporter;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-metrics-lint-"));
    [receiver, store] = await Promise.all([startCountingReceiver(), startFakeExportServer()]);
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "server"),
      statusRefreshMs: 200,
      endpointAllow: ["127.0.0.0/8"],
    });
    const created = await apiRequest(server.api.projectUrl(PROJECT), "POST", POLICIES, {
      body: policy(receiver.writeUrl),
    });
    assert.equal(created.status, 201, created.text);
    const gateway = { resource_kind: "Gateway", [TENANT_LABEL]: PROJECT };
    puller = await startJoinedReplica({
      url: server.api.url,
      dataDir: join(dir, "puller"),
      metricsListen: "127.0.0.1:0",
      pull: { url: store.url, intervalMs: 200, lagMs: 0 },
      fleet: { replicaName: "puller-0" },
      endpointAllow: ["127.0.0.0/8"],
    });
    const labels = (record: Readonly<Record<string, string>>) =>
      Object.entries(record).map(([name, v]) => ({ name, value: v }));
    const ingest = `${server.ingest?.url ?? ""}/api/v1/write`;
    await eventually(async () => {
      const pushed = await pushSeries(ingest, [
        {
          labels: labels({ __name__: "envoy_requests_total", ...gateway }),
          samples: [{ value: 1, timestampMs: Date.now() }],
        },
        { labels: labels({ __name__: "up", job: "node" }), samples: [{ value: 1, timestampMs: Date.now() }] },
        {
          labels: labels({ __name__: "up", [TENANT_LABEL]: PROJECT, long: "x".repeat(5000) }),
          samples: [{ value: 1, timestampMs: Date.now() }],
        },
      ]);
      assert.equal(pushed.status, 204, pushed.body);
      return receiver.samples > 0;
    }, "samples delivered to the receiver through the all-in-one server's sink");
  });

  after(async () => {
    await puller.stop();
    await server.stop();
    await Promise.all([receiver.close(), store.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("passes for the all-in-one server in push mode, with its build and every component's families", async () => {
    const exposition = await scrape(server.ingest?.url ?? "");
    lint(exposition);
    assert.equal(
      value(exposition, `telex_build_info{version="${VERSION}",node_version="${process.versions.node}"}`),
      1,
    );
    for (const family of [
      "telex_sink_samples_sent_total",
      "telex_sink_request_duration_seconds",
      "telex_ingest_samples_without_tenant_total",
      "telex_ingest_samples_dropped_total",
      "telex_buffer_appended_bytes_total",
      "telex_controller_reconciles_total",
      "process_cpu_seconds_total",
    ]) {
      assert.match(exposition, new RegExp(`^# TYPE ${family} `, "m"), family);
    }
    assert.ok((value(exposition, "telex_ingest_samples_without_tenant_total") ?? 0) > 0);
  });

  it("passes for a replica of a fleet in pull mode, on its own /metrics listener", async () => {
    const exposition = await scrape(puller.metricsUrl ?? "");
    lint(exposition);
    for (const family of [
      "telex_build_info",
      "telex_replica_members",
      "telex_replica_lease_renewals_total",
      "telex_pull_position_writes_total",
      "telex_pull_skipped_seconds_total",
      "telex_sink_samples_sent_total",
    ]) {
      assert.match(exposition, new RegExp(`^# TYPE ${family} `, "m"), family);
    }
  });

  it("has each mode's readiness checks on /readyz", async () => {
    const verbose = async (base: string) => (await fetch(`${base}/readyz?verbose`)).text();
    assert.equal(
      await verbose(server.ingest?.url ?? ""),
      "[+]api ok\n[+]informers-synced ok\n[+]buffer ok\nreadyz check passed\n",
    );
    assert.equal(
      await verbose(puller.metricsUrl ?? ""),
      "[+]api ok\n[+]informers-synced ok\n[+]membership ok\n[+]source ok\nreadyz check passed\n",
    );
    // One process: the API listener answers for its store and for the exporter beside it.
    assert.equal(
      await verbose(server.api.url),
      "[+]store ok\n[+]api ok\n[+]informers-synced ok\n[+]buffer ok\nreadyz check passed\n",
    );
  });

  it("turns a puller not ready naming the source while the store fails every read, and ready again", async () => {
    const source = `${puller.metricsUrl ?? ""}/readyz/source`;
    store.injectFaults({ status: 503, body: "store down" }, { status: 503, body: "store down" });
    const failing = await eventuallyValue(
      async () => {
        const answer = await fetch(source);
        return { status: answer.status, body: await answer.text() };
      },
      (answer) => answer.status === 503,
      "/readyz/source failing",
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    assert.match(failing.body, /^\[-\]source failed: every pull job \(1\) fails to read the store: .*503/m);
    await eventuallyValue(
      async () => (await fetch(source)).status,
      (status) => status === 200,
      "/readyz/source ok once the store answers",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });
});
