// Server-side apply (`application/apply-patch+yaml`): the applied
// configuration is merged into the live object following the schema's list
// types, fields the manager applied before and no longer applies are
// removed (unless someone else owns them), and fields another manager owns
// with a different value are conflicts unless `force` is set.
import type { SchemaNode } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import {
  childSchema,
  describePath,
  keyElement,
  leafMap,
  listType,
  joinPath,
  splitPath,
  type FieldScope,
  type PathKey,
} from "./field-paths.js";
import { isObject, removeKey } from "./json.js";
import { sameOwner, withFields, type Ownership, type Writer } from "./managed-fields.js";

export interface ApplyConflict {
  readonly manager: string;
  readonly path: PathKey;
}

export class ApplyConflictError extends Error {
  override readonly name = "ApplyConflictError";
  constructor(readonly conflicts: readonly ApplyConflict[]) {
    super(
      `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: ${conflicts
        .map((c) => `conflict with "${c.manager}": ${describePath(c.path)}`)
        .join(", ")}`,
    );
  }
}

export interface ApplyRequest {
  readonly live: JsonObject | undefined;
  readonly applied: JsonObject;
  readonly owners: readonly Ownership[];
  readonly schema: SchemaNode;
  readonly scope: FieldScope;
  readonly writer: Writer;
  readonly force: boolean;
}

export interface ApplyResult {
  readonly object: JsonObject;
  readonly owners: Ownership[];
}

/** kubectl's own manager name: the one allowed to take over fields from client-side apply. */
const KUBECTL_APPLY_MANAGER = "kubectl";
const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

export function serverSideApply(request: ApplyRequest): ApplyResult {
  const { schema, scope, writer } = request;
  const live = request.live ?? {};
  const applied = restrictToScope(request.applied, scope);
  const appliedLeaves = leafMap(applied, schema, scope);
  const liveLeaves = leafMap(live, schema, scope);

  const conflicts: ApplyConflict[] = [];
  for (const owner of request.owners) {
    if (owner.manager === writer.manager) continue;
    for (const path of owner.fields) {
      if (appliedLeaves.has(path) && liveLeaves.get(path) !== appliedLeaves.get(path)) {
        conflicts.push({ manager: owner.manager, path });
      }
    }
  }
  if (conflicts.length > 0 && !request.force && !takesOverClientSideApply(conflicts, live, schema, writer)) {
    throw new ApplyConflictError(conflicts);
  }
  const taken = new Set(conflicts.map((c) => c.path));

  const self = { manager: writer.manager, operation: "Apply" as const, subresource: writer.subresource };
  const previous = request.owners.find((o) => sameOwner(o, self))?.fields ?? new Set<PathKey>();
  const others = request.owners
    .filter((o) => !sameOwner(o, self))
    .map((o) => withFields(o, new Set([...o.fields].filter((p) => !taken.has(p)))));
  const ownedByOthers = new Set(others.flatMap((o) => [...o.fields]));

  let merged = mergeApplied(live, applied, schema) as JsonObject;
  const dropped = [...previous].filter((p) => !appliedLeaves.has(p) && !ownedByOthers.has(p));
  const stillOwned = new Set([...ownedByOthers, ...appliedLeaves.keys()]);
  merged = removeFields(merged, dropped, schema, stillOwned);

  const mine: Ownership = {
    manager: writer.manager,
    operation: "Apply",
    ...(writer.subresource === undefined ? {} : { subresource: writer.subresource }),
    apiVersion: writer.apiVersion,
    time: writer.time,
    fields: new Set(appliedLeaves.keys()),
  };
  return { object: merged, owners: [...others.filter((o) => o.fields.size > 0), mine] };
}

/** Keeps what an apply through this endpoint may set: no status on the main resource, only status on /status. */
function restrictToScope(applied: JsonObject, scope: FieldScope): JsonObject {
  if (scope === "main") {
    const { status: _status, ...rest } = applied;
    return rest;
  }
  if (scope === "status") {
    return applied["status"] === undefined ? {} : { status: applied["status"] };
  }
  return applied;
}

/**
 * Kubernetes lets `kubectl apply --server-side` take over fields from
 * client-side apply without conflicts when every conflicting field was in
 * the last applied configuration.
 */
function takesOverClientSideApply(
  conflicts: readonly ApplyConflict[],
  live: JsonObject,
  schema: SchemaNode,
  writer: Writer,
): boolean {
  if (writer.manager !== KUBECTL_APPLY_MANAGER) return false;
  const metadata = live["metadata"];
  const annotations = isObject(metadata) ? metadata["annotations"] : undefined;
  const lastApplied = isObject(annotations) ? annotations[LAST_APPLIED_ANNOTATION] : undefined;
  if (typeof lastApplied !== "string") return false;
  let config: unknown;
  try {
    config = JSON.parse(lastApplied);
  } catch {
    return false;
  }
  if (!isObject(config)) return false;
  const allowed = leafMap(config, schema, "all");
  return conflicts.every((c) => allowed.has(c.path));
}

