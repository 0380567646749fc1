// Small helpers for decoded JSON values.
import type { JsonObject } from "../store/index.js";

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
    );
  }
  return false;
}

/**
 * Sets a key chosen at run time as an own data property: `__proto__` from a
 * client is a key like any other, never the object's prototype.
 */
export function setKey(object: JsonObject, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/** The value of an own key (never one inherited from Object.prototype, such as `constructor`). */
export function ownValue(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Removes a key chosen at run time (JSON maps: labels, data, patch keys). */
export function removeKey(object: JsonObject, key: string): void {
  Reflect.deleteProperty(object, key);
}

/** The object at `key`, or an empty one. */
export function objectAt(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  return isObject(value) ? value : {};
}

export function stringAt(parent: JsonObject, key: string): string | undefined {
  const value = parent[key];
  return typeof value === "string" ? value : undefined;
}

/** Reads a dotted path (`status.phase`, `involvedObject.name`). */
export function valueAtPath(object: JsonObject, path: string): unknown {
  let current: unknown = object;
  for (const segment of path.split(".")) {
    if (!isObject(current)) return undefined;
    current = current[segment];
  }
  return current;
}
