// What a resource request addresses once its URL is understood.
import type { ObjectKey } from "../store/index.js";
import type { ResourceType } from "./resources.js";
import type { ResourceRef } from "./status.js";

export interface Target {
  readonly resource: ResourceType;
  /** Undefined in the cross-project view (read-only). */
  readonly project: string | undefined;
  /** Undefined: every namespace (or a cluster-scoped resource). */
  readonly namespace: string | undefined;
}

/** A target that names one project and, for namespaced resources, one namespace: where writes go. */
export interface WriteTarget extends Target {
  readonly project: string;
  readonly namespace: string | undefined;
}

export function objectKey(target: WriteTarget, name: string): ObjectKey {
  return {
    resource: target.resource.plural,
    project: target.project,
    namespace: target.resource.namespaced ? (target.namespace ?? "") : "",
    name,
  };
}

export function refOf(target: Target, name?: string): ResourceRef {
  return {
    resource: target.resource.plural,
    group: target.resource.group,
    ...(name === undefined ? {} : { name }),
  };
}
