// Sinks' health and accounting as Prometheus metrics, labelled by the
// caller (project, namespace, policy, sink). Written family by family over
// all sinks at once: at 10,000 policies this is ~440,000 lines a scrape, so
// each family is looked up once and each sink's labels rendered once.
import {
  renderLabels,
  type ExpositionWriter,
  type FamilyLines,
  type LabelSet,
} from "../../metrics/exposition.js";
import { DROP_REASONS, LATENCY_BUCKETS_S, REQUEST_OUTCOMES, type SinkStats } from "./stats.js";

export interface SinkMetricsSource {
  readonly stats: SinkStats;
  /** Samples received and not yet delivered or dropped (memory, in flight, disk). */
  readonly buffered: number;
  /** Their size: on disk when the sink has a durable log, else an estimate of memory. */
  readonly bufferedBytes: number;
  readonly shardCount: number;
  readonly desiredShardCount: number;
  /** Whether the sink is keeping its samples and probing a failing endpoint. */
  readonly isDown: boolean;
  lagSeconds(): number;
}

/** A sink and its labels; `labels` should be an object the caller keeps between scrapes (ExpositionWriter). */
export interface LabelledSink {
  readonly labels: LabelSet;
  readonly sink: SinkMetricsSource;
}

// The labels that vary within a family, rendered once.
const REASON_LABELS = DROP_REASONS.map((reason) => renderLabels({ reason }));
const OUTCOME_LABELS = REQUEST_OUTCOMES.map((outcome) => renderLabels({ outcome }));

export function writeSinkMetrics(writer: ExpositionWriter, sinks: readonly LabelledSink[]): void {
  if (sinks.length === 0) return;
  const labels = sinks.map((s) => renderLabels(s.labels));
  const each = (
    name: string,
    help: string,
    type: "counter" | "gauge",
    value: (sink: SinkMetricsSource) => number,
  ): void => {
    const family = writer.family(name, help, type);
    for (let i = 0; i < sinks.length; i++) {
      family.add(labels[i] as Uint8Array, value((sinks[i] as LabelledSink).sink));
    }
  };
  each(
    "telex_sink_samples_received_total",
    "Samples routed to the sink (an exemplar or a native histogram sample counts as one, in every telex_sink_samples_* series).",
    "counter",
    (s) => s.stats.samplesReceived,
  );
  each(
    "telex_sink_samples_sent_total",
    "Samples the endpoint accepted.",
    "counter",
    (s) => s.stats.samplesSent,
  );
  const dropped = writer.family(
    "telex_sink_samples_dropped_total",
    "Samples dropped, by reason; received = sent + dropped + buffered.",
    "counter",
  );
  for (let i = 0; i < sinks.length; i++) {
    const counts = (sinks[i] as LabelledSink).sink.stats.dropped;
    for (let r = 0; r < DROP_REASONS.length; r++) {
      dropped.add(labels[i] as Uint8Array, counts[DROP_REASONS[r] ?? "internal_error"], REASON_LABELS[r]);
    }
  }
  each(
    "telex_sink_samples_retried_total",
    "Samples sent again after a failed attempt (retries and probes), once per attempt.",
    "counter",
    (s) => s.stats.samplesRetried,
  );
  each(
    "telex_sink_buffered_samples",
    "Samples received and not yet delivered or dropped: in memory, in flight or on disk.",
    "gauge",
    (s) => s.buffered,
  );
  each(
    "telex_sink_buffered_bytes",
    "Bytes of the buffered samples (on disk with a durable buffer, else estimated in memory).",
    "gauge",
    (s) => s.bufferedBytes,
  );
  each(
    "telex_sink_lag_seconds",
    "Now minus the newest delivered sample's timestamp while samples wait; 0 when none do.",
    "gauge",
    (s) => s.lagSeconds(),
  );
  each("telex_sink_shards", "Requests the sink may have in flight at once.", "gauge", (s) => s.shardCount);
  each(
    "telex_sink_shards_desired",
    "The shard count the sink is moving to (equal to telex_sink_shards outside a reshard).",
    "gauge",
    (s) => s.desiredShardCount,
  );
  each(
    "telex_sink_down",
    "1 while the sink keeps its samples and probes a failing endpoint, else 0.",
    "gauge",
    (s) => (s.isDown ? 1 : 0),
  );
  const requests = writer.family("telex_sink_requests_total", "Delivery attempts, by outcome.", "counter");
  for (let i = 0; i < sinks.length; i++) {
    const counts = (sinks[i] as LabelledSink).sink.stats.requests;
    for (let o = 0; o < REQUEST_OUTCOMES.length; o++) {
      requests.add(labels[i] as Uint8Array, counts[REQUEST_OUTCOMES[o] ?? "success"], OUTCOME_LABELS[o]);
    }
  }
  each(
    "telex_sink_sent_bytes_total",
    "Compressed request bytes the endpoint accepted.",
    "counter",
    (s) => s.stats.bytesSent,
  );
  const duration = writer.family(
    "telex_sink_request_duration_seconds",
    "Duration of delivery attempts.",
    "histogram",
  );
  for (let i = 0; i < sinks.length; i++) {
    const latency = (sinks[i] as LabelledSink).sink.stats.latency;
    duration.addHistogram(
      labels[i] as Uint8Array,
      LATENCY_BUCKETS_S,
      latency.counts,
      latency.sumSeconds,
      latency.count,
    );
  }
  each(
    "telex_sink_consecutive_failures",
    "Failed attempts since the last success.",
    "gauge",
    (s) => s.stats.consecutiveFailures,
  );
  // Only sinks that delivered have the series (and the family a header only then).
  let lastSuccess: FamilyLines | undefined;
  for (let i = 0; i < sinks.length; i++) {
    const at = (sinks[i] as LabelledSink).sink.stats.lastSuccessMs;
    if (at === undefined) continue;
    lastSuccess ??= writer.family(
      "telex_sink_last_success_timestamp_seconds",
      "When the endpoint last accepted a request.",
      "gauge",
    );
    lastSuccess.add(labels[i] as Uint8Array, at / 1000);
  }
}
