// `telex serve`: runs one role of the server until SIGINT or SIGTERM, then
// stops every component gracefully. Roles (src/serve/): everything in one
// process (default), the resource API alone (--api-only), a replica over a
// Telex API (--join URL) or over a Kubernetes API (--kubeconfig,
// --in-cluster). The address each listens on or follows goes to stdout in one
// stable line (`api: listening on URL`, `controller: watching exportpolicies
// of … at URL`) that scripts and tests read.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  ApiServerConfigError,
  DEFAULT_API_LISTEN,
  TokensFileError,
  UI_PREFIX,
} from "../../apiserver/index.js";
import { inClusterConnection, loadKubeconfig, type ClusterConnection } from "../../kube/index.js";
import { PROJECT_LABEL } from "../../controller/namespace-projects.js";
import { LOG_FORMATS, LOG_LEVELS, createLogger, type Logger } from "../../util/index.js";
import { DEFAULTS, dnsLabelProblems } from "../../api/index.js";
import { ROUTER_DEFAULTS } from "../../exporter/router/router.js";
import { DEMO_PROJECTS } from "../../demo/generator.js";
import { DEFAULT_DEMO_RECEIVER, demoNextSteps } from "../../demo/next-steps.js";
import { BufferLockedError } from "../../exporter/buffer/index.js";
import { FORWARD_PATH } from "../../exporter/ingest/server.js";
import {
  ClusterConnectionError,
  DEFAULT_DATA_DIR,
  DEFAULT_INGEST_LISTEN,
  startApiOnly,
  startClusterExporter,
  startJoinedReplica,
  startServer,
  type ApiOnlyOptions,
  type ApiRunOptions,
  DEFAULT_METRICS_LISTEN,
  type ExporterRunOptions,
  type FleetOptions,
  type JoinOptions,
  type RunningExporter,
  heapFlagsHint,
} from "../../serve/index.js";
import { DatabaseLockedError } from "../../store/index.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { QUOTA_FLAG_OPTIONS, quotaFlagsHelp, quotaOptions } from "../quota-flags.js";
import { DELIVERY_FLAG_OPTIONS, DELIVERY_FLAGS_HELP, deliveryOptions } from "../delivery-flags.js";
import { bytesFlag, durationFlag, formatBytes } from "../flag-values.js";
import {
  checkIngestAccess,
  checkRoleFlags,
  cidrFlag,
  joinUrl,
  pullOptions,
  roleOf,
  type ServeRole,
} from "../serve-flags.js";

const PROJECT_PATH = "/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane";

