// Public face of `telex serve` as a library: one composition root per role.
//   all-in-one.ts  startServer          the resource API and a replica over it, one process
//   api-only.ts    startApiOnly         the resource API alone (--api-only)
//   join.ts        startJoinedReplica   a replica over every project of a Telex API (--join URL)
//   cluster.ts     startClusterExporter a replica against a Kubernetes API (--kubeconfig, --in-cluster)
// replica.ts is what every replica runs; the roles differ in the API they follow.
export { startServer } from "./all-in-one.js";
export { startApiOnly } from "./api-only.js";
export { ClusterConnectionError, checkCluster, startClusterExporter } from "./cluster.js";
export { deliveryReport } from "./delivery-report.js";
export { startJoinedReplica } from "./join.js";
export { DEFAULT_DATA_DIR, DEFAULT_INGEST_LISTEN, PULL_DEFAULTS } from "./options.js";
export { DEFAULT_METRICS_LISTEN } from "./metrics-server.js";
export { HEAP_FLAGS, heapFlagsHint } from "./heap-flags.js";
export type {
  ApiOnlyOptions,
  ApiRunOptions,
  ClusterOptions,
  FleetOptions,
  DeliveryOptions,
  ExporterRunOptions,
  JoinOptions,
  PullOptions,
  RunningApi,
  RunningExporter,
  RunningServer,
  ServerOptions,
} from "./options.js";
