// What `telex preview` answers about a policy (the ExportPolicy `preview`
// subresource, src/apiserver/preview.ts): per source, how many of the
// project's series its selector matches now and a few of them; per sink, the
// series and samples per minute it would be sent. Bounded: at most
// PREVIEW_LIMITS.sampleSeries series shown per source, and counts exact up to
// a cap, "at least" beyond it.
import { METRIC_NAME_LABEL } from "../../metricsql/index.js";
import { quoteValue } from "../../metricsql/printer.js";
import type { Label } from "../../remotewrite/index.js";

export const PREVIEW_LIMITS = {
  /** Series shown per source: enough to recognise them, small enough to read. */
  sampleSeries: 10,
  /**
   * Push mode: a series "matches now" when samples of it were accepted in the
   * last 5 minutes — Prometheus' and VictoriaMetrics' staleness look-back.
   */
  recentMinutes: 5,
  /** Push mode: at most this many of the project's recent series are examined (about 50 ms of CPU, in slices). */
  maxScannedSeries: 100_000,
  /** Pull mode: series asked of the store per source (its series API's `limit`). */
  maxStoreSeries: 10_000,
} as const;

export type {
  PreviewOutcome as PolicyPreview,
  PreviewSinkStatus as SinkPreview,
  PreviewSourceStatus as SourcePreview,
} from "../../api/preview.js";

/** A series as Prometheus prints it: `name{a="1",b="2"}`, other labels sorted by name. */
export function formatSeries(labels: readonly Label[]): string {
  const name = labels.find((l) => l.name === METRIC_NAME_LABEL)?.value ?? "";
  const rest = labels
    .filter((l) => l.name !== METRIC_NAME_LABEL)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((l) => `${l.name}=${quoteValue(l.value)}`);
  return `${name}{${rest.join(",")}}`;
}

/** Keeps the `limit` smallest strings offered, in order. */
export class SmallestStrings {
  private readonly kept: string[] = [];

  constructor(private readonly limit: number) {}

  offer(value: string): void {
    const kept = this.kept;
    if (kept.length === this.limit && value >= (kept[kept.length - 1] ?? "")) return;
    let at = kept.length;
    while (at > 0 && (kept[at - 1] ?? "") > value) at--;
    if (kept[at - 1] === value) return;
    kept.splice(at, 0, value);
    if (kept.length > this.limit) kept.pop();
  }

  get values(): readonly string[] {
    return this.kept;
  }
}

/** Samples per minute, rounded for display: one decimal below 10, whole above. */
export function roundRate(perMinute: number): number {
  return perMinute < 10 ? Math.round(perMinute * 10) / 10 : Math.round(perMinute);
}