const HELP = `Usage: telex serve [API flags] [replica flags]                    everything in one process
       telex serve --api-only [API flags]                          the resource API alone
       telex serve --join URL [--token-file FILE] [--join-ca-file FILE] [replica flags]
       telex serve (--kubeconfig FILE [--context NAME] | --in-cluster) [--project NAME] [replica flags]

Roles:
  (default)     Everything on embedded defaults: the resource API (per-project
                Kubernetes-style control planes at
                http://HOST:PORT${PROJECT_PATH}),
                the controller that turns ExportPolicies into running exporters,
                and the ingest endpoint where the platform's agents remote-write
                (http://INGEST/api/v1/write; /metrics and /readyz on the same
                listener). With --source-url, sources are read from
                VictoriaMetrics instead.
  --api-only    Only the resource API: every project's control plane, and the
                platform plane at the root for the replicas' Leases and
                ConfigMaps (pull positions)
                (kubectl --server http://HOST:PORT get leases,cm -n telex-system).
                /healthz and /readyz answer on the API listener.
  --join URL    A replica over every project of the Telex API at URL (the root
                that telex serve --api-only prints): controller, exporter,
                ingest or pull, and /metrics. It needs a platform token of that
                API (projects: ["*"], role: admin) in --token-file.
  --kubeconfig FILE, --in-cluster
                A replica against a Kubernetes API with the CRD (deploy/crd/)
                installed. With --project NAME the API serves that one project
                (a cluster, or one project's control plane); without, every
                namespace labelled ${PROJECT_LABEL}=NAME is in project NAME,
                and namespaces without the label are left alone.

API flags (all in one, --api-only):
  --api-listen HOST:PORT  address of the resource API (default ${DEFAULT_API_LISTEN}; port 0 picks a free port)
  --tokens-file FILE      bearer tokens (YAML or JSON); without it access is open and
                          the API must listen on a loopback address
  --tls-cert-file FILE    PEM certificate: serve https (kubectl sends tokens only over https)
  --tls-key-file FILE     PEM private key of the certificate
  --endpoint-allow, --endpoint-deny  with --api-only: the egress policy telex test-sink and the
                          endpoint warnings follow (give it the replicas'; see Replica flags)
  With --api-only, how it reaches the fleet (telex preview, the delivery counters):
  --source-url URL, --pull-mode MODE, --pull-interval D, --tenant-label NAME
                          a pull fleet: the replicas' store and settings; previews read it
  --ingest-token-file FILE  the replicas' ingest token, sent when asking each live replica for
                          the series ingested through it (push) or a policy's delivery counters
  --lease-namespace NS    where the replicas hold their Leases (default telex-system)
${quotaFlagsHelp()}
Replica flags (all in one, --join, --kubeconfig, --in-cluster):
  --ingest-listen HOST:PORT  the Remote Write ingest endpoint and /metrics (default ${DEFAULT_INGEST_LISTEN});
                          in a pull-mode fleet, where the other replicas send delivery metrics
  --metrics-listen HOST:PORT  /metrics, /livez and /readyz on a listener of their own (default:
                          the ingest listener in push mode, ${DEFAULT_METRICS_LISTEN} in pull mode)
  --ingest-token-file FILE   a bearer token agents must send to the ingest endpoint (and a fleet's
                          replicas to each other); required when --ingest-listen is not a loopback address
  --ingest-allow-unauthenticated  accept pushes without a token on a non-loopback address
  --route-cache-bytes SIZE  label bytes of the series whose routes are cached, e.g. 128MiB
                          (default ${formatBytes(ROUTER_DEFAULTS.maxCachedBytes)})
  --tenant-label NAME     the label naming a series' project (default ${DEFAULTS.tenantLabel})
  --status-interval DURATION  how often each policy's status is refreshed from delivery
                          health, e.g. 500ms or 1m (default 10s)
  --self-metrics-interval DURATION  how often each policy's delivery metrics (telex_export_*)
                          are generated as series of its project, for the sources that
                          select them by name (default 15s; 0 turns them off)
  --endpoint-allow CIDR[,CIDR...]  sink endpoints may reach these addresses although a default
                          denies them (repeatable). Denied by default: cloud metadata, link-local,
                          unspecified, multicast, broadcast, Telex's own listeners, the API
                          followed and --source-url; with --tokens-file, --token-file or a
                          cluster also loopback and private ranges
  --endpoint-deny CIDR[,CIDR...]   sink endpoints may never reach these addresses (repeatable).
                          The longest matching prefix wins; on a tie deny beats allow
  --source-url URL        pull mode: VictoriaMetrics (or vmselect .../select/0/prometheus) to read sources from
  --pull-interval DURATION  how often each source is read (default 30s)
  --pull-lag DURATION     read samples once this old (default 1m)
  --pull-mode MODE        export (default; exactly once) or federate (latest values only)
  --demo                  feed synthetic gateway metrics of projects ${DEMO_PROJECTS.join(", ")}
                          every 5 s, so a policy in one of them delivers at once
  --demo-receiver URL     with --demo: the receiver the printed next steps start and send to
                          (default ${DEFAULT_DEMO_RECEIVER}, VictoriaMetrics' own port)
${DELIVERY_FLAGS_HELP}
Joining a Telex API (--join):
  --join URL              the API's root, e.g. https://telex-api:6443
  --token-file FILE       the platform token, read on every request (it may rotate)
  --join-ca-file FILE     PEM of the CA (or self-signed certificate) of the API's https
                          certificate; without it Node's bundled roots are trusted

Against a Kubernetes API:
  --kubeconfig FILE       run against the Kubernetes API of this kubeconfig (its current context)
  --context NAME          the kubeconfig context to use instead of the current one
  --in-cluster            run against the cluster this pod runs in (its service account)
  --project NAME          the one project that API serves (default: one per labelled namespace)

A replica of a fleet (--join; --kubeconfig or --in-cluster without --project) holds a
Lease and runs only the policies it owns by rendezvous hashing of their uids over the
live replicas:
  --replica-name NAME     this replica's name and its Lease's (default: the host name, as a
                          StatefulSet pod's is; two replicas on one host need their own)
  --lease-namespace NS    where Leases and pull positions live (default: telex-system with
                          --join; the kubeconfig context's or the pod's namespace otherwise)
  --lease-duration D      a killed replica's policies move after this (default 15s; renewed
                          every third of it)
  --advertise-url URL     where the other replicas forward series of the policies this one runs
                          (pull mode: only their delivery metrics), published on its Lease (default:
                          the ingest listener's URL, with the host name for 0.0.0.0; in a pod:
                          http://$(POD_IP):19291). In push mode any replica takes ingest; the
                          forward hop uses the ingest token

Every role:
  --data-dir DIR          the SQLite store (API), the durable buffer and pull cursors (replicas)
                          (default ${DEFAULT_DATA_DIR})
  --log-format FORMAT     text (default: time level message key=value) or json (one object per
                          line: time, level, msg, fields; errors with type and stack)
  --log-level LEVEL       debug, info (default), warn or error
`;

