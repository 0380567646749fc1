// Public face of the apiserver module: a Kubernetes-compatible API for
// ExportPolicies, Secrets, Namespaces and Events, per project, over SQLite.
export { DEFAULT_API_LISTEN, isLoopback, parseListenAddress } from "./listen.js";
export { ALL_PROJECTS, PROJECTS_PREFIX, controlPlanePath } from "./paths.js";
export { PROJECT_ANNOTATION } from "./render.js";
export { DELIVERY_KIND, DELIVERY_SUBRESOURCE } from "./delivery.js";
export type {
  DeliveryPolicyRef,
  DeliveryProvider,
  PolicyDelivery,
  SinkDelivery,
  SourceDelivery,
} from "./delivery.js";
export { ApiServerConfigError, DATABASE_FILE, startApiServer } from "./server.js";
export type { ApiServer, ApiServerOptions } from "./server.js";
export { TokensFileError, parseTokensFile } from "./auth/tokens.js";
export type { Principal, Role } from "./auth/tokens.js";
