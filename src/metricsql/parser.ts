// Parser for the series-selector subset of MetricsQL:
//
//   selector = [metric-name] ["{" [group {"or" group}] "}"]     (at least one of the two)
//   group    = filter {"," filter} [","]
//   filter   = label ("=" | "!=" | "=~" | "!~") string
//            | quoted-metric-name                              (Prometheus 3: {"my.metric", a="b"})
//   label    = identifier | string
//
// Anything else MetricsQL accepts (functions, operators, ranges, modifiers,
// WITH templates) is recognized just far enough to be named in an
// "Unsupported" error; malformed text is a "Syntax" error.
//
// Metric names are kept exactly: `m{__name__="x"}` and `{"m", __name__="x"}`
// yield two `__name__` filters in the group (their conjunction), where recent
// VictoriaMetrics versions merge equal names and reject different ones.

import type { LabelFilter, MatchOp, Selector } from "./ast.js";
import { METRIC_NAME_LABEL } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import type { Token } from "./lexer.js";
import { Lexer, positionAt } from "./lexer.js";

const MATCH_OPS: ReadonlySet<string> = new Set<MatchOp>(["=", "!=", "=~", "!~"]);
const NOT_A_SELECTOR = 'only a series selector like {label="value"} is allowed';

// VictoriaMetrics' aggregate functions, to tell `sum by (x) (...)` from a metric named `sum`.
const AGGREGATIONS = new Set([
  "any",
  "avg",
  "bottomk",
  "bottomk_avg",
  "bottomk_last",
  "bottomk_max",
  "bottomk_median",
  "bottomk_min",
  "count",
  "count_values",
  "distinct",
  "geomean",
  "group",
  "histogram",
  "limitk",
  "mad",
  "max",
  "median",
  "min",
  "mode",
  "outliers_iqr",
  "outliers_mad",
  "outliersk",
  "quantile",
  "quantiles",
  "share",
  "stddev",
  "stdvar",
  "sum",
  "sum2",
  "topk",
  "topk_avg",
  "topk_last",
  "topk_max",
  "topk_median",
  "topk_min",
  "zscore",
]);
const KEYWORD_BINARY_OPERATORS = new Set(["and", "or", "unless", "if", "ifnot", "default", "atan2"]);
const SYMBOL_BINARY_OPERATORS = new Set(["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="]);

/** Parses a MetricsQL series selector. Throws only MetricsqlError, whatever the input. */
export function parse(text: string): Selector {
  const input: unknown = text;
  if (typeof input !== "string") throw new MetricsqlError("Syntax", "the query must be a string");
  try {
    return new SelectorParser(input).parseQuery();
  } catch (error) {
    if (error instanceof MetricsqlError) throw error;
    // A bug here must still surface as the module's one error type.
    const detail = error instanceof Error ? error.message : String(error);
    throw new MetricsqlError("Syntax", `internal parser error: ${detail}`);
  }
}

class SelectorParser {
  private readonly lexer: Lexer;
  private token: Token;
  private lookahead: Token | undefined;

  constructor(private readonly source: string) {
    this.lexer = new Lexer(source);
    this.token = this.lexer.next();
  }

  parseQuery(): Selector {
    const first = this.token;
    let metricName: string | undefined;
    if (first.kind === "ident") {
      this.rejectIdentifierStart(first);
      metricName = first.value;
      this.advance();
    } else if (!isPunct(first, "{")) {
      throw this.rejectStart(first);
    }
    let groups: LabelFilter[][] = isPunct(this.token, "{") ? this.parseBraces() : [[]];
    if (metricName !== undefined) {
      const nameFilter: LabelFilter = { label: METRIC_NAME_LABEL, op: "=", value: metricName };
      groups = groups.map((group) => [nameFilter, ...group]);
    }
    if (this.token.kind !== "eof") throw this.rejectAfterSelector(this.token);
    return { groups };
  }

