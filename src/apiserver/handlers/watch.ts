// GET ...?watch=true: a chunked stream of `{"type":..., "object":...}` lines.
// From resourceVersion R the stream replays the logged changes after R, then
// follows live ones; without R (or with "0") it starts with the current
// objects as ADDED. Too old an R gets an ERROR event with a 410 Status, as
// from a Kubernetes API server, and the client relists.
import { ResourceExpiredError, type JsonObject, type StoreEvent } from "../../store/index.js";
import type { RequestContext } from "../context.js";
import { queryBool, queryInt, queryString } from "../http-io.js";
import { metadataOf } from "../metadata.js";
import { PLATFORM } from "../paths.js";
import { decorate, type RenderOptions } from "../render.js";
import { apiVersionOf } from "../resources.js";
import { errors } from "../status.js";
import { toTable } from "../tables.js";
import type { Target } from "../target.js";
import type { WatchEventType } from "../watch-hub.js";
import { renderOptions, selectorOptions } from "./read.js";

/**
 * A client this far behind (bytes queued) is cut off; it resumes from its last
 * resourceVersion. Tenants' watches together are also bounded (watchBytes).
 */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Each event is serialised once per distinct rendering, however many watches receive it. */
const encodedEvents = new WeakMap<StoreEvent, Map<string, string>>();

function parseResourceVersion(value: string | undefined): number | undefined {
  if (value === undefined || value === "" || value === "0") return undefined;
  if (!/^[0-9]+$/.test(value)) throw errors.badRequest(`invalid resourceVersion ${JSON.stringify(value)}`);
  return Number(value);
}

export function handleWatch(ctx: RequestContext, target: Target): void {
  const { server, response } = ctx;
  // The list or backlog below and the hub's later events meet at a commit:
  // nothing of an open batch may be in both (the hub tells it once it commits).
  server.registry.store.flush();
  const from = parseResourceVersion(queryString(ctx.query, "resourceVersion"));
  const bookmarks = queryBool(ctx.query, "allowWatchBookmarks");
  const initialEventsEnd = queryBool(ctx.query, "sendInitialEvents");
  const requested = queryInt(ctx.query, "timeoutSeconds");
  const timeoutSeconds =
    requested !== undefined && requested > 0
      ? Math.min(requested, server.maxWatchSeconds)
      : server.maxWatchSeconds;
  const { matches, name } = server.registry.filter(target, selectorOptions(ctx.query));
  const options = renderOptions(ctx, target);
  const scope = {
    resource: target.resource.plural,
    ...(target.project === undefined ? {} : { project: target.project }),
    ...(target.namespace === undefined || !target.resource.namespaced ? {} : { namespace: target.namespace }),
    ...(name === undefined ? {} : { name }),
  };

  // Tenants' watches are counted per project; the cross-project view and the
  // platform plane are platform principals' (the controller's, the replicas').
  const tenant = target.project === undefined || target.project === PLATFORM ? undefined : target.project;
  const release = tenant === undefined ? undefined : server.watchQuota.acquire(tenant);
  response.writeHead(200, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  response.flushHeaders();

  let open = true;
  // Bytes this watch holds in the process-wide budget of tenants' queued
  // watch bytes: reconciled with what is queued at each write and drain.
  // The controller's cross-project watch and platform watches are not a tenant's and are not counted.
  const budget = tenant === undefined ? undefined : server.watchBytes;
  let held = 0;
  const holdQueued = (): boolean => {
    if (budget === undefined) return true;
    const queued = response.writableLength;
    if (queued < held) budget.give(held - queued);
    else if (queued > held && !budget.tryTake(queued - held)) return false;
    held = queued;
    return true;
  };
  const write = (line: string): void => {
    if (!open) return;
    response.write(line);
    if (response.writableLength > MAX_BUFFERED_BYTES || !holdQueued()) {
      server.logger.warn("watch client too slow; ending its watch", { resource: target.resource.plural });
      end();
    }
  };
  response.on("drain", holdQueued);
  const send = (type: WatchEventType, event: StoreEvent): void => {
    write(encode(type, event, target, options));
  };

  let backlog: StoreEvent[] = [];
  if (from !== undefined) {
    try {
      backlog = server.registry.store.eventsSince(from, scope);
    } catch (error: unknown) {
      release?.();
      if (!(error instanceof ResourceExpiredError)) throw error;
      response.end(
        `${JSON.stringify({ type: "ERROR", object: errors.expired(error.message).toStatus() })}\n`,
      );
      return;
    }
  }
  const unsubscribe = server.hub.add({ scope, matches, deliver: send });
  const timers: NodeJS.Timeout[] = [];
  const end = (): void => {
    if (!open) return;
    open = false;
    release?.();
    budget?.give(held);
    held = 0;
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    server.watches.delete(response);
    response.end();
  };
  server.watches.add(response);
  response.on("close", end);

  if (from === undefined) {
    for (const item of server.registry.store.list(scope)) {
      if (matches(item.object))
        send("ADDED", {
          type: "ADDED",
          key: item.key,
          resourceVersion: item.resourceVersion,
          object: item.object,
        });
    }
    if (initialEventsEnd && bookmarks)
      write(bookmark(target, String(server.registry.store.resourceVersion), true));
  } else {
    for (const event of backlog) if (matches(event.object)) send(event.type, event);
  }
  // The initial events may already have ended a watch whose client is too slow.
  if (!server.watches.has(response)) return;
  if (bookmarks) {
    const interval = setInterval(() => {
      write(bookmark(target, String(server.registry.store.resourceVersion), false));
    }, server.bookmarkIntervalMs);
    timers.push(interval);
  }
  timers.push(setTimeout(end, timeoutSeconds * 1000));
}

function bookmark(target: Target, resourceVersion: string, initialEventsEnd: boolean): string {
  const object = {
    kind: target.resource.kind,
    apiVersion: apiVersionOf(target.resource),
    metadata: {
      resourceVersion,
      ...(initialEventsEnd ? { annotations: { "k8s.io/initial-events-end": "true" } } : {}),
    },
  };
  return `${JSON.stringify({ type: "BOOKMARK", object })}\n`;
}

function encode(type: WatchEventType, event: StoreEvent, target: Target, options: RenderOptions): string {
  const variant = `${type}|${options.format}|${options.includeObject}|${String(options.annotateProject)}`;
  let cache = encodedEvents.get(event);
  const cached = cache?.get(variant);
  if (cached !== undefined) return cached;
  const object = decorate(event.object, event.key, options.annotateProject);
  const rendered: JsonObject =
    options.format === "table"
      ? toTable(target.resource.table, [object], {
          includeObject: options.includeObject,
          listMeta: { resourceVersion: metadataOf(object).resourceVersion ?? "" },
          nowMs: Date.now(),
        })
      : options.format === "partial"
        ? { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: metadataOf(object) }
        : object;
  const line = `${JSON.stringify({ type, object: rendered })}\n`;
  if (cache === undefined) {
    cache = new Map();
    encodedEvents.set(event, cache);
  }
  cache.set(variant, line);
  return line;
}
