// What the controller asks of a Kubernetes API, in RBAC's terms: (API group,
// resource[/subresource], verb). CONTROLLER_API_ACCESS is the single list the
// deploy/ RBAC is checked against (src/deploy.test.ts), and
// access.test.ts drives the controller through a policy's whole life against a
// real API, recording every request, to prove the list is exactly what it
// calls: a new call without a new entry fails there, and so does an entry
// nothing uses any more.
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
