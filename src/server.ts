// `telex serve` as a library: starts every component of the server from one
// place and stops them together, the most downstream first. Components: the
// resource API (SQLite), the exporter (sinks, router), the controller (which
// speaks to the API over HTTP like any client), and either the ingest
// endpoint (agents push) or the pull source (telex reads the metrics store).
// startClusterExporter runs the same minus the resource API, against a
// Kubernetes API that someone else runs (`telex serve --kubeconfig`).
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_API_LISTEN,
  parseListenAddress,
  startApiServer,
  type ApiServer,
  type PolicyDelivery,
  type ProjectQuotas,
} from "./apiserver/index.js";
import { DEFAULTS, GROUP, type ExportPolicy } from "./api/index.js";
import { Controller } from "./controller/controller.js";
import { startDemo } from "./demo/generator.js";
import { KubeApiError, KubeClient, type ClusterConnection } from "./kube/index.js";
import { POLICIES } from "./controller/reconciler.js";
import { clusterLayout, embeddedLayout, type ControlPlaneLayout } from "./controller/layout.js";
import { describeAccess } from "./controller/access.js";
import { endpointWarnings } from "./controller/endpoint-warnings.js";
import { EgressPolicy, addressesOf } from "./exporter/egress/index.js";
import { Exporter, type PolicyHealth } from "./exporter/exporter.js";
import { INGEST_OUTCOMES, startIngestServer, type IngestServer } from "./exporter/ingest/server.js";
import { FileCursorStore, PullSource } from "./exporter/pull/index.js";
import { DurableLog } from "./exporter/buffer/index.js";
import {
  DeliveryBudget,
  DEFAULT_MAX_INFLIGHT_REQUESTS,
  DEFAULT_SINK_MEMORY_BYTES,
  MemoryBudget,
} from "./exporter/sink/index.js";
import { DROP_REASONS, REQUEST_OUTCOMES } from "./exporter/sink/index.js";
import { systemClock, silentLogger, type Logger } from "./util/index.js";
import { ExpositionWriter } from "./metrics/exposition.js";
import { writeProcessMetrics } from "./metrics/process.js";

export const DEFAULT_DATA_DIR = "./.telex";
/** Where agents remote-write by default: Thanos Receive's well-known port, on loopback. */
export const DEFAULT_INGEST_LISTEN = "127.0.0.1:19291";

export const PULL_DEFAULTS = {
  // Each source is read every 30 s: delivery delay stays well under a minute.
  intervalMs: 30_000,
  // Samples are read once a minute old: agents' delivery and the store's
  // indexing both finish well within that on a healthy platform.
  lagMs: 60_000,
} as const;

export interface PullOptions {
  /** VictoriaMetrics single-node root or vmselect `/select/<account>/prometheus` URL. */
  readonly url: string;
  readonly intervalMs?: number;
  readonly lagMs?: number;
  readonly mode?: "export" | "federate";
  /** A job whose cursor falls further behind than this skips ahead (--max-backlog-age; default 24 h). */
  readonly maxBacklogAgeMs?: number;
}

/** Delivery settings: push mode's durable buffer and the sinks' parallelism (src/cli/delivery-flags.ts). */
export interface DeliveryOptions {
  /** disk (default): ingest acknowledges once samples are written under DATA-DIR/buffer. */
  readonly buffer?: "disk" | "memory";
  readonly syncIntervalMs?: number;
  readonly maxBacklogAgeMs?: number;
  readonly sinkMaxBytes?: number;
  readonly totalMaxBytes?: number;
  readonly maxShards?: number;
  readonly maxInflightRequests?: number;
  /** Samples all sinks hold in memory together, in bytes (--buffer-memory). */
  readonly memoryBytes?: number;
}

