// The `preview` subresource of ExportPolicies (`telex preview`):
//
//   POST …/namespaces/{ns}/exportpolicies/{name}/preview
//   {"apiVersion": "telemetry.miloapis.com/v1alpha1", "kind": "ExportPolicyPreview",
//    "spec": {"policy": {…an ExportPolicy…}}}
//
// answers 201 with the same object and a `status`: per source, how many of
// the project's series its selector matches now and a sample of them; per
// sink, the series and samples per minute it would be sent. Without
// `spec.policy` the stored policy is previewed; with it, that policy, which
// need not exist yet (nothing is stored).
//
// Authorized as a read — verb `get` on `exportpolicies/preview`, which
// project viewers have, like `exportpolicies/delivery` — though it is a POST
// (the policy travels in the body, as a SelfSubjectAccessReview's question
// does): it changes nothing, stores nothing, sends nothing anywhere and reads
// no Secret; it shows series of the caller's own project only (the selectors
// are scoped by the tenant label exactly as when the policy runs), which
// anyone who may read the project's policies and their delivery counters may
// see. It is served where a PolicyPreviewer is given: the all-in-one server
// previews with its own exporter (src/serve/preview.ts), `--api-only` from the
// store (--source-url) or by asking every live replica of the fleet
// (src/fleet/preview.ts); a few at once per project, each bounded in time and
// in what it answers (src/exporter/preview).
import type { PreviewOutcome } from "../api/preview.js";
import { API_VERSION, KIND, validateExportPolicy, type ExportPolicy } from "../api/index.js";
import type { RequestContext, ServerContext } from "./context.js";
import { bodyFormat, decodeBody, readBody, sendJson } from "./http-io.js";
import { isObject, objectAt, stringAt } from "./json.js";
import { exportPolicies } from "./resources.js";
import { policyOf } from "./sink-test.js";
import { ApiError, errors } from "./status.js";
import type { WriteTarget } from "./target.js";

export const PREVIEW_SUBRESOURCE = "preview";
export const PREVIEW_KIND = "ExportPolicyPreview";

export type { PreviewOutcome, PreviewSinkStatus, PreviewSourceStatus } from "../api/preview.js";
export interface PreviewRequest {
  readonly project: string;
  /** Validated, defaults applied. */
  readonly policy: ExportPolicy;
}

/**
 * Previews a policy the way the exporter would run it (src/exporter/preview).
 * Throws PreviewUnavailableError when the series cannot be read (the store
 * is down).
 */
export type PolicyPreviewer = (request: PreviewRequest) => Promise<PreviewOutcome>;

/** The series could not be read: a 503 with the reason. */
export class PreviewUnavailableError extends Error {
  override readonly name = "PreviewUnavailableError";
}

/** Previews running at once, per project and in all: each may hold a store connection for seconds. */
const MAX_PER_PROJECT = 2;
const MAX_IN_ALL = 16;
const running = new WeakMap<ServerContext, Map<string, number>>();

export function previewNotServed(): ApiError {
  return new ApiError(
    "NotFound",
    `${exportPolicies.plural}/${PREVIEW_SUBRESOURCE} is not served by this API server: it has no exporter and no fleet to ask (preview against \`telex serve\`, all in one or --api-only)`,
  );
}

function take(server: ServerContext, project: string): () => void {
  let counts = running.get(server);
  if (counts === undefined) {
    counts = new Map();
    running.set(server, counts);
  }
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const mine = counts.get(project) ?? 0;
  if (mine >= MAX_PER_PROJECT || total >= MAX_IN_ALL) {
    throw new ApiError(
      "TooManyRequests",
      `too many previews are running${mine >= MAX_PER_PROJECT ? " in this project" : ""}; try again in a few seconds`,
      { retryAfterSeconds: 2 },
    );
  }
  counts.set(project, mine + 1);
  const held = counts;
  return () => {
    const left = (held.get(project) ?? 1) - 1;
    if (left <= 0) held.delete(project);
    else held.set(project, left);
  };
}

/** Runs the previewer for one validated policy, bounded per project; store failures become 503s. */
export async function runPreview(
  server: ServerContext,
  previewer: PolicyPreviewer,
  project: string,
  policy: ExportPolicy,
): Promise<PreviewOutcome> {
  const release = take(server, project);
  try {
    return await previewer({ project, policy });
  } catch (error: unknown) {
    if (error instanceof PreviewUnavailableError)
      throw new ApiError("ServiceUnavailable", `cannot preview: ${error.message}`, { retryAfterSeconds: 5 });
    throw error;
  } finally {
    release();
  }
}

/** POST `…/exportpolicies/{name}/preview`: previews the given or stored policy. */
export async function handlePreview(
  ctx: RequestContext,
  previewer: PolicyPreviewer,
  target: WriteTarget,
  name: string,
): Promise<void> {
  const raw = await readBody(ctx.request, ctx.response, ctx.server.bodyBudget);
  // An empty body previews the stored policy.
  const body = raw.length === 0 ? {} : decodeBody(raw, bodyFormat(ctx.request.headers["content-type"]));
  if (!isObject(body)) throw errors.badRequest(`expected an ${PREVIEW_KIND} object`);
  const kind = stringAt(body, "kind");
  if (kind !== undefined && kind !== PREVIEW_KIND) {
    throw errors.badRequest(`expected kind ${PREVIEW_KIND}, not ${kind}`);
  }
  const validation = validateExportPolicy(policyOf(ctx, target, name, objectAt(body, "spec")));
  if (!validation.valid) {
    throw errors.invalid(
      KIND,
      { resource: exportPolicies.plural, group: exportPolicies.group, name },
      validation.errors,
    );
  }
  const outcome = await runPreview(ctx.server, previewer, target.project, validation.object);
  sendJson(
    ctx.response,
    201,
    {
      kind: PREVIEW_KIND,
      apiVersion: API_VERSION,
      metadata: { name, namespace: target.namespace ?? "", creationTimestamp: null },
      spec: {},
      status: {
        project: target.project,
        mode: outcome.mode,
        selectors: outcome.selectors.map((s) => ({ ...s })),
        sources: outcome.sources.map((s) => ({ ...s, sample: [...s.sample], sinks: [...s.sinks] })),
        sinks: outcome.sinks.map((s) => ({ ...s, sources: [...s.sources] })),
        notes: [...outcome.notes],
      },
    },
    [],
    ctx.format === "yaml" ? "yaml" : "json",
  );
}

/** One line per source and sink, for Warning headers of `apply --dry-run=server`. */
export function previewSummary(outcome: PreviewOutcome, project: string): string[] {
  const count = (n: number, atLeast: boolean) => `${atLeast ? "at least " : ""}${n}`;
  return [
    ...outcome.sources.map(
      (s) =>
        `preview: source ${s.name} matches ${count(s.series, s.atLeast)} series of project ${project} now (${s.samplesPerMinute} samples/min)${s.sinks.length === 0 ? "; no sink forwards it" : ""}`,
    ),
    ...outcome.sinks.map(
      (s) =>
        `preview: sink ${s.name} would receive ${count(s.series, s.atLeast)} series, ${s.samplesPerMinute} samples/min`,
    ),
  ];
}
