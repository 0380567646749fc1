// describe's Delivery block from a `delivery` report, and what it prints
// against an API server that does not serve one.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type TestApiServer,
} from "../../../test-support/telex-api.js";
import { runCli } from "../../../test-support/cli.js";
import { bytes, describePolicy, duration } from "./describe.js";

// No developer's config file may change the defaults these tests rely on.
process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const POLICY = {
  metadata: { name: "edge", namespace: "default", generation: 2 },
  spec: {
    sources: [{ name: "gw", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
    sinks: ["ok", "broken", "new"].map((name) => ({
      name,
      sources: ["gw"],
      target: { prometheusRemoteWrite: { endpoint: `https://${name}.example.com/write` } },
    })),
  },
};

const READ_AT = "2026-03-01T12:00:00Z";

const REPORT = {
  kind: "ExportPolicyDelivery",
  timestamp: READ_AT,
  sinks: [
    {
      name: "ok",
      samplesSent: 12_345,
      samplesDropped: { buffer_full: 0, expired: 0 },
      samplesBuffered: 0,
      samplesPending: 0,
      bufferedBytes: 0,
      lagSeconds: 0,
      shards: 1,
      samplesRetried: 0,
      requests: { success: 30, unreachable: 0 },
      lastSuccessTime: "2026-03-01T11:59:57Z",
      latency: { count: 30, sumSeconds: 0.12 },
    },
    {
      name: "broken",
      samplesSent: 0,
      samplesDropped: { buffer_full: 1000, expired: 1500 },
      samplesBuffered: 180_000,
      samplesPending: 180_000,
      bufferedBytes: 12_345_678,
      lagSeconds: 192.4,
      shards: 4,
      samplesRetried: 2_000,
      down: { since: "2026-03-01T11:50:00Z", nextProbeTime: "2026-03-01T12:04:10Z", probes: 3 },
      requests: { success: 0, unreachable: 9 },
      lastError: {
        reason: "Unreachable",
        message: "connect ECONNREFUSED 127.0.0.1:9",
        time: "2026-03-01T11:59:48Z",
      },
      latency: { count: 0, sumSeconds: 0 },
    },
  ],
};

/** The lines of one sink's block in describe's output. */
function sinkBlock(output: string, sink: string): string[] {
  const lines = output.split("\n");
  const start = lines.indexOf(`  ${sink}:`);
  assert.ok(start >= 0, output);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith("    "));
  return lines.slice(start + 1, end);
}

describe("telex describe: delivery counters", () => {
  // The client's clock is a minute off: ages are measured against the server's read time.
  const clientNow = Date.parse(READ_AT) + 60_000;

  it("prints sent, requests, failures, drops, buffered, backlog, down state, last success and mean latency per sink", () => {
    const output = describePolicy(POLICY, [], "p", clientNow, { report: REPORT });
    const shown = /^ {4}(Delivery|Backlog|Down|Dropped|Last error)/;
    assert.deepEqual(
      sinkBlock(output, "ok").filter((l) => shown.test(l)),
      [
        "    Delivery:  12,345 samples sent in 30 requests (0 failed), 0 dropped, 0 buffered; last success 3s ago; mean latency 4 ms",
        "    Backlog:   0 samples (0 B), lag 0s, 1 shard",
      ],
    );
    assert.deepEqual(
      sinkBlock(output, "broken").filter((l) => shown.test(l)),
      [
        "    Delivery:  0 samples sent in 9 requests (9 failed, 2,000 samples retried), 2,500 dropped, 180,000 buffered; last success never",
        "    Backlog:   180,000 samples (12 MB), lag 3m12s, 4 shards",
        "    Down since 2026-03-01T11:50:00Z (10m ago), next probe in 4m10s; 3 probes so far",
        "    Dropped:   buffer_full 1,000, expired 1,500",
        "    Last error: Unreachable 12s ago — connect ECONNREFUSED 127.0.0.1:9",
      ],
    );
  });

  it("reads samplesPending from servers that predate samplesBuffered, and prints no backlog line for them", () => {
    const old = {
      timestamp: READ_AT,
      sinks: [
        { name: "ok", samplesSent: 5, samplesDropped: {}, samplesPending: 7, requests: { success: 1 } },
      ],
    };
    const block = sinkBlock(describePolicy(POLICY, [], "p", clientNow, { report: old }), "ok");
    assert.ok(
      block.some((l) => l.includes(", 0 dropped, 7 buffered; ")),
      block.join("\n"),
    );
    assert.ok(!block.some((l) => l.startsWith("    Backlog:")), block.join("\n"));
  });

  it("says 1 attempt, 1 sample, 1 request and 1 probe in the singular", () => {
    const single = {
      ...POLICY,
      spec: {
        ...POLICY.spec,
        sinks: [
          {
            name: "once",
            sources: ["gw"],
            target: {
              prometheusRemoteWrite: {
                endpoint: "https://once.example.com/write",
                retry: { maxAttempts: 1, backoffDuration: "5s" },
              },
            },
          },
        ],
      },
    };
    const report = {
      timestamp: READ_AT,
      sinks: [
        {
          name: "once",
          samplesSent: 1,
          samplesDropped: {},
          samplesBuffered: 0,
          bufferedBytes: 0,
          lagSeconds: 0,
          shards: 1,
          down: { since: "2026-03-01T11:50:00Z", nextProbeTime: "2026-03-01T12:04:10Z", probes: 1 },
          requests: { success: 1 },
        },
      ],
    };
    const block = sinkBlock(describePolicy(single, [], "p", clientNow, { report }), "once");
    assert.ok(block.includes("    Retry:     1 attempt, backoff from 5s"), block.join("\n"));
    assert.ok(
      block.some((l) => l.startsWith("    Delivery:  1 sample sent in 1 request (0 failed)")),
      block.join("\n"),
    );
    assert.ok(
      block.some((l) => l.endsWith("; 1 probe so far")),
      block.join("\n"),
    );
    const three = JSON.parse(
      JSON.stringify(single).replace('"maxAttempts":1', '"maxAttempts":3'),
    ) as typeof single;
    const many = sinkBlock(describePolicy(three, [], "p", clientNow, { report }), "once");
    assert.ok(many.includes("    Retry:     3 attempts, backoff from 5s"), many.join("\n"));
  });

  it("formats durations and bytes", () => {
    assert.deepEqual([0, 45, 192.4, 3600 + 5 * 60, 3 * 86_400 + 4 * 3600].map(duration), [
      "0s",
      "45s",
      "3m12s",
      "1h05m",
      "3d4h",
    ]);
    assert.deepEqual([640, 1_500, 12_345_678, 1_500_000_000].map(bytes), [
      "640 B",
      "1.5 kB",
      "12 MB",
      "1.5 GB",
    ]);
  });

  it("a sink the report does not name yet, and a report without pipelines, say so", () => {
    const output = describePolicy(POLICY, [], "p", clientNow, { report: REPORT });
    assert.ok(sinkBlock(output, "new").includes("    Delivery:  no pipeline runs for this sink yet"), output);
    const idle = describePolicy(POLICY, [], "p", clientNow, {
      report: { sinks: [], message: "no delivery pipelines run for this policy" },
    });
    for (const sink of ["ok", "broken", "new"]) {
      assert.ok(
        sinkBlock(idle, sink).includes("    Delivery:  no delivery pipelines run for this policy"),
        idle,
      );
    }
  });

  describe("against an API server without an exporter", () => {
    let server: TestApiServer;

    before(async () => {
      server = await startTestApiServer();
      const created = await apiRequest(
        server.api.projectUrl("api-only"),
        "POST",
        "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
        { body: examplePolicy("plain") },
      );
      assert.equal(created.status, 201, created.text);
    });
    after(async () => {
      await server.close();
    });

    it("prints 'not reported by this server' under each sink and exits 0", async () => {
      const result = await runCli([
        "describe",
        "exportpolicy",
        "plain",
        "--server",
        server.api.url,
        "--project",
        "api-only",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      assert.deepEqual(sinkBlock(result.stdout, "remote").slice(-1), [
        "    Delivery:  not reported by this server",
      ]);
      assert.match(result.stdout, /\nEvents:\n {2}<none>\n$/);
    });
  });
});