/** The flags of `telex serve`, for parseArgs; deploy/ tests parse the manifests' args with them. */
export const SERVE_OPTIONS = {
  "api-only": { type: "boolean", default: false },
  join: { type: "string" },
  "token-file": { type: "string" },
  "join-ca-file": { type: "string" },
  "replica-name": { type: "string" },
  "log-format": { type: "string", default: "text" },
  "log-level": { type: "string", default: "info" },
  "metrics-listen": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-duration": { type: "string" },
  "advertise-url": { type: "string" },
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
  "self-metrics-interval": { type: "string" },
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
  "demo-receiver": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
  ...QUOTA_FLAG_OPTIONS,
  ...DELIVERY_FLAG_OPTIONS,
} as const;

type ServeValues = ReturnType<typeof parseServeArgs>["values"];

function parseServeArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: SERVE_OPTIONS,
    strict: true,
    allowPositionals: false,
    tokens: true,
  });
}

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
  const { values, tokens } = parseServeArgs(args);
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const role = roleOf(values);
  checkRoleFlags(role, new Set(tokens.flatMap((t) => (t.kind === "option" ? [t.name] : []))));
  const runRole = prepare(role, values, serveLogger(values, io), io);
  // Listened for only once the flags are valid: a refused invocation leaves no handlers behind.
  return runRole(stopSignal ?? processSignal());
}

/** --demo-receiver: an http(s) URL, with --demo only. */
function demoReceiverOf(values: ServeValues): string | undefined {
  const given = values["demo-receiver"];
  if (given === undefined) return undefined;
  if (!values.demo) throw new UsageError("--demo-receiver goes with --demo");
  let url: URL | undefined;
  try {
    url = new URL(given);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.port === "")
    throw new UsageError(`--demo-receiver ${JSON.stringify(given)}: must be http://HOST:PORT`);
  return given;
}

/** The process's logger, as --log-format and --log-level say. */
function serveLogger(values: ServeValues, io: CommandIO): Logger {
  const format = values["log-format"];
  const level = values["log-level"];
  if (!isOneOf(LOG_FORMATS, format))
    throw new UsageError(`--log-format ${JSON.stringify(format)}: must be one of ${LOG_FORMATS.join(", ")}`);
  if (!isOneOf(LOG_LEVELS, level))
    throw new UsageError(`--log-level ${JSON.stringify(level)}: must be one of ${LOG_LEVELS.join(", ")}`);
  return createLogger({ format, level, write: (line) => io.stderr.write(line) });
}

