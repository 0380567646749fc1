// Server-side printing: the `Table` responses kubectl asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, one printer per
// resource, columns as kubectl shows them for a real API server.
import type { JsonObject } from "../store/index.js";
import { isObject, objectAt, stringAt } from "./json.js";
import { metadataOf } from "./metadata.js";
import { humanDuration } from "../util/human-duration.js";

export interface ColumnDefinition {
  readonly name: string;
  readonly type: "string" | "integer" | "date";
  readonly format: string;
  readonly description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  readonly priority: number;
}

export interface TablePrinter {
  readonly columns: readonly ColumnDefinition[];
  cells(object: JsonObject, nowMs: number): unknown[];
}

const column = (
  name: string,
  description: string,
  extra: Partial<ColumnDefinition> = {},
): ColumnDefinition => ({
  name,
  type: "string",
  format: "",
  description,
  priority: 0,
  ...extra,
});

const NAME = column("Name", "Name must be unique within a namespace.", { format: "name" });
const AGE = column("Age", "Time since the object was created.", { type: "date" });

/** Kubernetes' HumanDuration: `45s`, `3m12s`, `5h`, `12d`. */
function since(timestamp: string | undefined, nowMs: number): string {
  if (timestamp === undefined) return "<unknown>";
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? "<unknown>" : humanDuration(nowMs - at);
}

const age = (object: JsonObject, nowMs: number): string => since(metadataOf(object).creationTimestamp, nowMs);
const name = (object: JsonObject): string => metadataOf(object).name ?? "";

function readyCondition(object: JsonObject): JsonObject | undefined {
  const conditions = objectAt(object, "status")["conditions"];
  if (!Array.isArray(conditions)) return undefined;
  return conditions.find((c): c is JsonObject => isObject(c) && c["type"] === "Ready");
}

const lengthOf = (value: unknown): number => (Array.isArray(value) ? value.length : 0);

export const exportPolicyTable: TablePrinter = {
  columns: [
    NAME,
    column("Ready", "Whether every sink is configured and delivering (the Ready condition)."),
    column("Sources", "Number of telemetry sources.", { type: "integer" }),
    column("Sinks", "Number of sinks.", { type: "integer" }),
    AGE,
    column("Reason", "Reason of the Ready condition.", { priority: 1 }),
  ],
  cells: (object, nowMs) => {
    const ready = readyCondition(object);
    const spec = objectAt(object, "spec");
    return [
      name(object),
      ready === undefined ? "Unknown" : (stringAt(ready, "status") ?? "Unknown"),
      lengthOf(spec["sources"]),
      lengthOf(spec["sinks"]),
      age(object, nowMs),
      ready === undefined ? "" : (stringAt(ready, "reason") ?? ""),
    ];
  },
};

export const secretTable: TablePrinter = {
  columns: [
    NAME,
    column("Type", "The type of the secret."),
    column("Data", "The number of entries in the secret.", { type: "integer" }),
    AGE,
  ],
  cells: (object, nowMs) => [
    name(object),
    stringAt(object, "type") ?? "Opaque",
    Object.keys(objectAt(object, "data")).length,
    age(object, nowMs),
  ],
};

export const namespaceTable: TablePrinter = {
  columns: [NAME, column("Status", "The phase of the namespace: Active or Terminating."), AGE],
  cells: (object, nowMs) => [
    name(object),
    stringAt(objectAt(object, "status"), "phase") ?? "Active",
    age(object, nowMs),
  ],
};

/** kube-apiserver's columns for Leases: NAME HOLDER AGE. */
export const leaseTable: TablePrinter = {
  columns: [
    NAME,
    column("Holder", "holderIdentity contains the identity of the holder of a current lease."),
    AGE,
  ],
  cells: (object, nowMs) => [
    name(object),
    stringAt(objectAt(object, "spec"), "holderIdentity") ?? "",
    age(object, nowMs),
  ],
};

/** kube-apiserver's columns for ConfigMaps: NAME DATA AGE, DATA counting data and binaryData entries. */
export const configMapTable: TablePrinter = {
  columns: [
    NAME,
    column(
      "Data",
      "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
      { type: "integer" },
    ),
    AGE,
  ],
  cells: (object, nowMs) => [
    name(object),
    Object.keys(objectAt(object, "data")).length + Object.keys(objectAt(object, "binaryData")).length,
    age(object, nowMs),
  ],
};

export const eventTable: TablePrinter = {
  columns: [
    column("Last Seen", "Time since the most recent occurrence."),
    column("Type", "Normal or Warning."),
    column("Reason", "Why the event was recorded."),
    column("Object", "The object the event is about."),
    column("Subobject", "The part of the object the event is about.", { priority: 1 }),
    column("Source", "The component that recorded the event.", { priority: 1 }),
    column("Message", "A human-readable description."),
    column("First Seen", "Time since the first occurrence.", { priority: 1 }),
    column("Count", "How many times the event occurred.", { type: "integer", priority: 1 }),
    column("Name", "The event's name.", { priority: 1 }),
  ],
  cells: (object, nowMs) => {
    const involved = objectAt(object, "involvedObject");
    const last =
      stringAt(object, "lastTimestamp") ??
      stringAt(object, "eventTime") ??
      metadataOf(object).creationTimestamp;
    const first = stringAt(object, "firstTimestamp") ?? last;
    const kind = (stringAt(involved, "kind") ?? "").toLowerCase();
    const source =
      stringAt(objectAt(object, "source"), "component") ?? stringAt(object, "reportingComponent") ?? "";
    const count = object["count"];
    return [
      since(last, nowMs),
      stringAt(object, "type") ?? "",
      stringAt(object, "reason") ?? "",
      `${kind}/${stringAt(involved, "name") ?? ""}`,
      stringAt(involved, "fieldPath") ?? "",
      source,
      stringAt(object, "message") ?? "",
      since(first, nowMs),
      typeof count === "number" ? count : 1,
      name(object),
    ];
  },
};

export type IncludeObject = "None" | "Metadata" | "Object";

/** One Table (meta.k8s.io/v1) of objects. */
export function toTable(
  printer: TablePrinter,
  objects: readonly JsonObject[],
  options: { includeObject: IncludeObject; listMeta: JsonObject; nowMs: number; withColumns?: boolean },
): JsonObject {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: options.listMeta,
    columnDefinitions: options.withColumns === false ? [] : printer.columns,
    rows: objects.map((object) => ({
      cells: printer.cells(object, options.nowMs),
      ...(options.includeObject === "None" ? {} : { object: rowObject(object, options.includeObject) }),
    })),
  };
}

function rowObject(object: JsonObject, include: IncludeObject): JsonObject {
  if (include === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: metadataOf(object) };
}
