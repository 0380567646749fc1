// One Kubernetes cluster serving many projects: a project is the set of
// namespaces labelled `telex.miloapis.com/project: NAME`. The label is the
// platform's to set (tenants must not be able to label their namespaces: the
// label decides whose series a namespace's policies export). Policies and
// Secrets in a namespace without the label, or with a value that is not a
// project name (a DNS label), belong to no project and are left alone.
import type { Clock } from "../util/index.js";
import type { Logger } from "../util/index.js";
import { dnsLabelProblems } from "../api/index.js";
import type { KubeClient } from "../kube/index.js";
import { Informer, type KubeObject } from "../kube/index.js";
import {
  groupPath,
  namespaced,
  type ControlPlaneLayout,
  type ProjectIndex,
  type ResourceRef,
} from "./layout.js";

/** The namespace label naming a namespace's project on a cluster that serves many. */
export const PROJECT_LABEL = "telex.miloapis.com/project";

const NAMESPACES: ResourceRef = { group: "", version: "v1", plural: "namespaces" };

function projectLabel(namespace: KubeObject | undefined): string | undefined {
  const value = namespace?.metadata.labels?.[PROJECT_LABEL];
  return value === undefined || dnsLabelProblems(value).length > 0 ? undefined : value;
}

/** The project of each namespace, from a list and watch of namespaces. */
export class NamespaceProjects implements ProjectIndex {
  private readonly informer: Informer<KubeObject>;
  private moved: () => void = () => undefined;

  constructor(options: { readonly client: KubeClient; readonly clock: Clock; readonly logger: Logger }) {
    this.informer = new Informer<KubeObject>({
      ...options,
      path: `${groupPath(NAMESPACES)}/${NAMESPACES.plural}`,
      keyOf: (namespace) => namespace.metadata.name,
      handlers: {
        onUpsert: (_key, namespace, previous) => {
          if (projectLabel(namespace) !== projectLabel(previous)) this.moved();
        },
        onDelete: () => {
          this.moved();
        },
      },
    });
  }

  projectOf(namespace: string): string | undefined {
    return projectLabel(this.informer.get(namespace));
  }

  async start(moved: () => void): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
    this.moved = moved;
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** A cluster whose labelled namespaces are projects; paths as clusterLayout's. */
export function namespaceProjectsLayout(projects: NamespaceProjects): ControlPlaneLayout {
  return {
    collectionPath: (resource) => `${groupPath(resource)}/${resource.plural}`,
    objectPath: (_project, resource, namespace, name, subresource) =>
      namespaced(resource, namespace, name, subresource),
    projectOf: (object) => projects.projectOf(object.metadata.namespace ?? ""),
    projects,
  };
}
