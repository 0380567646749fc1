// Typed access to an object's metadata, the part the server manages.
import type { ObjectMeta } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { isObject } from "./json.js";

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
