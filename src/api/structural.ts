// Structural defaulting and validation driven by a SchemaNode, in one walk.
//
// The walk copies the input, applying defaults field by field (a partly given
// object keeps what it has and gains the rest), and collects every problem it
// meets instead of stopping at the first. `null` counts as absent, as the
// Kubernetes API server treats nulls in non-nullable fields of custom resources.
import { fieldError, type FieldError, type FieldPath } from "./field-errors.js";
import { propertyOf, type SchemaNode, type TelexFormat } from "./schema-node.js";
import { nearestName } from "./suggest.js";

/** Checks a string with a semantic format; returns the problems found. */
export type FormatChecker = (value: string, path: FieldPath) => FieldError[];
export type FormatCheckers = Readonly<Record<TelexFormat, FormatChecker>>;

/**
 * Where the walk is, as a chain to the root: made into a FieldPath only for
 * a problem. Copying the path at every node (`[...path, key]`) was a good
 * part of validating an object, and the API server validates on every write.
 */
type Where = { readonly up: Where; readonly key: string | number } | undefined;

function step(where: Where, key: string | number): Where {
  return { up: where, key };
}

function pathOf(where: Where): FieldPath {
  const path: (string | number)[] = [];
  for (let at = where; at !== undefined; at = at.up) path.push(at.key);
  return path.reverse();
}

/** Schema patterns compiled once: a RegExp per string checked was a measurable part of every write. */
const patterns = new Map<string, RegExp>();

function patternOf(source: string): RegExp {
  let pattern = patterns.get(source);
  if (pattern === undefined) {
    pattern = new RegExp(source, "u");
    patterns.set(source, pattern);
  }
  return pattern;
}

/** Per schema node, the properties that have a default: most have none, and every object visited asked. */
const defaulted = new WeakMap<SchemaNode, readonly (readonly [string, SchemaNode])[]>();

function defaultedProperties(node: SchemaNode): readonly (readonly [string, SchemaNode])[] {
  let list = defaulted.get(node);
  if (list === undefined) {
    list = Object.entries(node.properties ?? {}).filter(([, child]) => child.default !== undefined);
    defaulted.set(node, list);
  }
  return list;
}

export interface StructuralResult {
  readonly value: unknown;
  readonly errors: FieldError[];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isInteger(value)) return "integer";
  return typeof value;
}

/** Sets an own data property: a map key `__proto__` (a valid ConfigMap key) is kept, never the prototype. */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/**
 * `trusted`: a node whose value is kept as given, neither walked nor
 * defaulted: a part of a stored object that an update left as it was (see
 * ValidationOptions.specUnchanged).
 */
