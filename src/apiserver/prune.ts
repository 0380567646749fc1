// Unknown fields: found by walking the object against its schema and left
// out, so that fieldValidation decides what happens to them (Strict: the
// request fails; Warn: a Warning header; Ignore: silence).
import { propertyOf, type FieldPath, type SchemaNode } from "../api/index.js";
import { isObject, setKey } from "./json.js";

export interface Pruned {
  readonly value: unknown;
  readonly unknown: readonly FieldPath[];
}

export function pruneUnknownFields(value: unknown, schema: SchemaNode): Pruned {
  const unknown: FieldPath[] = [];
  const walk = (node: unknown, at: SchemaNode | undefined, path: FieldPath): unknown => {
    if (at === undefined) return node;
    if (Array.isArray(node)) return node.map((item, i) => walk(item, at.items, [...path, i]));
    if (!isObject(node) || at.type !== "object") return node;
    if (at["x-kubernetes-preserve-unknown-fields"] === true && at.properties === undefined) return node;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      const property = propertyOf(at, key);
      if (property !== undefined) setKey(out, key, walk(child, property, [...path, key]));
      else if (typeof at.additionalProperties === "object")
        setKey(out, key, walk(child, at.additionalProperties, [...path, key]));
      else if (at.properties === undefined && at.additionalProperties === undefined) setKey(out, key, child);
      else unknown.push([...path, key]);
    }
    return out;
  };
  return { value: walk(value, schema, []), unknown };
}
