// What the roles of `telex serve` are configured with, and what they return.
// The defaults here are the command's; each role's file documents its own.
import type { ApiServer, ProjectQuotas } from "../apiserver/index.js";
import type { Controller } from "../controller/controller.js";
import type { ClusterConnection } from "../kube/index.js";
import type { DiskFloor } from "../exporter/buffer/defaults.js";
import type { Exporter } from "../exporter/exporter.js";
import type { IngestServer } from "../exporter/ingest/server.js";
import type { HealthCheck } from "../metrics/health.js";
import type { Logger } from "../util/index.js";
import type { ReplicaDelivery } from "./delivery-report.js";

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
  /** Free space the durable buffer leaves on its volume (--buffer-min-free-disk). */
  readonly minFreeDisk?: DiskFloor;
  readonly maxShards?: number;
  readonly maxInflightRequests?: number;
  /** Bytes of request bodies in flight to all endpoints together (--max-inflight-bytes). */
  readonly maxInflightBytes?: number;
  /** Samples all sinks hold in memory together, in bytes (--buffer-memory). */
  readonly memoryBytes?: number;
  /** Threads compressing request bodies (--compress-threads); default defaultCompressThreads(). */
  readonly compressThreads?: number;
  /** Push mode: samples of the warm-up pass before ingest starts (--warm-up-samples; see warm-up.ts); 0: none. */
  readonly warmUpSamples?: number;
}

/** What every replica runs: the exporter, the controller and the sources. */
export interface ExporterRunOptions {
  readonly delivery?: DeliveryOptions;
  /** HOST:PORT of a listener for /metrics and health alone (the CLI's default in pull mode: 127.0.0.1:19290). */
  readonly metricsListen?: string;
  /** With --join, --kubeconfig or --in-cluster: the fleet this replica is one of. */
  readonly fleet?: FleetOptions;
  /** Where pull cursors and the durable buffer (and, with the embedded API, the SQLite store) live (default ./.telex). */
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
  /**
   * How often the tenants' delivery metrics (telex_export_*) are generated
   * for the projects that select them (default SELF_METRICS_DEFAULTS, 15 s);
   * 0 turns them off.
   */
  readonly selfMetricsIntervalMs?: number;
  /**
   * How often each sink's rate is recorded for the status page's chart
   * (default 15 s; src/serve/delivery-history.ts). Not a flag: tests shorten it.
   */
  readonly deliveryHistoryIntervalMs?: number;
  /** CIDRs sinks may reach although a default denies them (--endpoint-allow; see src/exporter/egress). */
  readonly endpointAllow?: readonly string[];
  /** CIDRs sinks may never reach (--endpoint-deny). */
  readonly endpointDeny?: readonly string[];
  readonly logger?: Logger;
}

/** The embedded resource API: the all-in-one server's and `--api-only`'s. */
export interface ApiRunOptions {
  /** HOST:PORT of the resource API (default 127.0.0.1:6443; port 0 picks one). */
  readonly apiListen?: string;
  /** Where the SQLite store lives (default ./.telex). */
  readonly dataDir?: string;
  /** Bearer tokens; without it the API is open, loopback only. */
  readonly tokensFile?: string;
  /** PEM certificate and key: serve the API over https. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Quotas of the API (per project, --max-leases and --max-config-maps); unset ones take their defaults. */
  readonly quotas?: Partial<ProjectQuotas>;
  /**
   * --api-only: the egress policy `telex test-sink` and the endpoint warnings follow here (give it
   * the replicas' --endpoint-allow and --endpoint-deny). All in one: the replica's flags.
   */
  readonly endpointAllow?: readonly string[];
  readonly endpointDeny?: readonly string[];
  readonly logger?: Logger;
}

/** `telex serve --api-only`: the resource API alone, and where its previews come from (src/serve/api-only.ts). */
export interface ApiOnlyOptions extends ApiRunOptions {
  /** A pull fleet: the replicas' store (their --source-url, --pull-mode, --pull-interval), which previews read. */
  readonly pull?: PullOptions;
  /** The label naming a series' project, for pull previews (default DEFAULTS.tenantLabel). */
  readonly tenantLabel?: string;
  /** A push fleet: the replicas' shared ingest token, sent when asking them for their part of a preview. */
  readonly ingestTokenFile?: string;
  /** Where the replicas hold their Leases (default telex-system). */
  readonly leaseNamespace?: string;
  /** How long a replica has to answer a preview (default FLEET_PREVIEW_DEFAULTS.timeoutMs). Not a flag. */
  readonly previewTimeoutMs?: number;
  /** How long a replica has to answer a delivery read (default FLEET_DELIVERY_DEFAULTS.timeoutMs). Not a flag. */
  readonly deliveryTimeoutMs?: number;
}

/** `telex serve`: everything in one process. */
export type ServerOptions = ExporterRunOptions & ApiRunOptions;

/** `telex serve --join URL`: a replica over every project of a Telex API that runs elsewhere. */
/** A replica of a fleet: it holds a Lease and runs only the policies it owns (src/fleet). */
export interface FleetOptions {
  /** This replica's name and its Lease's (default: the host name, as a StatefulSet's pod name is). */
  readonly replicaName?: string;
  /** Where the Leases and pull positions live (default telex-system, the embedded API's platform namespace). */
  readonly namespace?: string;
  /** How long a replica's Lease lasts without renewal: a killed replica's policies move after this. */
  readonly leaseDurationMs?: number;
  /** Push mode: the URL other replicas forward series to (default: derived from the ingest listener). */
  readonly advertiseUrl?: string;
}

export interface JoinOptions extends ExporterRunOptions {
  /** The API's root URL, as `telex serve --api-only` prints it (`api: listening on URL`). */
  readonly url: string;
  /** A file holding a platform token (`projects: ["*"]`, role admin), read on every request (it may rotate). */
  readonly tokenFile?: string;
  /** PEM of the CA (or the self-signed certificate) the API's https certificate is checked against. */
  readonly caFile?: string;
}

/** Against a Kubernetes API with the CRD installed (a cluster, or one project's control plane). */
export interface ClusterOptions extends ExporterRunOptions {
  /** From a kubeconfig or the in-cluster service account (src/controller/kube/config.ts). */
  readonly connection: ClusterConnection;
  /**
   * The project that API serves: its policies export series whose tenant
   * label has this value. Without it, every namespace labelled
   * `telex.miloapis.com/project: NAME` is in project NAME
   * (src/controller/kube/namespace-projects.ts).
   */
  readonly project?: string;
}

export interface RunningExporter {
  readonly exporter: Exporter;
  readonly controller: Controller;
  /** Undefined in pull mode. */
  readonly ingest: IngestServer | undefined;
  /** A pull-mode replica of a fleet: its listener for the other replicas' delivery metrics (FORWARD_PATH). */
  readonly forwardUrl?: string | undefined;
  /** The /metrics listener when it is not the ingest listener (pull mode, or --metrics-listen). */
  readonly metricsUrl: string | undefined;
  /** Prometheus exposition of every component's metrics. */
  metrics(): string;
  /** The delivery reports of the policies it runs, with their sinks' rate history (the `delivery` subresource). */
  readonly delivery: ReplicaDelivery;
  /** What the replica's /readyz checks (readiness.ts). */
  readonly readiness: readonly HealthCheck[];
  /** Stops every component, the most downstream first; idempotent. */
  stop(): Promise<void>;
}

export interface RunningServer extends RunningExporter {
  readonly api: ApiServer;
}

export interface RunningApi {
  readonly api: ApiServer;
  stop(): Promise<void>;
}
