// Parses one line of a `/federate` answer, the Prometheus text format 0.0.4:
//
//   # TYPE envoy_vhost_vcluster_upstream_rq untyped
//   envoy_vhost_vcluster_upstream_rq{envoy_response_code="200",gateway_name="gw"} 1027 1700000000000
//
// Comments and blank lines give undefined. Label values use the format's
// escapes (\\, \", \n); labels with an empty value are dropped, as
// Prometheus' data model treats them as absent. The timestamp is optional in
// the format; federation always prints one, and a missing one is left to the
// caller.
import type { Label } from "../../metricsql/ast.js";
import { METRIC_NAME_LABEL } from "../../metricsql/ast.js";
import { ExportFormatError } from "./export-format-error.js";

export interface FederatedSample {
  /** Sorted by name, the metric name as `__name__`. */
  readonly labels: Label[];
  /** The series as printed (name and braces): identifies it within one store's answers. */
  readonly seriesKey: string;
  readonly value: number;
  readonly timestampMs: number | undefined;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN|Nan|nan)$/;
const INTEGER = /^-?\d+$/;

export function parseFederateLine(line: string): FederatedSample | undefined {
  const text = line.trimEnd();
  if (text.trim() === "" || text.trimStart().startsWith("#")) return undefined;
  const name = METRIC_NAME.exec(text)?.[0];
  if (name === undefined) throw new ExportFormatError(`expected a metric name: ${excerpt(text)}`);
  const labels: Label[] = [{ name: METRIC_NAME_LABEL, value: name }];
  let pos = name.length;
  if (text[pos] === "{") pos = parseLabels(text, pos + 1, labels);
  const seriesKey = text.slice(0, pos);
  const fields = text
    .slice(pos)
    .trim()
    .split(/[ \t]+/);
  const [valueText = "", timestampText, extra] = fields;
  if (extra !== undefined || !FLOAT.test(valueText)) {
    throw new ExportFormatError(`expected "value [timestamp]" after the series: ${excerpt(text)}`);
  }
  if (timestampText !== undefined && !INTEGER.test(timestampText)) {
    throw new ExportFormatError(`timestamp ${JSON.stringify(timestampText)} is not an integer millisecond`);
  }
  labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    labels,
    seriesKey,
    value: parseFloatValue(valueText),
    timestampMs: timestampText === undefined ? undefined : Number(timestampText),
  };
}

/** Reads `name="value",…}` from pos (just after "{"), appending to labels; returns the position after "}". */
function parseLabels(text: string, pos: number, labels: Label[]): number {
  for (;;) {
    pos = skipSpace(text, pos);
    if (text[pos] === "}") return pos + 1;
    const name = LABEL_NAME.exec(text.slice(pos))?.[0];
    if (name === undefined)
      throw new ExportFormatError(`expected a label name at column ${pos + 1}: ${excerpt(text)}`);
    pos = skipSpace(text, pos + name.length);
    if (text[pos] !== "=") throw new ExportFormatError(`expected "=" after label ${name}: ${excerpt(text)}`);
    pos = skipSpace(text, pos + 1);
    if (text[pos] !== '"')
      throw new ExportFormatError(`expected a quoted value for label ${name}: ${excerpt(text)}`);
    let value = "";
    let i = pos + 1;
    for (; i < text.length && text[i] !== '"'; i++) {
      const c = text.charAt(i);
      if (c !== "\\") {
        value += c;
        continue;
      }
      const escaped = text[++i];
      if (escaped === "n") value += "\n";
      else if (escaped === "\\" || escaped === '"') value += escaped;
      else
        throw new ExportFormatError(`unknown escape "\\${escaped ?? ""}" in label ${name}: ${excerpt(text)}`);
    }
    if (i >= text.length)
      throw new ExportFormatError(`unterminated value of label ${name}: ${excerpt(text)}`);
    // An empty value means no label (Prometheus' /federate adds instance="" to series without one).
    if (value !== "") labels.push({ name, value });
    pos = skipSpace(text, i + 1);
    if (text[pos] === ",") pos++;
    else if (text[pos] !== "}")
      throw new ExportFormatError(`expected "," or "}" at column ${pos + 1}: ${excerpt(text)}`);
  }
}

function parseFloatValue(text: string): number {
  const unsigned = text.replace(/^[+-]/, "").toLowerCase();
  if (unsigned === "nan") return NaN;
  if (unsigned === "inf") return text.startsWith("-") ? -Infinity : Infinity;
  return Number(text);
}

function skipSpace(text: string, pos: number): number {
  while (text[pos] === " " || text[pos] === "\t") pos++;
  return pos;
}

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
