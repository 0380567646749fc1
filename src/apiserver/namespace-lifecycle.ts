// Namespaces within a project: objects are created only in namespaces that
// exist and are not being deleted; a namespace being deleted goes away with
// its last object. The platform plane has one namespace, PLATFORM_NAMESPACE,
// which always exists and is not stored (a stored Namespace would show in
// the cross-project view, where the controller learns which projects exist).
import type { JsonObject, ObjectStore } from "../store/index.js";
import { metadataOf } from "./metadata.js";
import { PLATFORM, PLATFORM_NAMESPACE } from "./paths.js";
import { namespaces } from "./resources.js";
import { errors } from "./status.js";
import type { WriteTarget } from "./target.js";

export function checkNamespaceOpen(store: ObjectStore, target: WriteTarget): void {
  if (!target.resource.namespaced) return;
  const name = target.namespace ?? "";
  if (target.project === PLATFORM) {
    if (name === PLATFORM_NAMESPACE) return;
    throw errors.notFound({ resource: "namespaces", group: "", name });
  }
  const namespace = store.get({ resource: namespaces.plural, project: target.project, namespace: "", name });
  if (namespace === undefined) throw errors.notFound({ resource: "namespaces", group: "", name });
  if (metadataOf(namespace.object).deletionTimestamp !== undefined) {
    throw errors.forbidden(
      `${target.resource.plural} is forbidden: unable to create new content in namespace ${name} because it is being terminated`,
    );
  }
}

/** Removes a namespace that is being deleted once nothing is left in it; returns its last state. */
export function removeNamespaceIfEmpty(
  store: ObjectStore,
  project: string,
  name: string,
): JsonObject | undefined {
  const key = { resource: namespaces.plural, project, namespace: "", name };
  const namespace = store.get(key);
  if (namespace === undefined || metadataOf(namespace.object).deletionTimestamp === undefined)
    return undefined;
  if (store.countInNamespace(project, name) > 0) return undefined;
  return store.commit("DELETED", key, namespace.object).object;
}
