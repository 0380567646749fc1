// A Remote Write sink against real receivers (Prometheus, VictoriaMetrics with
// basic auth) and, for faults they cannot be made to produce, a scriptable
// loopback server. Every test checks attempt counts and the accounting
// invariant received = sent + dropped + queued + in flight.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeToObjects, encodeLabels, snappyUncompress } from "../../remotewrite/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { freePort } from "../../../test-support/peers.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import {
  prometheusAvailability,
  queryRawSamples,
  startPrometheus,
  type RunningPrometheus,
} from "../../../test-support/prometheus.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";
import type { SeriesRef } from "../series.js";
import { CompressPool, RemoteWriteSink, type RemoteWriteSinkConfig, type SinkRuntime } from "./index.js";

const PROJECT_LABEL = "resourcemanager_datumapis_com_project_name";

function series(name: string, labels: Record<string, string>): SeriesRef {
  return {
    labelBytes: encodeLabels([
      { name: "__name__", value: name },
      ...Object.entries(labels).map(([n, v]) => ({ name: n, value: v })),
    ]),
  };
}

function config(endpoint: string, overrides: Partial<RemoteWriteSinkConfig> = {}): RemoteWriteSinkConfig {
  return { endpoint, batchMaxSize: 100, batchTimeoutMs: 50, maxAttempts: 3, backoffMs: 20, ...overrides };
}

const sinks: RemoteWriteSink[] = [];
function sink(cfg: RemoteWriteSinkConfig, runtime: SinkRuntime = {}): RemoteWriteSink {
  const created = new RemoteWriteSink(cfg, { requestTimeoutMs: 2000, random: () => 0, ...runtime });
  sinks.push(created);
  return created;
}
after(async () => {
  await Promise.all(sinks.map((s) => s.close(0)));
});

function assertBalanced(s: RemoteWriteSink): void {
  const st = s.stats;
  assert.equal(
    st.samplesReceived,
    st.samplesSent + st.droppedTotal() + s.buffered,
    "received = sent + dropped + buffered",
  );
}

/** Samples in each request the fault server got, decoded. */
function samplesPerRequest(server: FaultServer): number[] {
  return server.requests.map((r) =>
    decodeToObjects(snappyUncompress(r.body, 64 << 20)).timeseries.reduce((n, t) => n + t.samples.length, 0),
  );
}

/** Prometheus' JSON renders special floats as "+Inf", "-Inf" and "NaN". */
function promValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

const nowMs = () => Math.floor(Date.now() / 1000) * 1000;

describe("Remote Write sink → Prometheus", { skip: prometheusAvailability().skip }, () => {
  let prometheus: RunningPrometheus;
  before(async () => {
    prometheus = await startPrometheus();
  });
  after(async () => {
    await prometheus.stop();
  });

  it("delivers series, values and timestamps exactly, in batches", async () => {
    const s = sink(config(prometheus.remoteWriteUrl, { batchMaxSize: 50 }));
    const start = nowMs() - 60_000;
    const refs = Array.from({ length: 20 }, (_, i) =>
      series("envoy_vhost_vcluster_upstream_rq", {
        [PROJECT_LABEL]: "test-rdzjb8",
        gateway_name: `gw-${i}`,
        envoy_response_code: "200",
      }),
    );
    const expected = new Map<string, [number, number][]>();
    for (let step = 0; step < 10; step++) {
      refs.forEach((ref, i) => {
        const value = step === 9 && i === 0 ? Infinity : i * 1000 + step + 0.5;
        s.push(ref, value, start + step * 1000);
        const key = `gw-${i}`;
        expected.set(key, [...(expected.get(key) ?? []), [start + step * 1000, value]]);
      });
    }
    await eventually(() => s.stats.samplesSent === 200, "all 200 samples sent");
    assert.equal(s.stats.requests.success, 4);
    const result = await queryRawSamples(
      prometheus,
      `envoy_vhost_vcluster_upstream_rq{${PROJECT_LABEL}="test-rdzjb8"}`,
      300,
    );
    assert.equal(result.length, 20);
    for (const row of result) {
      const want = expected.get(row.metric["gateway_name"] ?? "") ?? [];
      assert.deepEqual(
        row.values.map(([t, v]) => [Math.round(t * 1000), promValue(v)]),
        want,
        `series ${row.metric["gateway_name"]}`,
      );
    }
    assertBalanced(s);
  });

  it("delivers bodies compressed on a compression thread", async () => {
    const compressor = new CompressPool({ threads: 1 });
    try {
      const s = sink(config(prometheus.remoteWriteUrl, { batchMaxSize: 500 }), { compressor });
      const at = nowMs() - 30_000;
      const refs = Array.from({ length: 1000 }, (_, i) =>
        series("envoy_cluster_upstream_rq_total", {
          [PROJECT_LABEL]: "test-threads",
          gateway_name: `gateway-with-a-long-name-${i}`,
          pod: `envoy-gateway-7f9c6d5b8-${i % 17}`,
        }),
      );
      refs.forEach((ref, i) => {
        s.push(ref, i + 0.25, at);
      });
      await eventually(() => s.stats.samplesSent === 1000, "all 1,000 samples sent");
      assert.ok(compressor.counts.threads >= 1, JSON.stringify(compressor.counts));
      const rows = await queryRawSamples(
        prometheus,
        `envoy_cluster_upstream_rq_total{${PROJECT_LABEL}="test-threads"}`,
        300,
      );
      assert.equal(rows.length, 1000);
      for (const row of rows) {
        const i = Number((row.metric["gateway_name"] ?? "").split("-").pop());
        assert.deepEqual(
          row.values.map(([t, v]) => [Math.round(t * 1000), promValue(v)]),
          [[at, i + 0.25]],
        );
      }
      assertBalanced(s);
    } finally {
      await compressor.close();
    }
  });
});

