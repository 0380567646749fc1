// URL layout. Every project has its own Kubernetes-shaped API under
//   /apis/resourcemanager.miloapis.com/v1alpha1/projects/{project}/control-plane
// and the project `-` is the controller's read-only view across projects.
// Everything else at the root is the platform plane: the objects of the
// service itself (the replicas' Leases and ConfigMaps), outside every project, for platform
// principals only (see auth/authorizer.ts).

export const PROJECTS_PREFIX = "/apis/resourcemanager.miloapis.com/v1alpha1/projects/";
export const CONTROL_PLANE = "control-plane";
/** The project segment of the cross-project view; no project name can be `-`. */
export const ALL_PROJECTS = "-";

/**
 * The platform plane's key where a project's name would be: its objects are
 * stored under this project key, which no project can have (project names are
 * DNS labels), and routes of the platform plane carry it as their project.
 * Only platform resources are served there (resources.ts), so none of its
 * objects shows in a project or in the cross-project view.
 */
export const PLATFORM = "-platform";

/** The namespace the platform plane has: fixed, always there, not stored (see namespace-lifecycle.ts). */
export const PLATFORM_NAMESPACE = "telex-system";

export function controlPlanePath(project: string): string {
  return `${PROJECTS_PREFIX}${project}/${CONTROL_PLANE}`;
}

/** A route's `project`: a project's name, undefined for the cross-project view, or PLATFORM. */
export type Route =
  | { readonly kind: "health" }
  | { readonly kind: "version"; readonly project: string | undefined }
  | { readonly kind: "apiVersions"; readonly project: string | undefined }
  | { readonly kind: "apiGroups"; readonly project: string | undefined }
  | { readonly kind: "apiGroup"; readonly project: string | undefined; readonly group: string }
  | {
      readonly kind: "resourceList";
      readonly project: string | undefined;
      readonly group: string;
      readonly version: string;
    }
  | { readonly kind: "openapiRoot"; readonly project: string | undefined }
  | {
      readonly kind: "openapiGroupVersion";
      readonly project: string | undefined;
      readonly group: string;
      readonly version: string;
    }
  | {
      readonly kind: "resource";
      readonly project: string | undefined;
      readonly group: string;
      readonly version: string;
      readonly plural: string;
      readonly namespace: string | undefined;
      readonly name: string | undefined;
      readonly subresource: string | undefined;
    }
  | { readonly kind: "notFound" };

const HEALTH = new Set(["/healthz", "/readyz", "/livez"]);
const HEALTH_CHECK = /^\/(healthz|readyz|livez)\/[a-z0-9-]+$/;

/** Project names are DNS labels; `-` is the cross-project view. */
const PROJECT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Where a plane's paths start: a project's control plane, the cross-project view, or the root. */
export function planePath(project: string | undefined): string {
  return project === PLATFORM ? "" : controlPlanePath(project ?? ALL_PROJECTS);
}

export function parseRoute(pathname: string): Route {
  // /readyz/NAME runs one check, as kube-apiserver's.
  if (HEALTH.has(pathname) || HEALTH_CHECK.test(pathname)) return { kind: "health" };
  if (pathname === "/version") return { kind: "version", project: undefined };
  if (!pathname.startsWith(PROJECTS_PREFIX)) return routeParts(PLATFORM, pathname.split("/").slice(1));
  const rest = pathname.slice(PROJECTS_PREFIX.length).split("/");
  const [rawProject = "", plane, ...segments] = rest;
  if (plane !== CONTROL_PLANE) return { kind: "notFound" };
  let projectName: string;
  try {
    projectName = decodeURIComponent(rawProject);
  } catch {
    return { kind: "notFound" };
  }
  if (projectName !== ALL_PROJECTS && !PROJECT_NAME.test(projectName)) return { kind: "notFound" };
  const project = projectName === ALL_PROJECTS ? undefined : projectName;
  return routeParts(project, segments);
}

/** The route below a plane's prefix, from the path's segments (a trailing slash is ignored). */
function routeParts(project: string | undefined, segments: readonly string[]): Route {
  const parts = segments.filter((s, i) => s !== "" || i < segments.length - 1).map(safeDecode);
  if (parts.some((p) => p === undefined)) return { kind: "notFound" };
  return routeWithin(project, parts as string[]);
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function routeWithin(project: string | undefined, parts: readonly string[]): Route {
  const [first, second, third, fourth, fifth] = parts;
  if (parts.length === 1 && (first === "healthz" || first === "readyz" || first === "livez"))
    return { kind: "health" };
  if (parts.length === 1 && first === "version") return { kind: "version", project };
  if (first === "openapi" && second === "v3") {
    if (parts.length === 2) return { kind: "openapiRoot", project };
    if (third === "api" && fourth !== undefined && parts.length === 4) {
      return { kind: "openapiGroupVersion", project, group: "", version: fourth };
    }
    if (third === "apis" && fourth !== undefined && fifth !== undefined && parts.length === 5) {
      return { kind: "openapiGroupVersion", project, group: fourth, version: fifth };
    }
    return { kind: "notFound" };
  }
  if (first === "api") {
    if (parts.length === 1) return { kind: "apiVersions", project };
    if (second === undefined) return { kind: "notFound" };
    if (parts.length === 2) return { kind: "resourceList", project, group: "", version: second };
    return resourceRoute(project, "", second, parts.slice(2));
  }
  if (first === "apis") {
    if (parts.length === 1) return { kind: "apiGroups", project };
    if (second === undefined) return { kind: "notFound" };
    if (parts.length === 2) return { kind: "apiGroup", project, group: second };
    if (third === undefined) return { kind: "notFound" };
    if (parts.length === 3) return { kind: "resourceList", project, group: second, version: third };
    return resourceRoute(project, second, third, parts.slice(3));
  }
  return { kind: "notFound" };
}

/** `{plural}[/{name}[/{sub}]]` or `namespaces/{ns}/{plural}[/{name}[/{sub}]]`, as Kubernetes routes them. */
function resourceRoute(
  project: string | undefined,
  group: string,
  version: string,
  tail: readonly string[],
): Route {
  const base = { kind: "resource" as const, project, group, version };
  const namespaced =
    group === "" &&
    tail[0] === "namespaces" &&
    tail.length >= 3 &&
    tail[2] !== "status" &&
    tail[2] !== "finalize";
  if (namespaced || (group !== "" && tail[0] === "namespaces" && tail.length >= 3)) {
    const [, namespace, plural, name, subresource, ...extra] = tail;
    if (extra.length > 0 || plural === undefined) return { kind: "notFound" };
    return { ...base, plural, namespace, name, subresource };
  }
  const [plural, name, subresource, ...extra] = tail;
  if (extra.length > 0 || plural === undefined) return { kind: "notFound" };
  return { ...base, plural, namespace: undefined, name, subresource };
}
