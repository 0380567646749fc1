// Typed access to an object's metadata, the part the server manages.
import type { ObjectMeta } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { isObject } from "./json.js";
import { errors, type ApiError } from "./status.js";

export type Metadata = ObjectMeta & Record<string, unknown>;

export function metadataOf(object: JsonObject): Metadata {
  const metadata = object["metadata"];
  return isObject(metadata) ? metadata : {};
}

export function withMetadata(object: JsonObject, metadata: Metadata): JsonObject {
  return { ...object, metadata };
}

export function labelsOf(object: JsonObject): Readonly<Record<string, string>> {
  return metadataOf(object).labels ?? {};
}

export function finalizersOf(object: JsonObject): readonly string[] {
  return metadataOf(object).finalizers ?? [];
}

const STRING_FIELDS = [
  "name",
  "generateName",
  "namespace",
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "deletionTimestamp",
] as const;
const INTEGER_FIELDS = ["generation", "deletionGracePeriodSeconds"] as const;
const STRING_MAPS = ["labels", "annotations"] as const;
const OBJECT_LISTS = ["ownerReferences", "managedFields"] as const;

/**
 * Refuses (400, like Kubernetes' decoder) metadata whose fields have the wrong
 * JSON type, so the code that reads names, labels and finalizers before
 * validation never sees an object where it expects a string. A null field is
 * dropped, as Go's decoder reads it as the zero value.
 */
export function checkMetadataShape(object: JsonObject): void {
  const wrong = (field: string, type: string): ApiError =>
    errors.badRequest(`metadata.${field}: must be ${type}`, [
      { reason: "FieldValueInvalid", message: `must be ${type}`, field: `metadata.${field}` },
    ]);
  for (const field of ["apiVersion", "kind"] as const) {
    const value = object[field];
    if (value !== undefined && typeof value !== "string")
      throw errors.badRequest(`${field}: must be a string`);
  }
  const metadata = object["metadata"];
  if (metadata === null) Reflect.deleteProperty(object, "metadata");
  if (metadata === undefined || metadata === null) return;
  if (!isObject(metadata)) throw errors.badRequest("metadata: must be an object");
  for (const [field, value] of Object.entries(metadata))
    if (value === null) Reflect.deleteProperty(metadata, field);
  for (const field of STRING_FIELDS) {
    const value = metadata[field];
    if (value !== undefined && typeof value !== "string") throw wrong(field, "a string");
  }
  for (const field of INTEGER_FIELDS) {
    const value = metadata[field];
    if (value !== undefined && !Number.isSafeInteger(value)) throw wrong(field, "an integer");
  }
  for (const field of STRING_MAPS) {
    const value = metadata[field];
    if (value === undefined) continue;
    if (!isObject(value) || !Object.values(value).every((v) => typeof v === "string"))
      throw wrong(field, "a map of strings");
  }
  const finalizers = metadata["finalizers"];
  if (
    finalizers !== undefined &&
    !(Array.isArray(finalizers) && finalizers.every((f) => typeof f === "string"))
  )
    throw wrong("finalizers", "a list of strings");
  for (const field of OBJECT_LISTS) {
    const value = metadata[field];
    if (value !== undefined && !(Array.isArray(value) && value.every(isObject)))
      throw wrong(field, "a list of objects");
  }
}
