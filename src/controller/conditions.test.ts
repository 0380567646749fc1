import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatTime, setCondition } from "./conditions.js";

const t0 = new Date("2026-11-22T10:00:00.123Z");
const t1 = new Date("2026-11-22T10:05:00Z");
const ready = {
  type: "Ready",
  status: "True" as const,
  reason: "Delivering",
  message: "ok",
  observedGeneration: 1,
};

describe("setCondition", () => {
  it("adds a condition with the transition time", () => {
    const { conditions, changed } = setCondition([], ready, t0);
    assert.equal(changed, true);
    assert.deepEqual(conditions, [{ ...ready, lastTransitionTime: "2026-11-22T10:00:00Z" }]);
  });

  it("reports no change and keeps the time when nothing differs", () => {
    const first = setCondition([], ready, t0).conditions;
    const again = setCondition(first, ready, t1);
    assert.equal(again.changed, false);
    assert.deepEqual(again.conditions, first);
  });

  it("keeps lastTransitionTime when only the message or reason changes", () => {
    const first = setCondition([], ready, t0).conditions;
    const next = setCondition(first, { ...ready, message: "12 samples sent" }, t1);
    assert.equal(next.changed, true);
    assert.equal(next.conditions[0]?.lastTransitionTime, formatTime(t0));
  });

  it("moves lastTransitionTime when the status flips", () => {
    const first = setCondition([], ready, t0).conditions;
    const next = setCondition(first, { ...ready, status: "False", reason: "Unauthorized" }, t1);
    assert.equal(next.changed, true);
    assert.equal(next.conditions[0]?.lastTransitionTime, formatTime(t1));
  });

  it("leaves other condition types alone", () => {
    const first = setCondition([], ready, t0).conditions;
    const next = setCondition(first, { ...ready, type: "Synced" }, t1);
    assert.equal(next.conditions.length, 2);
    assert.equal(next.conditions[0], first[0]);
  });
});
