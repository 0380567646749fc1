// What every replica runs, whatever API it follows: the exporter, its source
// (the ingest endpoint, or the pull source) and the controller feeding it,
// with /metrics, /livez and /readyz (readiness.ts) on the ingest listener.
// A pull-mode replica of a fleet listens on --ingest-listen too, for its
// peers' delivery metrics only (FORWARD_PATH, Exporter.selfMetricsIntake).
// Wiring only: each component defines and writes its own metrics. The roles (all-in-one.ts, join.ts, cluster.ts)
// differ only in the API client, layout and egress policy they hand in.
import { mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { isLoopback, parseListenAddress } from "../apiserver/index.js";
import { DEFAULTS } from "../api/index.js";
import { Controller } from "../controller/controller.js";
import { PLATFORM_NAMESPACE, type KubeClient } from "../kube/index.js";
import { CONFIG_MAPS, LEASES, platformPath, type ControlPlaneLayout } from "../controller/layout.js";
import { startDemo } from "../demo/generator.js";
import { DurableLog, writeBufferMetrics } from "../exporter/buffer/index.js";
import type { EgressPolicy } from "../exporter/egress/index.js";
import { Exporter } from "../exporter/exporter.js";
import { SELF_METRICS_DEFAULTS } from "../exporter/self-metrics.js";
import {
  startIngestServer,
  type IngestServer,
  type IngestServerOptions,
  type RequestProcessor,
} from "../exporter/ingest/server.js";
import { FileCursorStore, PullSource, type CursorStore } from "../exporter/pull/index.js";
import { ApiCursorStore, Forwarder, Handover, Membership, Ownership } from "../fleet/index.js";
import {
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_INFLIGHT_REQUESTS,
  DEFAULT_SINK_MEMORY_BYTES,
  CompressPool,
  DeliveryBudget,
  MemoryBudget,
  defaultCompressThreads,
} from "../exporter/sink/index.js";
import { heapLimitWarning, systemClock } from "../util/index.js";
import { silentLogger, type Logger } from "../util/index.js";
import { ExpositionWriter, type Exposition, type RenderedExposition } from "../metrics/exposition.js";
import { HealthEndpoints } from "../metrics/health.js";
import { writeBuildInfo, writeProcessMetrics } from "../metrics/process.js";
import type { Components } from "./components.js";
import { startMetricsServer } from "./metrics-server.js";
import { ReplicaDelivery, type ReplicaDeliveryAnswer } from "./delivery-report.js";
import { replicaPreviewHandler } from "./preview.js";
import { replicaReadiness, writeReadiness } from "./readiness.js";
import { warmUp } from "./warm-up.js";
import { denyListener, denyPeer, portOf } from "./egress.js";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_INGEST_LISTEN,
  PULL_DEFAULTS,
  type ExporterRunOptions,
  type PullOptions,
  type RunningExporter,
} from "./options.js";

/** The API a replica follows: its client (closed on stop), layout and egress policy. */
export interface ReplicaApi {
  readonly client: KubeClient;
  readonly layout: ControlPlaneLayout;
  readonly egress: EgressPolicy;
  /** One of a fleet (--join, --kubeconfig, --in-cluster): a Lease, and only the policies it owns. */
  readonly fleet: boolean;
}

/** What a replica of a fleet runs besides the rest: its membership, and pull positions in the API. */
interface FleetParts {
  readonly membership: Membership;
  readonly positions: ApiCursorStore | undefined;
}

/**
 * Joins the fleet before anything else starts, so that the controller's first
 * pass already knows this replica's share; added to `components` first after
 * the API client, so its Lease is released last, once the sinks have stopped
 * and the last pull positions are written: the next owner continues from them.
 */
