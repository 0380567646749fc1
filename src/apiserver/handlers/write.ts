// POST, PUT, PATCH and DELETE on resources.
import type { RequestContext } from "../context.js";
import { bodyFormat, decodeBody, queryBool, readBody, sendJson } from "../http-io.js";
import { isObject, stringAt } from "../json.js";
import { renderObject } from "../render.js";
import { validateExportPolicy } from "../../api/index.js";
import { previewSummary, runPreview } from "../preview.js";
import { exportPolicies } from "../resources.js";
import type { WriteTarget } from "../target.js";
import type { DeleteOptions, WriteOptions, WriteOutcome } from "../writes.js";
import { checkPatchShape, dryRunOf, patchTypeOf, writeOptionsOf } from "./options.js";
import { handleList, renderOptions, selectorOptions } from "./read.js";

function writeOptions(ctx: RequestContext, subresource: "status" | undefined, apply = false): WriteOptions {
  return writeOptionsOf(ctx.query, ctx.request.headers["user-agent"], subresource, apply);
}

/**
 * The write's warnings, plus the exporter's about an ExportPolicy's spec (see
 * ApiServerOptions.policyWarnings), plus — for a dry run — the policy's
 * preview in one line per source and sink: `kubectl apply --dry-run=server`
 * and `telex apply --dry-run=server` print Warning headers, so both show what
 * the policy would select before it is applied. A preview that cannot be
 * made is a warning too: the dry run itself succeeded.
 */
async function warningsOf(
  ctx: RequestContext,
  target: WriteTarget,
  outcome: WriteOutcome,
  subresource?: string,
): Promise<readonly string[]> {
  if (target.resource !== exportPolicies || subresource !== undefined) return outcome.warnings;
  const warnings = [...outcome.warnings, ...(ctx.server.policyWarnings?.(outcome.object) ?? [])];
  const previewer = ctx.server.preview;
  if (previewer === undefined || !dryRunOf(ctx.query)) return warnings;
  const validation = validateExportPolicy(outcome.object);
  if (!validation.valid) return warnings;
  try {
    const preview = await runPreview(ctx.server, previewer, target.project, validation.object);
    return [...warnings, ...previewSummary(preview, target.project)];
  } catch (error: unknown) {
    return [...warnings, `preview: not available: ${error instanceof Error ? error.message : String(error)}`];
  }
}

async function readObject(ctx: RequestContext): Promise<Record<string, unknown>> {
  const format = bodyFormat(ctx.request.headers["content-type"]);
  return decodeBody(await readBody(ctx.request, ctx.response, ctx.server.bodyBudget), format) as Record<
    string,
    unknown
  >;
}

export async function handleCreate(ctx: RequestContext, target: WriteTarget): Promise<void> {
  const body = await readObject(ctx);
  const outcome = ctx.server.writes.create(target, body, writeOptions(ctx, undefined));
  await ctx.server.registry.store.settled();
  sendJson(
    ctx.response,
    201,
    renderObject(target.resource, outcome.object, renderOptions(ctx, target)),
    await warningsOf(ctx, target, outcome),
    ctx.format,
  );
}

export async function handleUpdate(
  ctx: RequestContext,
  target: WriteTarget,
  name: string,
  subresource: "status" | undefined,
): Promise<void> {
  const body = await readObject(ctx);
  const outcome = ctx.server.writes.update(target, name, body, writeOptions(ctx, subresource));
  await ctx.server.registry.store.settled();
  sendJson(
    ctx.response,
    200,
    renderObject(target.resource, outcome.object, renderOptions(ctx, target)),
    await warningsOf(ctx, target, outcome, subresource),
    ctx.format,
  );
}

export async function handlePatch(
  ctx: RequestContext,
  target: WriteTarget,
  name: string,
  subresource: "status" | undefined,
): Promise<void> {
  const type = patchTypeOf(ctx.request.headers["content-type"]);
  const raw = await readBody(ctx.request, ctx.response, ctx.server.bodyBudget);
  const patch = decodeBody(raw, type === "apply" ? "yaml" : "json", { allowArray: type === "json" });
  checkPatchShape(type, patch);
  const outcome = ctx.server.writes.patch(target, name, type, patch, {
    ...writeOptions(ctx, subresource, type === "apply"),
    force: queryBool(ctx.query, "force"),
  });
  await ctx.server.registry.store.settled();
  const code = outcome.created ? 201 : 200;
  sendJson(
    ctx.response,
    code,
    renderObject(target.resource, outcome.object, renderOptions(ctx, target)),
    await warningsOf(ctx, target, outcome, subresource),
    ctx.format,
  );
}

async function deleteOptions(ctx: RequestContext): Promise<DeleteOptions> {
  const raw = await readBody(ctx.request, ctx.response, ctx.server.bodyBudget);
  let dryRun = dryRunOf(ctx.query);
  let preconditions: DeleteOptions["preconditions"];
  if (raw.length > 0 && raw.toString("utf8").trim() !== "") {
    const body = decodeBody(raw, bodyFormat(ctx.request.headers["content-type"]));
    if (isObject(body)) {
      const dry = body["dryRun"];
      if (Array.isArray(dry) && dry.includes("All")) dryRun = true;
      const pre = body["preconditions"];
      if (isObject(pre)) {
        const uid = stringAt(pre, "uid");
        const resourceVersion = stringAt(pre, "resourceVersion");
        preconditions = {
          ...(uid === undefined ? {} : { uid }),
          ...(resourceVersion === undefined ? {} : { resourceVersion }),
        };
      }
    }
  }
  return { dryRun, ...(preconditions === undefined ? {} : { preconditions }) };
}

export async function handleDelete(ctx: RequestContext, target: WriteTarget, name: string): Promise<void> {
  const outcome = ctx.server.writes.delete(target, name, await deleteOptions(ctx));
  await ctx.server.registry.store.settled();
  sendJson(
    ctx.response,
    200,
    renderObject(target.resource, outcome.object, renderOptions(ctx, target)),
    [],
    ctx.format,
  );
}

export async function handleDeleteCollection(ctx: RequestContext, target: WriteTarget): Promise<void> {
  const options = await deleteOptions(ctx);
  ctx.server.writes.deleteCollection(target, selectorOptions(ctx.query), options);
  handleList(ctx, target);
}