/** What runs in every mode: the exporter, the controller and the sources. */
export interface ExporterRunOptions {
  readonly delivery?: DeliveryOptions;
  /** Where pull cursors (and, with the embedded API, the SQLite store) live (default ./.telex). */
  readonly dataDir?: string;
  /** HOST:PORT of the ingest endpoint (and /metrics); default 127.0.0.1:19291. */
  readonly ingestListen?: string;
  /** A file holding the bearer token agents must send to the ingest endpoint. */
  readonly ingestTokenFile?: string;
  /** The label naming a series' project (default resourcemanager_datumapis_com_project_name). */
  readonly tenantLabel?: string;
  /** Label bytes of the series whose routes are cached (default ROUTER_DEFAULTS.maxCachedBytes). */
  readonly routeCacheBytes?: number;
  /** Pull mode: read sources from this store instead of accepting pushes. */
  readonly pull?: PullOptions;
  /** Feed synthetic platform metrics of a few projects (see src/demo). */
  readonly demo?: boolean;
  /** How often delivery health is checked for status changes (default 10 s). */
  readonly statusRefreshMs?: number;
  /** CIDRs sinks may reach although a default denies them (--endpoint-allow; see src/exporter/egress). */
  readonly endpointAllow?: readonly string[];
  /** CIDRs sinks may never reach (--endpoint-deny). */
  readonly endpointDeny?: readonly string[];
  readonly logger?: Logger;
}

export interface ServerOptions extends ExporterRunOptions {
  /** HOST:PORT of the resource API (default 127.0.0.1:6443; port 0 picks one). */
  readonly apiListen?: string;
  /** Bearer tokens; without it the API is open, loopback only. */
  readonly tokensFile?: string;
  /** PEM certificate and key: serve the API over https. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Per-project quotas of the API; unset ones take their defaults. */
  readonly quotas?: Partial<ProjectQuotas>;
}

/** Against a Kubernetes API with the CRD installed (a cluster, or one project's control plane). */
export interface ClusterOptions extends ExporterRunOptions {
  /** From a kubeconfig or the in-cluster service account (src/kube/config.ts). */
  readonly connection: ClusterConnection;
  /** The project that API serves: its policies export series whose tenant label has this value. */
  readonly project: string;
}

export interface RunningExporter {
  readonly exporter: Exporter;
  readonly controller: Controller;
  /** Undefined in pull mode. */
  readonly ingest: IngestServer | undefined;
  /** Prometheus exposition of every component's metrics. */
  metrics(): string;
  /** Stops every component, the most downstream first; idempotent. */
  stop(): Promise<void>;
}

export interface RunningServer extends RunningExporter {
  readonly api: ApiServer;
}

interface Component {
  readonly name: string;
  stop(): Promise<void>;
}

function readToken(file: string): string {
  const token = readFileSync(file, "utf8").trim();
  if (token === "") throw new Error(`ingest token file ${file} is empty`);
  return token;
}

/**
 * The exporter's counters in the API's terms, for the ExportPolicy `delivery`
 * subresource (served on read, never written to status: see src/apiserver/delivery.ts).
 */
export function deliveryReport(health: PolicyHealth): PolicyDelivery {
  return {
    generation: health.generation,
    sinks: [...health.sinks].map(([name, sink]) => {
      const { stats } = sink;
      return {
        name,
        samplesReceived: stats.samplesReceived,
        samplesSent: stats.samplesSent,
        samplesDropped: Object.fromEntries(DROP_REASONS.map((r) => [r, stats.dropped[r]])),
        samplesBuffered: sink.buffered,
        bufferedBytes: sink.bufferedBytes,
        lagSeconds: sink.lagSeconds(),
        shards: sink.shardCount,
        samplesRetried: stats.samplesRetried,
        ...(sink.down === undefined
          ? {}
          : {
              down: {
                sinceMs: sink.down.sinceMs,
                nextProbeMs: sink.down.nextProbeMs,
                probes: sink.down.probes,
              },
            }),
        requests: Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, stats.requests[o]])),
        bytesSent: stats.bytesSent,
        consecutiveFailures: stats.consecutiveFailures,
        ...(stats.lastSuccessMs === undefined ? {} : { lastSuccessMs: stats.lastSuccessMs }),
        ...(stats.lastError === undefined ? {} : { lastError: stats.lastError }),
        latency: { count: stats.latency.count, sumSeconds: stats.latency.sumSeconds },
      };
    }),
    sources: [...health.sources].map(([name, stats]) => ({ name, samplesMatched: stats.matchedSamples })),
  };
}

/** Components started so far, stopped together in reverse order. */
class Components {
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, stop: () => Promise<void>): void {
    this.started.push({ name, stop });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const component of [...this.started].reverse()) {
        try {
          await component.stop();
        } catch (error: unknown) {
          this.logger.error("component failed to stop", { component: component.name, error: String(error) });
        }
      }
    })();
    return this.stopping;
  }
}