async function joinFleet(
  options: ExporterRunOptions,
  client: KubeClient,
  components: Components,
  logger: Logger,
): Promise<FleetParts> {
  const fleet = options.fleet ?? {};
  const identity = fleet.replicaName ?? defaultReplicaName();
  const namespace = fleet.namespace ?? PLATFORM_NAMESPACE;
  const membership = new Membership({
    client,
    leasesPath: platformPath(LEASES, namespace),
    identity,
    ...(fleet.leaseDurationMs === undefined
      ? {}
      : {
          leaseDurationMs: fleet.leaseDurationMs,
          renewIntervalMs: Math.max(100, Math.floor(fleet.leaseDurationMs / 3)),
        }),
    logger,
  });
  components.add("membership", () => membership.stop());
  await membership.start();
  let positions: ApiCursorStore | undefined;
  if (options.pull !== undefined) {
    const backlogAgeMs = options.pull.maxBacklogAgeMs ?? options.delivery?.maxBacklogAgeMs;
    const store = new ApiCursorStore({
      client,
      configMapsPath: platformPath(CONFIG_MAPS, namespace),
      identity,
      // Departed replicas' position ConfigMaps are removed by the first live member (positions.ts).
      liveMembers: () => membership.members,
      ...(backlogAgeMs === undefined ? {} : { maxBacklogAgeMs: backlogAgeMs }),
      logger,
    });
    components.add("pull positions", () => store.close());
    await store.start();
    positions = store;
  }
  return { membership, positions };
}

