// The writes of a controller in the API server's own process, without HTTP:
// the same route, authorization (as the in-process controller's principal),
// admission, commit and wait for durability as a request over the listener,
// with objects instead of JSON text. At 10,000 policies going Ready, HTTP on
// both ends (undici, Node's parser, the router, JSON both ways) was about a
// quarter of the control plane's CPU. Reads, lists and watches still go over
// HTTP: the informers' list-then-watch is the same code against a real cluster.
import type { Principal } from "./auth/tokens.js";
import type { ServerContext } from "./context.js";
import { checkPatchShape, patchTypeOf, writeOptionsOf } from "./handlers/options.js";
import { queryBool } from "./http-io.js";
import { isObject } from "./json.js";
import { PLATFORM, parseRoute } from "./paths.js";
import { findResource } from "./resources.js";
import { authorizeRoute } from "./router.js";
import { ApiError, errors } from "./status.js";
import type { WriteTarget } from "./target.js";
import type { WriteOutcome } from "./writes.js";
import type { JsonObject } from "../store/index.js";

export interface LocalRequest {
  readonly method: string;
  /** The path as over HTTP, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly contentType: string | undefined;
}

export type LocalAnswer =
  | {
      readonly ok: true;
      readonly code: number;
      /** The stored object as every watcher sees it: read, never changed. */
      readonly object: JsonObject;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly code: number; readonly status: ReturnType<ApiError["toStatus"]> };

/** Serves a request in process, or says (undefined) that it goes over HTTP. */
export type LocalRequests = (request: LocalRequest) => Promise<LocalAnswer | undefined>;

const VERBS: Readonly<Record<string, "create" | "update" | "patch">> = {
  POST: "create",
  PUT: "update",
  PATCH: "patch",
};

export function localRequests(server: ServerContext, principal: Principal): LocalRequests {
  return async (request) => {
    const verb = VERBS[request.method];
    const route = parseRoute(request.path);
    if (verb === undefined || route.kind !== "resource" || route.project === undefined) return undefined;
    const named = route.name !== undefined;
    if (named === (verb === "create")) return undefined;
    if (route.subresource !== undefined && route.subresource !== "status") return undefined;
    const resource = findResource(route.project, route.group, route.version, route.plural);
    if (resource === undefined || (route.subresource === "status" && !resource.hasStatus)) return undefined;
    if (resource.namespaced !== (route.namespace !== undefined)) return undefined;
    try {
      authorizeRoute(principal, route, verb);
      if (route.project !== PLATFORM) server.registry.ensureProject(route.project);
      const target: WriteTarget = { resource, project: route.project, namespace: route.namespace };
      const subresource = route.subresource === "status" ? "status" : undefined;
      const outcome = write(server, verb, target, route.name ?? "", subresource, request);
      await server.registry.store.settled();
      return {
        ok: true,
        code: outcome.created ? 201 : 200,
        object: outcome.object,
        warnings: outcome.warnings,
      };
    } catch (error: unknown) {
      if (!(error instanceof ApiError)) throw error;
      return { ok: false, code: error.code, status: error.toStatus() };
    }
  };
}

function write(
  server: ServerContext,
  verb: "create" | "update" | "patch",
  target: WriteTarget,
  name: string,
  subresource: "status" | undefined,
  request: LocalRequest,
): WriteOutcome {
  const { query, body } = request;
  const type = verb === "patch" ? patchTypeOf(request.contentType) : undefined;
  const options = writeOptionsOf(query, undefined, subresource, type === "apply");
  if (type !== undefined) {
    checkPatchShape(type, body);
    return server.writes.patch(target, name, type, body, { ...options, force: queryBool(query, "force") });
  }
  if (!isObject(body)) throw errors.badRequest("the request body must be an object");
  return verb === "create"
    ? server.writes.create(target, body, options)
    : server.writes.update(target, name, body, options);
}
