// `telex preview`'s work in the exporter: what a policy's scoped selectors
// match now, from recently ingested series (push) or the store (pull).
export { previewPull, StorePreviewError, type PullPreviewOptions } from "./pull.js";
export { previewPush, samplesPerMinute, type PreviewPlan } from "./push.js";
export {
  PREVIEW_LIMITS,
  formatSeries,
  type PolicyPreview,
  type SinkPreview,
  type SourcePreview,
} from "./report.js";
