import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_BACKOFF_MS, backoffDelayMs } from "./backoff.js";

describe("backoffDelayMs", () => {
  it("starts at backoffDuration and doubles, without jitter", () => {
    const noJitter = { backoffMs: 5000, random: () => 0 };
    assert.deepEqual(
      [2, 3, 4, 5].map((n) => backoffDelayMs(n, noJitter)),
      [5000, 10_000, 20_000, 40_000],
    );
  });

  it("adds at most 20% jitter and never shortens the wait", () => {
    for (const r of [0, 0.5, 0.999]) {
      const delay = backoffDelayMs(2, { backoffMs: 1000, random: () => r });
      assert.ok(delay >= 1000 && delay <= 1200, `${delay}`);
    }
  });

  it("caps every wait at five minutes", () => {
    assert.equal(backoffDelayMs(10, { backoffMs: 60_000, random: () => 0.999 }), MAX_BACKOFF_MS);
  });
});