function isOneOf<T extends string>(allowed: readonly T[], value: string): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** Validates the role's flags (usage errors) and returns what runs it until the stop signal. */
function prepare(
  role: ServeRole,
  values: ServeValues,
  logger: Logger,
  io: CommandIO,
): (stop: StopSignal) => Promise<number> {
  switch (role) {
    case "api-only": {
      const api = { ...apiOptions(values, logger), ...apiOnlyPreviewOptions(values) };
      return (stop) => runApiOnly(api, io, stop);
    }
    case "all-in-one": {
      const api = apiOptions(values, logger);
      const replica = replicaOptions(values, logger);
      const demoReceiver = demoReceiverOf(values);
      return (stop) => runAllInOne(api, replica, io, stop, demoReceiver);
    }
    case "join": {
      const replica = { ...replicaOptions(values, logger, true), fleet: fleetOptions(values) };
      const join = joinOptions(values);
      return (stop) => runJoined(join, replica, io, stop);
    }
    case "cluster": {
      if (values.project !== undefined && FLEET_FLAG_NAMES.some((flag) => values[flag] !== undefined))
        throw new UsageError(
          "--project runs one replica for one project's control plane; --replica-name, --lease-namespace, --lease-duration and --advertise-url are for a fleet over a cluster's labelled namespaces",
        );
      const replica = {
        ...replicaOptions(values, logger, values.project === undefined),
        fleet: fleetOptions(values),
      };
      const flags = clusterFlags(values);
      return (stop) => runAgainstCluster(flags, replica, io, stop);
    }
  }
}

function apiOptions(values: ServeValues, logger: Logger): ApiRunOptions & { readonly logger: Logger } {
  const certFile = values["tls-cert-file"];
  const keyFile = values["tls-key-file"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert-file and --tls-key-file go together");
  }
  return {
    endpointAllow: cidrFlag("endpoint-allow", values["endpoint-allow"]),
    endpointDeny: cidrFlag("endpoint-deny", values["endpoint-deny"]),
    apiListen: values["api-listen"] ?? DEFAULT_API_LISTEN,
    dataDir: values["data-dir"],
    ...(values["tokens-file"] === undefined ? {} : { tokensFile: values["tokens-file"] }),
    ...(certFile === undefined || keyFile === undefined ? {} : { tls: { certFile, keyFile } }),
    quotas: quotaOptions(values),
    logger,
  };
}

