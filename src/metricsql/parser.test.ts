import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LabelFilter, MatchOp, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import type { MetricsqlErrorCode } from "./errors.js";
import { parse } from "./parser.js";

function filter(label: string, op: MatchOp, value: string): LabelFilter {
  return { label, op, value };
}
const eq = (label: string, value: string): LabelFilter => filter(label, "=", value);
const name = (value: string): LabelFilter => eq("__name__", value);
const groups = (...filterGroups: LabelFilter[][]): Selector => ({ groups: filterGroups });

function parseError(text: string): MetricsqlError {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof MetricsqlError, `expected MetricsqlError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parse: valid selectors", () => {
  const cases: [title: string, text: string, expected: Selector][] = [
    ["bare metric name", "up", groups([name("up")])],
    ["metric name with empty braces", "up{}", groups([name("up")])],
    ["empty braces", "{}", groups([])],
    ["equality", '{job="api"}', groups([eq("job", "api")])],
    ["inequality", '{job!="api"}', groups([filter("job", "!=", "api")])],
    ["regex match", '{job=~"api|web"}', groups([filter("job", "=~", "api|web")])],
    ["regex non-match", '{job!~"api.*"}', groups([filter("job", "!~", "api.*")])],
    [
      "every operator after a metric name",
      'http_requests_total{a="1", b!="2", c=~"3", d!~"4"}',
      groups([
        name("http_requests_total"),
        eq("a", "1"),
        filter("b", "!=", "2"),
        filter("c", "=~", "3"),
        filter("d", "!~", "4"),
      ]),
    ],
    ["trailing comma", '{a="1",}', groups([eq("a", "1")])],
    ["trailing comma and blanks", 'm{a="1" , }', groups([name("m"), eq("a", "1")])],
    ["or groups", '{a="1" or b="2"}', groups([eq("a", "1")], [eq("b", "2")])],
    ["OR in capitals", '{a="1" OR b="2"}', groups([eq("a", "1")], [eq("b", "2")])],
    [
      "metric name is shared by every or group",
      'm{a="1", b="2" or c="3"}',
      groups([name("m"), eq("a", "1"), eq("b", "2")], [name("m"), eq("c", "3")]),
    ],
    ["double-quoted label name", '{"my.label"="x"}', groups([eq("my.label", "x")])],
    ["single-quoted label name", "{'my label'=\"x\"}", groups([eq("my label", "x")])],
    ["backtick label name", '{`a\\b`="x"}', groups([eq("a\\b", "x")])],
    ["quoted metric name alone", '{"my.metric"}', groups([name("my.metric")])],
    [
      "quoted metric name with filters",
      '{"my.metric", "a.b"="c", d="e"}',
      groups([name("my.metric"), eq("a.b", "c"), eq("d", "e")]),
    ],
    ["quoted metric names in or groups", '{"m" or "n"}', groups([name("m")], [name("n")])],
    ["quoted metric name after a filter keeps its place", '{a="1", "m"}', groups([eq("a", "1"), name("m")])],
    [
      "name before braces and __name__ inside are both kept",
      'm{__name__="n"}',
      groups([name("m"), name("n")]),
    ],
    ["__name__ regex", '{__name__=~"http_.*"}', groups([filter("__name__", "=~", "http_.*")])],
    ["single-quoted value with a double quote", "{a='say \"hi\"'}", groups([eq("a", 'say "hi"')])],
    ["single-quoted value with an escaped quote", "{a='it\\'s'}", groups([eq("a", "it's")])],
    ["double-quoted value with an escaped quote", '{a="say \\"hi\\""}', groups([eq("a", 'say "hi"')])],
    ["raw string keeps backslashes", "{a=`C:\\dir\\n`}", groups([eq("a", "C:\\dir\\n")])],
    ["raw string spans lines and drops carriage returns", "{a=`x\r\ny`}", groups([eq("a", "x\ny")])],
    ["simple escapes", '{a="\\a\\b\\f\\n\\r\\t\\v\\\\"}', groups([eq("a", "\x07\b\f\n\r\t\v\\")])],
    ["hex and octal escapes", '{a="\\x41\\102\\x7e"}', groups([eq("a", "AB~")])],
    ["byte escapes forming UTF-8", '{a="\\xc3\\xa9\\303\\251"}', groups([eq("a", "éé")])],
    ["unicode escapes", '{a="\\u00e9\\U0001F600"}', groups([eq("a", "é😀")])],
    ["raw unicode and a tab in a value", '{a="日本\t😀"}', groups([eq("a", "日本\t😀")])],
    ["empty value", '{a=""}', groups([eq("a", "")])],
    [
      "comments and whitespace",
      ' # leading comment\n\tm # after the name\n{\r\n  a = "1", # first\n\v\f b =~ "2"\n} # trailing',
      groups([name("m"), eq("a", "1"), filter("b", "=~", "2")]),
    ],
    ["comment at the very end without newline", 'm{a="1"}#', groups([name("m"), eq("a", "1")])],
    ["identifier with colon and dot", "job:rate5m.sum{}", groups([name("job:rate5m.sum")])],
    ["identifier starting with a colon", ":m", groups([name(":m")])],
    ["unicode letters in identifiers", 'größe{ü="x"}', groups([name("größe"), eq("ü", "x")])],
    ["escaped punctuation in an identifier", "met\\-ric\\ name", groups([name("met-ric name")])],
    ["escaped leading digit", "\\3xx", groups([name("3xx")])],
    ["hex and unicode identifier escapes", "\\x41b\\u00e9", groups([name("Abé")])],
    ["escaped label name", '{a\\.b="x"}', groups([eq("a.b", "x")])],
    ["metric named like a keyword", "offset", groups([name("offset")])],
    ["metric named like an aggregation", 'sum{a="1"}', groups([name("sum"), eq("a", "1")])],
    ["metric named with", 'with{a="1"}', groups([name("with"), eq("a", "1")])],
    ["label named or", '{or="x" or a="1"}', groups([eq("or", "x")], [eq("a", "1")])],
  ];
  for (const [title, text, expected] of cases) {
    it(title, () => {
      assert.deepEqual(parse(text), expected);
    });
  }
});

describe("parse: rejected input", () => {
  const cases: [text: string, code: MetricsqlErrorCode, at: string, reason: RegExp][] = [
    // Valid MetricsQL that is more than a selector.
    ["rate(http_requests_total[5m])", "Unsupported", "1:1", /^found function call "rate\(": only a series/],
    ["sum(up)", "Unsupported", "1:1", /^found aggregation "sum\("/],
    ["sum by (job) (up)", "Unsupported", "1:1", /^found aggregation "sum by"/],
    ["topk without (job) (3, up)", "Unsupported", "1:1", /^found aggregation "topk without"/],
    ["up[5m]", "Unsupported", "1:3", /^found range vector "\[5m\]"/],
    ['up{a="1"}[5m:1m]', "Unsupported", "1:10", /^found subquery "\[5m:1m\]"/],
    ["up offset 5m", "Unsupported", "1:4", /^found offset modifier "offset"/],
    ["up @ 1609746000", "Unsupported", "1:4", /^found @ modifier/],
    ["up or down", "Unsupported", "1:4", /^found binary operator "or": .*put "or" inside the braces/],
    ['{a="1"} or {b="2"}', "Unsupported", "1:9", /^found binary operator "or"/],
    ["up and down", "Unsupported", "1:4", /^found binary operator "and"/],
    ["up unless down", "Unsupported", "1:4", /^found binary operator "unless"/],
    ["up default 0", "Unsupported", "1:4", /^found binary operator "default"/],
    ["up + 1", "Unsupported", "1:4", /^found binary operator "\+"/],
    ["up / 2", "Unsupported", "1:4", /^found binary operator "\/"/],
    ["up > 0", "Unsupported", "1:4", /^found binary operator ">"/],
    ["up == down", "Unsupported", "1:4", /^found binary operator "=="/],
    ["up != down", "Unsupported", "1:4", /^found binary operator "!="/],
    ["42", "Unsupported", "1:1", /^found number "42"/],
    ["1.5e-3", "Unsupported", "1:1", /^found number "1.5e-3"/],
    ["NaN", "Unsupported", "1:1", /^found number "NaN"/],
    ["inf", "Unsupported", "1:1", /^found number "inf"/],
    ['"up"', "Unsupported", "1:1", /^found string literal "up"/],
    ["'up'", "Unsupported", "1:1", /^found string literal "up"/],
    ['WITH (f = {a="b"}) f', "Unsupported", "1:1", /^found WITH template "WITH \("/],
    ["-up", "Unsupported", "1:1", /^found unary operator "-"/],
    ["(up)", "Unsupported", "1:1", /^found parenthesized expression/],
    ['{a="x" + "y"}', "Unsupported", "1:8", /^found string concatenation "\+"/],
    // Malformed text.
    ["", "Syntax", "1:1", /^empty query/],
    ["  # just a comment\n", "Syntax", "1:1", /^empty query/],
    ['{a="1"', "Syntax", "1:7", /^unexpected end of input: .*the "\{" at 1:1 is not closed/],
    ["up{\n  a=", "Syntax", "2:5", /^unexpected end of input: expected a quoted string after =;/],
    ['{a="1}', "Syntax", "1:4", /^unterminated string: no closing " before the end of input/],
    ['{a="1\n"}', "Syntax", "1:4", /^unterminated string: no closing " before the end of the line/],
    ["{a='1}", "Syntax", "1:4", /^unterminated string: no closing '/],
    ["{a=`1}", "Syntax", "1:4", /^unterminated string: no closing `/],
    ['{a="\\q"}', "Syntax", "1:5", /^invalid escape sequence \\q in string/],
    ['{a="\\xZZ"}', "Syntax", "1:5", /^invalid escape sequence \\x in string/],
    ['{a="\\400"}', "Syntax", "1:5", /^invalid escape sequence/],
    ['{a="\\ud800"}', "Syntax", "1:5", /^invalid escape sequence/],
    ['{a="\\U00110000"}', "Syntax", "1:5", /^invalid escape sequence/],
    ['{a="\\\'"}', "Syntax", "1:5", /^invalid escape sequence \\' in string/],
    ["{a='\\\"'}", "Syntax", "1:5", /^invalid escape sequence \\" in string/],
    ['{a="x\\xff"}', "Syntax", "1:6", /^byte escapes in string do not form valid UTF-8/],
    ['{a="\\', "Syntax", "1:5", /^invalid escape sequence \\ at the end of input/],
    ['{""="x"}', "Syntax", "1:2", /^empty label name/],
    ['{""}', "Syntax", "1:2", /^empty metric name/],
    ["{a}", "Syntax", "1:3", /^expected =, !=, =~ or !~ after label "a", found "\}"/],
    ['{a=="x"}', "Syntax", "1:3", /^expected =, !=, =~ or !~ after label "a", found "=="/],
    ['{a:"x"}', "Syntax", "1:4", /^expected =, !=, =~ or !~ after label "a:", found string "x"/],
    ["{a=}", "Syntax", "1:4", /^expected a quoted string after =, found "\}"/],
    ["{a=b}", "Syntax", "1:4", /^expected a quoted string after =, found identifier "b"/],
    ["{a=1}", "Syntax", "1:4", /^expected a quoted string after =, found number "1"/],
    ['{="x"}', "Syntax", "1:2", /^expected a label name, found "="/],
    [
      '{a="1" b="2"}',
      "Syntax",
      "1:8",
      /^expected ",", "or" or "\}" after a label filter, found identifier "b"/,
    ],
    ['{a="1",,}', "Syntax", "1:8", /^expected a label name, found ","/],
    // As in VictoriaMetrics, a comma starts a filter, so `or` after it is a label name.
    [
      '{a="1", or b="2"}',
      "Syntax",
      "1:12",
      /^expected =, !=, =~ or !~ after label "or", found identifier "b"/,
    ],
    ['{a="1" or}', "Syntax", "1:10", /^expected a label name, found "\}"/],
    ["}", "Syntax", "1:1", /^expected a metric name or "\{", found "\}"/],
    ["[5m]", "Syntax", "1:1", /^expected a metric name or "\{", found "\["/],
    ["up}", "Syntax", "1:3", /^expected end of query after the selector, found "\}"/],
    ['up{a="1"}{b="2"}', "Syntax", "1:10", /^expected end of query after the selector, found "\{"/],
    ["up down", "Syntax", "1:4", /^expected end of query after the selector, found identifier "down"/],
    ['up = "x"', "Syntax", "1:4", /^unexpected "=" after the selector; label filters go inside braces/],
    ["up$", "Syntax", "1:3", /^unexpected character "\$"/],
    ['{a="1"};', "Syntax", "1:8", /^unexpected character ";"/],
    ["up\u00a0{}", "Syntax", "1:3", /^unexpected character U\+00A0/],
    ["up\\", "Syntax", "1:3", /^invalid escape sequence \\ at the end of input in identifier/],
    ["a\\x4", "Syntax", "1:2", /^invalid escape sequence \\x in identifier/],
    ["a\\\n", "Syntax", "1:2", /^invalid escape sequence \\ followed by U\+000A in identifier/],
    ['{a="\ud800"}', "Syntax", "1:5", /^invalid character U\+D800 in string/],
    ['{\n  a="1",\n  b=2\n}', "Syntax", "3:5", /^expected a quoted string after =, found number "2"/],
    ['{a="😀", b=1}', "Syntax", "1:12", /found number "1"/],
    ['{\n\ta="1",\n', "Syntax", "2:8", /^unexpected end of input: expected a label name; the "\{" at 1:1/],
  ];
  for (const [text, code, at, reason] of cases) {
    it(`${JSON.stringify(text)} → ${code} at ${at}`, () => {
      const error = parseError(text);
      assert.equal(error.code, code, error.message);
      const { line, column } = error.position ?? assert.fail("error has no position");
      assert.equal(`${line}:${column}`, at, error.message);
      assert.match(error.reason, reason);
      assert.equal(error.message, `${at}: ${error.reason}`);
      assert.ok(!error.reason.includes("\n"), "reasons are one line");
    });
  }

  it("reports a position whose offset agrees with line and column", () => {
    const text = 'up{\n  a="1",\n  b=~2}';
    const error = parseError(text);
    assert.deepEqual(error.position, { offset: text.indexOf("2}"), line: 3, column: 6 });
  });

  it("renders the offending line with a caret under the token", () => {
    const error = parseError('http_requests_total{\n  job="api",\n  code=5xx\n}');
    assert.equal(error.excerpt(), "  code=5xx\n       ^");
  });

  it("renders a caret under a function call", () => {
    assert.equal(parseError("sum(rate(x[5m]))").excerpt(), "sum(rate(x[5m]))\n^");
  });

  it("turns an internal failure into a MetricsqlError", (t) => {
    // Simulate a bug deep in the lexer.
    t.mock.method(String.prototype, "codePointAt", () => {
      throw new TypeError("boom");
    });
    assert.throws(() => parse("up"), {
      name: "MetricsqlError",
      code: "Syntax",
      message: /internal parser error: boom/,
    });
  });

  it("rejects a non-string argument with MetricsqlError", () => {
    const inputs: unknown[] = [undefined, null, 42, {}, ["{}"]];
    for (const input of inputs) {
      assert.throws(() => parse(input as string), MetricsqlError);
    }
  });
});