/** Starts the server on embedded defaults: the resource API with its SQLite store, and everything else. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? silentLogger;
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const components = new Components(logger);
  try {
    // With a tokens file strangers share the server: loopback and private ranges are theirs no more.
    const egress = egressPolicy(options, options.tokensFile !== undefined);
    // The controller authenticates with a token that lives only in this process.
    const internalToken = randomBytes(32).toString("hex");
    // The exporter starts after the API (it needs the data directory the API creates).
    const late: { exporter?: Exporter } = {};
    const api = await startApiServer({
      listen: options.apiListen ?? DEFAULT_API_LISTEN,
      dataDir,
      ...(options.tokensFile === undefined ? {} : { tokensFile: options.tokensFile, internalToken }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.quotas === undefined ? {} : { quotas: options.quotas }),
      logger,
      delivery: ({ uid }) => {
        const health = late.exporter?.health(uid);
        return health === undefined ? undefined : deliveryReport(health);
      },
      // Called with the admitted object only: validation has made it an ExportPolicy.
      policyWarnings: (policy) => endpointWarnings(egress, policy as unknown as ExportPolicy),
    });
    components.add("api", () => api.stop());
    egress.denyListener(await addressesOf(api.host), api.port, "Telex's API listener");
    const client = new KubeClient({
      server: api.url,
      tls: {
        rejectUnauthorized: true,
        ...(options.tls === undefined ? {} : { ca: readFileSync(options.tls.certFile, "utf8") }),
      },
      authorization: () => (options.tokensFile === undefined ? undefined : `Bearer ${internalToken}`),
    });
    const running = await startExporting(options, client, embeddedLayout(), components, egress);
    late.exporter = running.exporter;
    return { ...running, api };
  } catch (error: unknown) {
    await components.stop();
    throw error;
  }
}

/**
 * Runs the controller, exporter and sources against a Kubernetes API that
 * serves one project (a cluster with the CRD installed, or a project's control
 * plane): the same controller code, with plain Kubernetes paths.
 */
export async function startClusterExporter(options: ClusterOptions): Promise<RunningExporter> {
  const components = new Components(options.logger ?? silentLogger);
  try {
    // A cluster's projects are strangers to each other: shared-tenancy defaults.
    const egress = egressPolicy(options, true);
    const apiUrl = new URL(options.connection.server);
    egress.denyPeer(await addressesOf(apiUrl.hostname), portOf(apiUrl), "the Kubernetes API Telex watches");
    if (options.pull !== undefined) mkdirSync(options.dataDir ?? DEFAULT_DATA_DIR, { recursive: true });
    const client = new KubeClient({
      server: options.connection.server,
      tls: options.connection.tls,
      authorization: () => options.connection.authorization(),
    });
    const layout = clusterLayout(options.project);
    try {
      await checkCluster(client, layout, options.connection.server);
    } catch (error: unknown) {
      await client.close();
      throw error;
    }
    return await startExporting(options, client, layout, components, egress);
  } catch (error: unknown) {
    await components.stop();
    throw error;
  }
}

export class ClusterConnectionError extends Error {
  override readonly name = "ClusterConnectionError";
}

/**
 * One list of ExportPolicies before the controller starts, so that a wrong
 * address, refused credentials or a missing CRD stop `telex serve` with a
 * reason instead of a controller retrying in silence.
 */
export async function checkCluster(
  client: KubeClient,
  layout: ControlPlaneLayout,
  server: string,
): Promise<void> {
  try {
    await client.request("GET", `${layout.collectionPath(POLICIES)}?limit=1`);
  } catch (error: unknown) {
    if (error instanceof KubeApiError) {
      if (error.statusCode === 404) {
        throw new ClusterConnectionError(
          `${server} does not serve exportpolicies.${GROUP}: install the CRD (kubectl apply -f deploy/crd/${GROUP}_exportpolicies.yaml)`,
        );
      }
      if (error.statusCode === 401 || error.statusCode === 403) {
        throw new ClusterConnectionError(
          `${server} refused the kubeconfig's credentials (${error.statusCode}): the controller needs ${describeAccess()} (cluster-wide; deploy/overlays/cluster/rbac.yaml grants exactly these)`,
        );
      }
    }
    throw new ClusterConnectionError(`cannot reach the Kubernetes API at ${server}: ${String(error)}`);
  }
}

