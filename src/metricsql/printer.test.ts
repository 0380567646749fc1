import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LabelFilter, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { parse } from "./parser.js";
import { print } from "./printer.js";

const eq = (label: string, value: string): LabelFilter => ({ label, op: "=", value });

describe("print: canonical text", () => {
  const cases: [input: string, canonical: string][] = [
    ["up", "up"],
    ["up{}", "up"],
    ["{}", "{}"],
    ['up{job="api"}', 'up{job="api"}'],
    ['up{ a = "1" , b!="2",c=~"3",d!~"4", }', 'up{a="1", b!="2", c=~"3", d!~"4"}'],
    ["{a='1'}", '{a="1"}'],
    ["{a=`x\\y`}", '{a="x\\\\y"}'],
    ['{a="1" or b="2"}', '{a="1" or b="2"}'],
    ['up{a="1" OR b="2"}', 'up{a="1" or b="2"}'],
    ['{"up"}', "up"],
    ['{__name__="up", a="1"}', 'up{a="1"}'],
    ['{__name__="up", a="1" or __name__="up", b="2"}', 'up{a="1" or b="2"}'],
    ['{"a"="1"}', '{a="1"}'],
    ['{"my.label"="1"}', '{"my.label"="1"}'],
    ['{"my.metric", a="1"}', '{__name__="my.metric", a="1"}'],
    ["job:rate5m", "job:rate5m"],
    ["a.b", '{__name__="a.b"}'],
    ["größe", '{__name__="größe"}'],
    ['{__name__="inf"}', '{__name__="inf"}'],
    ['{__name__="NaN", a="1"}', '{__name__="NaN", a="1"}'],
    ['{__name__=~"up|down"}', '{__name__=~"up|down"}'],
    ['{__name__!="up"}', '{__name__!="up"}'],
    // Folding stops when a group would be left empty or the names differ.
    ['{__name__="up" or __name__="up", a="1"}', '{__name__="up" or __name__="up", a="1"}'],
    ['{__name__="up" or __name__="down"}', '{__name__="up" or __name__="down"}'],
    ['{a="1", __name__="up"}', '{a="1", __name__="up"}'],
    ['up{__name__="down"}', 'up{__name__="down"}'],
    ['{a="1" or "up"}', '{a="1" or __name__="up"}'],
    ['{a="\\x41\\u00e9"}', '{a="Aé"}'],
    ['{a="\\x0a\\012"}', '{a="\\n\\n"}'],
  ];
  for (const [input, canonical] of cases) {
    it(`${input} → ${canonical}`, () => {
      const parsed = parse(input);
      const printed = print(parsed);
      assert.equal(printed, canonical);
      assert.deepEqual(parse(printed), parsed, "the canonical text parses back to the same selector");
      assert.equal(print(parse(printed)), printed, "printing is a fixed point");
    });
  }
});

describe("print: escaping", () => {
  const values: [title: string, value: string, quoted: string][] = [
    ["double quote", 'a"b', '"a\\"b"'],
    ["backslash", "a\\b", '"a\\\\b"'],
    ["braces and commas", '"}, evil="x', '"\\"}, evil=\\"x"'],
    ["or injection", '" or tenant="other', '"\\" or tenant=\\"other"'],
    ["newline, return, tab", "a\nb\rc\td", '"a\\nb\\rc\\td"'],
    ["other simple escapes", "\x07\b\f\v", '"\\a\\b\\f\\v"'],
    ["NUL and DEL", "\x00\x7f", '"\\x00\\x7f"'],
    ["C1 control", "\u0085", '"\\u0085"'],
    ["no-break space", "\u00a0", '"\\u00a0"'],
    ["zero-width space", "\u200b", '"\\u200b"'],
    ["right-to-left override", "\u202e", '"\\u202e"'],
    ["line separator", "\u2028", '"\\u2028"'],
    ["byte order mark", "\ufeff", '"\\ufeff"'],
    ["non-BMP format character", "\u{e0001}", '"\\U000e0001"'],
    ["printable unicode stays readable", "日本 é 😀 'x' `y` #z", "\"日本 é 😀 'x' `y` #z\""],
  ];
  for (const [title, value, quoted] of values) {
    it(`value with ${title}`, () => {
      const selector: Selector = { groups: [[eq("a", value)]] };
      const printed = print(selector);
      assert.equal(printed, `{a=${quoted}}`);
      assert.deepEqual(parse(printed), selector);
    });
  }

  const labelNames: [name: string, printed: string][] = [
    ["my.label", '"my.label"'],
    ["with space", '"with space"'],
    ['q"uote', '"q\\"uote"'],
    ["back\\slash", '"back\\\\slash"'],
    ["1starts_with_digit", '"1starts_with_digit"'],
    ["é", '"é"'],
    // Control characters are hex even where a value would use \n (VictoriaMetrics reads `\n` in a name as "n").
    ["line\nbreak", '"line\\x0abreak"'],
    ["tab\there", '"tab\\x09here"'],
    ["_ok_Name9", "_ok_Name9"],
  ];
  for (const [labelName, printedName] of labelNames) {
    it(`label name ${JSON.stringify(labelName)}`, () => {
      const selector: Selector = { groups: [[eq(labelName, "v")]] };
      const printed = print(selector);
      assert.equal(printed, `{${printedName}="v"}`);
      assert.deepEqual(parse(printed), selector);
    });
  }

  it("escapes hostile metric names inside braces instead of folding them", () => {
    const selector: Selector = { groups: [[eq("__name__", 'up{a="1"} or x'), eq("b", "2")]] };
    const printed = print(selector);
    assert.equal(printed, '{__name__="up{a=\\"1\\"} or x", b="2"}');
    assert.deepEqual(parse(printed), selector);
  });

  it("writes an unpaired surrogate so that the text fails to parse instead of changing meaning", () => {
    const printed = print({ groups: [[eq("a", "x\ud800")]] });
    assert.equal(printed, '{a="x\\ud800"}');
    assert.throws(() => parse(printed), { name: "MetricsqlError", code: "Syntax" });
  });
});

describe("print: selectors the parser never produces", () => {
  it("prints an empty group among others as {} (it matches every series)", () => {
    assert.equal(print({ groups: [[eq("a", "1")], []] }), "{}");
  });

  it("refuses a selector without groups, which matches nothing", () => {
    assert.throws(
      () => print({ groups: [] }),
      (error: unknown) => {
        assert.ok(error instanceof MetricsqlError);
        assert.equal(error.code, "Syntax");
        return true;
      },
    );
  });

  it("keeps filter order and duplicates", () => {
    const selector: Selector = { groups: [[eq("b", "2"), eq("a", "1"), eq("b", "2")]] };
    assert.equal(print(selector), '{b="2", a="1", b="2"}');
  });
});
