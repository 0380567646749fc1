// `telex serve --api-only`: the resource API alone — every project's control
// plane, the cross-project view and the platform plane where replicas hold
// their Leases and ConfigMaps — for replicas that `--join` it. No exporter, controller,
// ingest or pull: the ExportPolicy `delivery` subresource is not served
// (404; the counters live in the replicas' /metrics).
//
// `telex test-sink` (the `sinktest` subresource) and the endpoint warnings of
// a create or update are served here, from this process, under its own egress
// policy: --endpoint-allow and --endpoint-deny, which should be the replicas'
// (the manifests under deploy/ give both the same). Why here and not through a
// replica: the person's request reaches the API, a replica has no listener a
// tenant may call, and the test needs nothing a replica holds.
import type { ExportPolicy } from "../api/index.js";
import { endpointWarnings } from "../controller/endpoint-warnings.js";
import { testSink } from "../exporter/sinktest/index.js";
import { silentLogger } from "../util/index.js";
import { startEmbeddedApi } from "./api-server.js";
import { Components } from "./components.js";
import { denyListener, egressPolicy } from "./egress.js";
import type { ApiRunOptions, RunningApi } from "./options.js";

export async function startApiOnly(options: ApiRunOptions = {}): Promise<RunningApi> {
  const components = new Components(options.logger ?? silentLogger);
  return components.startOrStop(async () => {
    // With a tokens file strangers share the server: loopback and private ranges are theirs no more.
    const egress = egressPolicy(options, options.tokensFile !== undefined);
    const api = await startEmbeddedApi(options, {
      sinkTest: (request) => testSink({ ...request, egress }),
      // Called with the admitted object only: validation has made it an ExportPolicy.
      policyWarnings: (policy) => endpointWarnings(egress, policy as unknown as ExportPolicy),
    });
    components.add("api", () => api.stop());
    await denyListener(egress, api.host, api.port, "Telex's API listener");
    return { api, stop: () => components.stop() };
  });
}
