import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExpositionWriter, formatValue } from "./exposition.js";

describe("exposition writer", () => {
  it("writes every value as Prometheus' text format does", () => {
    const values = [
      0,
      7,
      10,
      -5,
      1234567890123,
      2 ** 53 + 2,
      0.5,
      -0.25,
      1e21,
      1e-7,
      NaN,
      Infinity,
      -Infinity,
    ];
    const writer = new ExpositionWriter();
    for (const value of values) writer.sample("v", "values", "gauge", { n: String(value) }, value);
    const lines = writer.render().split("\n").slice(2, -1);
    assert.deepEqual(
      lines,
      values.map((value) => `v{n="${String(value)}"} ${formatValue(value)}`),
    );
  });

  it("renders a kept label object once, a changed one again, and extra labels after the rest", () => {
    const labels = { project: "p", policy: 'a"b' };
    const first = new ExpositionWriter();
    first.sample("x_total", "x", "counter", labels, 1, { reason: "r" });
    assert.equal(first.render().split("\n")[2], 'x_total{project="p",policy="a\\"b",reason="r"} 1');
    const second = new ExpositionWriter();
    second.sample("x_total", "x", "counter", { ...labels, policy: "c" }, 2);
    second.sample("x_total", "x", "counter", {}, 3, { reason: "s" });
    second.sample("x_total", "x", "counter", {}, 4);
    assert.deepEqual(second.render().split("\n").slice(2, -1), [
      'x_total{project="p",policy="c"} 2',
      'x_total{reason="s"} 3',
      "x_total 4",
    ]);
  });

  it("grows a family's buffer past its first size", () => {
    const writer = new ExpositionWriter();
    for (let i = 0; i < 5000; i++) writer.sample("g", "g", "gauge", { i: String(i) }, i);
    const lines = writer.render().split("\n");
    assert.equal(lines.length, 5003);
    assert.equal(lines[5001], 'g{i="4999"} 4999');
  });
});
