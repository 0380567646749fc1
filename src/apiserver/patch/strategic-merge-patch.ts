// Strategic merge patch, as kubectl sends it for built-in kinds (Secrets,
// Namespaces, Events): a merge patch whose lists may merge by key and which
// carries directives — `$patch: replace|delete|merge`, `$retainKeys`,
// `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
// Which lists merge comes from the kind's Go struct tags; the few our kinds
// have are listed in MERGE_LISTS.
import { isObject, ownValue, removeKey, setKey } from "../json.js";
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
      const current = ownValue(out, field);
      if (!Array.isArray(value)) throw new PatchError(`${key} must be a list`);
      if (Array.isArray(current)) {
        const drop = new Set(value.map((v) => JSON.stringify(v)));
        setKey(
          out,
          field,
          current.filter((item) => !drop.has(JSON.stringify(item))),
        );
      }
      continue;
    }
    const childPath = path === "" ? key : `${path}.${key}`;
    if (value === null) {
      removeKey(out, key);
    } else if (isObject(value)) {
      const existing = ownValue(out, key);
      const merged = mergeObject(isObject(existing) ? existing : {}, value, childPath);
      if (merged === undefined) removeKey(out, key);
      else setKey(out, key, merged);
    } else if (Array.isArray(value)) {
      setKey(out, key, mergeList(ownValue(out, key), value, childPath));
    } else {
      setKey(out, key, value);
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
    const list = ownValue(out, field);
    if (Array.isArray(list))
      setKey(
        out,
        field,
        reorder(
          list,
          order,
          ownValue(MERGE_LISTS, path === "" ? field : `${path}.${field}`) as string | undefined,
        ),
      );
  }
  return out;
}

function mergeList(currentValue: unknown, patch: readonly unknown[], path: string): unknown[] {
  const current: readonly unknown[] | undefined = Array.isArray(currentValue) ? currentValue : undefined;
  const mergeKey = ownValue(MERGE_LISTS, path) as string | undefined;
  if (patch.some((item) => isObject(item) && item["$patch"] === "replace")) {
    return patch.filter((item) => !(isObject(item) && item["$patch"] === "replace")).map(stripDirectives);
  }
  if (mergeKey === undefined || current === undefined)
    return patch.filter((x) => !isObject(x) || x["$patch"] !== "delete").map(stripDirectives);
  if (mergeKey === "") {
    const seen = new Set(current.map((x) => JSON.stringify(x)));
    return [...current, ...patch.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  // Indexed by merge key, so merging n items into m stays O(n + m) (a findIndex per item would be O(n·m)).
  const result: unknown[] = [...current];
  const deleted = new Set<number>();
  const at = new Map<unknown, number>();
  result.forEach((x, i) => {
    if (isObject(x) && !at.has(x[mergeKey])) at.set(x[mergeKey], i);
  });
  for (const item of patch) {
    if (!isObject(item)) throw new PatchError(`${path}: items must be objects with ${mergeKey}`);
    const key = item[mergeKey];
    const index = at.get(key);
    if (item["$patch"] === "delete") {
      if (index !== undefined) {
        deleted.add(index);
        at.delete(key);
      }
      continue;
    }
    if (index !== undefined)
      result[index] = mergeObject(result[index] as Record<string, unknown>, item, path);
    else {
      at.set(key, result.length);
      result.push(stripDirectives(item));
    }
  }
  return result.filter((_, i) => !deleted.has(i));
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
