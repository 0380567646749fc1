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

export function defaultAndValidate(
  input: unknown,
  schema: SchemaNode,
  formats: FormatCheckers,
): StructuralResult {
  const errors: FieldError[] = [];

  const visit = (value: unknown, node: SchemaNode, path: FieldPath): unknown => {
    switch (node.type) {
      case "object":
        return visitObject(value, node, path);
      case "array":
        return visitArray(value, node, path);
      case "string":
        if (typeof value !== "string") return wrongType(value, node.type, path);
        checkString(value, node, path);
        return value;
      case "integer":
        if (typeof value !== "number" || !Number.isInteger(value)) return wrongType(value, node.type, path);
        checkNumber(value, node, path);
        return value;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) return wrongType(value, node.type, path);
        checkNumber(value, node, path);
        return value;
      case "boolean":
        if (typeof value !== "boolean") return wrongType(value, node.type, path);
        return value;
      case undefined:
        return structuredClone(value);
    }
  };

  const wrongType = (value: unknown, expected: string, path: FieldPath): unknown => {
    errors.push(fieldError.invalid(path, value, `must be of type ${expected}, not ${typeName(value)}`));
    return value;
  };

  const visitObject = (value: unknown, node: SchemaNode, path: FieldPath): unknown => {
    if (!isPlainObject(value)) return wrongType(value, "object", path);
    if (node["x-kubernetes-preserve-unknown-fields"] === true && node.properties === undefined) {
      return structuredClone(value);
    }
    const properties = node.properties ?? {};
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child === null) continue;
      const childNode = propertyOf(node, key);
      if (childNode !== undefined) {
        setOwn(result, key, visit(child, childNode, [...path, key]));
      } else if (typeof node.additionalProperties === "object") {
        setOwn(result, key, visit(child, node.additionalProperties, [...path, key]));
      } else {
        errors.push(fieldError.unknownField([...path, key], nearestName(key, Object.keys(properties))));
      }
    }
    for (const [key, childNode] of Object.entries(properties)) {
      if (result[key] === undefined && childNode.default !== undefined) {
        result[key] = visit(structuredClone(childNode.default), childNode, [...path, key]);
      }
    }
    for (const key of node.required ?? []) {
      if (result[key] === undefined) errors.push(fieldError.required([...path, key]));
    }
    return result;
  };

  const visitArray = (value: unknown, node: SchemaNode, path: FieldPath): unknown => {
    if (!Array.isArray(value)) return wrongType(value, "array", path);
    const items: unknown[] = value;
    if (node.minItems !== undefined && items.length < node.minItems) {
      errors.push(
        items.length === 0
          ? fieldError.required(
              path,
              `must have at least ${node.minItems} item${node.minItems === 1 ? "" : "s"}`,
            )
          : fieldError.invalid(path, items.length, `must have at least ${node.minItems} items`),
      );
    }
    if (node.maxItems !== undefined && items.length > node.maxItems) {
      errors.push(fieldError.tooMany(path, items.length, node.maxItems));
    }
    const result =
      node.items === undefined
        ? structuredClone(items)
        : items.map((item, i) => visit(item, node.items ?? {}, [...path, i]));
    checkListUniqueness(result, node, path);
    return result;
  };

  const checkListUniqueness = (items: readonly unknown[], node: SchemaNode, path: FieldPath): void => {
    const listType = node["x-kubernetes-list-type"];
    if (listType === "set") {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const key = JSON.stringify(item);
        if (seen.has(key)) errors.push(fieldError.duplicate([...path, i], item));
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
          const keyPath = keys.length === 1 && first !== undefined ? [...path, i, first] : [...path, i];
          errors.push(fieldError.duplicate(keyPath, keys.length === 1 ? tuple[0] : tuple));
        }
        seen.add(key);
      });
    }
  };

  const checkString = (value: string, node: SchemaNode, path: FieldPath): void => {
    if (node.minLength !== undefined && value.length < node.minLength) {
      errors.push(
        value.length === 0
          ? fieldError.required(path)
          : fieldError.invalid(path, value, `must be at least ${node.minLength} characters`),
      );
      return;
    }
    if (node.maxLength !== undefined && value.length > node.maxLength) {
      errors.push(fieldError.tooLong(path, node.maxLength));
      return;
    }
    if (node.enum !== undefined && !node.enum.includes(value)) {
      errors.push(fieldError.unsupported(path, value, node.enum));
      return;
    }
    const format = node["x-telex-format"];
    if (format !== undefined) {
      errors.push(...formats[format](value, path));
    } else if (node.pattern !== undefined && !new RegExp(node.pattern, "u").test(value)) {
      errors.push(fieldError.invalid(path, value, `must match the regular expression ${node.pattern}`));
    }
  };

  const checkNumber = (value: number, node: SchemaNode, path: FieldPath): void => {
    if (node.minimum !== undefined && value < node.minimum) {
      errors.push(fieldError.invalid(path, value, `must be greater than or equal to ${node.minimum}`));
    }
    if (node.maximum !== undefined && value > node.maximum) {
      errors.push(fieldError.invalid(path, value, `must be less than or equal to ${node.maximum}`));
    }
  };

  const value = visit(input, schema, []);
  return { value, errors };
}
