// `telex preview` in the all-in-one server: the policy is compiled with the
// controller's own scoping (scopedSources, as compilePolicy does) and
// previewed by the exporter, from the recently ingested series (push) or the
// store the pull jobs read (pull).
import { DEFAULTS } from "../api/index.js";
import { PreviewUnavailableError, type PolicyPreviewer } from "../apiserver/index.js";
import { scopedSources } from "../controller/compile.js";
import type { Exporter } from "../exporter/exporter.js";
import { StorePreviewError, previewPull, previewPush } from "../exporter/preview/index.js";
import type { Clock } from "../util/index.js";
import { PULL_DEFAULTS, type ExporterRunOptions } from "./options.js";

export function policyPreviewer(
  options: ExporterRunOptions,
  exporter: () => Exporter | undefined,
  clock: Clock,
): PolicyPreviewer {
  const tenantLabel = options.tenantLabel ?? DEFAULTS.tenantLabel;
  return async ({ project, policy }) => {
    const plan = {
      project,
      sources: scopedSources(policy, { project, tenantLabel }),
      sinks: policy.spec.sinks.map((sink) => ({ name: sink.name, sources: sink.sources })),
    };
    const pull = options.pull;
    if (pull !== undefined) {
      try {
        return await previewPull(plan, {
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
    }
    const running = exporter();
    if (running === undefined) throw new PreviewUnavailableError("the exporter is still starting");
    return previewPush(running.router, plan, clock.now());
  };
}
