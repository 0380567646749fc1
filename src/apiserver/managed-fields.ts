// metadata.managedFields: which manager owns which fields. Updates (create,
// update, patch) give the writer the fields it changed and take them from
// everyone else; apply (apply.ts) replaces the applier's set as a whole.
import type { JsonObject } from "../store/index.js";
import { fromFieldsV1, toFieldsV1, type LeafMap, type PathKey } from "./field-paths.js";
import { isObject, stringAt } from "./json.js";

export type Operation = "Apply" | "Update";

export interface Ownership {
  readonly manager: string;
  readonly operation: Operation;
  readonly subresource?: string;
  readonly apiVersion: string;
  readonly time: string;
  readonly fields: Set<PathKey>;
  /**
   * The entry's FieldsV1 as stored, while `fields` is still the set read from it: written
   * back as it was. Encoding every manager's set again was a tenth of a status write.
   */
  readonly fieldsV1?: JsonObject;
}

export function sameOwner(a: Pick<Ownership, "manager" | "operation" | "subresource">, b: typeof a): boolean {
  return (
    a.manager === b.manager && a.operation === b.operation && (a.subresource ?? "") === (b.subresource ?? "")
  );
}

export function parseManagedFields(value: unknown): Ownership[] {
  if (!Array.isArray(value)) return [];
  const out: Ownership[] = [];
  for (const entry of value) {
    if (!isObject(entry)) continue;
    const manager = stringAt(entry, "manager") ?? "";
    const operation = entry["operation"] === "Apply" ? "Apply" : "Update";
    const subresource = stringAt(entry, "subresource");
    out.push({
      manager,
      operation,
      ...(subresource === undefined || subresource === "" ? {} : { subresource }),
      apiVersion: stringAt(entry, "apiVersion") ?? "",
      time: stringAt(entry, "time") ?? "",
      fields: fromFieldsV1(entry["fieldsV1"]),
      ...(isObject(entry["fieldsV1"]) ? { fieldsV1: entry["fieldsV1"] } : {}),
    });
  }
  return out;
}

export function encodeManagedFields(owners: readonly Ownership[]): JsonObject[] {
  return owners
    .filter((o) => o.fields.size > 0)
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: o.apiVersion,
      time: o.time,
      fieldsType: "FieldsV1",
      fieldsV1: o.fieldsV1 ?? toFieldsV1(o.fields),
      ...(o.subresource === undefined ? {} : { subresource: o.subresource }),
    }));
}

export interface Writer {
  readonly manager: string;
  readonly subresource?: string;
  readonly apiVersion: string;
  readonly time: string;
}

/**
 * Ownership after an Update-style write: fields whose value changed move to
 * the writer; fields that disappeared leave every set.
 */
export function recordUpdate(
  owners: readonly Ownership[],
  before: LeafMap,
  after: LeafMap,
  writer: Writer,
): Ownership[] {
  const changed = new Set<PathKey>();
  for (const [path, value] of after) if (before.get(path) !== value) changed.add(path);
  const removed = new Set<PathKey>();
  for (const path of before.keys()) if (!after.has(path)) removed.add(path);
  const self = { manager: writer.manager, operation: "Update" as const, subresource: writer.subresource };
  const out: Ownership[] = [];
  let mine: Ownership | undefined;
  for (const owner of owners) {
    const fields = new Set([...owner.fields].filter((p) => !removed.has(p) && !changed.has(p)));
    const kept = withFields(owner, fields);
    if (sameOwner(owner, self)) mine = kept;
    out.push(kept);
  }
  if (changed.size === 0) return out.filter((o) => o.fields.size > 0);
  if (mine === undefined) {
    mine = {
      manager: writer.manager,
      operation: "Update",
      ...(writer.subresource === undefined ? {} : { subresource: writer.subresource }),
      apiVersion: writer.apiVersion,
      time: writer.time,
      fields: new Set(),
    };
    out.push(mine);
  }
  const index = out.indexOf(mine);
  const grown = new Set(mine.fields);
  for (const path of changed) grown.add(path);
  out[index] = {
    ...withFields(mine, grown),
    time: writer.time,
    apiVersion: writer.apiVersion,
  };
  return out.filter((o) => o.fields.size > 0);
}

/**
 * The owner with `fields`, a subset or superset of its own: the stored encoding stays when
 * the set is the same (same size), and goes when it is not.
 */
export function withFields(owner: Ownership, fields: Set<PathKey>): Ownership {
  if (fields.size === owner.fields.size) return { ...owner, fields };
  const { fieldsV1: _stale, ...rest } = owner;
  return { ...rest, fields };
}