describe(
  "Remote Write sink → VictoriaMetrics with basic auth",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let vm: RunningVictoriaMetrics;
    before(async () => {
      vm = await startVictoriaMetrics({ httpAuth: { username: "1234567", password: "glc_correct" } });
    });
    after(async () => {
      await vm.stop();
    });

    it("delivers with the right credentials", async () => {
      const s = sink(
        config(`${vm.url}/api/v1/write`, { credentials: { username: "1234567", password: "glc_correct" } }),
      );
      const start = nowMs() - 30_000;
      const ref = series("coraza_envoy_filter_request_events_total", {
        [PROJECT_LABEL]: "p1",
        coraza_outcome: "blocked",
      });
      for (let i = 0; i < 5; i++) s.push(ref, i * 2, start + i * 1000);
      await eventually(() => s.stats.samplesSent === 5, "5 samples sent");
      await forceFlush(vm);
      const rows = await exportSamples(
        vm,
        `coraza_envoy_filter_request_events_total{${PROJECT_LABEL}="p1"}`,
        {
          start: start / 1000 - 1,
          end: start / 1000 + 10,
        },
      );
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]?.values, [0, 2, 4, 6, 8]);
      assert.deepEqual(
        rows[0].timestamps,
        [0, 1, 2, 3, 4].map((i) => start + i * 1000),
      );
      assertBalanced(s);
    });

    it("reports a wrong password as Unauthorized and does not retry it", async () => {
      const s = sink(
        config(`${vm.url}/api/v1/write`, { credentials: { username: "1234567", password: "wrong" } }),
      );
      const ref = series("up", { [PROJECT_LABEL]: "p1" });
      for (let i = 0; i < 3; i++) s.push(ref, 1, nowMs() + i);
      await eventually(() => s.stats.droppedTotal() === 3, "3 samples dropped");
      assert.equal(s.stats.requests.unauthorized, 1, "one attempt only");
      assert.equal(s.stats.dropped.unauthorized, 3);
      assert.equal(s.stats.lastError?.reason, "Unauthorized");
      assert.doesNotMatch(s.stats.lastError.message, /wrong|glc_/);
      assertBalanced(s);
    });
  },
);

