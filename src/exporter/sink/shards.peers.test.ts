// Parallel requests keep every series in order, proved by a real receiver
// that refuses any out-of-order sample: Prometheus answers such a request
// 400 and stores none of it. 200 series at a rate one request at a time
// cannot carry to an endpoint 100 ms away make the sink add shards; every
// sample must arrive and no request may be refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeLabels } from "../../remotewrite/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { startOutageProxy, type OutageProxy } from "../../../test-support/outage-proxy.js";
import {
  prometheusAvailability,
  queryRawSamples,
  startPrometheus,
  type RunningPrometheus,
} from "../../../test-support/prometheus.js";
import type { SeriesRef } from "../series.js";
import { RemoteWriteSink } from "./index.js";

const SERIES = 200;
const STEPS = 60;

describe("sharded sink → Prometheus 100 ms away", { skip: prometheusAvailability().skip }, () => {
  let prometheus: RunningPrometheus;
  let proxy: OutageProxy;
  before(async () => {
    prometheus = await startPrometheus();
    proxy = await startOutageProxy({ upstream: prometheus.url, latencyMs: 100 });
  });
  after(async () => {
    await proxy.close();
    await prometheus.stop();
  });

  it("adds shards, keeps every series in order and delivers everything", async () => {
    const sink = new RemoteWriteSink(
      {
        endpoint: `${proxy.url}/api/v1/write`,
        batchMaxSize: 100,
        batchTimeoutMs: 200,
        maxAttempts: 3,
        backoffMs: 100,
      },
      // Memory for the seconds before the shards grow (no disk buffer here).
      { queueBatches: 100 },
    );
    try {
      const refs: SeriesRef[] = Array.from({ length: SERIES }, (_, i) => ({
        labelBytes: encodeLabels([
          { name: "__name__", value: "shard_order_probe" },
          { name: "series", value: String(i) },
        ]),
      }));
      // 60 steps of 200 samples, 100 ms apart: 2,000 samples/s against 1,000/s for one shard.
      const start = Math.floor(Date.now() / 1000) * 1000 - 120_000;
      for (let step = 0; step < STEPS; step++) {
        for (const ref of refs) sink.push(ref, step, start + step * 1000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await eventually(() => sink.buffered === 0, "everything worked off", { timeoutMs: 30_000 });
      assert.deepEqual(
        { sent: sink.stats.samplesSent, dropped: sink.stats.dropped, requests: sink.stats.requests },
        {
          sent: SERIES * STEPS,
          dropped: { ...sink.stats.dropped, buffer_full: 0, rejected: 0 },
          requests: { ...sink.stats.requests, rejected: 0 },
        },
      );
      assert.ok(sink.stats.reshards > 0 && sink.shardCount > 1, `resharded (${sink.shardCount} shards)`);
      assert.equal(sink.stats.requests.rejected, 0, "no request refused as out of order");
      assert.equal(sink.stats.droppedTotal(), 0);
      const stored = await queryRawSamples(prometheus, "shard_order_probe", 600);
      assert.equal(stored.length, SERIES);
      for (const row of stored) {
        assert.deepEqual(
          row.values.map(([, value]) => Number(value)),
          Array.from({ length: STEPS }, (_, step) => step),
          `series ${row.metric["series"]}`,
        );
      }
    } finally {
      await sink.close(0);
    }
  });
});
