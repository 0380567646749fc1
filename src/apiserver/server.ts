// The API server: an HTTP listener over the store. startApiServer() is what
// `telex serve` and the tests run; stop() ends watches, lets in-flight
// requests finish and closes the store.
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ByteBudget, silentLogger, type Logger } from "../util/index.js";
import { HealthEndpoints, type HealthCheck } from "../metrics/health.js";
import { ObjectStore, type Synchronous } from "../store/index.js";
import { loadTokensFile, type TokenTable } from "./auth/tokens.js";
import { systemClock, type Clock } from "./clock.js";
import type { PolicyWarnings, ServerContext } from "./context.js";
import type { DeliveryProvider } from "./delivery.js";
import type { PolicyPreviewer } from "./preview.js";
import type { SinkTester } from "./sink-test.js";
import { buildOpenApiDocuments } from "./discovery.js";
import { formatHostPort, isLoopback, parseListenAddress } from "./listen.js";
import {
  API_HEADERS_TIMEOUT_MS,
  API_REQUEST_TIMEOUT_MS,
  MAX_API_CONNECTIONS,
  MAX_BODY_BYTES_IN_FLIGHT,
  MAX_WATCH_BYTES_QUEUED,
} from "./limits.js";
import { controlPlanePath } from "./paths.js";
import { DEFAULT_PROJECT_QUOTAS, QuotaLedger, WatchQuota, type ProjectQuotas } from "./quota.js";
import { Registry } from "./registry.js";
import { localRequests, type LocalRequests } from "./local.js";
import { OPEN_ACCESS } from "./auth/authorizer.js";
import { exportPolicies } from "./resources.js";
import { handleRequest } from "./router.js";
import { WatchHub } from "./watch-hub.js";
import { Writes } from "./writes.js";

export const DATABASE_FILE = "telex.db";

export interface ApiServerOptions {
  /** HOST:PORT; port 0 picks a free port. */
  readonly listen: string;
  readonly dataDir: string;
  readonly tokensFile?: string;
  /**
   * A token for components in the same process (the controller): it may read
   * every project and write to each. Only used with a tokens file.
   */
  readonly internalToken?: string;
  /** PEM files; with them the API is served over https (kubectl sends bearer tokens only over https). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Changes kept for resuming watches (see ObjectStore). */
  readonly eventWindow?: number;
  readonly bookmarkIntervalMs?: number;
  readonly maxWatchSeconds?: number;
  readonly synchronous?: Synchronous;
  /**
   * Reads the live delivery counters of a policy, for the ExportPolicy
   * `delivery` subresource; without it that subresource is not served (404).
   */
  readonly delivery?: DeliveryProvider;
  /**
   * Sends a sink's test request the way the sinks do, for the ExportPolicy
   * `sinktest` subresource (`telex test-sink`); without it that subresource
   * is not served (404).
   */
  readonly sinkTest?: SinkTester;
  /**
   * Previews a policy as the exporter would run it: the ExportPolicy
   * `preview` subresource (`telex preview`) and the summary in Warning
   * headers of a dry-run write; without it the subresource is not served.
   */
  readonly preview?: PolicyPreviewer;
  /**
   * Warnings about an ExportPolicy that the API cannot judge itself (an
   * endpoint the exporter will refuse to connect to), sent as Warning headers
   * with the create or update; never a rejection.
   */
  readonly policyWarnings?: PolicyWarnings;
  /** Bytes of request bodies received at once, all requests together (default MAX_BODY_BYTES_IN_FLIGHT). */
  readonly maxBodyBytesInFlight?: number;
  /** Bytes queued to tenants' watch clients, all watches together (default MAX_WATCH_BYTES_QUEUED). */
  readonly maxWatchBytesQueued?: number;
  /** Per-project quotas; unset ones take DEFAULT_PROJECT_QUOTAS (src/apiserver/quota.ts). */
  readonly quotas?: Partial<ProjectQuotas>;
  /**
   * The finalizer of a controller in this process that runs every ExportPolicy: added at
   * create in its field manager's name (see CreateFinalizer in writes.ts). Absent (the API
   * alone, `--api-only`): the controllers that join add it themselves.
   */
  readonly policyFinalizer?: { readonly finalizer: string; readonly manager: string };
}

export interface ApiServer {
  /** `http(s)://host:port`, the server's root. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly openAccess: boolean;
  readonly tls: boolean;
  /** The base URL of a project's control plane, for a kubeconfig's `server`. */
  projectUrl(project: string): string;
  /** More /readyz checks, after the server's own (store): the rest of the process. */
  addReadinessChecks(checks: readonly HealthCheck[]): void;
  /**
   * Writes of the controller in this process, without HTTP, as its principal (open access, or
   * the internal token's); undefined with a tokens file and no internal token.
   */
  readonly inProcess: LocalRequests | undefined;
  stop(): Promise<void>;
}

