// What handlers share: the server's parts and one request's state.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ByteBudget, Logger } from "../util/index.js";
import type { Principal, TokenTable } from "./auth/tokens.js";
import type { Clock } from "./clock.js";
import type { DeliveryProvider } from "./delivery.js";
import type { PolicyPreviewer } from "./preview.js";
import type { HealthEndpoints } from "../metrics/health.js";
import type { SinkTester } from "./sink-test.js";
import type { OpenApiDocuments } from "./discovery.js";
import type { Query, ResponseFormat } from "./http-io.js";
import type { WatchQuota } from "./quota.js";
import type { Registry } from "./registry.js";
import type { WatchHub } from "./watch-hub.js";
import type { Writes } from "./writes.js";
import type { JsonObject } from "../store/index.js";

/** Warning texts about a stored ExportPolicy from whoever runs the exporter (see ApiServerOptions). */
export type PolicyWarnings = (policy: JsonObject) => readonly string[];

export interface ServerContext {
  readonly registry: Registry;
  readonly writes: Writes;
  readonly hub: WatchHub;
  readonly openapi: OpenApiDocuments;
  /** Undefined: open access (development, loopback only). */
  readonly tokens: TokenTable | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Live delivery counters (ExportPolicy `delivery` subresource); undefined: not served. */
  readonly delivery: DeliveryProvider | undefined;
  /** Tests a sink's endpoint (ExportPolicy `sinktest` subresource); undefined: not served. */
  readonly sinkTest: SinkTester | undefined;
  /** Previews a policy (ExportPolicy `preview` subresource, `apply --dry-run=server`); undefined: not served. */
  readonly preview: PolicyPreviewer | undefined;
  readonly policyWarnings: PolicyWarnings | undefined;
  /** host:port clients reach us at, for discovery. */
  serverAddress: string;
  readonly bookmarkIntervalMs: number;
  /** Upper bound (and default) of a watch's timeoutSeconds. */
  readonly maxWatchSeconds: number;
  /** Open watches, ended when the server stops. */
  readonly watches: Set<ServerResponse>;
  /** Open watches per project, bounded. */
  readonly watchQuota: WatchQuota;
  /** Bytes of request bodies being received, all requests together. */
  readonly bodyBudget: ByteBudget;
  /** Bytes queued to tenants' watch clients, all watches together. */
  readonly watchBytes: ByteBudget;
  /** /livez, /healthz and /readyz (store, and what the process adds: ApiServer.addReadinessChecks). */
  readonly health: HealthEndpoints;
}

export interface RequestContext {
  readonly server: ServerContext;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly query: Query;
  readonly principal: Principal;
  readonly format: ResponseFormat;
}
