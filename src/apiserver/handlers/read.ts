// GET of one object and of lists (label/field selectors, limit/continue).
import type { RequestContext } from "../context.js";
import { queryInt, queryString, sendJson, type Query } from "../http-io.js";
import { decorate, renderList, renderObject, type RenderOptions } from "../render.js";
import type { Target, WriteTarget } from "../target.js";
import { errors } from "../status.js";

export function renderOptions(ctx: RequestContext, target: Target): RenderOptions {
  const include = queryString(ctx.query, "includeObject") ?? "Metadata";
  if (include !== "None" && include !== "Metadata" && include !== "Object") {
    throw errors.badRequest(`includeObject must be None, Metadata or Object, got ${JSON.stringify(include)}`);
  }
  return {
    format: ctx.format,
    includeObject: include,
    annotateProject: target.project === undefined,
    nowMs: ctx.server.clock().getTime(),
  };
}

export function handleGet(ctx: RequestContext, target: WriteTarget, name: string): void {
  // Commits the writes of this turn first: what a read returns is on disk.
  ctx.server.registry.store.flush();
  const found = ctx.server.registry.get(target, name);
  sendJson(
    ctx.response,
    200,
    renderObject(target.resource, found.object, renderOptions(ctx, target)),
    [],
    ctx.format,
  );
}

export function handleList(ctx: RequestContext, target: Target): void {
  ctx.server.registry.store.flush();
  const limit = queryInt(ctx.query, "limit");
  const continueToken = queryString(ctx.query, "continue");
  const result = ctx.server.registry.list(target, {
    ...selectorOptions(ctx.query),
    ...(limit === undefined ? {} : { limit }),
    ...(continueToken === undefined || continueToken === "" ? {} : { continueToken }),
  });
  const options = renderOptions(ctx, target);
  const items = result.items.map((item) => decorate(item.object, item.key, options.annotateProject));
  const listMeta = {
    resourceVersion: String(result.resourceVersion),
    ...(result.continueToken === undefined ? {} : { continue: result.continueToken }),
  };
  sendJson(ctx.response, 200, renderList(target.resource, items, listMeta, options), [], ctx.format);
}

/** The label and field selectors a list, watch or delete-collection request names. */
export function selectorOptions(query: Query): { labelSelector?: string; fieldSelector?: string } {
  return {
    ...optional("labelSelector", queryString(query, "labelSelector")),
    ...optional("fieldSelector", queryString(query, "fieldSelector")),
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
