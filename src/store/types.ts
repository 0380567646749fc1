// What the store keeps: JSON objects addressed by resource, project,
// namespace and name, each stamped with the global resourceVersion of the
// write that last changed it.

/** A decoded JSON object (the store never interprets fields beyond metadata). */
export type JsonObject = Record<string, unknown>;

export interface ObjectKey {
  /** The resource's plural name, e.g. `exportpolicies` or `secrets`. */
  readonly resource: string;
  readonly project: string;
  /** Empty for cluster-scoped resources (namespaces). */
  readonly namespace: string;
  readonly name: string;
}

export interface StoredObject {
  readonly key: ObjectKey;
  readonly resourceVersion: number;
  /** The object as served, `metadata.resourceVersion` included. */
  readonly object: JsonObject;
}

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed write, as the event log and watchers see it. */
export interface StoreEvent {
  readonly type: ChangeType;
  readonly key: ObjectKey;
  readonly resourceVersion: number;
  /** For DELETED: the last state of the object, stamped with the deletion's resourceVersion. */
  readonly object: JsonObject;
}

/** Which objects a list, a watch or an event-log read covers. Unset fields match everything. */
export interface Scope {
  readonly resource: string;
  /** Undefined: every project (the controller's cross-project view). */
  readonly project?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export function inScope(key: ObjectKey, scope: Scope): boolean {
  return (
    key.resource === scope.resource &&
    (scope.project === undefined || key.project === scope.project) &&
    (scope.namespace === undefined || key.namespace === scope.namespace) &&
    (scope.name === undefined || key.name === scope.name)
  );
}
