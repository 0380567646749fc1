// The resources every project's control plane serves, and those of the
// platform plane, with what the server needs to know about each: names for
// discovery, scope, schema, validation, the status subresource, field
// selectors and the table printer.
import {
  CATEGORIES,
  ExportPolicySchema,
  GROUP,
  KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  SecretSchema,
  VERSION,
  dnsLabelProblems,
  fieldError,
  schemaNode,
  validateAgainstSchema,
  validateExportPolicy,
  validateSecret,
  type FieldError,
  type SchemaNode,
} from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import {
  ConfigMapSchema,
  configMapProblems,
  configMapUpdateProblems,
  normalizeConfigMap,
} from "./configmap.js";
import { EventSchema, NamespaceSchema } from "./core-schemas.js";
import { isObject, objectAt, stringAt, valueAtPath } from "./json.js";
import { LEASE_GROUP, LeaseSchema, leaseProblems, normalizeLease } from "./lease.js";
import { metadataOf } from "./metadata.js";
import { PLATFORM } from "./paths.js";
import {
  configMapTable,
  eventTable,
  exportPolicyTable,
  leaseTable,
  namespaceTable,
  secretTable,
  type TablePrinter,
} from "./tables.js";

export type Validation =
  { readonly object: JsonObject; readonly errors?: undefined } | { readonly errors: readonly FieldError[] };

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly namespaced: boolean;
  /** Writes to the main resource keep status; /status writes keep everything else. */
  readonly hasStatus: boolean;
  /** metadata.generation counts spec changes (custom resources do; Secrets do not). */
  readonly tracksGeneration: boolean;
  /** Strategic merge patch is accepted (built-in kinds only, as in Kubernetes). */
  readonly strategicMerge: boolean;
  readonly schema: SchemaNode;
  readonly table: TablePrinter;
  /** Field selector labels besides metadata.name and metadata.namespace, mapped to the object's path. */
  readonly fieldLabels: Readonly<Record<string, string>>;
  /**
   * Defaulting and validation of a whole object; `specUnchanged`: its spec is the stored
   * object's (see ValidationOptions.specUnchanged), which a resource may skip.
   */
  validate(object: JsonObject, options?: { readonly specUnchanged: boolean }): Validation;
  /**
   * What an update may not change, beside what validate finds (ConfigMaps:
   * nothing of the data once immutable). `next` is the object as written
   * (validated when it is valid), `old` the stored one.
   */
  readonly validateUpdate?: (next: JsonObject, old: JsonObject) => FieldError[];
  /** What a valid object is accepted with but probably not meant as (a `Warning` header each). */
  readonly warnings?: (object: JsonObject) => string[];
  /** Shapes the object for storage (Secrets: stringData folded into data). */
  normalize(object: JsonObject): JsonObject;
}

export const apiVersionOf = (r: Pick<ResourceType, "group" | "version">): string =>
  r.group === "" ? r.version : `${r.group}/${r.version}`;

const fromResult = (result: {
  valid: boolean;
  errors: readonly FieldError[];
  object?: unknown;
}): Validation =>
  result.valid && isObject(result.object) ? { object: result.object } : { errors: result.errors };

function schemaValidation(
  object: JsonObject,
  schema: SchemaNode,
  extra: (o: JsonObject) => FieldError[],
): Validation {
  const { value, errors } = validateAgainstSchema(object, schema);
  const all = [...errors, ...(isObject(value) ? extra(value) : [])];
  return all.length === 0 && isObject(value) ? { object: value } : { errors: all };
}

const identity = (object: JsonObject): JsonObject => object;

export const exportPolicies: ResourceType = {
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  singular: SINGULAR,
  shortNames: SHORT_NAMES,
  categories: CATEGORIES,
  namespaced: true,
  hasStatus: true,
  tracksGeneration: true,
  strategicMerge: false,
  schema: schemaNode(ExportPolicySchema),
  table: exportPolicyTable,
  fieldLabels: {},
  validate: (object, options) =>
    fromResult(validateExportPolicy(object, { specUnchanged: options?.specUnchanged === true })),
  warnings: unusedSourceWarnings,
  normalize: identity,
};

/** stringData is write-only: its entries overwrite data's, base64-encoded, and it is never stored. */
function foldStringData(secret: JsonObject): JsonObject {
  const { stringData, ...rest } = secret;
  if (!isObject(stringData)) return rest;
  const data: JsonObject = { ...objectAt(rest, "data") };
  for (const [key, value] of Object.entries(stringData)) {
    if (typeof value === "string") data[key] = Buffer.from(value, "utf8").toString("base64");
  }
  return { ...rest, data };
}

export const secrets: ResourceType = {
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  singular: "secret",
  shortNames: [],
  categories: [],
  namespaced: true,
  hasStatus: false,
  tracksGeneration: false,
  strategicMerge: true,
  schema: schemaNode(SecretSchema),
  table: secretTable,
  fieldLabels: { type: "type" },
  validate: (object) => fromResult(validateSecret(object)),
  normalize: foldStringData,
};

