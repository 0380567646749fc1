// A small Kubernetes API client: a typed REST client with watch streams
// (client.ts), kubeconfig and in-cluster connection settings (config.ts) and
// client-go's list-and-watch informer (informer.ts). It knows nothing of
// ExportPolicies, the controller or the CLI: both use it, and it depends only
// on src/util.
export {
  KubeApiError,
  KubeClient,
  type KubeStatus,
  type RequestOptions,
  type WatchEvent,
  type WatchEventType,
} from "./client.js";
export {
  KubeconfigError,
  inClusterConnection,
  loadKubeconfig,
  type ClusterConnection,
  type TlsSettings,
} from "./config.js";
export {
  Informer,
  type InformerFailure,
  type InformerHandlers,
  type InformerOptions,
  type KubeObject,
  type ObjectMeta,
  LAST_APPLIED_ANNOTATION,
  stripManagedFields,
} from "./informer.js";
export { PLATFORM_NAMESPACE, microTime, type Lease, type LeaseSpec } from "./lease.js";
export type { ConfigMap } from "./configmap.js";
export { StringInterner } from "./intern.js";
