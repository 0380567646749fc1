// `telex describe` shows delivery counters end to end: the whole server in
// one process, samples pushed into its ingest endpoint, one sink delivering
// to a real VictoriaMetrics and one to an endpoint that keeps failing. The
// sent count describe prints is the count VictoriaMetrics holds; the failing
// sink, past its retry.maxAttempts, is down: it keeps every sample, probes
// the endpoint, and says so in its backlog, condition and Events.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../../serve/index.js";
import { eventuallyValue } from "../../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";
import { runCli } from "../../../test-support/cli.js";

// No developer's config file may change the defaults these tests rely on.
process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const PROJECT = "describe-e2e";
const SERIES = 5;
const SAMPLES_PER_SERIES = 300;
const TOTAL = SERIES * SAMPLES_PER_SERIES;

function policy(vmUrl: string, faultUrl: string): string {
  return `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: gateways
spec:
  sources:
    - name: gw
      metrics:
        metricsql: '{resource_kind="Gateway"}'
  sinks:
    - name: vm
      sources: [gw]
      target:
        prometheusRemoteWrite:
          endpoint: ${vmUrl}/api/v1/write
          batch: {maxSize: 500, timeout: 200ms}
    - name: failing
      sources: [gw]
      target:
        prometheusRemoteWrite:
          endpoint: ${faultUrl}/api/v1/write
          batch: {maxSize: 5000, timeout: 200ms}
          retry: {maxAttempts: 2, backoffDuration: 100ms}
`;
}

/** The lines of one sink's block in describe's output. */
function sinkBlock(output: string, sink: string): string[] {
  const lines = output.split("\n");
  const start = lines.indexOf(`  ${sink}:`);
  assert.ok(start >= 0, output);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith("    "));
  return lines.slice(start + 1, end);
}

