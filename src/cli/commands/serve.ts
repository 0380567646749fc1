// `telex serve`: runs the server until SIGINT or SIGTERM, then stops every
// component gracefully. The listening address goes to stdout in one stable
// line (`api: listening on http://HOST:PORT`) that scripts and tests read.
import { parseArgs } from "node:util";
import {
  ApiServerConfigError,
  DEFAULT_API_LISTEN,
  TokensFileError,
  isLoopback,
  parseListenAddress,
  type ProjectQuotas,
} from "../../apiserver/index.js";
import { inClusterConnection, loadKubeconfig, type ClusterConnection } from "../../kube/index.js";
import { streamLogger, type Logger } from "../../util/index.js";
import { DEFAULTS } from "../../api/index.js";
import { ROUTER_DEFAULTS } from "../../exporter/router/router.js";
import { dnsLabelProblems } from "../../api/names.js";
import { DEMO_PROJECTS } from "../../demo/generator.js";
import { CidrError, parseCidr } from "../../exporter/egress/index.js";
import { BufferLockedError } from "../../exporter/buffer/index.js";
import {
  ClusterConnectionError,
  DEFAULT_DATA_DIR,
  DEFAULT_INGEST_LISTEN,
  startClusterExporter,
  startServer,
  type ExporterRunOptions,
  type PullOptions,
  type RunningExporter,
} from "../../server.js";
import { DatabaseLockedError } from "../../store/index.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { QUOTA_FLAG_OPTIONS, quotaFlagsHelp, quotaOptions } from "../quota-flags.js";
import { DELIVERY_FLAG_OPTIONS, DELIVERY_FLAGS_HELP, deliveryOptions } from "../delivery-flags.js";
import { bytesFlag, durationFlag, formatBytes } from "../flag-values.js";

export const summary = "Run the Telex server: resource API, controller, exporter and ingest in one process";

const HELP = `Usage: telex serve [--api-listen HOST:PORT] [--data-dir DIR] [--tokens-file FILE]
                   [--tls-cert-file FILE --tls-key-file FILE] [--max-*-per-project N]
                   [--ingest-listen HOST:PORT] [--ingest-token-file FILE | --ingest-allow-unauthenticated]
                   [--route-cache-bytes SIZE] [--tenant-label NAME]
                   [--status-interval DURATION] [--endpoint-allow CIDR,...] [--endpoint-deny CIDR,...]
                   [--source-url URL [--pull-interval DURATION] [--pull-lag DURATION] [--pull-mode export|federate]]
                   [--buffer disk|memory] [--buffer-sync-interval DURATION] [--max-backlog-age DURATION]
                   [--sink-buffer-max-bytes SIZE] [--buffer-max-bytes SIZE] [--sink-max-shards N]
                   [--max-inflight-requests N]
       telex serve (--kubeconfig FILE [--context NAME] | --in-cluster) --project NAME [ingest, pull and status flags]

Runs everything on embedded defaults: the resource API (per-project
Kubernetes-style control planes at
  http://HOST:PORT/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane),
the controller that turns ExportPolicies into running exporters, and the
ingest endpoint where the platform's agents remote-write
(http://INGEST/api/v1/write; /metrics on the same listener). With
--source-url, sources are read from VictoriaMetrics instead of ingested.

With --kubeconfig or --in-cluster there is no embedded API: the controller
watches ExportPolicies and Secrets of a Kubernetes API that has the CRD
(deploy/crd/) installed — a cluster, or one project's control plane — and
exports that project's series (--project).

Options:
  --api-listen HOST:PORT  address of the resource API (default ${DEFAULT_API_LISTEN}; port 0 picks a free port)
  --data-dir DIR          where the SQLite store, the durable buffer and pull cursors live
                          (default ${DEFAULT_DATA_DIR})
  --tokens-file FILE      bearer tokens (YAML or JSON); without it access is open and
                          the API must listen on a loopback address
  --tls-cert-file FILE    PEM certificate: serve https (kubectl sends tokens only over https)
  --tls-key-file FILE     PEM private key of the certificate
  --ingest-listen HOST:PORT  the Remote Write ingest endpoint and /metrics (default ${DEFAULT_INGEST_LISTEN})
  --ingest-token-file FILE   a bearer token agents must send to the ingest endpoint; required
                          when --ingest-listen is not a loopback address
  --ingest-allow-unauthenticated  accept pushes without a token on a non-loopback address
  --route-cache-bytes SIZE  label bytes of the series whose routes are cached, e.g. 128MiB
                          (default ${formatBytes(ROUTER_DEFAULTS.maxCachedBytes)})
  --tenant-label NAME     the label naming a series' project (default ${DEFAULTS.tenantLabel})
  --status-interval DURATION  how often each policy's status is refreshed from delivery
                          health, e.g. 500ms or 1m (default 10s)
  --endpoint-allow CIDR[,CIDR...]  sink endpoints may reach these addresses although a default
                          denies them (repeatable). Denied by default: cloud metadata, link-local,
                          unspecified, multicast, broadcast, Telex's own listeners and --source-url;
                          with --tokens-file or a cluster also loopback and private ranges
  --endpoint-deny CIDR[,CIDR...]   sink endpoints may never reach these addresses (repeatable).
                          The longest matching prefix wins; on a tie deny beats allow
  --source-url URL        pull mode: VictoriaMetrics (or vmselect .../select/0/prometheus) to read sources from
  --pull-interval DURATION  how often each source is read (default 30s)
  --pull-lag DURATION     read samples once this old (default 1m)
  --pull-mode MODE        export (default; exactly once) or federate (latest values only)
  --kubeconfig FILE       run against the Kubernetes API of this kubeconfig (its current context)
  --context NAME          the kubeconfig context to use instead of the current one
  --in-cluster            run against the cluster this pod runs in (its service account)
  --project NAME          with --kubeconfig or --in-cluster: the project that API serves
  --demo                  feed synthetic gateway metrics of projects ${DEMO_PROJECTS.join(", ")}
                          every 5 s, so a policy in one of them delivers at once

Delivery:
${DELIVERY_FLAGS_HELP}
Per-project quotas of the embedded API (past one, writes get 403 exceeded quota):
${quotaFlagsHelp()}`;

