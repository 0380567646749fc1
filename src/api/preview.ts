// What the ExportPolicy `preview` subresource answers (kind ExportPolicyPreview,
// its status): made by the exporter (src/exporter/preview/), served by the API
// (src/apiserver/preview.ts), printed by `telex preview`.
export interface PreviewSourceStatus {
  readonly name: string;
  /** Series of the project the source's selector matches now. */
  readonly series: number;
  /** True when there may be more than `series` (a cap was reached, or the record is incomplete). */
  readonly atLeast: boolean;
  /** Samples of those series per minute (estimated). */
  readonly samplesPerMinute: number;
  /** A few of them (at most 10), in label order, as `name{label="value",…}`. */
  readonly sample: readonly string[];
  /** Sinks forwarding this source. */
  readonly sinks: readonly string[];
}

export interface PreviewSinkStatus {
  readonly name: string;
  readonly sources: readonly string[];
  /** Distinct series the sink would be sent. */
  readonly series: number;
  readonly atLeast: boolean;
  /** Samples per minute the sink would be sent (push mode: once per matching source, as the router sends them). */
  readonly samplesPerMinute: number;
}

export interface PreviewOutcome {
  /** push: from the series recently ingested here; pull: from the metrics store. */
  readonly mode: "push" | "pull";
  /** The selectors as run: each scoped to the project by the tenant label. */
  readonly selectors: readonly { readonly source: string; readonly scoped: string }[];
  readonly sources: readonly PreviewSourceStatus[];
  readonly sinks: readonly PreviewSinkStatus[];
  /** What the figures rest on, and their limits, one sentence each. */
  readonly notes: readonly string[];
}
