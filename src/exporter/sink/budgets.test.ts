// The process-wide budgets sinks share: requests in flight and samples in memory.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeliveryBudget } from "./delivery-budget.js";
import { MemoryBudget, MemoryShare } from "./memory-budget.js";

describe("DeliveryBudget", () => {
  it("grants at most its capacity, then serves waiters first come, first served", async () => {
    const budget = new DeliveryBudget(2);
    const first = await budget.acquire();
    const second = await budget.acquire();
    const order: string[] = [];
    const third = budget.acquire().then((release) => {
      order.push("third");
      return release;
    });
    const fourth = budget.acquire().then((release) => {
      order.push("fourth");
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(budget.inflight, 2);
    assert.equal(budget.waiting, 2);
    first();
    first();
    await third;
    assert.deepEqual(order, ["third"], "a release is counted once, however often it is called");
    second();
    (await fourth)();
    (await third)();
    assert.deepEqual(order, ["third", "fourth"]);
    assert.equal(budget.inflight, 0);
  });

  it("drops a waiter whose signal aborts", async () => {
    const budget = new DeliveryBudget(1);
    const held = await budget.acquire();
    const controller = new AbortController();
    const waiting = budget.acquire(controller.signal);
    controller.abort(new Error("stopped"));
    await assert.rejects(waiting, /stopped/);
    assert.equal(budget.waiting, 0);
    held();
    assert.equal(budget.inflight, 0);
  });
});

describe("MemoryShare", () => {
  it("holds its own share freely, borrows beyond it in chunks, and gives them back", () => {
    const budget = new MemoryBudget(100);
    const share = new MemoryShare(budget, 20, 10);
    assert.ok(share.tryHold(20));
    assert.equal(budget.used, 0, "the share is the sink's own");
    assert.ok(share.tryHold(1));
    assert.equal(budget.used, 10, "one chunk borrowed");
    assert.ok(share.tryHold(95 - 16));
    assert.ok(budget.used <= 100);
    assert.equal(share.tryHold(50), false, "nothing past the budget");
    share.release(share.held);
    assert.ok(budget.used <= 10, `at most a chunk of slack kept (${String(budget.used)})`);
    share.releaseAll();
    assert.equal(budget.used, 0);
  });
});
