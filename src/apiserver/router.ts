// One request from URL to handler: authentication, authorization (before
// anything is looked up), the project's bootstrap, then the verb. The same
// path serves a project's control plane, the cross-project view and the
// platform plane (paths.ts); only the resources and who may use them differ.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorField } from "../util/index.js";
import {
  OPEN_ACCESS,
  authorize,
  canAccessProject,
  forbiddenMessage,
  type ResourceAttributes,
} from "./auth/authorizer.js";
import type { Principal } from "./auth/tokens.js";
import type { RequestContext, ServerContext } from "./context.js";
import { DELIVERY_SUBRESOURCE, deliveryNotServed, handleDelivery, hasDelivery } from "./delivery.js";
import { PREVIEW_SUBRESOURCE, handlePreview, previewNotServed } from "./preview.js";
import { SINK_TEST_SUBRESOURCE, handleSinkTest, sinkTestNotServed } from "./sink-test.js";
import { isUiPath, serveUi } from "./ui/ui.js";
import {
  ACCESS_REVIEW_RESOURCE,
  AUTHENTICATION_GROUP,
  AUTHORIZATION_GROUP,
  RULES_REVIEW_RESOURCE,
  SELF_SUBJECT_REVIEW_RESOURCE,
} from "./discovery.js";
import { handleAccessReview, handleRulesReview } from "./handlers/access-review.js";
import { handleSelfSubjectReview } from "./handlers/self-subject-review.js";
import { handleDiscovery } from "./handlers/discovery.js";
import { handleGet, handleList } from "./handlers/read.js";
import { handleWatch } from "./handlers/watch.js";
import {
  handleCreate,
  handleDelete,
  handleDeleteCollection,
  handlePatch,
  handleUpdate,
} from "./handlers/write.js";
import { negotiate, queryBool, sendError } from "./http-io.js";
import { PLATFORM, parseRoute, type Route } from "./paths.js";
import { exportPolicies, findResource } from "./resources.js";
import { ApiError, errors } from "./status.js";
import type { Target, WriteTarget } from "./target.js";

type ResourceRoute = Extract<Route, { kind: "resource" }>;

export async function handleRequest(
  server: ServerContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    await dispatch(server, request, response);
  } catch (error: unknown) {
    if (error instanceof ApiError) {
      sendError(response, error);
    } else {
      server.logger.error("request failed", {
        method: request.method,
        path: pathOf(request),
        error: errorField(error),
      });
      sendError(response, errors.internal("the server could not complete the request"));
    }
  }
}

/** The request target as a URL; one that does not parse (`//`, `http://[`) is a 400, not a TypeError. */
function requestUrl(request: IncomingMessage): URL {
  try {
    return new URL(request.url ?? "/", "http://telex.invalid");
  } catch {
    throw errors.badRequest(`invalid request target ${JSON.stringify((request.url ?? "").slice(0, 200))}`);
  }
}

function pathOf(request: IncomingMessage): string {
  return (request.url ?? "/").split("?")[0] ?? "/";
}

