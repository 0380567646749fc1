// `telex preview`'s work in the exporter: what a policy's scoped selectors
// match now, from recently ingested series (push) or the store (pull).
export { previewPull, StorePreviewError, type PullPreviewOptions } from "./pull.js";
export { previewPush, previewPushParts, samplesPerMinute, type PreviewPlan } from "./push.js";
export {
  PreviewAnswerError,
  mergePushPreviews,
  parsePushPreviewParts,
  type MergedPushPreview,
  type PushPreviewParts,
} from "./merge.js";
export { SKETCH_SIZE } from "./sketch.js";
export {
  PREVIEW_LIMITS,
  formatSeries,
  type PolicyPreview,
  type SinkPreview,
  type SourcePreview,
} from "./report.js";