/** `fleet`: a replica of a fleet (--join; a cluster without --project). */
function replicaOptions(
  values: ServeValues,
  logger: Logger,
  fleet = false,
): ExporterRunOptions & { readonly logger: Logger } {
  const pull = pullOptions(values);
  checkIngestAccess(values, pull, fleet);
  const routeCacheBytes = bytesFlag("route-cache-bytes", values["route-cache-bytes"]);
  const statusRefreshMs = durationFlag("status-interval", values["status-interval"]);
  const selfMetricsText = values["self-metrics-interval"];
  // 0 (in any unit) turns the tenants' delivery metrics off.
  const selfMetricsIntervalMs =
    selfMetricsText !== undefined && /^0+(ms|s|m|h)?$/.test(selfMetricsText)
      ? 0
      : durationFlag("self-metrics-interval", selfMetricsText);
  const endpointAllow = cidrFlag("endpoint-allow", values["endpoint-allow"]);
  const endpointDeny = cidrFlag("endpoint-deny", values["endpoint-deny"]);
  const heapHint = heapFlagsHint();
  if (heapHint !== undefined) logger.info(heapHint);
  if (values["ingest-allow-unauthenticated"] && values["ingest-token-file"] === undefined && !pull) {
    logger.warn(
      "unauthenticated ingest (--ingest-allow-unauthenticated): anyone who can reach the ingest listener can push series for every project",
      { listen: values["ingest-listen"] },
    );
  }
  if (values["ingest-allow-unauthenticated"] && values["ingest-token-file"] === undefined && pull && fleet) {
    logger.warn(
      "unauthenticated forward listener (--ingest-allow-unauthenticated): anyone who can reach it can send delivery metrics (telex_export_*) for every project",
      { listen: values["ingest-listen"] },
    );
  }
  return {
    delivery: deliveryOptions(values),
    dataDir: values["data-dir"],
    ingestListen: values["ingest-listen"],
    // Pull mode has no ingest listener to carry /metrics: it gets one of its own.
    ...(values["metrics-listen"] === undefined && pull === undefined
      ? {}
      : { metricsListen: values["metrics-listen"] ?? DEFAULT_METRICS_LISTEN }),
    ...(values["ingest-token-file"] === undefined ? {} : { ingestTokenFile: values["ingest-token-file"] }),
    tenantLabel: values["tenant-label"],
    ...(routeCacheBytes === undefined ? {} : { routeCacheBytes }),
    ...(pull === undefined ? {} : { pull }),
    ...(statusRefreshMs === undefined ? {} : { statusRefreshMs }),
    ...(selfMetricsIntervalMs === undefined ? {} : { selfMetricsIntervalMs }),
    ...(endpointAllow.length === 0 ? {} : { endpointAllow }),
    ...(endpointDeny.length === 0 ? {} : { endpointDeny }),
    demo: values.demo,
    logger,
  };
}

const FLEET_FLAG_NAMES = ["replica-name", "lease-namespace", "lease-duration", "advertise-url"] as const;

function fleetOptions(values: ServeValues): FleetOptions {
  const name = values["replica-name"];
  if (name !== undefined) {
    const problems = dnsLabelProblems(name);
    if (problems.length > 0)
      throw new UsageError(`--replica-name ${JSON.stringify(name)}: ${problems.join("; ")}`);
  }
  const namespace = values["lease-namespace"];
  if (namespace !== undefined) {
    const problems = dnsLabelProblems(namespace);
    if (problems.length > 0)
      throw new UsageError(`--lease-namespace ${JSON.stringify(namespace)}: ${problems.join("; ")}`);
  }
  const leaseDurationMs = durationFlag("lease-duration", values["lease-duration"]);
  if (leaseDurationMs !== undefined && leaseDurationMs < 1000)
    throw new UsageError("--lease-duration must be at least 1s (a Lease counts whole seconds)");
  const advertiseUrl = values["advertise-url"];
  if (advertiseUrl !== undefined) {
    const url = URL.canParse(advertiseUrl) ? new URL(advertiseUrl) : undefined;
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.pathname !== "/")
      throw new UsageError(
        `--advertise-url ${JSON.stringify(advertiseUrl)}: must be http(s)://HOST:PORT of this replica's ingest listener`,
      );
  }
  return {
    ...(name === undefined ? {} : { replicaName: name }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(leaseDurationMs === undefined ? {} : { leaseDurationMs }),
    ...(advertiseUrl === undefined ? {} : { advertiseUrl }),
  };
}

interface ClusterFlags {
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  readonly project: string | undefined;
}

function clusterFlags(values: ServeValues): ClusterFlags {
  const project = values.project;
  const problems = project === undefined ? [] : dnsLabelProblems(project);
  if (problems.length > 0)
    throw new UsageError(`--project ${JSON.stringify(project)}: ${problems.join("; ")}`);
  return { kubeconfig: values.kubeconfig, context: values.context, project };
}

