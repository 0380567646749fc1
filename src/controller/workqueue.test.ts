import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../test-support/manual-clock.js";
import { WorkQueue } from "./workqueue.js";

describe("WorkQueue", () => {
  it("collapses a burst of adds of one key", async () => {
    const queue = new WorkQueue();
    for (let i = 0; i < 5; i++) queue.add("a");
    queue.add("b");
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), "a");
    assert.equal(await queue.get(), "b");
  });

  it("never hands out a key being processed; re-adds it after done()", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const first = await queue.get();
    queue.add("a");
    assert.equal(queue.length, 0, "not queued while processing");
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, undefined);
    queue.done(first ?? "");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, "a");
  });

  it("delays adds and retries with exponential backoff per key", async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock, baseRetryDelayMs: 100 });
    queue.addRateLimited("a");
    queue.addRateLimited("a");
    assert.equal(queue.failureCount("a"), 2);
    await clock.advance(99);
    assert.equal(queue.length, 0);
    await clock.advance(1);
    assert.equal(queue.length, 1, "the earlier of two delayed adds wins");
    queue.forget("a");
    assert.equal(queue.failureCount("a"), 0);
    queue.addAfter("b", 50);
    queue.addAfter("b", 500);
    await clock.advance(50);
    assert.equal(queue.length, 2);
  });

  it("wakes waiting workers on shutdown", async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add("late");
    assert.equal(queue.length, 0);
  });
});