/** Starts the exporter, its source and the controller; each is added to `components` to stop. */
export async function startReplica(
  options: ExporterRunOptions,
  api: ReplicaApi,
  components: Components,
): Promise<RunningExporter> {
  const logger = options.logger ?? silentLogger;
  const heapWarning = heapLimitWarning();
  if (heapWarning !== undefined) logger.warn(`memory: ${heapWarning}`);
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const tenantLabel = options.tenantLabel ?? DEFAULTS.tenantLabel;
  const { egress } = api;
  // Closed last (components stop in reverse order): the Lease is released and the last pull
  // positions are written through it after everything else has stopped. Closing it earlier would
  // also wait for the Lease and ConfigMap watches, which stop only after it.
  components.add("api client", () => api.client.close());
  const fleet = api.fleet ? await joinFleet(options, api.client, components, logger) : undefined;
  const ingestToken = options.ingestTokenFile === undefined ? undefined : readToken(options.ingestTokenFile);
  // In a fleet: series of policies another replica runs are forwarded to it (in pull mode,
  // only the delivery metrics: the platform's series come from the store).
  const forwarder =
    fleet === undefined
      ? undefined
      : new Forwarder({
          membership: fleet.membership,
          ...(ingestToken === undefined ? {} : { token: ingestToken }),
          logger,
        });
  const pull =
    options.pull === undefined
      ? undefined
      : await startPull(options, options.pull, dataDir, egress, logger, fleet?.positions);
  const delivery = options.delivery ?? {};
  const ownership = fleet === undefined ? undefined : new Ownership(fleet.membership);
  // Pull mode needs no buffer of its own: the store is one, read again from each sink's position.
  let log: DurableLog | undefined;
  if (pull === undefined && delivery.buffer !== "memory") {
    const opened = await DurableLog.open({
      dir: join(dataDir, "buffer"),
      ...(delivery.syncIntervalMs === undefined ? {} : { syncIntervalMs: delivery.syncIntervalMs }),
      ...(delivery.maxBacklogAgeMs === undefined ? {} : { maxBacklogAgeMs: delivery.maxBacklogAgeMs }),
      ...(delivery.sinkMaxBytes === undefined ? {} : { sinkMaxBytes: delivery.sinkMaxBytes }),
      ...(delivery.totalMaxBytes === undefined ? {} : { totalMaxBytes: delivery.totalMaxBytes }),
      ...(delivery.minFreeDisk === undefined ? {} : { minFreeDisk: delivery.minFreeDisk }),
      logger,
    });
    log = opened;
    // Added before the exporter, so stopped after it: the sinks' last positions are written first.
    components.add("buffer", () => opened.close());
  }
  const requestBudget = new DeliveryBudget(
    delivery.maxInflightRequests ?? DEFAULT_MAX_INFLIGHT_REQUESTS,
    delivery.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES,
  );
  const memoryBudget = MemoryBudget.ofBytes(delivery.memoryBytes ?? DEFAULT_SINK_MEMORY_BYTES);
  const compressor = new CompressPool({
    threads: delivery.compressThreads ?? defaultCompressThreads(),
    logger,
  });
  // Added before the exporter, so stopped after it: sinks draining at shutdown still compress.
  components.add("compression threads", () => compressor.close());
  if (pull === undefined) {
    // Before ingest opens, so that the first requests find the relaying path compiled (warm-up.ts).
    await warmUp({
      tenantLabel,
      ...(delivery.warmUpSamples === undefined ? {} : { samples: delivery.warmUpSamples }),
      ...(log === undefined ? {} : { logDir: join(dataDir, "warm-up") }),
      logger,
    });
  }
  // Push mode in a fleet with the durable buffer (never pull mode, which has none): a policy's new
  // owner waits for its old one's backlog.
  const handover =
    forwarder === undefined || fleet === undefined || log === undefined
      ? undefined
      : new Handover({ membership: fleet.membership, maxViewWaitMs: 2 * fleet.membership.leaseDurationMs });
  const exporter = new Exporter({
    tenantLabel,
    logger,
    sinkRuntime: {
      egress,
      budget: requestBudget,
      memory: memoryBudget,
      compressor,
      ...(delivery.maxShards === undefined ? {} : { maxShards: delivery.maxShards }),
    },
    ...(options.routeCacheBytes === undefined ? {} : { maxCachedBytes: options.routeCacheBytes }),
    ...(pull === undefined ? {} : { pull }),
    ...(log === undefined ? {} : { log }),
    ...(forwarder === undefined ? {} : { fleet: forwarder }),
    ...(handover === undefined ? {} : { handover }),
  });
  components.add("exporter", () => exporter.close());
  if (handover !== undefined && fleet !== undefined && ownership !== undefined) {
    // Before this replica's Lease says it saw the new members, the policies it gives up are
    // listed as draining: their new owners wait until it delivered what it holds of them.
    fleet.membership.onChange(() => {
      for (const uid of exporter.runningPolicies()) if (!ownership.owns(uid)) handover.markDraining(uid);
    });
  }
  if (pull !== undefined) {
    pull.start();
    components.add("pull", () => pull.stop());
  }

  const controller = new Controller({
    client: api.client,
    layout: api.layout,
    exporter,
    tenantLabel,
    logger,
    ...(options.statusRefreshMs === undefined ? {} : { statusRefreshMs: options.statusRefreshMs }),
    ...(ownership === undefined ? {} : { ownership }),
  });
  components.add("controller", () => controller.stop());
  await controller.start();
  startSelfMetrics(exporter, options.selfMetricsIntervalMs ?? SELF_METRICS_DEFAULTS.intervalMs, components);
  // Every replica keeps its sinks' rate history: its API (all in one) or the fleet's API server asks it.
  const reports = new ReplicaDelivery(exporter, options.deliveryHistoryIntervalMs);
  reports.start();
  components.add("delivery history", () => reports.stop());
  // In a fleet the API server asks the replicas for a policy's delivery report (src/fleet/delivery.ts)
  // and its preview (src/fleet/preview.ts): only with the ingest token, or on loopback — open ingest
  // elsewhere lets anyone push series, and must not let anyone read them.
  const answersApi =
    fleet !== undefined &&
    (ingestToken !== undefined ||
      isLoopback(parseListenAddress(options.ingestListen ?? DEFAULT_INGEST_LISTEN).host));
  const deliveryHandler =
    fleet === undefined || !answersApi
      ? undefined
      : (uid: string): { readonly found: boolean; readonly answer: unknown } => {
          const replica = fleet.membership.identity;
          const running = reports.report(uid);
          // Handed over (push mode): the sinks still delivering this replica's backlog of the policy.
          const report = running ?? reports.drainingReport(uid);
          if (report === undefined) return { found: false, answer: { replica, running: false } };
          const answer: ReplicaDeliveryAnswer = {
            replica,
            // Still running a policy it no longer owns (until it reconciles), or only draining its backlog.
            draining: running === undefined || (ownership !== undefined && !ownership.owns(uid)),
            delivery: report,
          };
          return { found: true, answer };
        };

  // Both listeners answer the same checks.
  const readiness = replicaReadiness({ controller, log, membership: fleet?.membership, pull });
  const health = new HealthEndpoints({ readiness, logger });
  let ingest: IngestServer | undefined;
  // The listeners send the bytes as rendered; metrics() is the same text for callers in-process.
  const metricsParts = (): RenderedExposition => {
    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    ingest?.writeMetrics(writer);
    if (log !== undefined) writeBufferMetrics(writer, log);
    requestBudget.writeMetrics(writer);
    memoryBudget.writeMetrics(writer);
    compressor.writeMetrics(writer);
    controller.writeMetrics(writer);
    fleet?.membership.writeMetrics(writer);
    fleet?.positions?.writeMetrics(writer);
    forwarder?.writeMetrics(writer);
    handover?.writeMetrics(writer);
    writeProcessMetrics(writer);
    writeBuildInfo(writer);
    writeReadiness(writer, readiness);
    return writer.renderParts();
  };
  const metrics = (): string => {
    const rendered = metricsParts();
    const text = Buffer.concat(rendered.parts).toString("utf8");
    rendered.release();
    return text;
  };
  if (pull === undefined) {
    // Once every policy is known, the backlogs of those deleted while Telex was stopped go.
    if (await controller.caughtUp()) exporter.pruneBacklogs(controller.policySinks());
    handover?.start();
    ingest = await startIngest(
      {
        ...options,
        token: ingestToken,
        acceptForwarded: forwarder !== undefined,
        forwardOnly: false,
        preview: answersApi ? replicaPreviewHandler(tenantLabel, exporter, systemClock) : undefined,
        delivery: deliveryHandler,
      },
      exporter.ingest,
      metricsParts,
      health,
      egress,
      logger,
      components,
    );
    if (fleet !== undefined)
      await fleet.membership.advertise(options.fleet?.advertiseUrl ?? advertisedUrlOf(ingest.url));
    if (options.demo === true) {
      const demo = startDemo(exporter.ingest, tenantLabel, systemClock);
      components.add("demo", () => {
        demo.stop();
        return Promise.resolve();
      });
    }
  }
  let forwardUrl: string | undefined;
  if (pull !== undefined && fleet !== undefined) {
    // The replicas running this project's selecting policies are found on their Leases, as in push
    // mode; the listener takes nothing else (no pushes: the platform's series come from the store).
    ingest = await startIngest(
      {
        ...options,
        token: ingestToken,
        acceptForwarded: true,
        forwardOnly: true,
        preview: undefined,
        delivery: deliveryHandler,
      },
      exporter.selfMetricsIntake,
      metricsParts,
      health,
      egress,
      logger,
      components,
      "Telex's forward listener",
    );
    forwardUrl = ingest.url;
    await fleet.membership.advertise(options.fleet?.advertiseUrl ?? advertisedUrlOf(ingest.url));
  }
  let metricsUrl: string | undefined;
  if (options.metricsListen !== undefined) {
    const address = parseListenAddress(options.metricsListen);
    const server = await startMetricsServer(address.host, address.port, metricsParts, health);
    components.add("metrics", () => server.close());
    metricsUrl = server.url;
  }
  return {
    exporter,
    controller,
    // Pull mode takes no pushes: its forward listener is not an ingest endpoint.
    ingest: pull === undefined ? ingest : undefined,
    forwardUrl,
    metricsUrl,
    metrics,
    delivery: reports,
    readiness,
    stop: () => components.stop(),
  };
}

