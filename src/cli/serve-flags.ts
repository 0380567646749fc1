// Which flags each role of `telex serve` takes, and the checks of flag values
// that do not fit a parser (CIDRs, ingest access, pull mode). A flag a role
// does not take is a usage error naming it, never silently ignored.
import { isLoopback, parseListenAddress } from "../apiserver/index.js";
import { CidrError, parseCidr } from "../exporter/egress/index.js";
import type { PullOptions } from "../serve/index.js";
import { DELIVERY_FLAG_OPTIONS } from "./delivery-flags.js";
import { durationFlag } from "./flag-values.js";
import { UsageError } from "./io.js";
import { QUOTA_FLAG_OPTIONS } from "./quota-flags.js";

/**
 * all-in-one: the resource API and a replica over it (the default);
 * api-only: the resource API alone (--api-only);
 * join: a replica over every project of a Telex API (--join URL);
 * cluster: a replica against a Kubernetes API (--kubeconfig, --in-cluster).
 */
export type ServeRole = "all-in-one" | "api-only" | "join" | "cluster";

/** Flags of the embedded resource API. */
const API_FLAGS = [
  "api-listen",
  "tokens-file",
  "tls-cert-file",
  "tls-key-file",
  ...Object.keys(QUOTA_FLAG_OPTIONS),
];

/** Flags of a replica: exporter, controller, ingest or pull, delivery. */
const REPLICA_FLAGS = [
  "ingest-listen",
  "metrics-listen",
  "ingest-token-file",
  "ingest-allow-unauthenticated",
  "route-cache-bytes",
  "tenant-label",
  "status-interval",
  "self-metrics-interval",
  "endpoint-allow",
  "endpoint-deny",
  "source-url",
  "pull-interval",
  "pull-lag",
  "pull-mode",
  "demo",
  "demo-receiver",
  ...Object.keys(DELIVERY_FLAG_OPTIONS),
];

/** Replica flags --api-only takes too: its egress policy (test-sink) and where previews come from. */
const API_ONLY_FLAGS = [
  "endpoint-allow",
  "endpoint-deny",
  "source-url",
  "pull-mode",
  "pull-interval",
  "tenant-label",
  "ingest-token-file",
  "lease-namespace",
];

/** Flags of a replica of a fleet: --join and the cluster roles. */
const FLEET_FLAGS = ["replica-name", "lease-namespace", "lease-duration", "advertise-url"];
const JOIN_FLAGS = ["join", "token-file", "join-ca-file", ...FLEET_FLAGS];
const CLUSTER_FLAGS = ["kubeconfig", "context", "in-cluster", "project", ...FLEET_FLAGS];

const ROLE_FLAGS: Readonly<Record<ServeRole, ReadonlySet<string>>> = {
  "all-in-one": new Set([...API_FLAGS, ...REPLICA_FLAGS]),
  // The egress flags: `telex test-sink` is served by the API; the pull, tenant, ingest token and Lease
  // flags: where `telex preview` finds the fleet's series (src/serve/api-only.ts).
  "api-only": new Set(["api-only", ...API_FLAGS, ...API_ONLY_FLAGS]),
  join: new Set([...JOIN_FLAGS, ...REPLICA_FLAGS]),
  cluster: new Set([...CLUSTER_FLAGS, ...REPLICA_FLAGS]),
};
/** Every role takes these. */
const COMMON_FLAGS = new Set(["data-dir", "help", "log-format", "log-level"]);

const EMBEDDED_API =
  "--api-listen, --tokens-file, --tls-*, --max-*-per-project, --max-leases and --max-config-maps configure the embedded API";

interface RoleSelectors {
  readonly "api-only"?: boolean | undefined;
  readonly join?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly "in-cluster"?: boolean | undefined;
}

