// The status page's rate history: fixed-size rings of per-interval rates,
// counter resets, and sinks that stop running are forgotten.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeliveryHistory, sinkHistoryKey } from "./delivery-history.js";

const counters = (samplesSent: number, samplesDropped = 0) => ({ samplesSent, samplesDropped });

describe("DeliveryHistory", () => {
  it("has no rates before a sink's second tick, then one rate per interval, oldest first", () => {
    const history = new DeliveryHistory({ intervalMs: 10_000, points: 4 });
    const key = sinkHistoryKey("uid-1", "remote");
    history.record(1000, [[key, counters(100)]]);
    assert.deepEqual(history.rates(key)?.samplesSentPerSecond, []);
    history.record(11_000, [[key, counters(300, 10)]]);
    history.record(21_000, [[key, counters(350, 10)]]);
    assert.deepEqual(history.rates(key), {
      intervalSeconds: 10,
      endMs: 21_000,
      samplesSentPerSecond: [20, 5],
      samplesDroppedPerSecond: [1, 0],
    });
  });

  it("keeps only the last `points` rates however long it runs", () => {
    const history = new DeliveryHistory({ intervalMs: 1000, points: 3 });
    const key = sinkHistoryKey("uid-1", "remote");
    for (let tick = 0; tick <= 100; tick++) history.record(tick * 1000, [[key, counters(tick * tick)]]);
    // Increases of tick² are 2·tick − 1: the last three ticks 98, 99, 100.
    assert.deepEqual(history.rates(key)?.samplesSentPerSecond, [195, 197, 199]);
  });

  it("counts a counter that went down as restarted from zero (the sink was rebuilt)", () => {
    const history = new DeliveryHistory({ intervalMs: 1000, points: 5 });
    const key = sinkHistoryKey("uid-1", "remote");
    history.record(0, [[key, counters(1000)]]);
    history.record(1000, [[key, counters(40)]]);
    assert.deepEqual(history.rates(key)?.samplesSentPerSecond, [40]);
  });

  it("forgets a sink at the first tick that does not see it", () => {
    const history = new DeliveryHistory({ intervalMs: 1000, points: 5 });
    const kept = sinkHistoryKey("uid-1", "kept");
    const removed = sinkHistoryKey("uid-1", "removed");
    history.record(0, [
      [kept, counters(1)],
      [removed, counters(1)],
    ]);
    history.record(1000, [[kept, counters(2)]]);
    assert.equal(history.size, 1);
    assert.equal(history.rates(removed), undefined);
    assert.deepEqual(history.rates(kept)?.samplesSentPerSecond, [1]);
  });

  it("holds no array for a sink that has moved no samples; its past then reads as zeros", () => {
    const history = new DeliveryHistory({ intervalMs: 1000, points: 4 });
    const idle = sinkHistoryKey("uid-1", "idle");
    const busy = sinkHistoryKey("uid-1", "busy");
    for (let tick = 0; tick < 3; tick++) {
      history.record(tick * 1000, [
        [idle, counters(7)],
        [busy, counters(7)],
      ]);
    }
    assert.equal(history.arrays, 0, "counts that do not move need no array");
    assert.deepEqual(history.rates(busy)?.samplesSentPerSecond, [0, 0]);
    history.record(3000, [
      [idle, counters(7)],
      [busy, counters(10, 2)],
    ]);
    history.record(4000, [
      [idle, counters(7)],
      [busy, counters(15, 2)],
    ]);
    assert.equal(history.arrays, 1);
    assert.deepEqual(history.rates(busy), {
      intervalSeconds: 1,
      endMs: 4000,
      samplesSentPerSecond: [0, 0, 3, 5],
      samplesDroppedPerSecond: [0, 0, 2, 0],
    });
    assert.deepEqual(history.rates(idle)?.samplesSentPerSecond, [0, 0, 0, 0]);
  });

  it("refuses a zero interval or no points", () => {
    assert.throws(() => new DeliveryHistory({ intervalMs: 0 }), RangeError);
    assert.throws(() => new DeliveryHistory({ points: 0 }), RangeError);
  });
});