/**
 * Every interval, the delivery metrics of the policies this replica runs,
 * for the projects that select them (Exporter.emitSelfMetrics). An interval
 * starts only once the last one's samples are written: a slow disk skips
 * ticks rather than piling them up. Stopped before the exporter.
 */
function startSelfMetrics(exporter: Exporter, intervalMs: number, components: Components): void {
  if (intervalMs <= 0) return;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = exporter.emitSelfMetrics(Date.now()).finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  components.add("self-metrics", async () => {
    clearInterval(timer);
    await running;
  });
}

async function startPull(
  options: ExporterRunOptions,
  source: PullOptions,
  dataDir: string,
  egress: EgressPolicy,
  logger: Logger,
  positions: CursorStore | undefined,
): Promise<PullSource> {
  await denyPeer(egress, source.url, "the metrics store Telex reads (--source-url)");
  mkdirSync(dataDir, { recursive: true });
  // --max-backlog-age bounds the pull catch-up as it bounds the push buffer.
  const backlogAge = source.maxBacklogAgeMs ?? options.delivery?.maxBacklogAgeMs;
  return new PullSource({
    url: source.url,
    intervalMs: source.intervalMs ?? PULL_DEFAULTS.intervalMs,
    lagMs: source.lagMs ?? PULL_DEFAULTS.lagMs,
    mode: source.mode ?? "export",
    ...(backlogAge === undefined ? {} : { maxBacklogAgeMs: backlogAge }),
    // In a fleet, positions live in the API, where the next owner of a policy finds them.
    cursorStore: positions ?? (await FileCursorStore.open(join(dataDir, "pull-cursors.json"))),
    clock: systemClock,
    logger,
  });
}