describe("telex describe with a running exporter", { skip: victoriaMetricsAvailability().skip }, () => {
  let dir: string;
  let vm: RunningVictoriaMetrics;
  let fault: FaultServer;
  let server: RunningServer;
  let flags: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-describe-"));
    vm = await startVictoriaMetrics();
    fault = await startFaultServer(() => ({ status: 503, body: "overloaded" }));
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      statusRefreshMs: 200,
    });
    flags = ["--server", server.api.url, "--project", PROJECT];
  });

  after(async () => {
    await server.stop();
    await fault.close();
    await vm.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the sent count VictoriaMetrics received, and the failing sink down, keeping its samples", async () => {
    const applied = await runCli(["apply", "-f", "-", ...flags], policy(vm.url, fault.url));
    assert.equal(applied.code, 0, applied.stderr);
    // Before the first sample: the pipelines run, nothing sent yet.
    const idle = await eventuallyValue(
      () => runCli(["describe", "exportpolicy", "gateways", ...flags]),
      (r) => r.stdout.includes("    Delivery:  0 samples sent in 0 requests"),
      "the policy's pipelines running",
    );
    assert.equal(idle.code, 0, idle.stderr);

    const startMs = Date.now() - 60_000;
    const series = Array.from({ length: SERIES }, (_, s) => ({
      labels: [
        { name: "__name__", value: "envoy_cluster_upstream_rq" },
        { name: "gateway", value: `gw-${String(s)}` },
        { name: "resource_kind", value: "Gateway" },
        { name: TENANT_LABEL, value: PROJECT },
      ],
      samples: Array.from({ length: SAMPLES_PER_SERIES }, (_, i) => ({
        value: i,
        timestampMs: startMs + i * 100,
      })),
    }));
    const other = {
      labels: [
        { name: "__name__", value: "envoy_cluster_upstream_rq" },
        { name: "resource_kind", value: "HTTPProxy" },
        { name: TENANT_LABEL, value: PROJECT },
      ],
      samples: [{ value: 1, timestampMs: startMs }],
    };
    const pushed = await pushSeries(`${server.ingest?.url ?? ""}/api/v1/write`, [...series, other]);
    assert.equal(pushed.status, 204, pushed.body);

    const described = await eventuallyValue(
      () => runCli(["describe", "exportpolicy", "gateways", ...flags]),
      (r) =>
        sinkBlock(r.stdout, "vm").some((l) => l.includes(" 0 buffered;")) &&
        sinkBlock(r.stdout, "failing").some((l) => l.startsWith("    Down since ")) &&
        sinkBlock(r.stdout, "failing").some((l) => l.includes("; keeping 1,500 samples, ")) &&
        r.stdout.includes("\tSinkDown\t"),
      "every pushed sample sent, or kept by the sink that is down",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.equal(described.code, 0, described.stderr);

    await forceFlush(vm);
    const now = Date.now() / 1000;
    const stored = await exportSamples(vm, '{__name__!=""}', { start: now - 600, end: now + 60 });
    const received = stored.reduce((total, row) => total + row.values.length, 0);
    assert.equal(received, TOTAL, "VictoriaMetrics holds every selected sample, nothing else");

    const vmBlock = sinkBlock(described.stdout, "vm");
    const vmDelivery = vmBlock.find((l) => l.startsWith("    Delivery:")) ?? "";
    assert.match(
      vmDelivery,
      /^ {4}Delivery: {2}1,500 samples sent in (\d+) requests \(0 failed\), 0 dropped, 0 buffered; last success \d+s ago; mean latency (<1|\d+) ms$/,
    );
    assert.equal(vmDelivery.split(" samples sent")[0]?.trim().replace(/\D/g, ""), String(received));
    assert.ok(!vmBlock.some((l) => l.startsWith("    Last error:")), vmBlock.join("\n"));

    assert.ok(
      vmBlock.some((l) => /^ {4}Backlog: {3}0 samples \(0 B\), lag 0s, \d+ shards?$/.test(l)),
      vmBlock.join("\n"),
    );

    // Past maxAttempts the failing sink drops nothing: it is down, keeps the samples and probes.
    const failing = sinkBlock(described.stdout, "failing");
    assert.ok(fault.requests.length >= 2, "the batch was tried at least maxAttempts times");
    const failingDelivery = failing.find((l) => l.startsWith("    Delivery:")) ?? "";
    const counts =
      /^ {4}Delivery: {2}0 samples sent in (\d+) requests \((\d+) failed, [\d,]+ samples retried\), 0 dropped, 1,500 buffered; last success never; mean latency (<1|\d+) ms$/.exec(
        failingDelivery,
      );
    assert.ok(counts !== null, failingDelivery);
    assert.equal(counts[1], counts[2], "every request failed");
    assert.ok(!failing.some((l) => l.startsWith("    Dropped:")), failing.join("\n"));
    assert.ok(
      failing.some((l) =>
        /^ {4}Backlog: {3}1,500 samples \(\d+(\.\d)? k?B\), lag \d+s, \d+ shards?$/.test(l),
      ),
      failing.join("\n"),
    );
    assert.ok(
      failing.some((l) =>
        /^ {4}Down since \S+Z \(\d+s ago\), (next probe in \d+s|next probe due now|first probe being scheduled); \d+ probes? so far$/.test(
          l,
        ),
      ),
      failing.join("\n"),
    );
    assert.ok(
      failing.some((l) =>
        /^ {4}Ready: False \(EndpointError\) since \S+ — HTTP 503: overloaded; keeping 1,500 samples, next probe (in \d+s|due)$/.test(
          l,
        ),
      ),
      failing.join("\n"),
    );
    assert.match(
      described.stdout,
      /\tSinkDown\t\S+\tsink failing is down since \S+ \(ServerError: HTTP 503: overloaded\): keeping 1,500 samples and probing the endpoint\n/,
    );
    assert.ok(
      failing.some((l) => /^ {4}Last error: ServerError \d+s ago — HTTP 503: overloaded$/.test(l)),
      failing.join("\n"),
    );
  });
});
