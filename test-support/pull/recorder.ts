// For tests: a PullJob that records every emitted sample, keyed by series and
// timestamp, so exactly-once is a matter of counting.
import type { Label } from "../../src/metricsql/ast.js";
import type { PullHealth } from "../../src/exporter/pull/health.js";
import type { PullJob } from "../../src/exporter/pull/job.js";
import type { PullSource } from "../../src/exporter/pull/pull-source.js";

export interface RecordingJob extends PullJob {
  /** `labels@timestamp` → how many times it was emitted. */
  readonly counts: Map<string, number>;
  /** `labels@timestamp` → the value last emitted. */
  readonly values: Map<string, number>;
  /** Every series emitted, as label records. */
  readonly series: Map<string, Record<string, string>>;
}

export function seriesId(labels: readonly Label[]): string {
  return labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(",");
}

export function sampleId(labels: readonly Label[], timestampMs: number): string {
  return `${seriesId(labels)}@${timestampMs}`;
}

export function recordingJob(key: string, selector: string): RecordingJob {
  const counts = new Map<string, number>();
  const values = new Map<string, number>();
  const series = new Map<string, Record<string, string>>();
  return {
    key,
    selector,
    counts,
    values,
    series,
    emit(labels, emittedValues, timestampsMs) {
      const id = seriesId(labels);
      series.set(id, Object.fromEntries(labels.map((l) => [l.name, l.value])));
      timestampsMs.forEach((timestampMs, i) => {
        const sample = `${id}@${timestampMs}`;
        counts.set(sample, (counts.get(sample) ?? 0) + 1);
        values.set(sample, emittedValues[i] ?? NaN);
      });
    },
  };
}

/** Samples emitted more than once, for assertion messages. */
export function duplicates(counts: ReadonlyMap<string, number>): string[] {
  return [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
}

/** The job's health; throws when the source has no such job. */
export function healthOf(source: PullSource, key: string): PullHealth {
  const health = source.health(key);
  if (health === undefined) throw new Error(`no pull job ${key}`);
  return health;
}
