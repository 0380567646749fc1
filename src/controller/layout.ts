// Where the controller finds objects and writes them back. Against telex's
// embedded API, every project has its own control plane under a path prefix
// and the project `-` is a read-only view across projects that names each
// object's project in an annotation. Against a Kubernetes cluster with the
// CRD installed, paths are plain, and the cluster serves either one project
// (clusterLayout) or one project per labelled namespace (namespaceProjectsLayout).
// Objects of the service itself (the replicas' Leases and ConfigMaps) are at
// platformPath, the same path in both.
import type { KubeObject } from "../kube/index.js";

export interface ResourceRef {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export interface ControlPlaneLayout {
  /** The collection across every project the controller serves (list/watch). */
  collectionPath(resource: ResourceRef): string;
  /** A namespaced collection or object in one project (writes). */
  objectPath(
    project: string,
    resource: ResourceRef,
    namespace: string,
    name?: string,
    subresource?: string,
  ): string;
  /** The object's project; undefined when it has none (then nothing of it is exported). */
  projectOf(object: KubeObject): string | undefined;
  /**
   * Set when projectOf reads objects the layout watches itself (namespaces'
   * labels): started before the controller's informers, it tells the
   * controller when an object's project may have moved.
   */
  readonly projects?: ProjectIndex;
}

export interface ProjectIndex {
  /** Starts watching; resolves once it knows every project. `moved` is called when one may have moved. */
  start(moved: () => void): Promise<void>;
  stop(): Promise<void>;
}

/** The annotation the embedded API's cross-project view sets. */
export const PROJECT_ANNOTATION = "telex.miloapis.com/project";
const PROJECTS_PREFIX = "/apis/resourcemanager.miloapis.com/v1alpha1/projects";

export function groupPath({ group, version }: ResourceRef): string {
  return group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
}

export function namespaced(
  resource: ResourceRef,
  namespace: string,
  name?: string,
  subresource?: string,
): string {
  let path = `${groupPath(resource)}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

export function embeddedLayout(): ControlPlaneLayout {
  return {
    collectionPath: (resource) =>
      `${PROJECTS_PREFIX}/-/control-plane${groupPath(resource)}/${resource.plural}`,
    objectPath: (project, resource, namespace, name, subresource) =>
      `${PROJECTS_PREFIX}/${encodeURIComponent(project)}/control-plane${namespaced(resource, namespace, name, subresource)}`,
    projectOf: (object) => object.metadata.annotations?.[PROJECT_ANNOTATION],
  };
}

/** coordination.k8s.io/v1 Leases: how replicas say they are alive. */
export const LEASES: ResourceRef = { group: "coordination.k8s.io", version: "v1", plural: "leases" };

/** core/v1 ConfigMaps: where replicas keep their pull positions (src/fleet/positions.ts). */
export const CONFIG_MAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps" };

/**
 * A collection (every namespace, or one) or an object of the platform plane:
 * the embedded API serves it at its root, outside every project, to platform
 * tokens only; a Kubernetes cluster serves Leases and ConfigMaps at the same paths.
 */
export function platformPath(resource: ResourceRef, namespace?: string, name?: string): string {
  if (namespace === undefined) return `${groupPath(resource)}/${resource.plural}`;
  return namespaced(resource, namespace, name);
}

/** A Kubernetes cluster serving one project. */
export function clusterLayout(project: string): ControlPlaneLayout {
  return {
    collectionPath: (resource) => `${groupPath(resource)}/${resource.plural}`,
    objectPath: (_project, resource, namespace, name, subresource) =>
      namespaced(resource, namespace, name, subresource),
    projectOf: () => project,
  };
}
