import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExportFormatError } from "./export-format-error.js";
import { parseFederateLine } from "./federate-parser.js";

describe("parseFederateLine", () => {
  it("reads a sample line: name, escaped labels (sorted), value, timestamp", () => {
    const sample = parseFederateLine('fed{b="1",a="x\\"y\\\\z\\nw",} 2.5 1795320188000');
    assert.deepEqual(sample, {
      labels: [
        { name: "__name__", value: "fed" },
        { name: "a", value: 'x"y\\z\nw' },
        { name: "b", value: "1" },
      ],
      seriesKey: 'fed{b="1",a="x\\"y\\\\z\\nw",}',
      value: 2.5,
      timestampMs: 1795320188000,
    });
  });

  it("reads special values, a missing timestamp, and a name without labels", () => {
    assert.equal(parseFederateLine("up +Inf 1")?.value, Infinity);
    assert.equal(parseFederateLine("up -Inf 1")?.value, -Infinity);
    assert.ok(Number.isNaN(parseFederateLine("up NaN 1")?.value));
    assert.equal(parseFederateLine("up 1e3")?.value, 1000);
    assert.equal(parseFederateLine("up 1e3")?.timestampMs, undefined);
    assert.deepEqual(parseFederateLine("up{} 1 2")?.labels, [{ name: "__name__", value: "up" }]);
    assert.deepEqual(parseFederateLine('up{instance="",job="x"} 1 2')?.labels, [
      { name: "__name__", value: "up" },
      { name: "job", value: "x" },
    ]);
  });

  it("skips comments and blank lines", () => {
    assert.equal(parseFederateLine("# TYPE up untyped"), undefined);
    assert.equal(parseFederateLine(""), undefined);
    assert.equal(parseFederateLine("   "), undefined);
  });

  it("rejects garbage with a clear error", () => {
    const bad: [string, RegExp][] = [
      ["<html>", /expected a metric name/],
      ['up{a="1" 1', /expected "," or "\}"/],
      ['up{a="1} 1', /unterminated value/],
      ["up{a=1} 1", /quoted value/],
      ['up{a="\\t"} 1', /unknown escape/],
      ["up one", /expected "value \[timestamp\]"/],
      ["up 0x10", /expected "value \[timestamp\]"/],
      ["up 1 2 3", /expected "value \[timestamp\]"/],
      ["up 1 1.5", /not an integer millisecond/],
    ];
    for (const [line, message] of bad) {
      assert.throws(
        () => parseFederateLine(line),
        (error: unknown) => error instanceof ExportFormatError && message.test(error.message),
        line,
      );
    }
  });
});
