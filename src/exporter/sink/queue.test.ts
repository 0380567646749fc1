import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SampleBatch, SampleQueue } from "./queue.js";

function drainAll<S>(queue: SampleQueue<S>, size: number): [S | undefined, number, number][] {
  const batch = new SampleBatch<S>(size);
  queue.drainInto(batch);
  return Array.from({ length: batch.length }, (_, i) => [
    batch.series[i],
    batch.values[i] ?? NaN,
    batch.timestamps[i] ?? NaN,
  ]);
}

describe("SampleQueue", () => {
  it("keeps samples in arrival order", () => {
    const queue = new SampleQueue<string>(4);
    queue.push("a", 1, 10);
    queue.push("b", 2, 20);
    queue.push("a", 3, 30);
    assert.equal(queue.length, 3);
    assert.deepEqual(drainAll(queue, 10), [
      ["a", 1, 10],
      ["b", 2, 20],
      ["a", 3, 30],
    ]);
    assert.equal(queue.length, 0);
  });

  it("drops the oldest sample when full and reports it", () => {
    const queue = new SampleQueue<string>(3);
    const drops = [1, 2, 3, 4, 5].map((v) => queue.push("s", v, v));
    assert.deepEqual(drops, [0, 0, 0, 1, 1]);
    assert.deepEqual(
      drainAll(queue, 10).map(([, v]) => v),
      [3, 4, 5],
    );
  });

  it("drains at most the batch's free room, across the ring's wrap-around", () => {
    const queue = new SampleQueue<number>(4);
    for (let i = 0; i < 6; i++) queue.push(i, i, i);
    const batch = new SampleBatch<number>(3);
    assert.equal(queue.drainInto(batch), 3);
    assert.deepEqual(Array.from(batch.values.subarray(0, batch.length)), [2, 3, 4]);
    assert.equal(queue.drainInto(batch), 0, "batch is full");
    batch.clear();
    queue.push(6, 6, 6);
    assert.equal(queue.drainInto(batch), 2);
    assert.deepEqual(Array.from(batch.values.subarray(0, batch.length)), [5, 6]);
  });

  it("grows its ring on demand without reordering, even after wrapping", () => {
    const queue = new SampleQueue<number>(1000);
    for (let i = 0; i < 50; i++) queue.push(i, i, i);
    const first = new SampleBatch<number>(30);
    queue.drainInto(first); // head now mid-ring
    for (let i = 50; i < 700; i++) queue.push(i, i, i); // wraps, then grows several times
    const rest = new SampleBatch<number>(1000);
    queue.drainInto(rest);
    assert.deepEqual(
      Array.from(first.values.subarray(0, first.length)),
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.deepEqual(
      Array.from(rest.values.subarray(0, rest.length)),
      Array.from({ length: 670 }, (_, i) => i + 30),
    );
  });

  it("keeps NaN payloads bit-exact (stale markers)", () => {
    const stale = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0] ?? 0;
    const queue = new SampleQueue<string>(2);
    queue.push("s", stale, 1);
    const batch = new SampleBatch<string>(2);
    queue.drainInto(batch);
    const bits = new BigUint64Array(batch.values.buffer, 0, 1)[0];
    assert.equal(bits, 0x7ff0000000000002n);
  });

  it("clear() empties and counts", () => {
    const queue = new SampleQueue<string>(5);
    queue.push("a", 1, 1);
    queue.push("b", 1, 1);
    assert.equal(queue.clear(), 2);
    assert.equal(queue.length, 0);
  });

  it("rejects a capacity below one", () => {
    assert.throws(() => new SampleQueue<string>(0), RangeError);
  });
});
