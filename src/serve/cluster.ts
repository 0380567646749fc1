// `telex serve --kubeconfig|--in-cluster`: a replica against a Kubernetes API
// that someone else runs, with the CRD installed — a cluster, or one project's
// control plane. With --project the API serves that one project
// (clusterLayout); without, every namespace labelled
// `telex.miloapis.com/project: NAME` is in project NAME (namespaceProjectsLayout).
import { GROUP } from "../api/index.js";
import {
  CONTROLLER_API_ACCESS,
  NAMESPACE_PROJECTS_ACCESS,
  describeAccess,
  type ApiAccess,
} from "../controller/access.js";
import { KubeApiError, KubeClient, PLATFORM_NAMESPACE } from "../kube/index.js";
import { clusterLayout, type ControlPlaneLayout } from "../controller/layout.js";
import { NamespaceProjects, namespaceProjectsLayout } from "../controller/namespace-projects.js";
import { POLICIES } from "../controller/reconciler.js";
import { systemClock } from "../util/index.js";
import { silentLogger } from "../util/index.js";
import { Components } from "./components.js";
import { denyPeer, egressPolicy } from "./egress.js";
import type { ClusterOptions, RunningExporter } from "./options.js";
import { startReplica } from "./replica.js";

export class ClusterConnectionError extends Error {
  override readonly name = "ClusterConnectionError";
}

export async function startClusterExporter(options: ClusterOptions): Promise<RunningExporter> {
  const logger = options.logger ?? silentLogger;
  const components = new Components(logger);
  return components.startOrStop(async () => {
    // A cluster's projects are strangers to each other: shared-tenancy defaults.
    const egress = egressPolicy(options, true);
    await denyPeer(egress, options.connection.server, "the Kubernetes API Telex watches");
    const client = new KubeClient({
      server: options.connection.server,
      tls: options.connection.tls,
      authorization: () => options.connection.authorization(),
    });
    const layout =
      options.project === undefined
        ? namespaceProjectsLayout(new NamespaceProjects({ client, clock: systemClock, logger }))
        : clusterLayout(options.project);
    const access =
      options.project === undefined
        ? [...CONTROLLER_API_ACCESS, ...NAMESPACE_PROJECTS_ACCESS]
        : CONTROLLER_API_ACCESS;
    try {
      await checkCluster(client, layout, options.connection.server, access);
    } catch (error: unknown) {
      await client.close();
      throw error;
    }
    // A cluster of many projects (labelled namespaces) is served by a fleet; one project's control
    // plane (--project) by one replica, as such an API need not serve Leases. Leases and pull
    // positions go where the kubeconfig context or the pod says, unless told.
    const fleet = options.project === undefined;
    const namespace = options.fleet?.namespace ?? options.connection.namespace ?? PLATFORM_NAMESPACE;
    return startReplica(
      { ...options, fleet: { ...options.fleet, namespace } },
      { client, layout, egress, fleet },
      components,
    );
  });
}

/**
 * One list of ExportPolicies (and, when projects come from namespace labels,
 * of namespaces) before the controller starts, so that a wrong address,
 * refused credentials, a missing grant or a missing CRD stop `telex serve`
 * with a reason instead of a controller retrying in silence.
 */
export async function checkCluster(
  client: KubeClient,
  layout: ControlPlaneLayout,
  server: string,
  access: readonly ApiAccess[] = CONTROLLER_API_ACCESS,
): Promise<void> {
  const refused = (statusCode: number) =>
    new ClusterConnectionError(
      `${server} refused the kubeconfig's credentials (${statusCode}): the controller needs ${describeAccess(access)} (cluster-wide; deploy/overlays/cluster/rbac.yaml grants exactly these)`,
    );
  try {
    await client.request("GET", `${layout.collectionPath(POLICIES)}?limit=1`);
    if (layout.projects !== undefined) await client.request("GET", "/api/v1/namespaces?limit=1");
  } catch (error: unknown) {
    if (error instanceof KubeApiError) {
      if (error.statusCode === 404 && error.path.includes(POLICIES.plural)) {
        throw new ClusterConnectionError(
          `${server} does not serve exportpolicies.${GROUP}: install the CRD (kubectl apply -f deploy/crd/${GROUP}_exportpolicies.yaml)`,
        );
      }
      if (error.statusCode === 401 || error.statusCode === 403) throw refused(error.statusCode);
    }
    throw new ClusterConnectionError(`cannot reach the Kubernetes API at ${server}: ${String(error)}`);
  }
}