/** The flags of `telex serve`, for parseArgs; deploy/ tests parse the manifests' args with them. */
export const SERVE_OPTIONS = {
  "api-listen": { type: "string" },
  "data-dir": { type: "string", default: DEFAULT_DATA_DIR },
  "tokens-file": { type: "string" },
  "tls-cert-file": { type: "string" },
  "tls-key-file": { type: "string" },
  "ingest-listen": { type: "string", default: DEFAULT_INGEST_LISTEN },
  "ingest-token-file": { type: "string" },
  "ingest-allow-unauthenticated": { type: "boolean", default: false },
  "route-cache-bytes": { type: "string" },
  "tenant-label": { type: "string", default: DEFAULTS.tenantLabel },
  "status-interval": { type: "string" },
  "endpoint-allow": { type: "string", multiple: true },
  "endpoint-deny": { type: "string", multiple: true },
  "source-url": { type: "string" },
  "pull-interval": { type: "string" },
  "pull-lag": { type: "string" },
  "pull-mode": { type: "string" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "in-cluster": { type: "boolean", default: false },
  project: { type: "string" },
  demo: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  ...QUOTA_FLAG_OPTIONS,
  ...DELIVERY_FLAG_OPTIONS,
} as const;

/** Resolves when the process is asked to stop. Injected by tests. */
export type StopSignal = Promise<string>;

function processSignal(): StopSignal {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export async function run(args: readonly string[], io: CommandIO, stopSignal?: StopSignal): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: SERVE_OPTIONS,
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const certFile = values["tls-cert-file"];
  const keyFile = values["tls-key-file"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert-file and --tls-key-file go together");
  }
  const pull = pullOptions(values);
  checkIngestAccess(values, pull);
  const routeCacheBytes = bytesFlag("route-cache-bytes", values["route-cache-bytes"]);
  const statusRefreshMs = durationFlag("status-interval", values["status-interval"]);
  const endpointAllow = cidrFlag("endpoint-allow", values["endpoint-allow"]);
  const endpointDeny = cidrFlag("endpoint-deny", values["endpoint-deny"]);
  const logger = streamLogger((line) => io.stderr.write(line));
  if (values["ingest-allow-unauthenticated"] && values["ingest-token-file"] === undefined && !pull) {
    logger.warn(
      "unauthenticated ingest (--ingest-allow-unauthenticated): anyone who can reach the ingest listener can push series for every project",
      { listen: values["ingest-listen"] },
    );
  }
  // Listened for only once the flags are valid: a refused invocation leaves no handlers behind.
  const stop = stopSignal ?? processSignal();
  const quotas = quotaOptions(values);
  const common = {
    delivery: deliveryOptions(values),
    dataDir: values["data-dir"],
    ingestListen: values["ingest-listen"],
    ...(values["ingest-token-file"] === undefined ? {} : { ingestTokenFile: values["ingest-token-file"] }),
    tenantLabel: values["tenant-label"],
    ...(routeCacheBytes === undefined ? {} : { routeCacheBytes }),
    ...(pull === undefined ? {} : { pull }),
    ...(statusRefreshMs === undefined ? {} : { statusRefreshMs }),
    ...(endpointAllow.length === 0 ? {} : { endpointAllow }),
    ...(endpointDeny.length === 0 ? {} : { endpointDeny }),
    demo: values.demo,
    logger,
  };
  if (values.kubeconfig !== undefined || values["in-cluster"]) {
    return runAgainstCluster(values, quotas, common, io, stop);
  }
  if (values.context !== undefined || values.project !== undefined) {
    throw new UsageError("--context and --project go with --kubeconfig or --in-cluster");
  }
  const apiListen = values["api-listen"] ?? DEFAULT_API_LISTEN;
  let server;
  try {
    server = await startServer({
      apiListen,
      ...(values["tokens-file"] === undefined ? {} : { tokensFile: values["tokens-file"] }),
      ...(certFile === undefined || keyFile === undefined ? {} : { tls: { certFile, keyFile } }),
      quotas,
      ...common,
    });
  } catch (error: unknown) {
    if (
      error instanceof ApiServerConfigError ||
      error instanceof TokensFileError ||
      error instanceof DatabaseLockedError ||
      error instanceof BufferLockedError
    ) {
      io.stderr.write(`telex serve: ${error.message}\n`);
      return EXIT.failure;
    }
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      io.stderr.write(`telex serve: cannot listen on ${apiListen}: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    throw error;
  }
  io.stdout.write(`api: listening on ${server.api.url}\n`);
  printSources(io, server, common);
  const projectServer = `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/my-project/control-plane`;
  io.stdout.write(nextSteps(`--server ${projectServer} `, server.ingest?.url));
  logger.info("resource API ready", {
    projects: `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane`,
    dataDir: values["data-dir"],
  });
  if (!server.api.openAccess && !server.api.tls) {
    logger.warn(
      "bearer tokens over plain http: kubectl sends tokens only over https (use --tls-cert-file and --tls-key-file)",
    );
  }
  if (server.api.openAccess) {
    logger.warn(
      "open access: no --tokens-file, so anyone who can reach this loopback address can read and write every project",
    );
  }
  return stopOnSignal(server, stop, logger);
}

async function stopOnSignal(
  server: { stop(): Promise<void> },
  stopSignal: StopSignal,
  logger: Logger,
): Promise<number> {
  const signal = await stopSignal;
  logger.info("stopping", { signal });
  await server.stop();
  logger.info("stopped");
  return EXIT.ok;
}

interface ClusterFlags {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly "in-cluster"?: boolean | undefined;
  readonly project?: string | undefined;
  readonly "api-listen"?: string | undefined;
  readonly "tokens-file"?: string | undefined;
  readonly "tls-cert-file"?: string | undefined;
}

/** `--kubeconfig`/`--in-cluster`: the controller, exporter and sources against an existing Kubernetes API. */
async function runAgainstCluster(
  values: ClusterFlags,
  quotas: Partial<ProjectQuotas>,
  common: ExporterRunOptions & { readonly logger: Logger },
  io: CommandIO,
  stopSignal: StopSignal,
): Promise<number> {
  if (values.kubeconfig !== undefined && values["in-cluster"] === true) {
    throw new UsageError("--kubeconfig and --in-cluster exclude each other");
  }
  if (
    values["api-listen"] !== undefined ||
    values["tokens-file"] !== undefined ||
    values["tls-cert-file"] !== undefined ||
    Object.keys(quotas).length > 0
  ) {
    throw new UsageError(
      "--api-listen, --tokens-file, --tls-* and --max-*-per-project configure the embedded API, which does not run with --kubeconfig or --in-cluster (a cluster's quotas are its ResourceQuotas)",
    );
  }
  const project = values.project;
  if (project === undefined) throw new UsageError("--project is required with --kubeconfig or --in-cluster");
  const problems = dnsLabelProblems(project);
  if (problems.length > 0)
    throw new UsageError(`--project ${JSON.stringify(project)}: ${problems.join("; ")}`);
  let connection: ClusterConnection;
  try {
    if (values.kubeconfig !== undefined) {
      connection = loadKubeconfig(values.kubeconfig, values.context);
    } else {
      const inCluster = inClusterConnection();
      if (inCluster === undefined) {
        io.stderr.write(
          "telex serve: --in-cluster, but KUBERNETES_SERVICE_HOST is not set: not running in a pod\n",
        );
        return EXIT.failure;
      }
      connection = inCluster;
    }
  } catch (error: unknown) {
    io.stderr.write(`telex serve: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
  let running: RunningExporter;
  try {
    running = await startClusterExporter({ ...common, connection, project });
  } catch (error: unknown) {
    if (error instanceof ClusterConnectionError) {
      io.stderr.write(`telex serve: ${error.message}\n`);
      return EXIT.failure;
    }
    throw error;
  }
  io.stdout.write(`controller: watching exportpolicies of project ${project} at ${connection.server}\n`);
  printSources(io, running, common);
  io.stdout.write(nextSteps("", running.ingest?.url));
  return stopOnSignal(running, stopSignal, common.logger);
}

interface PullFlags {
  readonly "source-url"?: string | undefined;
  readonly "pull-interval"?: string | undefined;
  readonly "pull-lag"?: string | undefined;
  readonly "pull-mode"?: string | undefined;
}

/** A repeatable, comma-separated list of CIDRs (or single addresses), each checked. */
function cidrFlag(name: string, values: readonly string[] | undefined): string[] {
  const cidrs = (values ?? []).flatMap((value) => value.split(",")).map((cidr) => cidr.trim());
  for (const cidr of cidrs) {
    try {
      parseCidr(cidr);
    } catch (error: unknown) {
      if (error instanceof CidrError) throw new UsageError(`--${name}: ${error.message}`);
      throw error;
    }
  }
  return cidrs;
}

interface IngestAccessFlags {
  readonly "ingest-listen": string;
  readonly "ingest-token-file"?: string | undefined;
  readonly "ingest-allow-unauthenticated": boolean;
}

/**
 * Anyone who reaches the ingest endpoint can feed every project's sinks: off
 * loopback it needs a token, unless open access is asked for by name.
 */
function checkIngestAccess(values: IngestAccessFlags, pull: PullOptions | undefined): void {
  if (pull !== undefined || values["ingest-token-file"] !== undefined) return;
  if (values["ingest-allow-unauthenticated"]) return;
  let host: string;
  try {
    host = parseListenAddress(values["ingest-listen"]).host;
  } catch (error: unknown) {
    throw new UsageError(`--ingest-listen: ${(error as Error).message}`);
  }
  if (isLoopback(host)) return;
  throw new UsageError(
    `refusing unauthenticated ingest on ${values["ingest-listen"]}: pass --ingest-token-file FILE (agents send its token as a bearer token), or --ingest-allow-unauthenticated to accept pushes from anyone who can reach it`,
  );
}

function pullOptions(values: PullFlags): PullOptions | undefined {
  const url = values["source-url"];
  if (url === undefined) {
    if (
      values["pull-interval"] !== undefined ||
      values["pull-lag"] !== undefined ||
      values["pull-mode"] !== undefined
    ) {
      throw new UsageError("--pull-interval, --pull-lag and --pull-mode need --source-url");
    }
    return undefined;
  }
  const mode = values["pull-mode"];
  if (mode !== undefined && mode !== "export" && mode !== "federate") {
    throw new UsageError(`--pull-mode must be export or federate, not ${JSON.stringify(mode)}`);
  }
  const intervalMs = durationFlag("pull-interval", values["pull-interval"]);
  const lagMs = durationFlag("pull-lag", values["pull-lag"]);
  return {
    url,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    ...(lagMs === undefined ? {} : { lagMs }),
    ...(mode === undefined ? {} : { mode }),
  };
}

/** Where the metrics come from: the ingest listener (and /metrics), or the store pulled from. */
function printSources(io: CommandIO, running: RunningExporter, options: ExporterRunOptions): void {
  if (options.demo === true && options.pull === undefined) {
    io.stdout.write(`demo: feeding synthetic metrics of projects ${DEMO_PROJECTS.join(", ")} every 5s\n`);
  }
  if (running.ingest !== undefined) {
    io.stdout.write(`ingest: listening on ${running.ingest.url}/api/v1/write\n`);
    io.stdout.write(`metrics: ${running.ingest.url}/metrics\n`);
  } else if (options.pull !== undefined) {
    io.stdout.write(`pull: reading sources from ${options.pull.url}\n`);
  }
}

/** kubectlFlags: what kubectl needs to reach the API (nothing when its kubeconfig already does). */
function nextSteps(kubectlFlags: string, ingestUrl: string | undefined): string {
  return `
Next:
  kubectl ${kubectlFlags}apply -f examples/exportpolicy.yaml
  kubectl ${kubectlFlags}get exportpolicies
${ingestUrl === undefined ? "" : `  point an agent's remote_write at ${ingestUrl}/api/v1/write\n`}`;
}