  private advance(): void {
    this.token = this.lookahead ?? this.lexer.next();
    this.lookahead = undefined;
  }

  private peek(): Token {
    this.lookahead ??= this.lexer.next();
    return this.lookahead;
  }

  /** Reads `{...}` into filter groups; the current token is the `{`. */
  private parseBraces(): LabelFilter[][] {
    const open = this.token;
    this.advance();
    if (isPunct(this.token, "}")) {
      this.advance();
      return [[]];
    }
    const groups: LabelFilter[][] = [];
    let group: LabelFilter[] = [];
    for (;;) {
      group.push(this.parseFilter(open));
      const separator = this.token;
      if (isPunct(separator, ",")) {
        this.advance();
        if (!isPunct(this.token, "}")) continue;
      } else if (isKeyword(separator, "or")) {
        this.advance();
        groups.push(group);
        group = [];
        continue;
      } else if (!isPunct(separator, "}")) {
        throw this.expected('",", "or" or "}" after a label filter', separator, open);
      }
      this.advance();
      groups.push(group);
      return groups;
    }
  }

  private parseFilter(open: Token): LabelFilter {
    const nameToken = this.token;
    if (nameToken.kind !== "ident" && nameToken.kind !== "string") {
      throw this.expected("a label name", nameToken, open);
    }
    this.advance();
    const opToken = this.token;
    const endsFilter = isPunct(opToken, ",") || isPunct(opToken, "}") || isKeyword(opToken, "or");
    if (nameToken.kind === "string" && endsFilter) {
      // A lone quoted string names the metric (Prometheus 3 UTF-8 names, also accepted by MetricsQL).
      if (nameToken.value === "") throw this.syntax("empty metric name", nameToken);
      return { label: METRIC_NAME_LABEL, op: "=", value: nameToken.value };
    }
    if (nameToken.value === "") throw this.syntax("empty label name", nameToken);
    if (opToken.kind !== "operator" || !MATCH_OPS.has(opToken.text)) {
      const label = JSON.stringify(nameToken.value);
      throw this.expected(`=, !=, =~ or !~ after label ${label}`, opToken, open);
    }
    this.advance();
    const valueToken = this.token;
    if (valueToken.kind !== "string") {
      throw this.expected(`a quoted string after ${opToken.text}`, valueToken, open);
    }
    this.advance();
    if (isOperator(this.token, "+")) {
      throw this.unsupported(`string concatenation "+"`, this.token);
    }
    return { label: nameToken.value, op: opToken.text as MatchOp, value: valueToken.value };
  }