export function defaultAndValidate(
  input: unknown,
  schema: SchemaNode,
  formats: FormatCheckers,
  trusted?: SchemaNode,
): StructuralResult {
  const errors: FieldError[] = [];

  const visit = (value: unknown, node: SchemaNode, where: Where): unknown => {
    if (node === trusted) return value;
    switch (node.type) {
      case "object":
        return visitObject(value, node, where);
      case "array":
        return visitArray(value, node, where);
      case "string":
        if (typeof value !== "string") return wrongType(value, node.type, where);
        checkString(value, node, where);
        return value;
      case "integer":
        if (typeof value !== "number" || !Number.isInteger(value)) return wrongType(value, node.type, where);
        checkNumber(value, node, where);
        return value;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) return wrongType(value, node.type, where);
        checkNumber(value, node, where);
        return value;
      case "boolean":
        if (typeof value !== "boolean") return wrongType(value, node.type, where);
        return value;
      case undefined:
        return structuredClone(value);
    }
  };

  const wrongType = (value: unknown, expected: string, where: Where): unknown => {
    errors.push(
      fieldError.invalid(pathOf(where), value, `must be of type ${expected}, not ${typeName(value)}`),
    );
    return value;
  };

  const visitObject = (value: unknown, node: SchemaNode, where: Where): unknown => {
    if (!isPlainObject(value)) return wrongType(value, "object", where);
    if (node["x-kubernetes-preserve-unknown-fields"] === true && node.properties === undefined) {
      return structuredClone(value);
    }
    const properties = node.properties ?? {};
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child === null) continue;
      const childNode = propertyOf(node, key);
      if (childNode !== undefined) {
        setOwn(result, key, visit(child, childNode, step(where, key)));
      } else if (typeof node.additionalProperties === "object") {
        setOwn(result, key, visit(child, node.additionalProperties, step(where, key)));
      } else {
        errors.push(
          fieldError.unknownField(pathOf(step(where, key)), nearestName(key, Object.keys(properties))),
        );
      }
    }
    for (const [key, childNode] of defaultedProperties(node)) {
      if (result[key] === undefined) {
        result[key] = visit(structuredClone(childNode.default), childNode, step(where, key));
      }
    }
    for (const key of node.required ?? []) {
      if (result[key] === undefined) errors.push(fieldError.required(pathOf(step(where, key))));
    }
    return result;
  };

  const visitArray = (value: unknown, node: SchemaNode, where: Where): unknown => {
    if (!Array.isArray(value)) return wrongType(value, "array", where);
    const items: unknown[] = value;
    if (node.minItems !== undefined && items.length < node.minItems) {
      errors.push(
        items.length === 0
          ? fieldError.required(
              pathOf(where),
              `must have at least ${node.minItems} item${node.minItems === 1 ? "" : "s"}`,
            )
          : fieldError.invalid(pathOf(where), items.length, `must have at least ${node.minItems} items`),
      );
    }
    if (node.maxItems !== undefined && items.length > node.maxItems) {
      errors.push(fieldError.tooMany(pathOf(where), items.length, node.maxItems));
    }
    const result =
      node.items === undefined
        ? structuredClone(items)
        : items.map((item, i) => visit(item, node.items ?? {}, step(where, i)));
    checkListUniqueness(result, node, where);
    return result;
  };

  const checkListUniqueness = (items: readonly unknown[], node: SchemaNode, where: Where): void => {
    const listType = node["x-kubernetes-list-type"];
    if (listType === "set") {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const key = JSON.stringify(item);
        if (seen.has(key)) errors.push(fieldError.duplicate(pathOf(step(where, i)), item));
        seen.add(key);
      });
    } else if (listType === "map") {
      const keys = node["x-kubernetes-list-map-keys"] ?? [];
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (!isPlainObject(item)) return;
        const tuple = keys.map((k) => item[k]);
        if (tuple.some((part) => part === undefined)) return;
        const key = JSON.stringify(tuple);
        const [first] = keys;
        if (seen.has(key)) {
          const keyPath =
            keys.length === 1 && first !== undefined ? step(step(where, i), first) : step(where, i);
          errors.push(fieldError.duplicate(pathOf(keyPath), keys.length === 1 ? tuple[0] : tuple));
        }
        seen.add(key);
      });
    }
  };

  const checkString = (value: string, node: SchemaNode, where: Where): void => {
    if (node.minLength !== undefined && value.length < node.minLength) {
      errors.push(
        value.length === 0
          ? fieldError.required(pathOf(where))
          : fieldError.invalid(pathOf(where), value, `must be at least ${node.minLength} characters`),
      );
      return;
    }
    if (node.maxLength !== undefined && value.length > node.maxLength) {
      errors.push(fieldError.tooLong(pathOf(where), node.maxLength));
      return;
    }
    if (node.enum !== undefined && !node.enum.includes(value)) {
      errors.push(fieldError.unsupported(pathOf(where), value, node.enum));
      return;
    }
    const format = node["x-telex-format"];
    if (format !== undefined) {
      errors.push(...formats[format](value, pathOf(where)));
    } else if (node.pattern !== undefined && !patternOf(node.pattern).test(value)) {
      errors.push(
        fieldError.invalid(pathOf(where), value, `must match the regular expression ${node.pattern}`),
      );
    }
  };

  const checkNumber = (value: number, node: SchemaNode, where: Where): void => {
    if (node.minimum !== undefined && value < node.minimum) {
      errors.push(
        fieldError.invalid(pathOf(where), value, `must be greater than or equal to ${node.minimum}`),
      );
    }
    if (node.maximum !== undefined && value > node.maximum) {
      errors.push(fieldError.invalid(pathOf(where), value, `must be less than or equal to ${node.maximum}`));
    }
  };

  const value = visit(input, schema, undefined);
  return { value, errors };
}
