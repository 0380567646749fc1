// `telex serve --api-only`: the resource API alone — every project's control
// plane, the cross-project view and the platform plane where replicas hold
// their Leases and ConfigMaps — for replicas that `--join` it. No exporter, controller,
// ingest or pull: the ExportPolicy `delivery` subresource is not served
// (404; the counters live in the replicas' /metrics) and no endpoint warnings
// are given (the replicas' egress policies are not known here).
import { silentLogger } from "../util/index.js";
import { startEmbeddedApi } from "./api-server.js";
import { Components } from "./components.js";
import type { ApiRunOptions, RunningApi } from "./options.js";

export async function startApiOnly(options: ApiRunOptions = {}): Promise<RunningApi> {
  const components = new Components(options.logger ?? silentLogger);
  return components.startOrStop(async () => {
    const api = await startEmbeddedApi(options);
    components.add("api", () => api.stop());
    return { api, stop: () => components.stop() };
  });
}