/** Starts a role; errors of its setup (files, addresses, credentials) end the command with a reason. */
async function started<T>(
  io: CommandIO,
  listen: string | undefined,
  start: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await start();
  } catch (error: unknown) {
    if (
      error instanceof ApiServerConfigError ||
      error instanceof TokensFileError ||
      error instanceof DatabaseLockedError ||
      error instanceof BufferLockedError ||
      error instanceof ClusterConnectionError
    ) {
      io.stderr.write(`telex serve: ${error.message}\n`);
      return undefined;
    }
    const code = (error as { code?: unknown }).code;
    if (listen !== undefined && (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL")) {
      io.stderr.write(`telex serve: cannot listen on ${listen}: ${(error as Error).message}\n`);
      return undefined;
    }
    throw error;
  }
}

async function runAllInOne(
  api: ApiRunOptions & { readonly logger: Logger },
  replica: ExporterRunOptions,
  io: CommandIO,
  stop: StopSignal,
  demoReceiver: string | undefined,
): Promise<number> {
  const server = await started(io, api.apiListen, () => startServer({ ...replica, ...api }));
  if (server === undefined) return EXIT.failure;
  io.stdout.write(`api: listening on ${server.api.url}\n`);
  io.stdout.write(`ui: ${server.api.url}${UI_PREFIX}\n`);
  printSources(io, server, replica);
  io.stdout.write(
    replica.demo === true && replica.pull === undefined
      ? demoNextSteps({
          server: server.api.url,
          receiver: demoReceiver ?? DEFAULT_DEMO_RECEIVER,
          dataDir: resolve(api.dataDir ?? DEFAULT_DATA_DIR),
        })
      : nextSteps(`--server ${server.api.projectUrl("my-project")} `, server.ingest?.url),
  );
  warnAboutApi(server.api, api);
  return stopOnSignal(server, stop, api.logger);
}

/**
 * --api-only: where `telex preview` finds the fleet's series, and how the replicas are asked for
 * previews (push) and delivery reports (push and pull) (src/serve/api-only.ts).
 */
function apiOnlyPreviewOptions(values: ServeValues): ApiOnlyOptions {
  const pull = pullOptions(values);
  const namespace = values["lease-namespace"];
  if (namespace !== undefined) {
    const problems = dnsLabelProblems(namespace);
    if (problems.length > 0)
      throw new UsageError(`--lease-namespace ${JSON.stringify(namespace)}: ${problems.join("; ")}`);
  }
  return {
    tenantLabel: values["tenant-label"],
    ...(pull === undefined ? {} : { pull }),
    ...(values["ingest-token-file"] === undefined ? {} : { ingestTokenFile: values["ingest-token-file"] }),
    ...(namespace === undefined ? {} : { leaseNamespace: namespace }),
  };
}

async function runApiOnly(
  api: ApiOnlyOptions & { readonly logger: Logger },
  io: CommandIO,
  stop: StopSignal,
): Promise<number> {
  const running = await started(io, api.apiListen, () => startApiOnly(api));
  if (running === undefined) return EXIT.failure;
  const { url } = running.api;
  io.stdout.write(`api: listening on ${url}\n`);
  io.stdout.write(`ui: ${url}${UI_PREFIX}\n`);
  io.stdout.write(`
Next:
  kubectl --server ${running.api.projectUrl("my-project")} apply -f examples/exportpolicy.yaml
  telex serve --join ${url} --token-file FILE    (a replica; FILE holds a platform token)
  kubectl --server ${url} get leases -n telex-system    (the replicas)
`);
  warnAboutApi(running.api, api);
  return stopOnSignal(running, stop, api.logger);
}

function warnAboutApi(
  api: { readonly url: string; readonly openAccess: boolean; readonly tls: boolean },
  options: ApiRunOptions & { readonly logger: Logger },
): void {
  const { logger } = options;
  logger.info("resource API ready", { projects: `${api.url}${PROJECT_PATH}`, dataDir: options.dataDir });
  if (!api.openAccess && !api.tls) {
    logger.warn(
      "bearer tokens over plain http: kubectl sends tokens only over https (use --tls-cert-file and --tls-key-file)",
    );
  }
  if (api.openAccess) {
    logger.warn(
      "open access: no --tokens-file, so anyone who can reach this loopback address can read and write every project",
    );
  }
}

