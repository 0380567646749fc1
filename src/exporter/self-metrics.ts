// Tenants' own delivery metrics (issue 14 part 6). Every interval
// (--self-metrics-interval, 15 s by default, as a Prometheus scrape) the
// exporter turns each (policy, sink) it runs into a small fixed set of series
// carrying the policy's project in the tenant label, and routes them like
// ingested series of that project: the project's sources, tenant-scoped like
// every selector, pick them; no other project's selector can, since the
// router only evaluates the sources of the series' own project.
//
// They are opt-in by name: a source selects them only through a filter group
// that names a metric (`__name__` with `=` or `=~`, e.g.
// `{__name__=~"telex_export_.*"}` or `telex_export_samples_sent_total`), never
// through `{}` or label filters alone. A policy exporting "all of my project"
// keeps exporting exactly what it did (no new series, no new cost at the
// customer's endpoint appears by itself), and a policy cannot start counting
// its own samples unless asked to.
//
// No feedback loop grows: each interval yields SELF_SERIES_PER_SINK samples per
// sink of the project's policies, whatever their values, so a policy that
// exports its own metrics sends that fixed number more per interval (its sent
// counter then includes them, as Prometheus' scrape_samples_scraped counts
// itself) and converges.
import type { Selector } from "../metricsql/index.js";
import { METRIC_NAME_LABEL } from "../metricsql/index.js";
import { encodeLabels, WriteRequestBuilder, type Label } from "../remotewrite/index.js";
import type { PolicyPlan } from "./plan.js";
import { DROP_REASONS } from "./sink/stats.js";
import type { SinkMetricsSource } from "./sink/metrics.js";

export const SELF_METRICS_DEFAULTS = {
  // Prometheus' default scrape interval: the resolution dashboards of
  // platform metrics are built for; per sink 15 samples every 15 s.
  intervalMs: 15_000,
  // A pull-mode fleet's hop (Exporter.selfMetricsIntake): samples per
  // forwarded request, the sender splitting larger batches and the receiver
  // refusing larger requests. 10,000 is one interval of 666 sinks (~1 MB),
  // and bounds what one request can make the receiver hold.
  maxForwardedSamples: 10_000,
} as const;

/** The series per sink, by name: the documented, fixed set (README "Tenants' own delivery metrics"). */
export const SELF_METRICS = {
  received: "telex_export_samples_received_total",
  sent: "telex_export_samples_sent_total",
  dropped: "telex_export_samples_dropped_total",
  retried: "telex_export_samples_retried_total",
  buffered: "telex_export_buffered_samples",
  lag: "telex_export_lag_seconds",
  healthy: "telex_export_sink_healthy",
} as const;

const NAMES: ReadonlySet<string> = new Set(Object.values(SELF_METRICS));

/** 6 series, and one per drop reason (9): 15. */
export const SELF_SERIES_PER_SINK = Object.keys(SELF_METRICS).length - 1 + DROP_REASONS.length;

/** Whether a series is one of the self-metrics, by its name (the router asks on a cache miss). */
export function isSelfMetric(labels: readonly Label[]): boolean {
  for (const label of labels) if (label.name === METRIC_NAME_LABEL) return NAMES.has(label.value);
  return false;
}

/**
 * The part of a source's selector that may select self-metrics: its groups
 * naming a metric with `=` or `=~`. Undefined when none does (the source
 * never gets them). Negative name filters (`!=`, `!~`) do not opt in.
 */
export function selfMetricsSelector(selector: Selector): Selector | undefined {
  const groups = selector.groups.filter((group) =>
    group.some((filter) => filter.label === METRIC_NAME_LABEL && (filter.op === "=" || filter.op === "=~")),
  );
  return groups.length === 0 ? undefined : { groups };
}

export interface SelfMetricsPolicy {
  readonly plan: PolicyPlan;
  readonly sinks: ReadonlyMap<string, SinkMetricsSource>;
}

/** One series' encoded labels and value. */
export interface SelfSample {
  readonly labelBytes: Uint8Array;
  readonly value: number;
}

/** The self-metrics of these policies (all of one project), as encoded series and values. */
export function selfMetricsSamples(tenantLabel: string, policies: Iterable<SelfMetricsPolicy>): SelfSample[] {
  const samples: SelfSample[] = [];
  for (const { plan, sinks } of policies) {
    for (const [sinkName, sink] of sinks) {
      const base: Label[] = [
        { name: tenantLabel, value: plan.project },
        { name: "namespace", value: plan.namespace },
        { name: "policy", value: plan.name },
        { name: "sink", value: sinkName },
      ];
      const add = (name: string, value: number, extra?: Label) => {
        const labels = [{ name: METRIC_NAME_LABEL, value: name }, ...base];
        if (extra !== undefined) labels.push(extra);
        samples.push({ labelBytes: encodeLabels(labels), value });
      };
      const { stats } = sink;
      add(SELF_METRICS.received, stats.samplesReceived);
      add(SELF_METRICS.sent, stats.samplesSent);
      for (const reason of DROP_REASONS) {
        add(SELF_METRICS.dropped, stats.dropped[reason], { name: "reason", value: reason });
      }
      add(SELF_METRICS.retried, stats.samplesRetried);
      add(SELF_METRICS.buffered, sink.buffered);
      add(SELF_METRICS.lag, sink.lagSeconds());
      // The delivery half of the sink's Ready condition (a running sink has passed the configuration half).
      add(SELF_METRICS.healthy, sink.isDown || stats.consecutiveFailures > 0 ? 0 : 1);
    }
  }
  return samples;
}

/** The samples as one uncompressed WriteRequest, all at timestampMs. */
export function selfMetricsRequest(samples: readonly SelfSample[], timestampMs: number): Uint8Array {
  const builder = new WriteRequestBuilder({ initialCapacity: samples.length * 200 });
  for (const sample of samples) builder.addSample(sample.labelBytes, sample.value, timestampMs);
  return builder.finish();
}
