// core/v1 ConfigMap, as kube-apiserver serves it: the schema, the validation
// of pkg/apis/core/validation ValidateConfigMap and ValidateConfigMapUpdate
// (with their wording and field paths), and the way it stores the object.
// ConfigMaps live in the platform plane only: replicas of `telex serve
// --join` keep their pull positions in them (src/fleet/positions.ts).
import {
  decodeBase64Strict,
  fieldError,
  mapKey,
  objectMetaProblems,
  type FieldError,
  type SchemaNode,
} from "../api/index.js";
import { objectHeader } from "./core-schemas.js";
import type { JsonObject } from "../store/index.js";
import { deepEqual, isObject, setKey } from "./json.js";

/** core.MaxSecretSize: data and binaryData together, values only (keys are not counted). */
export const MAX_CONFIG_MAP_DATA_BYTES = 1024 * 1024;

/** validation.DNS1123SubdomainMaxLength, the longest key IsConfigMapKey accepts. */
const MAX_KEY_LENGTH = 253;

const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;

export const ConfigMapSchema: SchemaNode = {
  type: "object",
  description: "ConfigMap holds configuration data for pods to consume.",
  additionalProperties: false,
  properties: {
    ...objectHeader("v1"),
    data: {
      type: "object",
      additionalProperties: { type: "string" },
      description:
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
      "x-telex-type-name": "map[string]string",
    },
    binaryData: {
      type: "object",
      additionalProperties: { type: "string", format: "byte" },
      description:
        "BinaryData contains the binary data. Each key must consist of alphanumeric characters, '-', '_' or '.'. BinaryData can contain byte sequences that are not in the UTF-8 range. The keys stored in BinaryData must not overlap with the ones in the Data field, this is enforced during validation process. Values are base64 encoded.",
      "x-telex-type-name": "map[string][]byte",
    },
    immutable: {
      type: "boolean",
      description:
        "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil.",
    },
  },
};

/** validation.IsConfigMapKey, in its words: length, characters, and no `.`/`..` (a directory). */
export function configMapKeyProblems(key: string): string[] {
  const problems: string[] = [];
  if (key.length > MAX_KEY_LENGTH) problems.push(`must be no more than ${MAX_KEY_LENGTH} characters`);
  if (!CONFIG_MAP_KEY.test(key)) {
    problems.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  }
  if (key === ".") problems.push("must not be '.'");
  else if (key === "..") problems.push("must not be '..'");
  else if (key.startsWith("..")) problems.push("must not start with '..'");
  return problems;
}

/** A value up to 1 MiB is not repeated whole in a message. */
const shortened = (value: string): string => (value.length > 64 ? `${value.slice(0, 61)}...` : value);

const entriesOf = (object: JsonObject, field: string): [string, unknown][] => {
  const map = object[field];
  return isObject(map) ? Object.entries(map) : [];
};

/** Problems the schema does not find, in kube-apiserver's words (ValidateConfigMap). */
export function configMapProblems(configMap: JsonObject): FieldError[] {
  // The name (a DNS subdomain, ValidateConfigMapName) is checked by ObjectMeta's schema.
  const problems: FieldError[] = objectMetaProblems(configMap);
  const binary = new Map(entriesOf(configMap, "binaryData"));
  let total = 0;
  for (const [key, value] of entriesOf(configMap, "data")) {
    const path = ["data", mapKey(key)];
    for (const problem of configMapKeyProblems(key)) problems.push(fieldError.invalid(path, key, problem));
    if (binary.has(key))
      problems.push(fieldError.invalid(path, key, "duplicate of key present in binaryData"));
    if (typeof value === "string") total += Buffer.byteLength(value, "utf8");
  }
  for (const [key, value] of binary) {
    const path = ["binaryData", mapKey(key)];
    for (const problem of configMapKeyProblems(key)) problems.push(fieldError.invalid(path, key, problem));
    if (typeof value !== "string") continue;
    const bytes = decodeBase64Strict(value);
    // kube-apiserver fails to decode such a body (400); here it is a field error, as for a Secret's data.
    if (bytes === undefined)
      problems.push(fieldError.invalid(path, shortened(value), "must be base64 encoded"));
    else total += bytes.length;
  }
  if (total > MAX_CONFIG_MAP_DATA_BYTES) {
    // The path "" (printed `[]`) means the whole object, as kube reports it.
    problems.push({
      type: "TooLong",
      path: [""],
      detail: `must have at most ${MAX_CONFIG_MAP_DATA_BYTES} bytes`,
    });
  }
  return problems;
}

const IMMUTABLE = "field is immutable when `immutable` is set";

/** A map field as stored: absent and empty are the same (Go's omitempty). */
const mapOf = (object: JsonObject, field: string): unknown => {
  const map = object[field];
  return isObject(map) && Object.keys(map).length === 0 ? undefined : map;
};

/**
 * What ValidateConfigMapUpdate adds to ValidateConfigMap: once `immutable` is
 * true it stays true, and data and binaryData no longer change (metadata
 * still may, and the ConfigMap may be deleted).
 */
export function configMapUpdateProblems(next: JsonObject, old: JsonObject): FieldError[] {
  if (old["immutable"] !== true) return [];
  const problems: FieldError[] = [];
  if (next["immutable"] !== true) problems.push(fieldError.forbidden(["immutable"], IMMUTABLE));
  const stored = normalizeConfigMap(next);
  for (const field of ["data", "binaryData"]) {
    if (!deepEqual(mapOf(stored, field), mapOf(old, field)))
      problems.push(fieldError.forbidden([field], IMMUTABLE));
  }
  return problems;
}

/** As kube stores and serves it: empty maps left out, binaryData in canonical base64. */
export function normalizeConfigMap(configMap: JsonObject): JsonObject {
  const out: JsonObject = { ...configMap };
  if (mapOf(out, "data") === undefined) delete out["data"];
  const binary = mapOf(out, "binaryData");
  if (binary === undefined) delete out["binaryData"];
  else if (isObject(binary)) {
    const canonical: JsonObject = {};
    for (const [key, value] of Object.entries(binary)) {
      const bytes = typeof value === "string" ? decodeBase64Strict(value) : undefined;
      setKey(canonical, key, bytes === undefined ? value : bytes.toString("base64"));
    }
    out["binaryData"] = canonical;
  }
  return out;
}