async function startIngest(
  options: ExporterRunOptions & {
    readonly token: string | undefined;
    readonly acceptForwarded: boolean;
    readonly forwardOnly: boolean;
    readonly preview: ((request: unknown) => Promise<unknown>) | undefined;
    readonly delivery: IngestServerOptions["delivery"];
  },
  processor: RequestProcessor,
  metrics: () => Exposition,
  health: HealthEndpoints,
  egress: EgressPolicy,
  logger: Logger,
  components: Components,
  what = "Telex's ingest listener",
): Promise<IngestServer> {
  const address = parseListenAddress(options.ingestListen ?? DEFAULT_INGEST_LISTEN);
  const ingest = await startIngestServer({
    host: address.host,
    port: address.port,
    processor,
    ...(options.token === undefined ? {} : { token: options.token }),
    acceptForwarded: options.acceptForwarded,
    forwardOnly: options.forwardOnly,
    ...(options.preview === undefined ? {} : { preview: options.preview }),
    ...(options.delivery === undefined ? {} : { delivery: options.delivery }),
    logger,
    metrics,
    health,
  });
  components.add("ingest", () => ingest.close());
  const listener = new URL(ingest.url);
  await denyListener(egress, listener.hostname, portOf(listener), what);
  return ingest;
}

/**
 * Where the other replicas reach this one's ingest listener when
 * --advertise-url is not given: its own URL, with the host name in place of
 * a wildcard address (a pod sets --advertise-url from its IP instead).
 */
function advertisedUrlOf(listenerUrl: string): string {
  const url = new URL(listenerUrl);
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = hostname();
  return url.origin;
}

/**
 * The host name, as a DNS label: a StatefulSet's pod name, stable across
 * restarts, so a restarted pod takes its own Lease back at once. Two replicas
 * on one host need --replica-name.
 */
export function defaultReplicaName(): string {
  const label = hostname()
    .split(".")[0]
    ?.toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === undefined || label === "" ? "telex" : label;
}

function readToken(file: string): string {
  const token = readFileSync(file, "utf8").trim();
  if (token === "") throw new Error(`ingest token file ${file} is empty`);
  return token;
}