/** The role the command line asks for; two roles at once is a usage error. */
export function roleOf(values: RoleSelectors): ServeRole {
  const cluster = values.kubeconfig !== undefined || values["in-cluster"] === true;
  const asked: [string, boolean][] = [
    ["--api-only", values["api-only"] === true],
    ["--join", values.join !== undefined],
    [values.kubeconfig !== undefined ? "--kubeconfig" : "--in-cluster", cluster],
  ];
  const chosen = asked.filter(([, on]) => on).map(([flag]) => flag);
  if (chosen.length > 1) {
    throw new UsageError(
      `${chosen.join(" and ")} exclude each other: a process runs the API alone (--api-only), or a replica that follows a Telex API (--join) or a Kubernetes API (--kubeconfig, --in-cluster)`,
    );
  }
  if (values.kubeconfig !== undefined && values["in-cluster"] === true) {
    throw new UsageError("--kubeconfig and --in-cluster exclude each other");
  }
  if (values["api-only"] === true) return "api-only";
  if (values.join !== undefined) return "join";
  return cluster ? "cluster" : "all-in-one";
}

/** Refuses the flags given that the role does not take, saying why. */
export function checkRoleFlags(role: ServeRole, given: ReadonlySet<string>): void {
  const refused = [...given].filter((flag) => !COMMON_FLAGS.has(flag) && !ROLE_FLAGS[role].has(flag));
  if (refused.length === 0) return;
  const list = refused.map((flag) => `--${flag}`).join(", ");
  const api = refused.filter((flag) => API_FLAGS.includes(flag));
  if (api.length > 0 && role === "cluster") {
    throw new UsageError(
      `${EMBEDDED_API}, which does not run with --kubeconfig or --in-cluster (a cluster's quotas are its ResourceQuotas): ${list}`,
    );
  }
  if (api.length > 0 && role === "join") {
    throw new UsageError(
      `${EMBEDDED_API}, which does not run with --join (the API at the URL is configured where it runs): ${list}`,
    );
  }
  if (role === "api-only" && refused.some((flag) => REPLICA_FLAGS.includes(flag))) {
    throw new UsageError(
      `--api-only runs the resource API alone; these configure the exporter, controller, ingest or pull, which it does not run: ${list}`,
    );
  }
  if (refused.some((flag) => JOIN_FLAGS.includes(flag))) {
    throw new UsageError(`--token-file and --join-ca-file go with --join URL: ${list}`);
  }
  if (refused.some((flag) => CLUSTER_FLAGS.includes(flag))) {
    throw new UsageError(`--context and --project go with --kubeconfig or --in-cluster: ${list}`);
  }
  throw new UsageError(`not used by this role of telex serve: ${list}`);
}

/** A repeatable, comma-separated list of CIDRs (or single addresses), each checked. */
export function cidrFlag(name: string, values: readonly string[] | undefined): string[] {
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
 * loopback it needs a token, unless open access is asked for by name. A
 * pull-mode replica takes no pushes, but in a fleet (`fleet`) it listens on
 * --ingest-listen for its peers' delivery metrics, which feed customers'
 * sinks too: the same rule.
 */
export function checkIngestAccess(
  values: IngestAccessFlags,
  pull: PullOptions | undefined,
  fleet = false,
): void {
  if ((pull !== undefined && !fleet) || values["ingest-token-file"] !== undefined) return;
  if (values["ingest-allow-unauthenticated"]) return;
  let host: string;
  try {
    host = parseListenAddress(values["ingest-listen"]).host;
  } catch (error: unknown) {
    throw new UsageError(`--ingest-listen: ${(error as Error).message}`);
  }
  if (isLoopback(host)) return;
  if (pull !== undefined)
    throw new UsageError(
      `refusing an unauthenticated forward listener on ${values["ingest-listen"]}: a pull-mode replica of a fleet takes the other replicas' delivery metrics there; pass --ingest-token-file FILE (the same on every replica), or --ingest-allow-unauthenticated`,
    );
  throw new UsageError(
    `refusing unauthenticated ingest on ${values["ingest-listen"]}: pass --ingest-token-file FILE (agents send its token as a bearer token), or --ingest-allow-unauthenticated to accept pushes from anyone who can reach it`,
  );
}

interface PullFlags {
  readonly "source-url"?: string | undefined;
  readonly "pull-interval"?: string | undefined;
  readonly "pull-lag"?: string | undefined;
  readonly "pull-mode"?: string | undefined;
}

export function pullOptions(values: PullFlags): PullOptions | undefined {
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

/** --join's URL: an absolute http(s) URL, kept without a trailing slash. */
export function joinUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--join: ${JSON.stringify(value)} is not a URL (e.g. https://telex-api:6443)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`--join: ${JSON.stringify(value)} must be an http or https URL`);
  return value.replace(/\/+$/, "");
}