export class ApiServerConfigError extends Error {
  override readonly name = "ApiServerConfigError";
}

/** Grace for in-flight requests at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 5000;

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const address = parseListenAddress(options.listen);
  const logger = options.logger ?? silentLogger;
  const fileTokens: TokenTable | undefined =
    options.tokensFile === undefined ? undefined : loadTokensFile(options.tokensFile);
  const tokens =
    fileTokens === undefined || options.internalToken === undefined
      ? fileTokens
      : fileTokens.with(options.internalToken, {
          user: "system:telex-controller",
          projects: "*",
          role: "admin",
        });
  if (tokens === undefined && !isLoopback(address.host)) {
    throw new ApiServerConfigError(
      `refusing open access on ${options.listen}: without --tokens-file the API listens on loopback only (127.0.0.1, ::1, localhost)`,
    );
  }
  const quotas = quotasOf(options);
  mkdirSync(options.dataDir, { recursive: true });
  const store = ObjectStore.open({
    path: join(options.dataDir, DATABASE_FILE),
    ...(options.eventWindow === undefined ? {} : { eventWindow: options.eventWindow }),
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
  });
  const clock = options.clock ?? systemClock;
  const registry = new Registry(store, clock);
  for (const project of tokens?.namedProjects() ?? []) registry.ensureProject(project);
  const quota = new QuotaLedger(store, quotas);
  // As kube-apiserver's `etcd` check: the database answers.
  const readiness: HealthCheck[] = [{ name: "store", check: () => store.check() }];
  const context: ServerContext = {
    registry,
    writes: new Writes(
      registry,
      quota,
      options.policyFinalizer === undefined ? [] : [{ resource: exportPolicies, ...options.policyFinalizer }],
    ),
    hub: new WatchHub(store),
    openapi: buildOpenApiDocuments(),
    tokens,
    clock,
    logger,
    delivery: options.delivery,
    sinkTest: options.sinkTest,
    preview: options.preview,
    policyWarnings: options.policyWarnings,
    serverAddress: "",
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 30_000,
    maxWatchSeconds: options.maxWatchSeconds ?? 1800,
    watches: new Set<ServerResponse>(),
    watchQuota: new WatchQuota(quotas.maxWatchesPerProject),
    bodyBudget: new ByteBudget(options.maxBodyBytesInFlight ?? MAX_BODY_BYTES_IN_FLIGHT),
    watchBytes: new ByteBudget(options.maxWatchBytesQueued ?? MAX_WATCH_BYTES_QUEUED),
    health: new HealthEndpoints({ readiness, logger }),
  };
  const inProcessPrincipal =
    tokens === undefined
      ? OPEN_ACCESS
      : options.internalToken === undefined
        ? undefined
        : tokens.authenticate(`Bearer ${options.internalToken}`);
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    void handleRequest(context, request, response);
  };
  const timeouts = { headersTimeout: API_HEADERS_TIMEOUT_MS, requestTimeout: API_REQUEST_TIMEOUT_MS };
  const server: Server =
    options.tls === undefined
      ? createServer(timeouts, onRequest)
      : createHttpsServer({ ...readTls(options.tls), ...timeouts }, onRequest);
  server.maxConnections = MAX_API_CONNECTIONS;
  try {
    await listen(server, address.host, address.port);
  } catch (error: unknown) {
    store.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const hostPort = formatHostPort(address.host, bound.port);
  context.serverAddress = hostPort;
  const url = `${options.tls === undefined ? "http" : "https"}://${hostPort}`;

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      for (const watch of [...context.watches]) watch.end();
      server.closeIdleConnections();
      const force = setTimeout(() => {
        server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(force);
      context.hub.close();
      quota.close();
      store.close();
    })();
    return stopping;
  };
  return {
    url,
    host: address.host,
    port: bound.port,
    openAccess: tokens === undefined,
    tls: options.tls !== undefined,
    projectUrl: (project) => `${url}${controlPlanePath(project)}`,
    addReadinessChecks: (checks) => {
      readiness.push(...checks);
    },
    inProcess: inProcessPrincipal === undefined ? undefined : localRequests(context, inProcessPrincipal),
    stop,
  };
}

function quotasOf(options: ApiServerOptions): ProjectQuotas {
  const quotas = { ...DEFAULT_PROJECT_QUOTAS, ...options.quotas };
  for (const [name, value] of Object.entries(quotas)) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ApiServerConfigError(`quota ${name} must be a whole number, got ${value}`);
  }
  return quotas;
}

function readTls(tls: { readonly certFile: string; readonly keyFile: string }): {
  cert: Buffer;
  key: Buffer;
} {
  try {
    return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  } catch (error: unknown) {
    throw new ApiServerConfigError(`cannot read the TLS certificate or key: ${(error as Error).message}`);
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
