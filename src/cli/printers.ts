// Output of client commands: kubectl-style tables, YAML, JSON and names.
import { yaml } from "./lazy-yaml.js";
import { humanDuration } from "../util/human-duration.js";
import type { CliResource } from "./resources.js";

type Json = Record<string, unknown>;

const record = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {});

/** A scalar field as text; anything else (absent, an object) as the fallback. */
export function text(value: unknown, fallback = ""): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : fallback;
}

/** kubectl's AGE: 45s, 12m, 3h, 2d. */
export function age(timestamp: unknown, nowMs: number): string {
  if (typeof timestamp !== "string") return "<unknown>";
  const seconds = Math.max(0, Math.floor((nowMs - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** The AGE column as the server's tables (and so kubectl) print it: 45s, 3m12s, 12m, 5h10m. */
function tableAge(timestamp: unknown, nowMs: number): string {
  const at = typeof timestamp === "string" ? Date.parse(timestamp) : Number.NaN;
  return Number.isNaN(at) ? "<unknown>" : humanDuration(nowMs - at);
}

function readyCondition(object: Json): Json | undefined {
  const conditions = record(object["status"])["conditions"];
  return Array.isArray(conditions) ? conditions.map(record).find((c) => c["type"] === "Ready") : undefined;
}

export function tableHeader(resource: CliResource, wide: boolean): string[] {
  return resource.kind === "ExportPolicy"
    ? ["NAME", "READY", "SOURCES", "SINKS", "AGE", ...(wide ? ["REASON"] : [])]
    : ["NAME", "TYPE", "DATA", "AGE"];
}

export function tableRow(resource: CliResource, object: Json, wide: boolean, nowMs: number): string[] {
  const metadata = record(object["metadata"]);
  const name = text(metadata["name"]);
  const created = tableAge(metadata["creationTimestamp"], nowMs);
  if (resource.kind === "Secret") {
    return [
      name,
      text(object["type"], "Opaque"),
      String(Object.keys(record(object["data"])).length),
      created,
    ];
  }
  const spec = record(object["spec"]);
  const ready = readyCondition(object);
  const count = (value: unknown) => String(Array.isArray(value) ? value.length : 0);
  return [
    name,
    text(ready?.["status"], "Unknown"),
    count(spec["sources"]),
    count(spec["sinks"]),
    created,
    ...(wide ? [text(ready?.["reason"])] : []),
  ];
}

function widen(widths: number[], rows: readonly (readonly string[])[]): void {
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
}

function formatRow(row: readonly string[], widths: readonly number[]): string {
  return row
    .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
    .join("")
    .trimEnd();
}

/** Left-aligned columns, three spaces apart, as kubectl prints them. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  widen(widths, rows);
  return rows.map((row) => formatRow(row, widths)).join("\n");
}

/**
 * A table printed batch by batch, as `kubectl get -w` prints it: the header
 * comes with the first rows, and each column keeps the widest cell printed so
 * far, so later rows line up with the first table (and one wider cell widens
 * its column from then on: printed rows are not redrawn).
 */
export class StreamingTable {
  private readonly widths: number[];
  private headed = false;

  /** `minimums`: widths known from the start (kubectl's EVENT column is as wide as MODIFIED at once). */
  constructor(
    private readonly header: readonly string[],
    minimums: readonly number[] = [],
  ) {
    this.widths = [...minimums];
  }

  /** The lines of these rows, each ending in a newline; nothing for none. */
  print(rows: readonly (readonly string[])[]): string {
    if (rows.length === 0) return "";
    const lines = this.headed ? rows : [this.header, ...rows];
    this.headed = true;
    widen(this.widths, lines);
    return lines.map((row) => `${formatRow(row, this.widths)}\n`).join("");
  }
}

export type OutputFormat = "table" | "wide" | "yaml" | "json" | "name";

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined) return "table";
  if (value === "wide" || value === "yaml" || value === "json" || value === "name") return value;
  throw new Error(`unknown output format ${JSON.stringify(value)}: use wide, yaml, json or name`);
}

/**
 * The object without metadata.managedFields, as kubectl prints it unless
 * --show-managed-fields: the field owners' bookkeeping is long and rarely
 * what a reader is after.
 */
export function withoutManagedFields(object: Json): Json {
  const metadata = object["metadata"];
  if (typeof metadata !== "object" || metadata === null || !("managedFields" in metadata)) return object;
  const { managedFields: _hidden, ...rest } = metadata as Json;
  return { ...object, metadata: rest };
}

export interface ObjectsOptions {
  /** One object rather than a List (for yaml and json). */
  readonly single: boolean;
  readonly showManagedFields?: boolean;
}

/** Objects as YAML, JSON (a List for several) or TYPE/NAME lines. */
export function formatObjects(
  resource: CliResource,
  objects: readonly Json[],
  format: "yaml" | "json" | "name",
  options: ObjectsOptions,
): string {
  if (format === "name") {
    return objects.map((o) => `${resource.display}/${text(record(o["metadata"])["name"])}\n`).join("");
  }
  const shown = options.showManagedFields === true ? objects : objects.map(withoutManagedFields);
  const value = options.single ? shown[0] : { apiVersion: "v1", kind: "List", items: shown };
  return format === "json" ? `${JSON.stringify(value, null, 4)}\n` : yaml().stringify(value);
}
