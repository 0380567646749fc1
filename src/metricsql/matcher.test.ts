import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import type { LabelFilter, Labels, MatchOp, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { compileSelector, sharedFilterCount } from "./matcher.js";
import { compileEngine, compileRegex } from "./regex.js";
import type { RegexStrategy } from "./regex.js";
import { labelsFromRecord } from "../../test-support/platform-series.js";
import { Random } from "../../test-support/random.js";

type FilterTuple = readonly [label: string, op: MatchOp, value: string];

function selector(...groups: (readonly FilterTuple[])[]): Selector {
  return {
    groups: groups.map((group) => group.map(([label, op, value]): LabelFilter => ({ label, op, value }))),
  };
}

function matches(group: readonly FilterTuple[], series: Record<string, string>): boolean {
  return compileSelector(selector(group)).matches(labelsFromRecord(series));
}

function regexMatches(pattern: string, value: string): boolean {
  return compileRegex(pattern).test(value);
}

describe("compileSelector: absent labels have the empty value", () => {
  const withA = { __name__: "m", a: "x" };
  const withoutA = { __name__: "m", b: "y" };

  it('a="" matches only series without a', () => {
    assert.equal(matches([["a", "=", ""]], withoutA), true);
    assert.equal(matches([["a", "=", ""]], withA), false);
  });

  it('a!="" requires a', () => {
    assert.equal(matches([["a", "!=", ""]], withA), true);
    assert.equal(matches([["a", "!=", ""]], withoutA), false);
  });

  it("a=value fails and a!=value passes without a", () => {
    assert.equal(matches([["a", "=", "x"]], withoutA), false);
    assert.equal(matches([["a", "!=", "x"]], withoutA), true);
    assert.equal(matches([["a", "!=", "x"]], withA), false);
  });

  it('a=~".*" matches a missing, a=~".+" does not', () => {
    assert.equal(matches([["a", "=~", ".*"]], withoutA), true);
    assert.equal(matches([["a", "=~", ".*"]], withA), true);
    assert.equal(matches([["a", "=~", ".+"]], withoutA), false);
    assert.equal(matches([["a", "=~", ".+"]], withA), true);
  });

  it('a!~"x" matches a missing; a!~"" and a!~"x|" require a', () => {
    assert.equal(matches([["a", "!~", "x"]], withoutA), true);
    assert.equal(matches([["a", "!~", "x"]], withA), false);
    assert.equal(matches([["a", "!~", ""]], withoutA), false);
    assert.equal(matches([["a", "!~", ""]], withA), true);
    assert.equal(matches([["a", "!~", "y|"]], withoutA), false);
    assert.equal(matches([["a", "!~", "y|"]], withA), true);
  });

  it('a!~".*" matches nothing (Prometheus and RE2; VictoriaMetrics v1.79 differs)', () => {
    assert.equal(matches([["a", "!~", ".*"]], withoutA), false);
    assert.equal(matches([["a", "!~", ".*"]], withA), false);
  });

  it("a label present with an empty value is the same as absent", () => {
    const emptyA: Labels = [
      { name: "__name__", value: "m" },
      { name: "a", value: "" },
    ];
    assert.equal(compileSelector(selector([["a", "=", ""]])).matches(emptyA), true);
    assert.equal(compileSelector(selector([["a", "!=", ""]])).matches(emptyA), false);
  });

  it("filters the metric name through __name__", () => {
    assert.equal(matches([["__name__", "=", "m"]], withA), true);
    assert.equal(matches([["__name__", "=~", "m|n"]], withA), true);
    assert.equal(matches([["__name__", "!=", "m"]], withA), false);
  });
});

describe("compileSelector: groups", () => {
  it("a group is a conjunction", () => {
    const group: FilterTuple[] = [
      ["__name__", "=", "m"],
      ["a", "=~", "x|y"],
      ["b", "!=", "z"],
    ];
    assert.equal(matches(group, { __name__: "m", a: "y", b: "w" }), true);
    assert.equal(matches(group, { __name__: "m", a: "y", b: "z" }), false);
    assert.equal(matches(group, { __name__: "n", a: "y" }), false);
  });

  it("or groups are a union", () => {
    const union = compileSelector(selector([["a", "=", "1"]], [["b", "=", "2"]]));
    const check = (series: Record<string, string>): boolean => union.matches(labelsFromRecord(series));
    assert.equal(check({ a: "1" }), true);
    assert.equal(check({ b: "2" }), true);
    assert.equal(check({ a: "1", b: "2" }), true);
    assert.equal(check({ a: "2", b: "1" }), false);
  });

  it("an empty group matches every series, even one with no labels", () => {
    assert.equal(compileSelector({ groups: [[]] }).matches([]), true);
    assert.equal(compileSelector(selector([["a", "=", "1"]], [])).matches([]), true);
  });

  it("a selector without groups matches nothing", () => {
    assert.equal(compileSelector({ groups: [] }).matches(labelsFromRecord({ a: "1" })), false);
  });

  it("the answer does not depend on filter order (filters are reordered by cost)", () => {
    const random = new Random(3);
    const pool: FilterTuple[] = [
      ["a", "=", "1"],
      ["a", "=~", "[0-9]+"],
      ["b", "!~", "x.*"],
      ["c", "!=", ""],
      ["b", "=~", "(?i)Y|z"],
      ["d", "=", ""],
      ["c", "=~", ".*"],
    ];
    const values = ["", "1", "x1", "y", "Z", "22"];
    for (let i = 0; i < 300; i++) {
      const group = random.sample(pool, random.between(1, pool.length));
      const reversed = [...group].reverse();
      const series = labelsFromRecord({
        a: random.pick(values),
        b: random.pick(values),
        c: random.pick(values),
      });
      assert.equal(
        compileSelector(selector(group)).matches(series),
        compileSelector(selector(reversed)).matches(series),
        JSON.stringify(group),
      );
    }
  });
});

describe("regexes: RE2 semantics, anchored", () => {
  it("matches the whole value only", () => {
    assert.equal(regexMatches("foo", "foobar"), false);
    assert.equal(regexMatches("foo.*", "foobar"), true);
    assert.equal(regexMatches("a|b", "ab"), false);
    assert.equal(regexMatches("a|b", "b"), true);
    assert.equal(regexMatches("^a$", "a"), true);
  });

  it("follows Go, not JavaScript", () => {
    const cases: [string, string, boolean][] = [
      [".", "\n", false],
      ["(?s).", "\n", true],
      ["[^a]", "\n", true],
      [".", "😀", true],
      ["..", "😀", false],
      ["\\pL+", "héllo", true],
      ["\\p{Greek}+", "αβγ", true],
      ["[[:alpha:]]+", "abc", true],
      ["\\d", "٣", false],
      ["\\w+", "é", false],
      ["(?i)k", "\u212a", true],
      ["(?i)s", "\u017f", true],
      ["(?i)straße", "STRASSE", false],
      ["\\Qa.b\\E", "a.b", true],
      ["\\Qa.b\\E", "axb", false],
      ["\\x{1F600}", "😀", true],
      ["(?U)a+", "aa", true],
      ["a\\z", "a", true],
      ["(?P<name>x)", "x", true],
      ["", "", true],
      ["|", "", true],
    ];
    for (const [pattern, value, expected] of cases) {
      assert.equal(regexMatches(pattern, value), expected, `${pattern} on ${JSON.stringify(value)}`);
    }
  });

  it("rejects what RE2 rejects with MetricsqlError InvalidRegex", () => {
    const invalid = [
      "\\1",
      "(?=a)",
      "(?!a)",
      "(?<=a)b",
      "a**",
      "a++",
      "x{1001}",
      "[a",
      "(",
      "a)|(b",
      "\\",
      "\\e",
      "\\C",
      "[z-a]",
      "[[:foo:]]",
      "\\p{NoSuchClass}",
      "(?i",
      "*a",
      "(".repeat(1001) + ")".repeat(1001),
    ];
    for (const pattern of invalid) {
      assert.throws(
        () => compileSelector(selector([["a", "=~", pattern]])),
        (error: unknown) => error instanceof MetricsqlError && error.code === "InvalidRegex",
        pattern.slice(0, 40),
      );
      assert.throws(() => compileSelector(selector([["a", "!~", pattern]])), MetricsqlError);
    }
  });
});

describe("regex fast paths agree with the RE2 engine", () => {
  const expected: [string, RegexStrategy][] = [
    ["", "literal"],
    ["foo", "literal"],
    ["foo\\.bar\\-baz", "literal"],
    ["café", "literal"],
    ["a|b|c", "literal-set"],
    ["(a|b|c)", "literal-set"],
    ["(?:a|b)", "literal-set"],
    ["a|", "literal-set"],
    ["foo.*", "prefix"],
    ["(foo|bar).*", "prefix"],
    ["foo.+", "prefix-non-empty"],
    [".*bar", "suffix"],
    [".*(x|y)", "suffix"],
    [".*oo.*", "contains"],
    [".*.*", "contains"],
    [".*", "any"],
    [".+", "non-empty"],
    ["(?i)gateway", "literal"],
    ["(?i)ks|http", "literal"],
    ["(?i)gate.*", "prefix"],
    ["(?i).*way", "suffix"],
    ["(?i)", "literal"],
    ["a\\\\.*", "prefix"],
    // The engine's: operators, non-ASCII case folding, newline literals, mixed shapes.
    ["a\\.*", "engine"],
    ["(?i)café", "engine"],
    ["(?i).*x.*", "engine"],
    [".*x.+", "engine"],
    [".*a|b", "engine"],
    ["(?s).*", "engine"],
    ["a\n.*", "engine"],
    ["(a)|(b)", "engine"],
    ["()", "engine"],
    ["a{", "engine"],
    ["[a-z]+-[0-9]+", "engine"],
  ];
  const values = [
    "",
    "a",
    "b",
    "c",
    "ab",
    "foo",
    "foobar",
    "foo\nbar",
    "bar",
    "xbar",
    "boo",
    "Gateway",
    "GATEWAY",
    "gate",
    "Gate\u212aeeper",
    "gate\n",
    "\u212as",
    "K\u017f",
    "ks",
    "HTTP",
    "hTtp",
    "café",
    "CAFÉ",
    "foo.bar-baz",
    "fooxbar-baz",
    "a\\",
    "a\\\\",
    "a.",
    "a..",
    "a",
    "x",
    "y",
    "xy",
    "1way",
    "way",
    "WAY",
    "\n",
    "a\nb",
    "test-12",
    "😀",
  ];

  it("picks the expected strategy", () => {
    for (const [pattern, strategy] of expected) {
      assert.equal(compileRegex(pattern).strategy, strategy, JSON.stringify(pattern));
    }
  });

  it("gives the engine's answer on tricky values", () => {
    for (const [pattern] of expected) {
      const fast = compileRegex(pattern).test;
      const engine = compileEngine(pattern);
      for (const value of values) {
        assert.equal(fast(value), engine(value), `${JSON.stringify(pattern)} on ${JSON.stringify(value)}`);
      }
    }
  });

  it("gives the engine's answer on random fast-path shapes and values", () => {
    const random = new Random(42);
    // Letters that fold specially, escapes, and characters on both sides of the ASCII boundary.
    const alphabet = "aksKS\u212a\u017f.-_\n\\é";
    const literal = (): string => {
      let out = "";
      const length = random.between(0, 3);
      for (let i = 0; i < length; i++) {
        const ch = alphabet.charAt(random.int(alphabet.length));
        out += ch === "." || ch === "\\" ? `\\${ch}` : ch;
      }
      return out;
    };
    const strategies = new Set<RegexStrategy>();
    for (let i = 0; i < 2000; i++) {
      const alternatives = Array.from({ length: random.between(1, 3) }, literal);
      let body = alternatives.join("|");
      if (alternatives.length > 1 || random.chance(0.2)) body = `${random.pick(["(", "(?:"])}${body})`;
      const pattern =
        (random.chance(0.3) ? "(?i)" : "") +
        random.pick(["", "", ".*", ".+"]) +
        body +
        random.pick(["", "", ".*", ".+"]);
      const compiled = compileRegex(pattern);
      strategies.add(compiled.strategy);
      const engine = compileEngine(pattern);
      for (let j = 0; j < 10; j++) {
        const value = random.string(alphabet.replace("\\", ""), random.between(0, 5));
        assert.equal(
          compiled.test(value),
          engine(value),
          `${JSON.stringify(pattern)} on ${JSON.stringify(value)}`,
        );
      }
    }
    // Every fast path was exercised, not just the engine.
    for (const strategy of [
      "literal",
      "literal-set",
      "prefix",
      "suffix",
      "contains",
      "prefix-non-empty",
    ] as const) {
      assert.ok(strategies.has(strategy), strategy);
    }
  });
});

describe("pathological regexes run in linear time", () => {
  // Generous bounds: these guard against exponential blow-up, not for speed.
  const withinMs = (limitMs: number, work: () => void): void => {
    const start = performance.now();
    work();
    const elapsed = performance.now() - start;
    assert.ok(elapsed < limitMs, `took ${elapsed.toFixed(0)} ms`);
  };

  it("(a+)+$ on many a's then b", () => {
    const sel = compileSelector(selector([["a", "=~", "(a+)+$"]]));
    withinMs(2000, () => {
      assert.equal(sel.matches(labelsFromRecord({ a: `${"a".repeat(30)}b` })), false);
      assert.equal(sel.matches(labelsFromRecord({ a: `${"a".repeat(100_000)}b` })), false);
      assert.equal(sel.matches(labelsFromRecord({ a: "a".repeat(100_000) })), true);
    });
  });

  it("nested stars and alternations", () => {
    withinMs(2000, () => {
      assert.equal(regexMatches("((a*)*)*b", "a".repeat(50_000)), false);
      assert.equal(regexMatches("(a|aa)+c", "a".repeat(50_000)), false);
      assert.equal(regexMatches("(.*a){20}", `${"a".repeat(5_000)}b`), false);
    });
  });

  it("deeply nested groups", () => {
    withinMs(2000, () => {
      const nested = `${"(?:".repeat(5000)}a${")".repeat(5000)}`;
      assert.equal(regexMatches(nested, "a"), true);
      assert.throws(() => compileRegex(`${"(".repeat(5000)}a${")".repeat(5000)}`), MetricsqlError);
    });
  });

  it("a 10 000-character pattern", () => {
    withinMs(3000, () => {
      const classes = "[a-z0-9]".repeat(1250);
      assert.equal(classes.length, 10_000);
      assert.equal(regexMatches(classes, "a".repeat(1250)), true);
      assert.equal(regexMatches(classes, `${"a".repeat(1249)}!`), false);
      const alternation = Array.from({ length: 1700 }, (_, i) => `v${i}`).join("|");
      assert.ok(alternation.length >= 8000);
      assert.equal(regexMatches(alternation, "v1699"), true);
      assert.equal(regexMatches(`(?:${alternation})x`, "v1699"), false);
    });
  });
});

describe("compiled filters", () => {
  it("are shared by equal filters, and an equal filter matches the same", () => {
    const unique = `v-${Math.random()}`;
    const group: FilterTuple[] = [
      ["service", "=", unique],
      ["kind", "=~", "Gate(way|keeper)s?"],
      ["project", "!=", unique],
    ];
    const before = sharedFilterCount();
    const matchers = Array.from({ length: 100 }, () => compileSelector(selector(group)));
    assert.equal(sharedFilterCount() - before, 3, "three distinct filters, compiled once each");
    const series = labelsFromRecord({ service: unique, kind: "Gateways", project: "p" });
    const other = labelsFromRecord({ service: unique, kind: "Gatex", project: "p" });
    assert.ok(matchers.every((m) => m.matches(series) && !m.matches(other)));
  });
});
