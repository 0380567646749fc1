import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WriteRequestBuilder, encodeLabels, snappyCompress } from "../../remotewrite/index.js";
import type { SeriesRef } from "../series.js";
import { CompressPool } from "./compress-pool.js";
import { SampleBatch } from "./queue.js";
import { RemoteWriteEncoder } from "./request-builder.js";

/** A WriteRequest of n platform-like series, about 330 bytes a sample. */
function body(n: number, seed = 0): Uint8Array {
  const builder = new WriteRequestBuilder();
  for (let i = 0; i < n; i++) builder.addSample(labelsOf(i, seed), i * 1.5, 1_700_000_000_000 + i * 15_000);
  return builder.finish().slice();
}

function labelsOf(i: number, seed: number): Uint8Array {
  return encodeLabels([
    { name: "__name__", value: "envoy_cluster_upstream_rq_total" },
    { name: "cluster", value: `cluster-${i % 50}` },
    { name: "instance", value: `10.0.${i % 7}.${i % 251}:9901` },
    { name: "pod", value: `gateway-${(i + seed) % 97}-abcde` },
    { name: "resource_name", value: `gw-${i}` },
    { name: "telemetry_datumapis_com_project", value: `project-${i % 100}` },
  ]);
}

const pools: CompressPool[] = [];
function pool(threads: number, maxQueuedBytesPerThread?: number): CompressPool {
  const created = new CompressPool({
    threads,
    ...(maxQueuedBytesPerThread === undefined ? {} : { maxQueuedBytesPerThread }),
  });
  pools.push(created);
  return created;
}
after(() => Promise.all(pools.map((p) => p.close())));

describe("CompressPool", () => {
  it("compresses large bodies on a thread, byte for byte as inline, starting it on the first", async () => {
    const threads = pool(1);
    const input = body(500);
    assert.ok(input.length > 100_000);
    const first = threads.compress(input);
    assert.ok(first instanceof Promise, "a large body goes to a thread");
    // The caller's buffer may be reused at once: the thread has a copy.
    const expected = snappyCompress(input);
    input.fill(0);
    assert.deepEqual(await first, expected);
    const bodies = Array.from({ length: 6 }, (_, i) => body(300 + i, i));
    const results = await Promise.all(bodies.map(async (b) => threads.compress(b)));
    results.forEach((result, i) => {
      assert.deepEqual(result, snappyCompress(bodies[i] as Uint8Array), `body ${i}`);
    });
    assert.ok(threads.counts.threads >= 1, JSON.stringify(threads.counts));
  });

  it("compresses small bodies inline, at once", () => {
    const threads = pool(1);
    const input = body(20);
    assert.ok(input.length < 32 * 1024);
    const result = threads.compress(input);
    assert.ok(result instanceof Uint8Array, "no promise for a small body");
    assert.deepEqual(result, snappyCompress(input));
    assert.deepEqual(threads.counts, { threads: 0, inline: 1, busy: 0 });
  });

  it("compresses inline when the thread has its bound of bytes waiting, and hands it bodies again once answered", async () => {
    const bodies = Array.from({ length: 5 }, (_, i) => body(400, i));
    const size = bodies[0]?.length ?? 0;
    assert.ok(size > 32 * 1024, `${size} bytes: worth a thread`);
    // Room for two bodies waiting.
    const threads = pool(1, 2 * size + 1000);
    const results = bodies.map((b) => threads.compress(b));
    assert.ok(results[0] instanceof Promise && results[1] instanceof Promise);
    assert.equal(results.filter((r) => r instanceof Promise).length, 2, "two bodies wait for the one thread");
    assert.equal(threads.counts.busy, 3);
    const settled = await Promise.all(results.map((result) => Promise.resolve(result)));
    settled.forEach((result, i) => {
      assert.deepEqual(result, snappyCompress(bodies[i] as Uint8Array));
    });
    assert.ok(threads.compress(bodies[0] as Uint8Array) instanceof Promise, "the thread takes bodies again");
  });

  it("sees the thread's progress within one turn of the event loop: the thread counts in shared memory", async () => {
    const bodies = Array.from({ length: 3 }, (_, i) => body(400, i));
    const size = bodies[0]?.length ?? 0;
    const threads = pool(1, 2 * size + 1000);
    const waiting = [threads.compress(bodies[0] as Uint8Array), threads.compress(bodies[1] as Uint8Array)];
    assert.ok(waiting.every((result) => result instanceof Promise));
    // No await from here on: the thread's answers cannot be read, only its own count can tell it is done.
    let third: Uint8Array | Promise<Uint8Array> | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const spinUntil = Date.now() + 5;
      while (Date.now() < spinUntil);
      third = threads.compress(bodies[2] as Uint8Array);
      if (third instanceof Promise) break;
    }
    assert.ok(
      third instanceof Promise,
      `the thread took the third body in the same turn: ${JSON.stringify(threads.counts)}`,
    );
    const settled = await Promise.all([...waiting, third]);
    settled.forEach((result, i) => {
      assert.deepEqual(result, snappyCompress(bodies[i] as Uint8Array));
    });
  });

  it("with 0 threads compresses everything inline", () => {
    const inline = pool(0);
    assert.ok(inline.compress(body(500)) instanceof Uint8Array);
    assert.equal(inline.counts.inline, 1);
  });
});

describe("RemoteWriteEncoder with compression threads", () => {
  it("gives the same body as inline, and one compressed inline when the pool closes under it", async () => {
    const series: SeriesRef[] = Array.from({ length: 400 }, (_, i) => ({ labelBytes: labelsOf(i, 3) }));
    const batch = new SampleBatch<SeriesRef>(400);
    series.forEach((ref, i) => {
      batch.add(ref, i, 1000 + i, i);
    });
    const inline = new RemoteWriteEncoder().encode(batch, 0, 400);
    assert.ok(inline instanceof Uint8Array);

    const threads = pool(1);
    const encoder = new RemoteWriteEncoder(undefined, undefined, threads);
    const onThread = encoder.encode(batch, 0, 400);
    assert.ok(onThread instanceof Promise);
    assert.deepEqual(await onThread, inline);

    const lost = encoder.encode(batch, 0, 400);
    assert.ok(lost instanceof Promise);
    await threads.close();
    assert.deepEqual(await lost, inline, "compressed again inline");
    const afterClose = encoder.encode(batch, 0, 400);
    assert.ok(afterClose instanceof Uint8Array, "a closed pool compresses inline");
  });
});