/** The live value with the applied configuration merged in, list types honoured. */
export function mergeApplied(live: unknown, applied: unknown, schema: SchemaNode | undefined): unknown {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? { ...live } : {};
    for (const [key, value] of Object.entries(applied)) {
      if (value === null) removeKey(out, key);
      else out[key] = mergeApplied(out[key], value, childSchema(schema, key));
    }
    return out;
  }
  if (Array.isArray(applied) && Array.isArray(live)) {
    const current: readonly unknown[] = live;
    const incoming: readonly unknown[] = applied;
    const type = listType(schema);
    if (type === "map") {
      const keys = schema?.["x-kubernetes-list-map-keys"] ?? [];
      const result: unknown[] = [...current];
      for (const item of incoming) {
        if (!isObject(item)) continue;
        const element = keyElement(item, keys);
        const at = result.findIndex((x) => isObject(x) && keyElement(x, keys) === element);
        if (at >= 0) result[at] = mergeApplied(result[at], item, schema?.items);
        else result.push(item);
      }
      return result;
    }
    if (type === "set") {
      const seen = new Set(current.map((x) => JSON.stringify(x)));
      return [...current, ...incoming.filter((x) => !seen.has(JSON.stringify(x)))];
    }
  }
  return applied;
}

/**
 * Removes fields, ancestors first (a removed list element takes its fields
 * with it), then the containers they leave empty unless someone owns them.
 * Key fields of a kept list element stay: they identify it.
 */
function removeFields(
  object: JsonObject,
  paths: readonly PathKey[],
  schema: SchemaNode,
  owned: ReadonlySet<PathKey>,
): JsonObject {
  const result = structuredClone(object);
  const sorted = paths.map(splitPath).sort((a, b) => a.length - b.length);
  const removed: string[][] = [];
  for (const elements of sorted) {
    if (removed.some((r) => r.every((element, i) => elements[i] === element))) continue;
    const last = elements[elements.length - 1] ?? "";
    const parent = elements[elements.length - 2] ?? "";
    if (
      last.startsWith("f:") &&
      parent.startsWith("k:") &&
      last.slice(2) in (JSON.parse(parent.slice(2)) as JsonObject)
    ) {
      continue;
    }
    for (let depth = elements.length; depth > 0; depth--) {
      const prefix = elements.slice(0, depth);
      const container = resolve(result, prefix.slice(0, -1), schema);
      const element = prefix[prefix.length - 1] ?? "";
      if (container === undefined) break;
      if (depth < elements.length) {
        const value = lookup(container.value, element, container.schema);
        const empty =
          (isObject(value) && Object.keys(value).length === 0) ||
          (Array.isArray(value) && value.length === 0);
        if (!empty || owned.has(joinPath(prefix))) break;
      }
      remove(container.value, element, container.schema);
    }
    removed.push(elements);
  }
  return result;
}

interface Located {
  readonly value: unknown;
  readonly schema: SchemaNode | undefined;
}

function resolve(root: JsonObject, elements: readonly string[], schema: SchemaNode): Located | undefined {
  let current: Located = { value: root, schema };
  for (const element of elements) {
    const next = lookup(current.value, element, current.schema);
    if (next === undefined) return undefined;
    const nextSchema = element.startsWith("f:")
      ? childSchema(current.schema, element.slice(2))
      : current.schema?.items;
    current = { value: next, schema: nextSchema };
  }
  return current;
}

function lookup(container: unknown, element: string, schema: SchemaNode | undefined): unknown {
  if (element.startsWith("f:")) return isObject(container) ? container[element.slice(2)] : undefined;
  if (!Array.isArray(container)) return undefined;
  if (element.startsWith("k:")) {
    const keys = schema?.["x-kubernetes-list-map-keys"] ?? [];
    return container.find((x) => isObject(x) && keyElement(x, keys) === element);
  }
  if (element.startsWith("v:")) return container.find((x) => `v:${JSON.stringify(x)}` === element);
  return undefined;
}

function remove(container: unknown, element: string, schema: SchemaNode | undefined): void {
  if (element.startsWith("f:")) {
    if (isObject(container)) removeKey(container, element.slice(2));
    return;
  }
  if (!Array.isArray(container)) return;
  const target = lookup(container, element, schema);
  const index = container.indexOf(target);
  if (index >= 0) container.splice(index, 1);
}