type JoinTarget = Pick<JoinOptions, "url" | "tokenFile" | "caFile">;

function joinOptions(values: ServeValues): JoinTarget {
  const tokenFile = values["token-file"];
  const caFile = values["join-ca-file"];
  return {
    url: joinUrl(values.join ?? ""),
    ...(tokenFile === undefined ? {} : { tokenFile }),
    ...(caFile === undefined ? {} : { caFile }),
  };
}

/** `--join URL`: the controller, exporter and sources over every project of a Telex API. */
async function runJoined(
  join: JoinTarget,
  replica: ExporterRunOptions & { readonly logger: Logger },
  io: CommandIO,
  stop: StopSignal,
): Promise<number> {
  const running = await started(io, replica.ingestListen, () => startJoinedReplica({ ...replica, ...join }));
  if (running === undefined) return EXIT.failure;
  io.stdout.write(`controller: watching exportpolicies of every project at ${join.url}\n`);
  printSources(io, running, replica);
  const project = `${join.url}${PROJECT_PATH.replace("PROJECT", "my-project")}`;
  io.stdout.write(nextSteps(`--server ${project} `, running.ingest?.url));
  return stopOnSignal(running, stop, replica.logger);
}

/** `--kubeconfig`/`--in-cluster`: the controller, exporter and sources against an existing Kubernetes API. */
async function runAgainstCluster(
  flags: ClusterFlags,
  replica: ExporterRunOptions & { readonly logger: Logger },
  io: CommandIO,
  stop: StopSignal,
): Promise<number> {
  let connection: ClusterConnection;
  try {
    if (flags.kubeconfig !== undefined) {
      connection = loadKubeconfig(flags.kubeconfig, flags.context);
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
  const { project } = flags;
  const running: RunningExporter | undefined = await started(io, replica.ingestListen, () =>
    startClusterExporter({ ...replica, connection, ...(project === undefined ? {} : { project }) }),
  );
  if (running === undefined) return EXIT.failure;
  const which = project === undefined ? "every project" : `project ${project}`;
  io.stdout.write(`controller: watching exportpolicies of ${which} at ${connection.server}\n`);
  if (project === undefined) {
    io.stdout.write(`projects: namespaces labelled ${PROJECT_LABEL}=NAME (others are left alone)\n`);
  }
  printSources(io, running, replica);
  io.stdout.write(nextSteps("", running.ingest?.url));
  return stopOnSignal(running, stop, replica.logger);
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

/** Where the metrics come from: the ingest listener (and /metrics), or the store pulled from. */
function printSources(io: CommandIO, running: RunningExporter, options: ExporterRunOptions): void {
  if (options.demo === true && options.pull === undefined) {
    io.stdout.write(`demo: feeding synthetic metrics of projects ${DEMO_PROJECTS.join(", ")} every 5s\n`);
  }
  if (running.ingest !== undefined) {
    io.stdout.write(`ingest: listening on ${running.ingest.url}/api/v1/write\n`);
  } else if (options.pull !== undefined) {
    io.stdout.write(`pull: reading sources from ${options.pull.url}\n`);
  }
  if (running.forwardUrl !== undefined)
    io.stdout.write(`forward: listening on ${running.forwardUrl}${FORWARD_PATH}\n`);
  const metricsUrl = running.metricsUrl ?? running.ingest?.url;
  if (metricsUrl !== undefined) io.stdout.write(`metrics: ${metricsUrl}/metrics\n`);
}

/** kubectlFlags: what kubectl needs to reach the API (nothing when its kubeconfig already does). */
function nextSteps(kubectlFlags: string, ingestUrl: string | undefined): string {
  return `
Next:
  kubectl ${kubectlFlags}apply -f examples/exportpolicy.yaml
  kubectl ${kubectlFlags}get exportpolicies
${ingestUrl === undefined ? "" : `  point an agent's remote_write at ${ingestUrl}/api/v1/write\n`}`;
}
