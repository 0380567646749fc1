// Public face of the apiserver module: a Kubernetes-compatible API for
// ExportPolicies, Secrets, Namespaces and Events, per project, over SQLite.
export { DEFAULT_API_LISTEN, isLoopback, parseListenAddress } from "./listen.js";
export { ALL_PROJECTS, PLATFORM_NAMESPACE, PROJECTS_PREFIX, controlPlanePath } from "./paths.js";
export { LEASE_GROUP } from "./lease.js";
export { PROJECT_ANNOTATION } from "./render.js";
export {
  DELIVERY_KIND,
  DELIVERY_SUBRESOURCE,
  DeliveryUnavailableError,
  MAX_DELIVERY_READS,
  MAX_DELIVERY_READS_PER_PROJECT,
} from "./delivery.js";
export { UI_PREFIX } from "./ui/ui.js";
export { SINK_TEST_KIND, SINK_TEST_SUBRESOURCE } from "./sink-test.js";
export {
  PREVIEW_KIND,
  PREVIEW_SUBRESOURCE,
  PreviewUnavailableError,
  type PolicyPreviewer,
  type PreviewOutcome,
  type PreviewRequest,
} from "./preview.js";
export type { SinkTestOutcome, SinkTestPhaseStatus, SinkTestRequest, SinkTester } from "./sink-test.js";
export type {
  DeliveryPolicyRef,
  DeliveryRateHistory,
  DeliveryProvider,
  NoDelivery,
  PolicyDelivery,
  SinkDelivery,
  SourceDelivery,
} from "./delivery.js";
export { DEFAULT_PROJECT_QUOTAS, QUOTA_FLAGS } from "./quota.js";
export type { ProjectQuotas } from "./quota.js";
export {
  MAX_JSON_PATCH_OPERATIONS,
  MAX_NESTING_DEPTH,
  MAX_OBJECT_BYTES,
  MAX_YAML_ALIASES,
} from "./limits.js";
export { ApiServerConfigError, DATABASE_FILE, startApiServer } from "./server.js";
export type { ApiServer, ApiServerOptions } from "./server.js";
export { TokensFileError, parseTokensFile } from "./auth/tokens.js";
export type { Principal, Role } from "./auth/tokens.js";