describe("Remote Write sink faults", () => {
  let server: FaultServer;
  before(async () => {
    server = await startFaultServer();
  });
  after(async () => {
    await server.close();
  });
  const reset = (script: Parameters<FaultServer["script"]>[0]) => {
    server.requests.length = 0;
    server.script(script);
  };
  const ref = series("up", { [PROJECT_LABEL]: "p1" });
  const pushN = (s: RemoteWriteSink, n: number) => {
    for (let i = 0; i < n; i++) s.push(ref, i, 1_700_000_000_000 + i);
  };

  it("sends the protocol's headers and basic auth", async () => {
    reset(() => ({ status: 204 }));
    const s = sink(
      config(`${server.url}/api/v1/write?tenant=x`, { credentials: { username: "u", password: "p:w" } }),
    );
    pushN(s, 1);
    await eventually(() => s.stats.samplesSent === 1, "sent");
    const [request] = server.requests;
    assert.ok(request);
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/api/v1/write?tenant=x");
    assert.equal(request.headers["content-encoding"], "snappy");
    assert.equal(request.headers["content-type"], "application/x-protobuf");
    assert.equal(request.headers["x-prometheus-remote-write-version"], "0.1.0");
    assert.match(request.headers["user-agent"] ?? "", /^telex\/\d+\.\d+\.\d+/);
    assert.equal(request.headers.authorization, `Basic ${Buffer.from("u:p:w").toString("base64")}`);
  });

  it("retries a 503, then succeeds", async () => {
    reset((_, i) => (i === 0 ? { status: 503, body: "overloaded" } : { status: 200 }));
    const s = sink(config(server.url));
    pushN(s, 10);
    await eventually(() => s.stats.samplesSent === 10, "sent after retry");
    assert.equal(server.requests.length, 2);
    assert.equal(s.stats.requests.server_error, 1);
    assert.equal(s.stats.requests.success, 1);
    assertBalanced(s);
  });

  it("waits for Retry-After on a 429", async () => {
    reset((_, i) => (i === 0 ? { status: 429, headers: { "Retry-After": "1" } } : { status: 204 }));
    const s = sink(config(server.url, { backoffMs: 10 }));
    pushN(s, 10);
    await eventually(() => s.stats.samplesSent === 10, "sent after Retry-After");
    const [first, second] = server.requests;
    assert.ok(first && second);
    assert.ok(second.atMs - first.atMs >= 950, `waited ${second.atMs - first.atMs} ms, want ≥ 1 s`);
    assert.equal(s.stats.requests.throttled, 1);
    assertBalanced(s);
  });

  it("drops a batch answered 400 at once", async () => {
    reset(() => ({ status: 400, body: "out of order sample\nmore detail" }));
    const s = sink(config(server.url));
    pushN(s, 10);
    await eventually(() => s.stats.dropped.rejected === 10, "rejected");
    assert.equal(server.requests.length, 1);
    assert.equal(s.stats.lastError?.message, "HTTP 400: out of order sample more detail");
    assertBalanced(s);
  });

  it("splits a batch answered 413 into halves until they fit", async () => {
    reset((request) => {
      const n = decodeToObjects(snappyUncompress(request.body, 1 << 20)).timeseries.reduce(
        (a, t) => a + t.samples.length,
        0,
      );
      return n > 30 ? { status: 413 } : { status: 204 };
    });
    const s = sink(config(server.url, { batchMaxSize: 100 }));
    pushN(s, 100);
    await eventually(() => s.stats.samplesSent === 100, "all sent in pieces");
    assert.deepEqual(samplesPerRequest(server), [100, 50, 25, 25, 25, 25]);
    assert.equal(s.stats.droppedTotal(), 0);
    assertBalanced(s);
  });

  it("cuts a black hole with the request timeout and keeps the batch after maxAttempts", async () => {
    reset(() => ({ hang: true }));
    const s = sink(config(server.url, { maxAttempts: 2 }), { requestTimeoutMs: 200 });
    pushN(s, 10);
    await eventually(() => s.isDown, "down after 2 timeouts");
    assert.ok(server.requests.length >= 2);
    assert.equal(s.stats.droppedTotal(), 0);
    assert.equal(s.buffered, 10);
    assert.equal(s.stats.requests.timeout, 2);
    assert.equal(s.stats.lastError?.reason, "Timeout");
    assertBalanced(s);
  });

  it("reports connection refused as Unreachable and, without a durable log, counts what memory cannot hold", async () => {
    const port = await freePort();
    const s = sink(config(`http://127.0.0.1:${port}/api/v1/write`, { maxAttempts: 2, batchMaxSize: 10 }), {
      queueBatches: 3,
    });
    for (let i = 0; i < 95; i++) s.push(ref, i, i);
    await eventually(() => s.isDown, "down after two attempts", { timeoutMs: 15_000 });
    assert.equal(s.stats.lastError?.reason, "Unreachable");
    assert.match(s.stats.lastError.message, /ECONNREFUSED/);
    assert.equal(s.stats.samplesSent, 0);
    // One batch in the request, two queued in its shard, three in memory; the oldest of the rest made room.
    assert.equal(s.buffered, 60);
    assert.equal(s.stats.dropped.buffer_full, 35);
    assert.ok(s.stats.requests.unreachable >= 2);
    assertBalanced(s);
  });
});

describe("Remote Write sink isolation", { skip: victoriaMetricsAvailability().skip }, () => {
  it("a black-holed sink neither delays a healthy one nor grows without bound", async () => {
    const hole = await startFaultServer(() => ({ hang: true }));
    const vm = await startVictoriaMetrics();
    try {
      const stuck = sink(config(hole.url, { batchMaxSize: 100, maxAttempts: 10, backoffMs: 1000 }), {
        requestTimeoutMs: 60_000,
        queueBatches: 5,
      });
      const healthy = sink(config(`${vm.url}/api/v1/write`, { batchMaxSize: 100 }));
      const start = nowMs() - 10_000;
      const a = series("isolation_probe", { [PROJECT_LABEL]: "p1" });
      const began = Date.now();
      // Twenty rounds of traffic, as an ingest endpoint would deliver it.
      for (let round = 0; round < 20; round++) {
        for (let i = round * 500; i < (round + 1) * 500; i++) {
          stuck.push(a, i, start + i);
          healthy.push(a, i, start + i);
        }
        await eventually(() => healthy.stats.samplesSent === (round + 1) * 500, `round ${round} delivered`, {
          timeoutMs: 2000,
          intervalMs: 20,
        });
      }
      assert.ok(Date.now() - began < 5000, `healthy sink not held back (${Date.now() - began} ms)`);
      assert.equal(healthy.stats.droppedTotal(), 0);
      assert.ok(stuck.queued <= 500, `stuck queue bounded (${stuck.queued})`);
      assert.equal(stuck.stats.samplesSent, 0);
      assert.ok(stuck.stats.dropped.buffer_full >= 10_000 - 800);
      assertBalanced(stuck);
      assertBalanced(healthy);
      await stuck.close(0);
      assert.equal(stuck.buffered, 0);
      assertBalanced(stuck);
    } finally {
      await hole.close();
      await vm.stop();
    }
  });
});
