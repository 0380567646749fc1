// Strategic merge patch, as kubectl sends it for built-in kinds (Secrets,
// Namespaces, Events): a merge patch whose lists may merge by key and which
// carries directives — `$patch: replace|delete|merge`, `$retainKeys`,
// `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
// Which lists merge comes from the kind's Go struct tags; the few our kinds
// have are listed in MERGE_LISTS.
import { isObject, removeKey } from "../json.js";
import { PatchError } from "./errors.js";

/** Lists that merge instead of being replaced, by dotted path: the merge key, or "" for primitives. */
export const MERGE_LISTS: Readonly<Record<string, string>> = {
  "metadata.finalizers": "",
  "metadata.ownerReferences": "uid",
};

const DELETE_FROM = "$deleteFromPrimitiveList/";
const SET_ORDER = "$setElementOrder/";

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) throw new PatchError("a strategic merge patch must be a JSON object");
  return mergeObject(isObject(target) ? target : {}, patch, "");
}

function mergeObject(target: Record<string, unknown>, patch: Record<string, unknown>, path: string): unknown {
  const directive = patch["$patch"];
  if (directive === "delete") return undefined;
  if (directive === "replace") {
    const { $patch: _ignored, ...rest } = patch;
    return stripDirectives(rest);
  }
  if (directive !== undefined && directive !== "merge") {
    throw new PatchError(`unknown strategic merge patch directive ${JSON.stringify(directive)}`);
  }
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key === "$retainKeys" || key.startsWith(SET_ORDER)) continue;
    if (key.startsWith(DELETE_FROM)) {
      const field = key.slice(DELETE_FROM.length);
      const current = out[field];
      if (!Array.isArray(value)) throw new PatchError(`${key} must be a list`);
      if (Array.isArray(current)) {
        const drop = new Set(value.map((v) => JSON.stringify(v)));
        out[field] = current.filter((item) => !drop.has(JSON.stringify(item)));
      }
      continue;
    }
    const childPath = path === "" ? key : `${path}.${key}`;
    if (value === null) {
      removeKey(out, key);
    } else if (isObject(value)) {
      const merged = mergeObject(isObject(out[key]) ? out[key] : {}, value, childPath);
      if (merged === undefined) removeKey(out, key);
      else out[key] = merged;
    } else if (Array.isArray(value)) {
      out[key] = mergeList(out[key], value, childPath);
    } else {
      out[key] = value;
    }
  }
  const retain = patch["$retainKeys"];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.filter((k): k is string => typeof k === "string"));
    for (const key of Object.keys(out)) if (!keep.has(key)) removeKey(out, key);
  }
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith(SET_ORDER) || !Array.isArray(order)) continue;
    const field = key.slice(SET_ORDER.length);
    const list = out[field];
    if (Array.isArray(list))
      out[field] = reorder(list, order, MERGE_LISTS[path === "" ? field : `${path}.${field}`]);
  }
  return out;
}

function mergeList(currentValue: unknown, patch: readonly unknown[], path: string): unknown[] {
  const current: readonly unknown[] | undefined = Array.isArray(currentValue) ? currentValue : undefined;
  const mergeKey = MERGE_LISTS[path];
  if (patch.some((item) => isObject(item) && item["$patch"] === "replace")) {
    return patch.filter((item) => !(isObject(item) && item["$patch"] === "replace")).map(stripDirectives);
  }
  if (mergeKey === undefined || current === undefined)
    return patch.filter((x) => !isObject(x) || x["$patch"] !== "delete").map(stripDirectives);
  if (mergeKey === "") {
    const seen = new Set(current.map((x) => JSON.stringify(x)));
    return [...current, ...patch.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  const result: unknown[] = [...current];
  for (const item of patch) {
    if (!isObject(item)) throw new PatchError(`${path}: items must be objects with ${mergeKey}`);
    const at = result.findIndex((x) => isObject(x) && x[mergeKey] === item[mergeKey]);
    if (item["$patch"] === "delete") {
      if (at >= 0) result.splice(at, 1);
      continue;
    }
    if (at >= 0) result[at] = mergeObject(result[at] as Record<string, unknown>, item, path);
    else result.push(stripDirectives(item));
  }
  return result;
}

function reorder(
  list: readonly unknown[],
  order: readonly unknown[],
  mergeKey: string | undefined,
): unknown[] {
  const identity = (item: unknown): string =>
    JSON.stringify(mergeKey !== undefined && mergeKey !== "" && isObject(item) ? item[mergeKey] : item);
  const rank = new Map(order.map((item, i) => [identity(item), i]));
  return [...list].sort((a, b) => (rank.get(identity(a)) ?? Infinity) - (rank.get(identity(b)) ?? Infinity));
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith("$"))
      .map(([key, child]) => [key, stripDirectives(child)]),
  );
}
