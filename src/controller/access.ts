// What a replica asks of a Kubernetes API, in RBAC's terms: (API group,
// resource[/subresource], verb). These lists are what the deploy/ RBAC is
// checked against (src/deploy.test.ts): CONTROLLER_API_ACCESS (and
// NAMESPACE_PROJECTS_ACCESS) cluster-wide, a fleet's FLEET_LEASE_ACCESS in its
// lease namespace (FLEET_API_ACCESS, with PULL_POSITIONS_ACCESS, in pull
// mode). access.test.ts drives the controller through a policy's
// whole life, and a fleet replica's membership and pull positions through
// theirs, against a real API, recording every request, to prove each list is
// exactly what the code calls: a new call without a new entry fails there,
// and so does an entry nothing uses any more.
import { GROUP, PLURAL } from "../api/index.js";

export interface ApiAccess {
  /** "" for the core group. */
  readonly group: string;
  /** The plural resource, with `/subresource` when there is one. */
  readonly resource: string;
  readonly verb: string;
}

/**
 * Every (group, resource, verb) `telex serve --kubeconfig|--in-cluster` uses.
 * The collections are listed across all namespaces (the informers), so the
 * grant must be cluster-wide (a ClusterRole); nothing is read by name (no `get`).
 */
export const CONTROLLER_API_ACCESS: readonly ApiAccess[] = [
  // The start-up check (one list, limit=1) and the informer's relist; then its watch.
  { group: GROUP, resource: PLURAL, verb: "list" },
  { group: GROUP, resource: PLURAL, verb: "watch" },
  // Adding and removing the controller's finalizer (merge patch of metadata.finalizers).
  { group: GROUP, resource: PLURAL, verb: "patch" },
  // The Ready conditions (merge patch of the status subresource).
  { group: GROUP, resource: `${PLURAL}/status`, verb: "patch" },
  // The basic-auth credentials sinks reference: read from the informer's cache only.
  { group: "", resource: "secrets", verb: "list" },
  { group: "", resource: "secrets", verb: "watch" },
  // One Event per Ready transition of a policy or a sink.
  { group: "", resource: "events", verb: "create" },
];

/**
 * What `--kubeconfig|--in-cluster` without `--project` (every labelled
 * namespace a project, see namespace-projects.ts) asks besides: the
 * namespaces and their project labels.
 */
export const NAMESPACE_PROJECTS_ACCESS: readonly ApiAccess[] = [
  { group: "", resource: "namespaces", verb: "list" },
  { group: "", resource: "namespaces", verb: "watch" },
];

/**
 * What a replica of a fleet (`--join`, or `--kubeconfig|--in-cluster` without
 * `--project`) asks of the lease namespace (`--lease-namespace`) for its
 * membership (src/fleet/membership.ts). Every request names that namespace, so
 * a Role there grants it; nothing of it is cluster-wide.
 */
export const FLEET_LEASE_ACCESS: readonly ApiAccess[] = [
  // The informer over the replicas' Leases: who is alive.
  { group: "coordination.k8s.io", resource: "leases", verb: "list" },
  { group: "coordination.k8s.io", resource: "leases", verb: "watch" },
  // Its own Lease read back at start and after a conflict, created when missing, renewed with PUT
  // (resourceVersion: a second replica of the same name gets 409), deleted on a graceful stop.
  { group: "coordination.k8s.io", resource: "leases", verb: "get" },
  { group: "coordination.k8s.io", resource: "leases", verb: "create" },
  { group: "coordination.k8s.io", resource: "leases", verb: "update" },
  { group: "coordination.k8s.io", resource: "leases", verb: "delete" },
];

/** What a fleet replica in pull mode asks of the lease namespace besides: the pull positions (src/fleet/positions.ts). */
export const PULL_POSITIONS_ACCESS: readonly ApiAccess[] = [
  // The informer over every replica's position ConfigMaps: the furthest position wins.
  { group: "", resource: "configmaps", verb: "list" },
  { group: "", resource: "configmaps", verb: "watch" },
  // Its own ConfigMaps: merge-patched each flush, created on the first one (the patch got 404).
  { group: "", resource: "configmaps", verb: "patch" },
  { group: "", resource: "configmaps", verb: "create" },
  // Those of a replica that left, once none of their positions is still needed.
  { group: "", resource: "configmaps", verb: "delete" },
];

/** Everything a fleet replica in pull mode asks of the lease namespace: what a Role there grants. */
export const FLEET_API_ACCESS: readonly ApiAccess[] = [...FLEET_LEASE_ACCESS, ...PULL_POSITIONS_ACCESS];

/** `verb resource` per group, e.g. `list,watch,patch exportpolicies.telemetry.miloapis.com`, for messages. */
export function describeAccess(access: readonly ApiAccess[] = CONTROLLER_API_ACCESS): string {
  const verbs = new Map<string, string[]>();
  for (const { group, resource, verb } of access) {
    const [plural = resource, sub] = resource.split("/");
    const name = `${plural}${group === "" ? "" : `.${group}`}${sub === undefined ? "" : `/${sub}`}`;
    verbs.set(name, [...(verbs.get(name) ?? []), verb]);
  }
  return [...verbs].map(([name, list]) => `${list.join(",")} ${name}`).join("; ");
}

/**
 * The RBAC attributes of one request, the way kube-apiserver derives them:
 * `/api/v1/...` is the core group, `/apis/GROUP/VERSION/...` a named one; an
 * optional `namespaces/NS/` prefix; then resource, name and subresource. GET
 * of a collection is `list` (`watch` with watch=true), of an object `get`.
 */
export function requestAccess(method: string, pathWithQuery: string, watch = false): ApiAccess {
  const [path = "", search = ""] = pathWithQuery.split("?");
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter((part) => part !== "");
  let rest: string[];
  let group: string;
  if (parts[0] === "api" && parts.length >= 2) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1] ?? "";
    rest = parts.slice(3);
  } else {
    throw new Error(`not a Kubernetes resource path: ${pathWithQuery}`);
  }
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  const [plural, name, subresource] = rest;
  if (plural === undefined) throw new Error(`no resource in ${pathWithQuery}`);
  const resource = subresource === undefined ? plural : `${plural}/${subresource}`;
  const isWatch = watch || query.get("watch") === "true" || query.get("watch") === "1";
  const verb = verbOf(method.toUpperCase(), name !== undefined, isWatch);
  return { group, resource, verb };
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      return watch ? "watch" : named ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      throw new Error(`no RBAC verb for HTTP ${method}`);
  }
}

/** A stable key for sets and sorting. */
export function accessKey({ group, resource, verb }: ApiAccess): string {
  return `${group}|${resource}|${verb}`;
}