export const namespaces: ResourceType = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  singular: "namespace",
  shortNames: ["ns"],
  categories: [],
  namespaced: false,
  hasStatus: true,
  tracksGeneration: false,
  strategicMerge: true,
  schema: NamespaceSchema,
  table: namespaceTable,
  fieldLabels: { "status.phase": "status.phase" },
  validate: (object) =>
    schemaValidation(object, NamespaceSchema, (o) => {
      const name = metadataOf(o).name ?? "";
      return dnsLabelProblems(name).map((p) => fieldError.invalid(["metadata", "name"], name, p));
    }),
  normalize: (object) => ({
    ...object,
    status: { phase: stringAt(objectAt(object, "status"), "phase") ?? "Active" },
  }),
};

export const events: ResourceType = {
  group: "",
  version: "v1",
  kind: "Event",
  plural: "events",
  singular: "event",
  shortNames: ["ev"],
  categories: [],
  namespaced: true,
  hasStatus: false,
  tracksGeneration: false,
  strategicMerge: true,
  schema: EventSchema,
  table: eventTable,
  fieldLabels: {
    "involvedObject.kind": "involvedObject.kind",
    "involvedObject.namespace": "involvedObject.namespace",
    "involvedObject.name": "involvedObject.name",
    "involvedObject.uid": "involvedObject.uid",
    "involvedObject.apiVersion": "involvedObject.apiVersion",
    "involvedObject.resourceVersion": "involvedObject.resourceVersion",
    "involvedObject.fieldPath": "involvedObject.fieldPath",
    reason: "reason",
    reportingComponent: "reportingComponent",
    source: "source.component",
    type: "type",
  },
  validate: (object) => schemaValidation(object, EventSchema, () => []),
  normalize: identity,
};

/** The replicas' Leases (platform plane only). Built-in kind: strategic merge patch, unconditional updates. */
export const leases: ResourceType = {
  group: LEASE_GROUP,
  version: "v1",
  kind: "Lease",
  plural: "leases",
  singular: "lease",
  shortNames: [],
  categories: [],
  namespaced: true,
  hasStatus: false,
  tracksGeneration: false,
  strategicMerge: true,
  schema: LeaseSchema,
  table: leaseTable,
  fieldLabels: {},
  validate: (object) => schemaValidation(object, LeaseSchema, leaseProblems),
  normalize: normalizeLease,
};

/**
 * ConfigMaps of the platform plane (replicas' pull positions). Built-in kind: strategic merge
 * patch, unconditional updates; `immutable` freezes data and binaryData.
 */
export const configMaps: ResourceType = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  singular: "configmap",
  shortNames: ["cm"],
  categories: [],
  namespaced: true,
  hasStatus: false,
  tracksGeneration: false,
  strategicMerge: true,
  schema: ConfigMapSchema,
  table: configMapTable,
  fieldLabels: {},
  validate: (object) => schemaValidation(object, ConfigMapSchema, configMapProblems),
  validateUpdate: configMapUpdateProblems,
  normalize: normalizeConfigMap,
};

/** What every project's control plane (and the cross-project view) serves. */
export const RESOURCES: readonly ResourceType[] = [exportPolicies, secrets, namespaces, events];

/**
 * What the platform plane serves: nothing a project has, so nothing of a project shows there and
 * back (ConfigMaps are core/v1 like Secrets, but no project serves them).
 */
export const PLATFORM_RESOURCES: readonly ResourceType[] = [leases, configMaps];

/** The resources of a route's plane (see Route: a project, undefined for the cross-project view, or PLATFORM). */
export function resourcesOf(project: string | undefined): readonly ResourceType[] {
  return project === PLATFORM ? PLATFORM_RESOURCES : RESOURCES;
}

export function findResource(
  project: string | undefined,
  group: string,
  version: string,
  plural: string,
): ResourceType | undefined {
  return resourcesOf(project).find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function fieldLabelsOf(resource: ResourceType): Set<string> {
  return new Set([
    "metadata.name",
    ...(resource.namespaced ? ["metadata.namespace"] : []),
    ...Object.keys(resource.fieldLabels),
  ]);
}

/** The value of a field selector label on an object, as a string (absent → ""). */
export function fieldValue(resource: ResourceType, object: JsonObject, label: string): string {
  const meta = metadataOf(object);
  if (label === "metadata.name") return meta.name ?? "";
  if (label === "metadata.namespace") return meta.namespace ?? "";
  const path = resource.fieldLabels[label];
  const value = path === undefined ? undefined : valueAtPath(object, path);
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

/**
 * A source no sink forwards is valid but exports nothing: it is not evaluated
 * (the router and pull jobs skip it), so its matched count stays 0.
 */
function unusedSourceWarnings(object: JsonObject): string[] {
  const spec = object["spec"] as
    { sources?: { name?: string }[]; sinks?: { sources?: string[] }[] } | undefined;
  const used = new Set((spec?.sinks ?? []).flatMap((sink) => sink.sources ?? []));
  return (spec?.sources ?? []).flatMap((source, i) =>
    source.name === undefined || used.has(source.name)
      ? []
      : [
          `spec.sources[${i}]: source "${source.name}" is forwarded by no sink: nothing it selects is exported`,
        ],
  );
}
