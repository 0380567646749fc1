// `telex preview` where the exporter runs: the policy is compiled with the
// controller's own scoping (scopedSources, as compilePolicy does) and
// previewed from the recently ingested series (push) or the store the pull
// jobs read (pull). policyPreviewer serves the all-in-one server's API;
// replicaPreviewHandler answers the API server of a fleet (`telex serve
// --api-only`, src/fleet/preview.ts) on the replica's ingest listener.
import { DEFAULTS, validateExportPolicy, type ExportPolicy } from "../api/index.js";
import { formatFieldError } from "../api/field-errors.js";
import { PreviewUnavailableError, type PolicyPreviewer } from "../apiserver/index.js";
import { scopedSources } from "../controller/compile.js";
import type { Exporter } from "../exporter/exporter.js";
import { PreviewRequestError } from "../exporter/ingest/server.js";
import {
  StorePreviewError,
  previewPull,
  previewPush,
  previewPushParts,
  type PreviewPlan,
  type PushPreviewParts,
} from "../exporter/preview/index.js";
import type { Clock } from "../util/index.js";
import { PULL_DEFAULTS, type PullOptions } from "./options.js";

/** The policy as the controller compiles it: each source scoped to the project by the tenant label. */
export function previewPlan(policy: ExportPolicy, project: string, tenantLabel: string): PreviewPlan {
  return {
    project,
    sources: scopedSources(policy, { project, tenantLabel }),
    sinks: policy.spec.sinks.map((sink) => ({ name: sink.name, sources: sink.sources })),
  };
}

/** Pull mode: the store's series API, what the pull jobs would read; store failures become 503s. */
export function pullPreviewer(pull: PullOptions, tenantLabel: string, clock: Clock): PolicyPreviewer {
  return async ({ project, policy }) => {
    try {
      return await previewPull(previewPlan(policy, project, tenantLabel), {
        url: pull.url,
        tenantLabel,
        nowMs: clock.now(),
        mode: pull.mode ?? "export",
        intervalMs: pull.intervalMs ?? PULL_DEFAULTS.intervalMs,
      });
    } catch (error: unknown) {
      if (error instanceof StorePreviewError)
        throw new PreviewUnavailableError(`the metrics store did not answer: ${error.message}`);
      throw error;
    }
  };
}

export function policyPreviewer(
  options: { readonly tenantLabel?: string; readonly pull?: PullOptions },
  exporter: () => Exporter | undefined,
  clock: Clock,
): PolicyPreviewer {
  const tenantLabel = options.tenantLabel ?? DEFAULTS.tenantLabel;
  if (options.pull !== undefined) return pullPreviewer(options.pull, tenantLabel, clock);
  return async ({ project, policy }) => {
    const running = exporter();
    if (running === undefined) throw new PreviewUnavailableError("the exporter is still starting");
    return previewPush(running.router, previewPlan(policy, project, tenantLabel), clock.now());
  };
}

/** Longest project name the API accepts (a DNS subdomain). */
const MAX_PROJECT_LENGTH = 253;

/**
 * A replica's answer to the API server's preview request `{project, policy}`:
 * the policy is validated and scoped here, with this replica's tenant label,
 * exactly as the controller compiles it when it runs, and matched against
 * the series of that project only (Router.recentSeries) — the request can
 * name a project, never widen what a project sees.
 */
export function replicaPreviewHandler(
  tenantLabel: string,
  exporter: Exporter,
  clock: Clock,
): (request: unknown) => Promise<PushPreviewParts> {
  return async (request) => {
    if (typeof request !== "object" || request === null || Array.isArray(request))
      throw new PreviewRequestError("expected {project, policy}");
    const { project, policy } = request as Record<string, unknown>;
    if (typeof project !== "string" || project === "" || project.length > MAX_PROJECT_LENGTH)
      throw new PreviewRequestError("project must be a project name");
    const validation = validateExportPolicy(policy);
    if (!validation.valid)
      throw new PreviewRequestError(
        `the policy is not valid: ${validation.errors.slice(0, 3).map(formatFieldError).join("; ")}`,
      );
    return previewPushParts(
      exporter.router,
      previewPlan(validation.object, project, tenantLabel),
      clock.now(),
    );
  };
}