async function dispatch(
  server: ServerContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = requestUrl(request);
  // The status page's files hold no data; its data comes through the routes below (ui/ui.ts).
  if (isUiPath(url.pathname)) {
    serveUi(request, response, url.pathname);
    return;
  }
  const route = parseRoute(url.pathname);
  if (route.kind === "health") {
    // Within a control plane's path too (…/control-plane/readyz): the server's own health.
    const at = url.pathname.search(/\/(healthz|readyz|livez)(\/|$)/);
    const answer = server.health.answer(`${url.pathname.slice(Math.max(0, at))}${url.search}`);
    response.writeHead(answer?.status ?? 404, { "Content-Type": "text/plain; charset=utf-8" });
    response.end(answer?.body ?? "404 page not found\n");
    return;
  }
  const principal = authenticate(server, request);
  if (route.kind === "notFound")
    throw new ApiError("NotFound", "the server could not find the requested resource");
  const base = { server, request, response, query: url.searchParams, principal };
  if (route.kind !== "resource") {
    if (route.project !== undefined && !canAccessProject(principal, route.project)) {
      throw errors.forbidden(`forbidden: User "${principal.user}" cannot get path "${url.pathname}"`);
    }
    if (request.method !== "GET" && request.method !== "HEAD")
      throw errors.methodNotAllowed(request.method ?? "", url.pathname);
    handleDiscovery({ ...base, format: "json" }, route);
    return;
  }
  // Reviews answer for the caller; every authenticated user may ask.
  if (
    route.group === AUTHORIZATION_GROUP &&
    (route.plural === ACCESS_REVIEW_RESOURCE || route.plural === RULES_REVIEW_RESOURCE)
  ) {
    if (request.method !== "POST") throw errors.methodNotAllowed(request.method ?? "", route.plural);
    const review = route.plural === ACCESS_REVIEW_RESOURCE ? handleAccessReview : handleRulesReview;
    await review({ ...base, format: "json" }, route.project);
    return;
  }
  // `kubectl auth whoami`: every authenticated user may ask about themselves.
  if (
    route.group === AUTHENTICATION_GROUP &&
    route.version === "v1" &&
    route.plural === SELF_SUBJECT_REVIEW_RESOURCE &&
    route.name === undefined &&
    route.namespace === undefined
  ) {
    if (request.method !== "POST") throw errors.methodNotAllowed(request.method ?? "", route.plural);
    await handleSelfSubjectReview({ ...base, format: "json" });
    return;
  }
  const verb = verbOf(request.method ?? "", route, queryBool(url.searchParams, "watch"));
  authorizeRoute(principal, route, verb);
  const resource = findResource(route.project, route.group, route.version, route.plural);
  if (resource === undefined)
    throw new ApiError("NotFound", "the server could not find the requested resource");
  if (route.namespace !== undefined && !resource.namespaced)
    throw new ApiError("NotFound", "the server could not find the requested resource");
  const target: Target = { resource, project: route.project, namespace: route.namespace };
  if (route.subresource === DELIVERY_SUBRESOURCE && hasDelivery(resource) && route.name !== undefined) {
    await serveDelivery(
      { ...base, format: negotiate(request.headers.accept).format },
      verb,
      target,
      route.name,
    );
    return;
  }
  if (
    route.subresource === SINK_TEST_SUBRESOURCE &&
    resource === exportPolicies &&
    route.name !== undefined
  ) {
    await serveSinkTest(
      { ...base, format: negotiate(request.headers.accept).format },
      verb,
      target,
      route.name,
    );
    return;
  }
  if (route.subresource === PREVIEW_SUBRESOURCE && resource === exportPolicies && route.name !== undefined) {
    await servePreview(
      { ...base, format: negotiate(request.headers.accept).format },
      request.method ?? "",
      target,
      route.name,
    );
    return;
  }
  if (route.subresource !== undefined && !(route.subresource === "status" && resource.hasStatus)) {
    throw new ApiError("NotFound", "the server could not find the requested resource");
  }
  const ctx: RequestContext = { ...base, format: negotiate(request.headers.accept).format };
  if (route.project === undefined) {
    if (verb !== "list" && verb !== "watch")
      throw errors.methodNotAllowed(request.method ?? "", "the cross-project view (list and watch only)");
    if (verb === "watch") handleWatch(ctx, target);
    else handleList(ctx, target);
    return;
  }
  // The platform plane is no project: nothing to bootstrap (its namespace is fixed).
  if (route.project !== PLATFORM) server.registry.ensureProject(route.project);
  const writeTarget: WriteTarget = { ...target, project: route.project };
  await runVerb(ctx, verb, writeTarget, route);
}

/** The read-only `delivery` subresource: get only, per project and namespace. */
async function serveDelivery(ctx: RequestContext, verb: string, target: Target, name: string): Promise<void> {
  const provider = ctx.server.delivery;
  if (provider === undefined) throw deliveryNotServed();
  if (verb !== "get")
    throw errors.methodNotAllowed(
      ctx.request.method ?? "",
      `${target.resource.plural}/${DELIVERY_SUBRESOURCE}`,
    );
  if (target.project === undefined)
    throw new ApiError("NotFound", "delivery counters are served per project, not in the cross-project view");
  if (target.namespace === undefined)
    throw new ApiError("NotFound", "the server could not find the requested resource");
  ctx.server.registry.ensureProject(target.project);
  await handleDelivery(ctx, provider, { ...target, project: target.project }, name);
}

