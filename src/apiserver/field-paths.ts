// Field sets in the format of Kubernetes' structured-merge-diff: a field is a
// path of elements `f:<name>` (object field or map key), `k:{"name":"x"}`
// (an element of a keyed list), `v:"x"` (an element of a set-list). Lists
// without a list type are atomic: the list itself is one leaf. These paths
// are what managedFields (FieldsV1) record and what apply conflicts name.
import { propertyOf, type SchemaNode } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { isObject } from "./json.js";

/** A field path encoded as one string (elements joined by newlines, which no element contains). */
export type PathKey = string;

/** Every leaf (and keyed-list element) of an object with its value as JSON. */
export type LeafMap = Map<PathKey, string>;

const SEPARATOR = "\n";
/** Value recorded for a keyed-list element: it only exists or not. */
const ELEMENT = "";

export const joinPath = (elements: readonly string[]): PathKey => elements.join(SEPARATOR);
export const splitPath = (key: PathKey): string[] => (key === "" ? [] : key.split(SEPARATOR));

export function childSchema(node: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (node === undefined) return undefined;
  const property = propertyOf(node, key);
  if (property !== undefined) return property;
  return typeof node.additionalProperties === "object" ? node.additionalProperties : undefined;
}

export function listType(node: SchemaNode | undefined): "map" | "set" | "atomic" {
  const type = node?.["x-kubernetes-list-type"];
  if (type === "map" && (node?.["x-kubernetes-list-map-keys"]?.length ?? 0) > 0) return "map";
  return type === "set" ? "set" : "atomic";
}

/** The `k:{...}` element naming an item of a keyed list. */
export function keyElement(item: JsonObject, keys: readonly string[]): string {
  return `k:${JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])))}`;
}

/** Fields the server owns or that identify the object: never in a manager's set. */
const UNMANAGED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

/** Which top-level part of an object a write through the main resource or a subresource may own. */
export type FieldScope = "all" | "main" | "status";

export function leafMap(object: JsonObject, schema: SchemaNode | undefined, scope: FieldScope): LeafMap {
  const out: LeafMap = new Map();
  for (const [key, value] of Object.entries(object)) {
    if (key === "apiVersion" || key === "kind") continue;
    if (scope === "main" && key === "status") continue;
    if (scope === "status" && key !== "status") continue;
    const child = childSchema(schema, key);
    if (key === "metadata" && isObject(value)) {
      for (const [metaKey, metaValue] of Object.entries(value)) {
        if (UNMANAGED_METADATA.has(metaKey)) continue;
        collect(metaValue, childSchema(child, metaKey), ["f:metadata", `f:${metaKey}`], out);
      }
      continue;
    }
    collect(value, child, [`f:${key}`], out);
  }
  return out;
}

function collect(value: unknown, schema: SchemaNode | undefined, path: string[], out: LeafMap): void {
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) out.set(joinPath(path), "{}");
    for (const [key, child] of entries) collect(child, childSchema(schema, key), [...path, `f:${key}`], out);
    return;
  }
  if (Array.isArray(value)) {
    const type = listType(schema);
    if (type === "map") {
      const keys = schema?.["x-kubernetes-list-map-keys"] ?? [];
      for (const item of value) {
        if (!isObject(item)) continue;
        const elementPath = [...path, keyElement(item, keys)];
        out.set(joinPath(elementPath), ELEMENT);
        collect(item, schema?.items, elementPath, out);
      }
    } else if (type === "set") {
      for (const item of value) out.set(joinPath([...path, `v:${JSON.stringify(item)}`]), ELEMENT);
    } else {
      out.set(joinPath(path), JSON.stringify(value));
    }
    return;
  }
  out.set(joinPath(path), JSON.stringify(value));
}

interface TreeNode {
  member: boolean;
  children: Map<string, TreeNode>;
}

/** A set of paths as a FieldsV1 object: `{"f:spec": {"f:sinks": {"k:{...}": {".": {}, "f:name": {}}}}}`. */
export function toFieldsV1(paths: Iterable<PathKey>): JsonObject {
  const root: TreeNode = { member: false, children: new Map() };
  for (const key of paths) {
    let node = root;
    for (const element of splitPath(key)) {
      let next = node.children.get(element);
      if (next === undefined) {
        next = { member: false, children: new Map() };
        node.children.set(element, next);
      }
      node = next;
    }
    node.member = true;
  }
  const encode = (node: TreeNode): JsonObject => {
    const out: JsonObject = {};
    if (node.member && node.children.size > 0) out["."] = {};
    for (const [element, child] of [...node.children].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      out[element] = encode(child);
    }
    return out;
  };
  return encode(root);
}

export function fromFieldsV1(tree: unknown): Set<PathKey> {
  const out = new Set<PathKey>();
  const walk = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    const entries = Object.entries(node);
    if (entries.length === 0 && path.length > 0) out.add(joinPath(path));
    for (const [element, child] of entries) {
      if (element === ".") out.add(joinPath(path));
      else walk(child, [...path, element]);
    }
  };
  walk(tree, []);
  return out;
}

/** `.spec.sinks[name="x"].target` — how conflict messages print a path. */
export function describePath(key: PathKey): string {
  return splitPath(key)
    .map((element) => {
      if (element.startsWith("f:")) return `.${element.slice(2)}`;
      if (element.startsWith("k:")) {
        const fields = JSON.parse(element.slice(2)) as JsonObject;
        return `[${Object.entries(fields)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(",")}]`;
      }
      if (element.startsWith("v:")) return `[=${element.slice(2)}]`;
      return element;
    })
    .join("");
}