function egressPolicy(options: ExporterRunOptions, sharedTenancy: boolean): EgressPolicy {
  return new EgressPolicy({
    sharedTenancy,
    ...(options.endpointAllow === undefined ? {} : { allow: options.endpointAllow }),
    ...(options.endpointDeny === undefined ? {} : { deny: options.endpointDeny }),
  });
}

function portOf(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** The exporter, its sources and the controller feeding it; the client is closed on stop. */
async function startExporting(
  options: ExporterRunOptions,
  client: KubeClient,
  layout: ControlPlaneLayout,
  components: Components,
  egress: EgressPolicy,
): Promise<RunningExporter> {
  const logger = options.logger ?? silentLogger;
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const tenantLabel = options.tenantLabel ?? DEFAULTS.tenantLabel;
  let pull: PullSource | undefined;
  if (options.pull !== undefined) {
    const store = new URL(options.pull.url);
    egress.denyPeer(
      await addressesOf(store.hostname),
      portOf(store),
      "the metrics store Telex reads (--source-url)",
    );
    // --max-backlog-age bounds the pull catch-up as it bounds the push buffer.
    const pullBacklogAge = options.pull.maxBacklogAgeMs ?? options.delivery?.maxBacklogAgeMs;
    pull = new PullSource({
      url: options.pull.url,
      intervalMs: options.pull.intervalMs ?? PULL_DEFAULTS.intervalMs,
      lagMs: options.pull.lagMs ?? PULL_DEFAULTS.lagMs,
      mode: options.pull.mode ?? "export",
      ...(pullBacklogAge === undefined ? {} : { maxBacklogAgeMs: pullBacklogAge }),
      cursorStore: await FileCursorStore.open(join(dataDir, "pull-cursors.json")),
      clock: systemClock,
      logger,
    });
  }
  const delivery = options.delivery ?? {};
  // Pull mode needs no buffer of its own: the store is one, read again from each sink's position.
  let log: DurableLog | undefined;
  if (pull === undefined && delivery.buffer !== "memory") {
    log = await DurableLog.open({
      dir: join(dataDir, "buffer"),
      ...(delivery.syncIntervalMs === undefined ? {} : { syncIntervalMs: delivery.syncIntervalMs }),
      ...(delivery.maxBacklogAgeMs === undefined ? {} : { maxBacklogAgeMs: delivery.maxBacklogAgeMs }),
      ...(delivery.sinkMaxBytes === undefined ? {} : { sinkMaxBytes: delivery.sinkMaxBytes }),
      ...(delivery.totalMaxBytes === undefined ? {} : { totalMaxBytes: delivery.totalMaxBytes }),
      logger,
    });
    const opened = log;
    // Added before the exporter, so stopped after it: the sinks' last positions are written first.
    components.add("buffer", () => opened.close());
  }
  const requestBudget = new DeliveryBudget(delivery.maxInflightRequests ?? DEFAULT_MAX_INFLIGHT_REQUESTS);
  const memoryBudget = MemoryBudget.ofBytes(delivery.memoryBytes ?? DEFAULT_SINK_MEMORY_BYTES);
  const exporter = new Exporter({
    tenantLabel,
    logger,
    sinkRuntime: {
      egress,
      budget: requestBudget,
      memory: memoryBudget,
      ...(delivery.maxShards === undefined ? {} : { maxShards: delivery.maxShards }),
    },
    ...(options.routeCacheBytes === undefined ? {} : { maxCachedBytes: options.routeCacheBytes }),
    ...(pull === undefined ? {} : { pull }),
    ...(log === undefined ? {} : { log }),
  });
  components.add("exporter", () => exporter.close());
  if (pull !== undefined) {
    const source = pull;
    source.start();
    components.add("pull", () => source.stop());
  }

  const controller = new Controller({
    client,
    layout,
    exporter,
    tenantLabel,
    logger,
    ...(options.statusRefreshMs === undefined ? {} : { statusRefreshMs: options.statusRefreshMs }),
  });
  components.add("controller", async () => {
    await controller.stop();
    await client.close();
  });
  await controller.start();
  let ingest: IngestServer | undefined;
  const metrics = (): string => {
    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    for (const outcome of INGEST_OUTCOMES) {
      writer.sample(
        "telex_ingest_requests_total",
        "Remote Write requests to the ingest endpoint, by outcome.",
        "counter",
        { outcome },
        ingest?.requests[outcome] ?? 0,
      );
    }
    writer.sample(
      "telex_ingest_inflight_bytes",
      "Bytes of Remote Write bodies held by the ingest endpoint, compressed and decompressed.",
      "gauge",
      {},
      ingest?.inflightBytes ?? 0,
    );
    if (log !== undefined) writeBufferMetrics(writer, log);
    writer.sample(
      "telex_delivery_inflight_requests",
      "Requests in flight to all endpoints (at most --max-inflight-requests).",
      "gauge",
      {},
      requestBudget.inflight,
    );
    writer.sample(
      "telex_delivery_permit_wait_seconds_total",
      "Time requests waited for a permit: the cap, not the endpoints, was the limit.",
      "counter",
      {},
      requestBudget.waitSeconds,
    );
    writer.sample(
      "telex_delivery_memory_samples",
      "Samples sinks hold in memory beyond their own two batches (at most --buffer-memory).",
      "gauge",
      {},
      memoryBudget.used,
    );
    writer.sample(
      "telex_controller_reconciles_total",
      "Reconciles finished.",
      "counter",
      {},
      controller.reconciles,
    );
    writer.sample(
      "telex_controller_status_writes_total",
      "Status updates written to the API.",
      "counter",
      {},
      controller.reconciler.status.writes,
    );
    writer.sample(
      "telex_controller_queue_length",
      "Policies waiting to be reconciled.",
      "gauge",
      {},
      controller.queue.length,
    );
    writeProcessMetrics(writer);
    return writer.render();
  };
  if (pull === undefined) {
    const address = parseListenAddress(options.ingestListen ?? DEFAULT_INGEST_LISTEN);
    const started = await startIngestServer({
      host: address.host,
      port: address.port,
      processor: exporter.ingest,
      ...(options.ingestTokenFile === undefined ? {} : { token: readToken(options.ingestTokenFile) }),
      logger,
      metrics,
    });
    ingest = started;
    components.add("ingest", () => started.close());
    const listener = new URL(started.url);
    egress.denyListener(await addressesOf(listener.hostname), portOf(listener), "Telex's ingest listener");
    if (options.demo === true) {
      const demo = startDemo(exporter.ingest, tenantLabel, systemClock);
      components.add("demo", () => {
        demo.stop();
        return Promise.resolve();
      });
    }
  }

  return { exporter, controller, ingest, metrics, stop: () => components.stop() };
}

/** The durable buffer's own health: what it holds and what it had to repair. */
function writeBufferMetrics(writer: ExpositionWriter, log: DurableLog): void {
  const { stats } = log;
  const gauge = (name: string, help: string, value: number) => {
    writer.sample(name, help, "gauge", {}, value);
  };
  const counter = (name: string, help: string, value: number) => {
    writer.sample(name, help, "counter", {}, value);
  };
  gauge("telex_buffer_disk_bytes", "Bytes of the durable buffer's segment files.", stats.diskBytes);
  gauge("telex_buffer_segments", "Segment files of the durable buffer.", stats.segments);
  gauge(
    "telex_buffer_pending_bytes",
    "Encoded records not yet written (ingest answers 429 past the cap).",
    log.pendingBytes,
  );
  counter("telex_buffer_appended_bytes_total", "Bytes written to the durable buffer.", stats.appendedBytes);
  counter("telex_buffer_syncs_total", "fdatasync calls on the durable buffer.", stats.syncs);
  counter("telex_buffer_sync_seconds_total", "Time spent in those syncs.", stats.syncSeconds);
  counter("telex_buffer_write_errors_total", "Writes that failed (the requests got 503).", stats.writeErrors);
  counter(
    "telex_buffer_torn_records_total",
    "Records cut from a torn tail at start (never acknowledged).",
    stats.tornRecords,
  );
  counter("telex_buffer_torn_bytes_total", "Bytes cut from a torn tail at start.", stats.tornBytes);
  counter(
    "telex_buffer_corrupt_records_total",
    "Damaged records found in older segments (their samples are counted dropped as corrupt).",
    stats.corruptRecords,
  );
}
