import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retryDelayMs } from "./backoff.js";
import { ConcurrencyLimit } from "./concurrency-limit.js";

describe("ConcurrencyLimit", () => {
  it("lets `limit` holders in, queues the rest in order, and drops aborted waiters", async () => {
    const limit = new ConcurrencyLimit(2);
    const never = new AbortController().signal;
    const a = await limit.acquire(never);
    const b = await limit.acquire(never);
    const order: string[] = [];
    const abort = new AbortController();
    const c = limit.acquire(never).then((release) => (order.push("c"), release));
    const aborted = limit.acquire(abort.signal).then(
      () => order.push("aborted got in"),
      () => order.push("aborted"),
    );
    const d = limit.acquire(never).then((release) => (order.push("d"), release));
    abort.abort(new Error("stop"));
    await aborted;
    a();
    a(); // a second release of the same slot is ignored
    const releaseC = await c;
    assert.deepEqual(order, ["aborted", "c"]);
    b();
    (await d)();
    releaseC();
    assert.deepEqual(order, ["aborted", "c", "d"]);
    const again = await limit.acquire(never);
    again();
  });
});

describe("retryDelayMs", () => {
  it("doubles from the base up to the cap, plus at most 20 % jitter", () => {
    const none = { baseMs: 1000, maxMs: 60_000, random: () => 0 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs(n, none)),
      [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000],
    );
    const most = { ...none, random: () => 0.999_999 };
    assert.equal(retryDelayMs(1, most), 1200);
    assert.equal(retryDelayMs(20, most), 72_000);
  });
});
