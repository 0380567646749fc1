// Parses one line of VictoriaMetrics' JSON-lines export format:
//
//   {"metric":{"__name__":"up","job":"x"},"values":[1,0.5,+Inf],"timestamps":[1700000000000,…]}
//
// The line is not quite JSON: v1.79 writes infinities as bare `+Inf`/`-Inf`
// and NaN as `null`. VictoriaMetrics drops ordinary NaN samples at ingestion
// and keeps only Prometheus staleness markers, so a NaN read back is a
// staleness marker and is emitted with the marker's exact bits. Quoted forms
// ("NaN", "Inf", "Infinity", with a sign) are accepted too, in case a release
// quotes them. Anything else — other keys, unbalanced brackets, labels that are
// not strings, mismatched lengths, fractional timestamps — is an ExportFormatError.
import type { Label } from "../../metricsql/ast.js";
import { STALE_NAN } from "../../remotewrite/index.js";
import { ExportFormatError } from "./export-format-error.js";

export interface ExportedChunk {
  /** The series' labels, sorted by name. */
  readonly labels: Label[];
  /**
   * The metric object exactly as the store printed it: the same series is
   * printed the same way in every response, so this identifies it cheaply.
   */
  readonly seriesKey: string;
  readonly values: number[];
  readonly timestampsMs: number[];
}

const SPECIAL_VALUES: ReadonlyMap<string, number> = new Map([
  ["NaN", STALE_NAN],
  ["Inf", Infinity],
  ["+Inf", Infinity],
  ["-Inf", -Infinity],
  ["Infinity", Infinity],
  ["+Infinity", Infinity],
  ["-Infinity", -Infinity],
]);

/**
 * Bare non-JSON tokens for special values, rewritten to JSON before parsing
 * (`1e999` parses as Infinity); quoted strings are matched too, to be left alone.
 */
const BARE_SPECIAL = /"(?:[^"\\]|\\.)*"|[+-]?Inf(?:inity)?|NaN/g;

export function parseExportLine(line: string): ExportedChunk {
  let metricText: string | undefined;
  let valuesText: string | undefined;
  let timestampsText: string | undefined;

  let pos = skipSpace(line, 0);
  pos = expect(line, pos, "{");
  pos = skipSpace(line, pos);
  if (line[pos] === "}") throw new ExportFormatError(`empty object: ${excerpt(line)}`);
  for (;;) {
    const keyEnd = scanString(line, pos);
    const key = line.slice(pos + 1, keyEnd - 1);
    pos = expect(line, skipSpace(line, keyEnd), ":");
    pos = skipSpace(line, pos);
    const valueEnd = scanContainer(line, pos);
    const valueText = line.slice(pos, valueEnd);
    if (key === "metric" && metricText === undefined) metricText = valueText;
    else if (key === "values" && valuesText === undefined) valuesText = valueText;
    else if (key === "timestamps" && timestampsText === undefined) timestampsText = valueText;
    else throw new ExportFormatError(`unexpected or repeated key ${JSON.stringify(key)}: ${excerpt(line)}`);
    pos = skipSpace(line, valueEnd);
    if (line[pos] === ",") {
      pos = skipSpace(line, pos + 1);
      continue;
    }
    pos = expect(line, pos, "}");
    break;
  }
  if (skipSpace(line, pos) !== line.length)
    throw new ExportFormatError(`text after the object: ${excerpt(line)}`);
  if (metricText === undefined || valuesText === undefined || timestampsText === undefined) {
    throw new ExportFormatError(`a line needs "metric", "values" and "timestamps": ${excerpt(line)}`);
  }

  const labels = parseLabels(metricText);
  const values = parseValues(valuesText);
  const timestampsMs = parseTimestamps(timestampsText);
  if (values.length !== timestampsMs.length) {
    throw new ExportFormatError(
      `${values.length} values but ${timestampsMs.length} timestamps for ${metricText.slice(0, 200)}`,
    );
  }
  return { labels, seriesKey: metricText, values, timestampsMs };
}

function parseLabels(text: string): Label[] {
  const metric = parseJson(text, "metric");
  if (typeof metric !== "object" || metric === null || Array.isArray(metric)) {
    throw new ExportFormatError(`"metric" is not an object: ${text.slice(0, 200)}`);
  }
  const labels: Label[] = [];
  let sorted = true;
  for (const [name, value] of Object.entries(metric)) {
    if (typeof value !== "string") {
      throw new ExportFormatError(`label ${JSON.stringify(name)} is not a string: ${text.slice(0, 200)}`);
    }
    const previous = labels[labels.length - 1];
    if (previous !== undefined && previous.name > name) sorted = false;
    labels.push({ name, value });
  }
  if (!sorted) labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return labels;
}

function parseValues(text: string): number[] {
  const json = text.includes("Inf") || text.includes("NaN") ? text.replace(BARE_SPECIAL, bareToJson) : text;
  const parsed = parseJson(json, "values");
  if (!Array.isArray(parsed)) throw new ExportFormatError(`"values" is not an array: ${text.slice(0, 200)}`);
  const values = parsed as unknown[];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === "number") continue;
    if (value === null) values[i] = STALE_NAN;
    else if (typeof value === "string" && SPECIAL_VALUES.has(value)) values[i] = SPECIAL_VALUES.get(value);
    else throw new ExportFormatError(`value ${JSON.stringify(value)} is not a number`);
  }
  return values as number[];
}

function bareToJson(token: string): string {
  if (token.startsWith('"')) return token;
  if (token === "NaN") return "null";
  return token.startsWith("-") ? "-1e999" : "1e999";
}

function parseTimestamps(text: string): number[] {
  const parsed = parseJson(text, "timestamps");
  if (!Array.isArray(parsed))
    throw new ExportFormatError(`"timestamps" is not an array: ${text.slice(0, 200)}`);
  const timestamps = parsed as unknown[];
  for (const timestamp of timestamps) {
    if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp)) {
      throw new ExportFormatError(`timestamp ${JSON.stringify(timestamp)} is not an integer millisecond`);
    }
  }
  return timestamps as number[];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ExportFormatError(`"${what}" is not valid: ${reason}: ${text.slice(0, 200)}`);
  }
}

function skipSpace(text: string, pos: number): number {
  while (pos < text.length) {
    const c = text.charCodeAt(pos);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
    pos++;
  }
  return pos;
}

function expect(text: string, pos: number, char: string): number {
  if (text[pos] !== char) {
    const found = pos < text.length ? JSON.stringify(text[pos]) : "the end of the line";
    throw new ExportFormatError(
      `expected ${JSON.stringify(char)} at column ${pos + 1}, found ${found}: ${excerpt(text)}`,
    );
  }
  return pos + 1;
}

/** The end (exclusive) of the JSON string starting at pos. */
function scanString(text: string, pos: number): number {
  if (text[pos] !== '"') expect(text, pos, '"');
  for (let i = pos + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  throw new ExportFormatError(`unterminated string: ${excerpt(text)}`);
}

/** The end (exclusive) of the object or array starting at pos, skipping over strings. */
function scanContainer(text: string, pos: number): number {
  const open = text[pos];
  if (open !== "{" && open !== "[") {
    throw new ExportFormatError(`expected an object or array at column ${pos + 1}: ${excerpt(text)}`);
  }
  let depth = 0;
  for (let i = pos; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = scanString(text, i) - 1;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new ExportFormatError(`unbalanced brackets: ${excerpt(text)}`);
}

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
