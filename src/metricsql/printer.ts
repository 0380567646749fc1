// Canonical text for a Selector: parse(print(s)) deep-equals s, and the text
// means the same to VictoriaMetrics and Prometheus as to this module.

import type { LabelFilter, Selector } from "./ast.js";
import { METRIC_NAME_LABEL } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { isPrintable } from "./lexer.js";

const BARE_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const BARE_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Read as numbers, not metric names, at the start of a query.
const NUMBER_WORDS = new Set(["inf", "nan"]);

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/**
 * Prints `name{filters or filters}` when every group starts with the same
 * bare-printable `__name__="name"` filter, otherwise `{filters or filters}`.
 * A selector whose only group is empty, or that has an empty group among
 * others (it matches every series either way), prints as `{}`.
 * Throws MetricsqlError for a selector without groups, which no text expresses.
 */
export function print(selector: Selector): string {
  const { groups } = selector;
  if (groups.length === 0) {
    throw new MetricsqlError(
      "Syntax",
      "a selector without filter groups matches nothing and has no text form",
    );
  }
  if (groups.some((group) => group.length === 0)) return "{}";
  const metricName = sharedMetricName(groups);
  if (metricName !== undefined) {
    const rests = groups.map((group) => group.slice(1));
    if (rests.length === 1 && rests[0]?.length === 0) return metricName;
    // An empty rest among several groups cannot be written after the name: `m{ or a="1"}`.
    if (rests.every((rest) => rest.length > 0)) return metricName + braces(rests);
  }
  return braces(groups);
}

function sharedMetricName(groups: Selector["groups"]): string | undefined {
  const first = groups[0]?.[0];
  if (first === undefined || !isMetricNameEquality(first)) return undefined;
  const name = first.value;
  if (!BARE_METRIC_NAME.test(name) || NUMBER_WORDS.has(name.toLowerCase())) return undefined;
  const shared = groups.every((group) => {
    const filter = group[0];
    return filter !== undefined && isMetricNameEquality(filter) && filter.value === name;
  });
  return shared ? name : undefined;
}

function isMetricNameEquality(filter: LabelFilter): boolean {
  return filter.label === METRIC_NAME_LABEL && filter.op === "=";
}

function braces(groups: readonly (readonly LabelFilter[])[]): string {
  return `{${groups.map((group) => group.map(printFilter).join(", ")).join(" or ")}}`;
}

function printFilter(filter: LabelFilter): string {
  return `${printLabelName(filter.label)}${filter.op}${quoteValue(filter.value)}`;
}

function printLabelName(name: string): string {
  return BARE_LABEL_NAME.test(name) ? name : quoteLabelName(name);
}

/** A Go double-quoted string, as strconv.Quote writes it. */
export function quoteValue(value: string): string {
  return quote(value, true);
}

/**
 * A quoted label name. VictoriaMetrics decodes these with identifier escapes,
 * where `\n` would mean "n", so control characters are always written `\xHH`.
 */
export function quoteLabelName(name: string): string {
  return quote(name, false);
}

function quote(text: string, namedEscapes: boolean): string {
  let out = '"';
  for (const char of text) {
    if (char === '"' || char === "\\") {
      out += `\\${char}`;
      continue;
    }
    const codePoint = char.codePointAt(0) ?? 0;
    if (isPrintable(codePoint)) {
      out += char;
    } else if (namedEscapes && NAMED_ESCAPES[char] !== undefined) {
      out += NAMED_ESCAPES[char];
    } else if (codePoint < 0x80) {
      out += `\\x${hex(codePoint, 2)}`;
    } else if (codePoint <= 0xffff) {
      // Unpaired surrogates land here too: `\ud800` is no valid escape, so such
      // text fails to parse rather than silently meaning something else.
      out += `\\u${hex(codePoint, 4)}`;
    } else {
      out += `\\U${hex(codePoint, 8)}`;
    }
  }
  return `${out}"`;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}
