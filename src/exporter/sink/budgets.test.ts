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

describe("DeliveryBudget bytes", () => {
  it("grants a request only while the bytes in flight fit, in order; one larger than the cap goes alone", async () => {
    const budget = new DeliveryBudget(100, 1000);
    const a = await budget.acquire(undefined, 600);
    const order: string[] = [];
    const b = budget.acquire(undefined, 600).then((release) => {
      order.push("b");
      return release;
    });
    // Would fit by itself, but waits behind b: first come, first served.
    const c = budget.acquire(undefined, 100).then((release) => {
      order.push("c");
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, []);
    assert.equal(budget.inflightBytes, 600);
    a();
    (await b)();
    (await c)();
    assert.deepEqual(order, ["b", "c"]);
    assert.equal(budget.inflightBytes, 0);
    const huge = await budget.acquire(undefined, 5000);
    assert.equal(budget.inflightBytes, 1000, "counted as the whole cap");
    const next = budget.acquire(undefined, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(budget.waiting, 1);
    huge();
    (await next)();
    assert.equal(budget.inflight, 0);
  });

  it("resize() holds a body's actual size: growing past the cap is taken at once, shrinking lets waiters in", async () => {
    const budget = new DeliveryBudget(100, 1000);
    const first = await budget.acquire(undefined, 100);
    first.resize(1200);
    assert.equal(budget.inflightBytes, 1200, "the body exists already: counted, not refused");
    let granted = false;
    const second = budget.acquire(undefined, 500).then((release) => {
      granted = true;
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(granted, false);
    first.resize(400);
    const release = await second;
    assert.equal(budget.inflightBytes, 900);
    first();
    first.resize(5000);
    assert.equal(budget.inflightBytes, 500, "a released permit holds nothing, whatever is asked after");
    release();
    assert.equal(budget.inflightBytes, 0);
  });

  it("an aborted first waiter no longer holds back the ones after it", async () => {
    const budget = new DeliveryBudget(100, 1000);
    const held = await budget.acquire(undefined, 500);
    const controller = new AbortController();
    const big = budget.acquire(controller.signal, 800);
    const small = budget.acquire(undefined, 100);
    controller.abort(new Error("stopped"));
    await assert.rejects(big, /stopped/);
    (await small)();
    held();
    assert.equal(budget.inflightBytes, 0);
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
