// Output of client commands: kubectl-style tables, YAML, JSON and names.
import { stringify } from "yaml";
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
  const created = age(metadata["creationTimestamp"], nowMs);
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

/** Left-aligned columns, three spaces apart, as kubectl prints them. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

export type OutputFormat = "table" | "wide" | "yaml" | "json" | "name";

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined) return "table";
  if (value === "wide" || value === "yaml" || value === "json" || value === "name") return value;
  throw new Error(`unknown output format ${JSON.stringify(value)}: use wide, yaml, json or name`);
}

/** Objects as YAML (documents separated by ---), JSON (a List for several) or TYPE/NAME lines. */
export function formatObjects(
  resource: CliResource,
  objects: readonly Json[],
  format: "yaml" | "json" | "name",
  single: boolean,
): string {
  if (format === "name") {
    return objects.map((o) => `${resource.display}/${text(record(o["metadata"])["name"])}\n`).join("");
  }
  const value = single ? objects[0] : { apiVersion: "v1", kind: "List", items: objects };
  return format === "json" ? `${JSON.stringify(value, null, 4)}\n` : stringify(value);
}