  /** An identifier opens the query: a metric name, unless a call, aggregation, number or WITH follows. */
  private rejectIdentifierStart(first: Token): void {
    const word = first.text.toLowerCase();
    if (word === "inf" || word === "nan") throw this.unsupported(`number ${quote(first.text)}`, first);
    const next = this.peek();
    if (isPunct(next, "(")) {
      if (word === "with") throw this.unsupported(`WITH template ${quote(`${first.text} (`)}`, first);
      const kind = AGGREGATIONS.has(word) ? "aggregation" : "function call";
      throw this.unsupported(`${kind} ${quote(`${first.text}(`)}`, first);
    }
    const modifier = next.text.toLowerCase();
    if (next.kind === "ident" && AGGREGATIONS.has(word) && (modifier === "by" || modifier === "without")) {
      throw this.unsupported(`aggregation ${quote(`${first.text} ${next.text}`)}`, first);
    }
  }

  private rejectStart(token: Token): MetricsqlError {
    switch (token.kind) {
      case "eof":
        return this.syntax(`empty query: expected a series selector like {label="value"}`, token);
      case "string":
        return this.unsupported(`string literal ${abbreviate(token.value)}`, token);
      case "number":
        return this.unsupported(`number ${quote(token.text)}`, token);
      default:
        if (isPunct(token, "(")) return this.unsupported(`parenthesized expression "("`, token);
        if (isOperator(token, "-") || isOperator(token, "+")) {
          return this.unsupported(`unary operator ${quote(token.text)}`, token);
        }
        return this.expected('a metric name or "{"', token);
    }
  }

  private rejectAfterSelector(token: Token): MetricsqlError {
    const word = token.kind === "ident" ? token.text.toLowerCase() : "";
    if (isPunct(token, "[")) return this.rejectRange(token);
    if (isPunct(token, "@")) return this.unsupported(`@ modifier "@"`, token);
    if (word === "offset") return this.unsupported(`offset modifier ${quote(token.text)}`, token);
    if (word === "or") {
      const hint = 'to match either, put "or" inside the braces: {a="1" or b="2"}';
      return this.error(
        "Unsupported",
        `found binary operator ${quote(token.text)}: ${NOT_A_SELECTOR}; ${hint}`,
        token,
      );
    }
    if (KEYWORD_BINARY_OPERATORS.has(word))
      return this.unsupported(`binary operator ${quote(token.text)}`, token);
    if (token.kind === "operator" && SYMBOL_BINARY_OPERATORS.has(token.text)) {
      return this.unsupported(`binary operator ${quote(token.text)}`, token);
    }
    if (token.kind === "operator") {
      return this.syntax(
        `unexpected ${quote(token.text)} after the selector; label filters go inside braces`,
        token,
      );
    }
    return this.expected("end of query after the selector", token);
  }

  /** `[5m]` is a range vector, `[5m:1m]` a subquery; quote the brackets when they are short. */
  private rejectRange(open: Token): MetricsqlError {
    const close = this.source.indexOf("]", open.start);
    const brackets = close === -1 ? "" : this.source.slice(open.start, close + 1);
    const kind = brackets.includes(":") ? "subquery" : "range vector";
    const shown = brackets !== "" && brackets.length <= 24 && !brackets.includes("\n") ? brackets : "[";
    return this.unsupported(`${kind} ${quote(shown)}`, open);
  }

  private unsupported(what: string, token: Token): MetricsqlError {
    return this.error("Unsupported", `found ${what}: ${NOT_A_SELECTOR}`, token);
  }

  private expected(what: string, found: Token, open?: Token): MetricsqlError {
    if (found.kind === "eof" && open !== undefined) {
      const { line, column } = positionAt(this.source, open.start);
      return this.syntax(
        `unexpected end of input: expected ${what}; the "{" at ${line}:${column} is not closed`,
        found,
      );
    }
    return this.syntax(`expected ${what}, found ${describe(found)}`, found);
  }

  private syntax(reason: string, token: Token): MetricsqlError {
    return this.error("Syntax", reason, token);
  }

  private error(code: "Syntax" | "Unsupported", reason: string, token: Token): MetricsqlError {
    return new MetricsqlError(code, reason, positionAt(this.source, token.start), this.source);
  }
}

function isPunct(token: Token, text: string): boolean {
  return token.kind === "punct" && token.text === text;
}

function isOperator(token: Token, text: string): boolean {
  return token.kind === "operator" && token.text === text;
}

/** Keywords match case-insensitively on the text as written, as in VictoriaMetrics (`o\r` is no keyword). */
function isKeyword(token: Token, word: string): boolean {
  return token.kind === "ident" && token.text.toLowerCase() === word;
}

function describe(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "end of input";
    case "ident":
      return `identifier ${quote(token.text)}`;
    case "string":
      return `string ${abbreviate(token.value)}`;
    case "number":
      return `number ${quote(token.text)}`;
    default:
      return quote(token.text);
  }
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/** A string's value for a message: quoted, and cut short so one long literal can't swamp it. */
function abbreviate(text: string): string {
  const limit = 40;
  const codePoints = Array.from(text);
  return codePoints.length <= limit ? quote(text) : `${quote(codePoints.slice(0, limit).join(""))}…`;
}
