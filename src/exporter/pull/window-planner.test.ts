import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../../test-support/manual-clock.js";
import {
  initialCursorMs,
  planWindow,
  validatePlannerOptions,
  type TimeWindow,
  type WindowPlannerOptions,
} from "./window-planner.js";

const options: WindowPlannerOptions = { intervalMs: 30_000, lagMs: 60_000, maxWindowMs: 300_000 };

/** Drives the planner the way a job does: read when due, otherwise advance the clock by the wait. */
async function windowsOver(clock: ManualClock, untilMs: number, cursorMs: number): Promise<TimeWindow[]> {
  const windows: TimeWindow[] = [];
  let cursor = cursorMs;
  while (clock.now() < untilMs) {
    const plan = planWindow(cursor, clock.now(), options);
    if (plan.kind === "read") {
      windows.push(plan.window);
      cursor = plan.window.endMs;
    } else {
      await clock.advance(Math.min(plan.waitMs, untilMs - clock.now()));
    }
  }
  return windows;
}

describe("window planner", () => {
  it("starts a new job one interval before now − lag: no backfill", () => {
    const now = 1_700_000_000_000;
    const cursor = initialCursorMs(now, options);
    assert.equal(cursor, now - 60_000 - 30_000);
    assert.deepEqual(planWindow(cursor, now, options), {
      kind: "read",
      window: { startMs: now - 90_000, endMs: now - 60_000 },
    });
  });

  it("waits until a whole interval is older than the lag", () => {
    const now = 1_700_000_000_000;
    const cursor = now - 60_000 - 10_000;
    assert.deepEqual(planWindow(cursor, now, options), { kind: "wait", waitMs: 20_000 });
    assert.equal(planWindow(cursor, now + 19_999, options).kind, "wait");
    assert.deepEqual(planWindow(cursor, now + 20_000, options), {
      kind: "read",
      window: { startMs: cursor, endMs: cursor + 30_000 },
    });
  });

  it("produces consecutive windows with neither overlap nor gap, each ending before now − lag", async () => {
    const clock = new ManualClock(1_700_000_000_123);
    const start = initialCursorMs(clock.now(), options);
    const until = clock.now() + 3_600_000;
    const windows: TimeWindow[] = [];
    let cursor = start;
    while (clock.now() < until) {
      const plan = planWindow(cursor, clock.now(), options);
      if (plan.kind === "wait") {
        // Timers fire late in real life: wake up somewhat after the due time.
        await clock.advance(plan.waitMs + (windows.length % 7) * 1000);
        continue;
      }
      assert.ok(plan.window.endMs <= clock.now() - options.lagMs, "reads only data older than the lag");
      windows.push(plan.window);
      cursor = plan.window.endMs;
    }
    assert.ok(windows.length > 100);
    assert.equal(windows[0]?.startMs, start);
    for (let i = 1; i < windows.length; i++) {
      assert.equal(windows[i]?.startMs, windows[i - 1]?.endMs, `window ${i} starts where ${i - 1} ended`);
    }
    for (const window of windows) {
      assert.ok(window.endMs - window.startMs >= options.intervalMs);
      assert.ok(window.endMs - window.startMs <= options.maxWindowMs);
    }
  });

  it("catches up after downtime in windows of at most maxWindowMs, then returns to the interval", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const cursor = clock.now() - 60_000 - 3_600_000;
    const windows = await windowsOver(clock, clock.now() + 120_000, cursor);
    const lengths = windows.map((w) => w.endMs - w.startMs);
    assert.deepEqual(lengths.slice(0, 12), Array<number>(12).fill(300_000));
    assert.ok(lengths.slice(12).every((length) => length === 30_000 || length < 300_000));
    assert.equal(lengths.at(-1), 30_000);
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i]?.startMs, windows[i - 1]?.endMs);
  });

  it("waits when the cursor is ahead of the clock (the clock went back)", () => {
    const now = 1_700_000_000_000;
    const plan = planWindow(now, now, options);
    assert.deepEqual(plan, { kind: "wait", waitMs: 60_000 + 30_000 });
  });

  it("rejects settings that cannot make windows", () => {
    assert.throws(() => {
      validatePlannerOptions({ intervalMs: 0, lagMs: 0, maxWindowMs: 1 });
    }, /intervalMs/);
    assert.throws(() => {
      validatePlannerOptions({ intervalMs: 1000, lagMs: -1, maxWindowMs: 1000 });
    }, /lagMs/);
    assert.throws(() => {
      validatePlannerOptions({ intervalMs: 1000, lagMs: 0, maxWindowMs: 999 });
    }, /maxWindowMs/);
    assert.throws(() => {
      validatePlannerOptions({ intervalMs: 1.5, lagMs: 0, maxWindowMs: 1000 });
    }, /intervalMs/);
  });
});