/** The `sinktest` subresource: create only, per project and namespace (see sink-test.ts). */
async function serveSinkTest(ctx: RequestContext, verb: string, target: Target, name: string): Promise<void> {
  const tester = ctx.server.sinkTest;
  if (tester === undefined) throw sinkTestNotServed();
  if (verb !== "create")
    throw errors.methodNotAllowed(
      ctx.request.method ?? "",
      `${target.resource.plural}/${SINK_TEST_SUBRESOURCE}`,
    );
  if (target.project === undefined || target.project === PLATFORM || target.namespace === undefined)
    throw new ApiError("NotFound", "the server could not find the requested resource");
  ctx.server.registry.ensureProject(target.project);
  await handleSinkTest(ctx, tester, { ...target, project: target.project }, name);
}

/** The `preview` subresource: POST only (authorized as get), per project and namespace (see preview.ts). */
async function servePreview(
  ctx: RequestContext,
  method: string,
  target: Target,
  name: string,
): Promise<void> {
  const previewer = ctx.server.preview;
  if (previewer === undefined) throw previewNotServed();
  if (method !== "POST")
    throw errors.methodNotAllowed(method, `${target.resource.plural}/${PREVIEW_SUBRESOURCE}`);
  if (target.project === undefined || target.project === PLATFORM || target.namespace === undefined)
    throw new ApiError("NotFound", "the server could not find the requested resource");
  ctx.server.registry.ensureProject(target.project);
  await handlePreview(ctx, previewer, { ...target, project: target.project }, name);
}

async function runVerb(
  ctx: RequestContext,
  verb: string,
  target: WriteTarget,
  route: ResourceRoute,
): Promise<void> {
  const { name } = route;
  const subresource = route.subresource === "status" ? "status" : undefined;
  if (target.resource.namespaced && target.namespace === undefined && verb !== "list" && verb !== "watch") {
    throw new ApiError("NotFound", "the server could not find the requested resource");
  }
  switch (verb) {
    case "get":
      handleGet(ctx, target, name ?? "");
      return;
    case "list":
      handleList(ctx, target);
      return;
    case "watch":
      handleWatch(ctx, target);
      return;
    case "create":
      await handleCreate(ctx, target);
      return;
    case "update":
      await handleUpdate(ctx, target, name ?? "", subresource);
      return;
    case "patch":
      await handlePatch(ctx, target, name ?? "", subresource);
      return;
    case "delete":
      if (subresource !== undefined)
        throw errors.methodNotAllowed("DELETE", `${target.resource.plural}/status`);
      await handleDelete(ctx, target, name ?? "");
      return;
    case "deletecollection":
      await handleDeleteCollection(ctx, target);
      return;
    default:
      throw errors.methodNotAllowed(ctx.request.method ?? "", target.resource.plural);
  }
}

/** 403 unless the principal may use the verb on what the route names (before anything is looked up). */
export function authorizeRoute(principal: Principal, route: ResourceRoute, verb: string): void {
  const attributes: ResourceAttributes = {
    project: route.project,
    verb,
    group: route.group,
    resource: route.plural,
    ...(route.subresource === undefined ? {} : { subresource: route.subresource }),
    ...(route.namespace === undefined ? {} : { namespace: route.namespace }),
    ...(route.name === undefined ? {} : { name: route.name }),
  };
  if (!authorize(principal, attributes).allowed)
    throw errors.forbidden(forbiddenMessage(principal, attributes));
}

function verbOf(method: string, route: ResourceRoute, watch: boolean): string {
  const named = route.name !== undefined;
  switch (method) {
    case "GET":
    case "HEAD":
      return named ? "get" : watch ? "watch" : "list";
    case "POST":
      // Kubernetes creates on a named object's subresource (pods/eviction, serviceaccounts/token).
      // A preview is a read of the project's series, POSTed because the policy is in the body (preview.ts).
      if (named && route.subresource === PREVIEW_SUBRESOURCE) return "get";
      return named ? (route.subresource === SINK_TEST_SUBRESOURCE ? "create" : "unsupported") : "create";
    case "PUT":
      return named ? "update" : "unsupported";
    case "PATCH":
      return named ? "patch" : "unsupported";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return "unsupported";
  }
}

function authenticate(server: ServerContext, request: IncomingMessage): Principal {
  if (server.tokens === undefined) return OPEN_ACCESS;
  const principal = server.tokens.authenticate(request.headers.authorization);
  if (principal === undefined) throw errors.unauthorized();
  return principal;
}
