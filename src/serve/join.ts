// `telex serve --join URL`: a replica over every project of a Telex API that
// runs elsewhere (`telex serve --api-only`). The controller lists and watches
// through the API's cross-project view and writes status, finalizers and
// Events to each policy's project (embeddedLayout) — what the all-in-one
// server does over loopback, here over the network with a platform token.
import { readFileSync } from "node:fs";
import { GROUP } from "../api/index.js";
import { KubeApiError, KubeClient } from "../kube/index.js";
import { embeddedLayout, type ControlPlaneLayout } from "../controller/layout.js";
import { POLICIES } from "../controller/reconciler.js";
import { silentLogger } from "../util/index.js";
import { ClusterConnectionError } from "./cluster.js";
import { Components } from "./components.js";
import { denyPeer, egressPolicy } from "./egress.js";
import type { JoinOptions, RunningExporter } from "./options.js";
import { startReplica } from "./replica.js";

export async function startJoinedReplica(options: JoinOptions): Promise<RunningExporter> {
  const logger = options.logger ?? silentLogger;
  const components = new Components(logger);
  return components.startOrStop(async () => {
    const token = options.tokenFile === undefined ? undefined : tokenReader(options.tokenFile);
    // A token means a shared API: strangers' policies run here, as with --tokens-file all in one.
    const egress = egressPolicy(options, token !== undefined);
    await denyPeer(egress, options.url, "the Telex API this replica joined");
    if (token !== undefined && new URL(options.url).protocol === "http:") {
      logger.warn("bearer token over plain http (--join http://…): anyone on the path can read it");
    }
    const client = new KubeClient({
      server: options.url,
      tls: {
        rejectUnauthorized: true,
        ...(options.caFile === undefined ? {} : { ca: readCa(options.caFile) }),
      },
      authorization: () => (token === undefined ? undefined : `Bearer ${token()}`),
    });
    const layout = embeddedLayout();
    try {
      await checkJoin(client, layout, options.url);
    } catch (error: unknown) {
      await client.close();
      throw error;
    }
    return startReplica(options, { client, layout, egress, fleet: true }, components);
  });
}

/** The token, read again on every request (it may rotate); an empty or unreadable file stops the start. */
function tokenReader(file: string): () => string {
  const read = (): string => readFileSync(file, "utf8").trim();
  let first: string;
  try {
    first = read();
  } catch (error: unknown) {
    throw new ClusterConnectionError(`cannot read --token-file ${file}: ${(error as Error).message}`);
  }
  if (first === "") throw new ClusterConnectionError(`--token-file ${file} is empty`);
  return read;
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error: unknown) {
    throw new ClusterConnectionError(`cannot read --join-ca-file ${file}: ${(error as Error).message}`);
  }
}

/**
 * One list through the cross-project view before the controller starts, so
 * that a wrong URL, a refused token or one that is not a platform token stop
 * `telex serve --join` with a reason instead of a controller retrying in silence.
 */
async function checkJoin(client: KubeClient, layout: ControlPlaneLayout, url: string): Promise<void> {
  try {
    await client.request("GET", `${layout.collectionPath(POLICIES)}?limit=1`);
  } catch (error: unknown) {
    if (error instanceof KubeApiError) {
      if (error.statusCode === 401) {
        throw new ClusterConnectionError(
          `${url} refused the token (401): pass --token-file with a token of its --tokens-file`,
        );
      }
      if (error.statusCode === 403) {
        throw new ClusterConnectionError(
          `${url} refused the token (403): a replica needs a platform token (projects: ["*"], role: admin) to read every project and write status`,
        );
      }
      if (error.statusCode === 404) {
        throw new ClusterConnectionError(
          `${url} serves no cross-project view of exportpolicies.${GROUP}: --join takes the root URL of a Telex API (telex serve --api-only); for a Kubernetes API use --kubeconfig`,
        );
      }
    }
    throw new ClusterConnectionError(`cannot reach the Telex API at ${url}: ${String(error)}`);
  }
}
