// Who may do what: admins do everything in their projects, viewers read
// ExportPolicies, Events and Namespaces (never Secrets). A project a
// principal has no access to is refused before anything is looked up, with
// the same message whether the object (or the project) exists or not. The
// platform plane (the replicas' Leases and ConfigMaps) is for platform principals only —
// tokens with `projects: ["*"]`: admins write there, viewers read; a tenant's
// token gets 403 for anything in it, discovery included.
import { PLATFORM } from "../paths.js";
import type { Principal } from "./tokens.js";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

export interface ResourceAttributes {
  /** Undefined: the cross-project view; PLATFORM: the platform plane. */
  readonly project: string | undefined;
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: string;
}

const READ_VERBS = new Set(["get", "list", "watch"]);

/** What a viewer may read, by API group. */
const VIEWER_READABLE_BY_GROUP: Readonly<Record<string, readonly string[]>> = {
  "telemetry.miloapis.com": ["exportpolicies"],
  "": ["events", "namespaces"],
};
const VIEWER_READABLE = new Set(
  Object.entries(VIEWER_READABLE_BY_GROUP).flatMap(([group, resources]) =>
    resources.map((r) => `${group}/${r}`),
  ),
);

/** Read-only subresources besides status, listed in rules reviews (`authorize` allows any of a readable resource). */
const READABLE_SUBRESOURCES: Readonly<Record<string, readonly string[]>> = {
  exportpolicies: ["exportpolicies/delivery", "exportpolicies/preview"],
};

/** Open access for development: an administrator of every project. */
export const OPEN_ACCESS: Principal = { user: "system:anonymous", projects: "*", role: "admin" };

/** Whether a principal may use a route's plane: its project, the cross-project view (undefined) or PLATFORM. */
export function canAccessProject(principal: Principal, project: string | undefined): boolean {
  if (principal.projects === "*") return true;
  return project !== undefined && project !== PLATFORM && principal.projects.has(project);
}

function noAccessReason(project: string | undefined): string {
  if (project === undefined) return "the cross-project view needs access to every project";
  if (project === PLATFORM) return 'the platform plane is for platform principals (projects: ["*"])';
  return "no access to this project";
}

export function authorize(principal: Principal, attributes: ResourceAttributes): Decision {
  if (!canAccessProject(principal, attributes.project)) {
    return { allowed: false, reason: noAccessReason(attributes.project) };
  }
  if (attributes.project === PLATFORM) {
    if (principal.role === "admin") return { allowed: true, reason: "admin of the platform" };
    if (READ_VERBS.has(attributes.verb)) return { allowed: true, reason: "platform viewers may read" };
    return { allowed: false, reason: "platform viewers may only read" };
  }
  if (attributes.project === undefined && !READ_VERBS.has(attributes.verb)) {
    return { allowed: false, reason: "the cross-project view is read-only" };
  }
  if (principal.role === "admin") return { allowed: true, reason: "admin of the project" };
  if (READ_VERBS.has(attributes.verb) && VIEWER_READABLE.has(`${attributes.group}/${attributes.resource}`)) {
    return { allowed: true, reason: "viewers may read this resource" };
  }
  return { allowed: false, reason: "viewers may only read exportpolicies, events and namespaces" };
}

/** Kubernetes' wording: `User "alice" cannot list resource "secrets" in API group "" in the namespace "default"`. */
export function forbiddenMessage(principal: Principal, attributes: ResourceAttributes): string {
  const qualified =
    attributes.group === "" ? attributes.resource : `${attributes.resource}.${attributes.group}`;
  const subject = attributes.name === undefined ? qualified : `${qualified} "${attributes.name}"`;
  const resource =
    attributes.subresource === undefined
      ? attributes.resource
      : `${attributes.resource}/${attributes.subresource}`;
  const where = [
    attributes.namespace === undefined ? "" : ` in the namespace "${attributes.namespace}"`,
    attributes.project === undefined
      ? " across projects"
      : attributes.project === PLATFORM
        ? " of the platform plane"
        : ` of project "${attributes.project}"`,
  ].join("");
  return `${subject} is forbidden: User "${principal.user}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.group}"${where}`;
}

export interface ResourceRule {
  readonly verbs: readonly string[];
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
}

/** The rules `authorize` applies, listed for a SelfSubjectRulesReview (`kubectl auth can-i --list`). */
export function rulesFor(principal: Principal, project: string | undefined): ResourceRule[] {
  const reviews: ResourceRule = {
    verbs: ["create"],
    apiGroups: ["authorization.k8s.io"],
    resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
  };
  if (!canAccessProject(principal, project)) return [reviews];
  const read = [...READ_VERBS];
  if (project === undefined || (project === PLATFORM && principal.role !== "admin"))
    return [reviews, { verbs: read, apiGroups: ["*"], resources: ["*"] }];
  if (principal.role === "admin") return [reviews, { verbs: ["*"], apiGroups: ["*"], resources: ["*"] }];
  return [
    reviews,
    ...Object.entries(VIEWER_READABLE_BY_GROUP).map(([group, resources]) => ({
      verbs: read,
      apiGroups: [group],
      resources: resources.flatMap((r) => [r, `${r}/status`, ...(READABLE_SUBRESOURCES[r] ?? [])]),
    })),
  ];
}
