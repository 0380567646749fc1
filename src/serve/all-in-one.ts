// `telex serve`: the resource API (SQLite) and a replica over it in one
// process. The replica reads and watches the API over HTTP like any client,
// with a platform token that lives only in this process, and writes to it in
// process (apiserver/local.ts), as that token; the API sets the controller's
// finalizer at create and serves the live
// delivery counters, endpoint warnings and sink tests, which need the
// exporter (its egress policy) here.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ExportPolicy } from "../api/index.js";
import { endpointWarnings } from "../controller/endpoint-warnings.js";
import { FIELD_MANAGER, FINALIZER } from "../controller/reconciler.js";
import { KubeClient } from "../kube/index.js";
import { embeddedLayout } from "../controller/layout.js";
import type { Exporter } from "../exporter/exporter.js";
import { testSink } from "../exporter/sinktest/index.js";
import { silentLogger, systemClock } from "../util/index.js";
import { startEmbeddedApi } from "./api-server.js";
import { Components } from "./components.js";
import type { ReplicaDelivery } from "./delivery-report.js";
import { denyListener, egressPolicy } from "./egress.js";
import type { RunningServer, ServerOptions } from "./options.js";
import { policyPreviewer } from "./preview.js";
import { startReplica } from "./replica.js";

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const components = new Components(options.logger ?? silentLogger);
  return components.startOrStop(async () => {
    // With a tokens file strangers share the server: loopback and private ranges are theirs no more.
    const egress = egressPolicy(options, options.tokensFile !== undefined);
    const internalToken = randomBytes(32).toString("hex");
    // The exporter starts after the API (it needs the data directory the API creates).
    const late: { exporter?: Exporter; delivery?: ReplicaDelivery } = {};
    const api = await startEmbeddedApi(options, {
      ...(options.tokensFile === undefined ? {} : { internalToken }),
      // The replica keeps its sinks' rate history (delivery-report.ts), as every replica of a fleet does.
      delivery: ({ uid }) => late.delivery?.report(uid),
      // `telex test-sink`: from this process, through the sinks' egress policy and trust.
      sinkTest: (request) => testSink({ ...request, egress }),
      // `telex preview` and `apply --dry-run=server`: the policy's selectors on this exporter's series.
      preview: policyPreviewer(options, () => late.exporter, systemClock),
      // Called with the admitted object only: validation has made it an ExportPolicy.
      policyWarnings: (policy) => endpointWarnings(egress, policy as unknown as ExportPolicy),
      // The replica below runs every policy: the API sets its finalizer at create.
      policyFinalizer: { finalizer: FINALIZER, manager: FIELD_MANAGER },
    });
    components.add("api", () => api.stop());
    await denyListener(egress, api.host, api.port, "Telex's API listener");
    const client = new KubeClient({
      server: api.url,
      tls: {
        rejectUnauthorized: true,
        ...(options.tls === undefined ? {} : { ca: readFileSync(options.tls.certFile, "utf8") }),
      },
      authorization: () => (options.tokensFile === undefined ? undefined : `Bearer ${internalToken}`),
      // The controller's writes reach the API without HTTP (apiserver/local.ts); its informers use HTTP.
      ...(api.inProcess === undefined ? {} : { inProcess: api.inProcess }),
    });
    const running = await startReplica(
      options,
      { client, layout: embeddedLayout(), egress, fleet: false },
      components,
    );
    late.exporter = running.exporter;
    late.delivery = running.delivery;
    // One process: the API listener's /readyz also says whether the exporter can do its work.
    api.addReadinessChecks(running.readiness);
    return { ...running, api };
  });
}
