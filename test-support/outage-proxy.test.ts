import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeWriteRequest, snappyCompress } from "../src/remotewrite/index.js";
import { countSamples, startCountingReceiver, type CountingReceiver } from "./counting-receiver.js";
import { startFaultServer, type FaultServer } from "./fault-server.js";
import { startOutageProxy, type OutageProxy } from "./outage-proxy.js";
import { pushSeries } from "./remote-write-client.js";

describe("startOutageProxy", () => {
  let upstream: FaultServer;
  let proxy: OutageProxy;

  before(async () => {
    upstream = await startFaultServer(() => ({
      status: 200,
      headers: { "x-upstream": "yes", "content-type": "text/plain" },
      body: "stored",
    }));
    proxy = await startOutageProxy({ upstream: upstream.url });
  });

  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  it("forwards method, path, headers and body, and passes the answer back", async () => {
    const response = await fetch(`${proxy.url}/api/v1/write?x=1`, {
      method: "POST",
      headers: { "content-encoding": "snappy", "x-agent": "a" },
      body: "payload",
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-upstream"), "yes");
    assert.equal(await response.text(), "stored");
    const seen = upstream.requests.at(-1);
    assert.ok(seen);
    assert.equal(seen.method, "POST");
    assert.equal(seen.path, "/api/v1/write?x=1");
    assert.equal(seen.headers["content-encoding"], "snappy");
    assert.equal(seen.headers["x-agent"], "a");
    assert.equal(seen.body.toString(), "payload");
  });

  it("answers 503 without forwarding during an outage, and forwards again after restore()", async () => {
    const before = upstream.requests.length;
    const refusedBefore = proxy.stats.refused;
    proxy.outage();
    assert.equal(proxy.down, true);
    const down = await fetch(`${proxy.url}/api/v1/write`, { method: "POST", body: "x" });
    assert.equal(down.status, 503);
    await down.arrayBuffer();
    proxy.outage(429);
    const throttled = await fetch(`${proxy.url}/api/v1/write`, { method: "POST", body: "x" });
    assert.equal(throttled.status, 429);
    await throttled.arrayBuffer();
    assert.equal(upstream.requests.length, before);
    assert.equal(proxy.stats.refused, refusedBefore + 2);
    proxy.restore();
    const up = await fetch(`${proxy.url}/api/v1/write`, { method: "POST", body: "x" });
    assert.equal(up.status, 200);
    await up.arrayBuffer();
    assert.equal(upstream.requests.length, before + 1);
  });

  it("holds answers back by the latency, and many requests wait at once", async () => {
    proxy.setLatency(150);
    try {
      const start = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${proxy.url}/x`, { method: "POST", body: "x" }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      const elapsed = Date.now() - start;
      assert.deepEqual(answers, Array(10).fill(200));
      assert.ok(elapsed >= 145, `answered after ${elapsed} ms`);
      assert.ok(elapsed < 1000, `latency added per request in turn: ${elapsed} ms`);
    } finally {
      proxy.setLatency(0);
    }
  });

  it("answers 502 when the upstream is gone", async () => {
    const gone = await startFaultServer();
    const lonely = await startOutageProxy({ upstream: gone.url });
    await gone.close();
    try {
      const response = await fetch(`${lonely.url}/x`, { method: "POST", body: "x" });
      assert.equal(response.status, 502);
      await response.arrayBuffer();
      assert.equal(lonely.stats.upstreamErrors, 1);
    } finally {
      await lonely.close();
    }
  });
});

describe("startCountingReceiver", () => {
  let receiver: CountingReceiver;
  before(async () => {
    receiver = await startCountingReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  it("counts the samples of Remote Write bodies sent through a proxy", async () => {
    const proxy = await startOutageProxy({ upstream: receiver.url });
    try {
      const series = [0, 1, 2].map((i) => ({
        labels: [{ name: "__name__", value: `m${i}` }],
        samples: [
          { value: i, timestampMs: 1000 },
          { value: i, timestampMs: 2000 },
        ],
      }));
      const result = await pushSeries(`${proxy.url}/api/v1/write`, series);
      assert.equal(result.status, 204);
      assert.equal(receiver.samples, 6);
      assert.equal(receiver.requests, 1);
      assert.equal(countSamples(snappyCompress(encodeWriteRequest(series))), 6);
      const bad = await fetch(receiver.writeUrl, { method: "POST", body: "not snappy" });
      assert.equal(bad.status, 400);
      await bad.arrayBuffer();
      assert.equal(receiver.badRequests, 1);
    } finally {
      await proxy.close();
    }
  });
});
