import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { durationMs, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["0", 0],
    ["500ms", 500],
    ["5s", 5000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["250us", 0.25],
    ["250µs", 0.25],
    ["1000000ns", 1],
    [".5s", 500],
    ["1.s", 1000],
  ];
  for (const [text, ms] of valid) {
    it(`parses ${text}`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }
  for (const text of ["", "5", "s", "5 s", "-5s", "+5s", "5d", "5S", "1m30", ".s", "5s ", "1e3s"]) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseDuration(text), undefined);
    });
  }
  it("durationMs throws on invalid text", () => {
    assert.equal(durationMs("2s"), 2000);
    assert.throws(() => durationMs("2"), RangeError);
  });
});
