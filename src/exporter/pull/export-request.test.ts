import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Random } from "../../../test-support/random.js";
import { MAX_SAMPLES_PER_LINE, exportForm, exportUrl, formatBoundSeconds } from "./export-request.js";

/** VictoriaMetrics 1.79: int64(strconv.ParseFloat(s) * 1e3), i.e. truncation of the float product. */
function readByV179(text: string): number {
  return Math.trunc(Number.parseFloat(text) * 1000);
}

/** Current releases: the decimal parsed exactly (to nanoseconds), rounded to the nearest millisecond. */
function readByCurrent(text: string): number {
  const [seconds = "", fraction = ""] = text.split(".");
  const nanos = BigInt(seconds) * 1_000_000_000n + BigInt(fraction.padEnd(9, "0").slice(0, 9));
  return Number((nanos + 500_000n) / 1_000_000n);
}

describe("export request", () => {
  it("formats bounds that every VictoriaMetrics version reads as the intended millisecond", () => {
    const random = new Random(5);
    // 1093083007337 is a value the naive "1093083007.337" gets wrong in v1.79 (observed: it read …336).
    const cases = [0, 1, 999, 1000, 1093083007337, 1_700_000_000_000, 1_795_315_488_001];
    for (let i = 0; i < 200_000; i++) cases.push(Math.floor(random.next() * 4_000_000_000_000));
    for (const ms of cases) {
      const text = formatBoundSeconds(ms);
      assert.equal(readByV179(text), ms, `v1.79 reads ${text} as ${ms}`);
      assert.equal(readByCurrent(text), ms, `current releases read ${text} as ${ms}`);
    }
    assert.equal(formatBoundSeconds(1093083007337), "1093083007.33725");
    assert.equal(readByV179("1093083007.337"), 1093083007336, "the naive form really is off by one");
  });

  it("asks for the half-open window as inclusive bounds [start, end − 1]", () => {
    const form = new URLSearchParams(
      exportForm('up{a="1"}', { startMs: 1_700_000_000_000, endMs: 1_700_000_030_000 }),
    );
    assert.equal(form.get("match[]"), 'up{a="1"}');
    assert.equal(form.get("start"), "1700000000.00025");
    assert.equal(form.get("end"), "1700000029.99925");
    assert.equal(form.get("max_rows_per_line"), String(MAX_SAMPLES_PER_LINE));
    assert.throws(() => exportForm("up", { startMs: 5, endMs: 5 }), /empty export window/);
  });

  it("sends several selectors as repeated match[] (the store answers their union)", () => {
    const form = new URLSearchParams(exportForm(['{a="1"}', '{b="2"}'], { startMs: 1000, endMs: 2000 }));
    assert.deepEqual(form.getAll("match[]"), ['{a="1"}', '{b="2"}']);
    assert.throws(() => exportForm([], { startMs: 1000, endMs: 2000 }), /without a selector/);
  });

  it("appends the export path to single-node and vmselect URLs", () => {
    assert.equal(exportUrl("http://vm:8428").href, "http://vm:8428/api/v1/export");
    assert.equal(exportUrl("http://vm:8428/").href, "http://vm:8428/api/v1/export");
    assert.equal(
      exportUrl("http://vmselect:8481/select/42/prometheus/").href,
      "http://vmselect:8481/select/42/prometheus/api/v1/export",
    );
  });

  it("rejects bounds that are not whole non-negative milliseconds", () => {
    assert.throws(() => formatBoundSeconds(1.5), RangeError);
    assert.throws(() => formatBoundSeconds(-1), RangeError);
  });
});
