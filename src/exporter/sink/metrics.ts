// A sink's health and accounting as Prometheus metrics, labelled by the
// caller (project, policy, sink).
import type { ExpositionWriter, LabelSet } from "../../metrics/exposition.js";
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

export function writeSinkMetrics(writer: ExpositionWriter, labels: LabelSet, sink: SinkMetricsSource): void {
  const { stats } = sink;
  writer.sample(
    "telex_sink_samples_received_total",
    "Samples routed to the sink (an exemplar or a native histogram sample counts as one, in every telex_sink_samples_* series).",
    "counter",
    labels,
    stats.samplesReceived,
  );
  writer.sample(
    "telex_sink_samples_sent_total",
    "Samples the endpoint accepted.",
    "counter",
    labels,
    stats.samplesSent,
  );
  for (const reason of DROP_REASONS) {
    writer.sample(
      "telex_sink_samples_dropped_total",
      "Samples dropped, by reason; received = sent + dropped + buffered.",
      "counter",
      { ...labels, reason },
      stats.dropped[reason],
    );
  }
  writer.sample(
    "telex_sink_samples_retried_total",
    "Samples sent again after a failed attempt (retries and probes), once per attempt.",
    "counter",
    labels,
    stats.samplesRetried,
  );
  writer.sample(
    "telex_sink_buffered_samples",
    "Samples received and not yet delivered or dropped: in memory, in flight or on disk.",
    "gauge",
    labels,
    sink.buffered,
  );
  writer.sample(
    "telex_sink_buffered_bytes",
    "Bytes of the buffered samples (on disk with a durable buffer, else estimated in memory).",
    "gauge",
    labels,
    sink.bufferedBytes,
  );
  writer.sample(
    "telex_sink_lag_seconds",
    "Now minus the newest delivered sample's timestamp while samples wait; 0 when none do.",
    "gauge",
    labels,
    sink.lagSeconds(),
  );
  writer.sample(
    "telex_sink_shards",
    "Requests the sink may have in flight at once.",
    "gauge",
    labels,
    sink.shardCount,
  );
  writer.sample(
    "telex_sink_shards_desired",
    "The shard count the sink is moving to (equal to telex_sink_shards outside a reshard).",
    "gauge",
    labels,
    sink.desiredShardCount,
  );
  writer.sample(
    "telex_sink_down",
    "1 while the sink keeps its samples and probes a failing endpoint, else 0.",
    "gauge",
    labels,
    sink.isDown ? 1 : 0,
  );
  for (const outcome of REQUEST_OUTCOMES) {
    writer.sample(
      "telex_sink_requests_total",
      "Delivery attempts, by outcome.",
      "counter",
      { ...labels, outcome },
      stats.requests[outcome],
    );
  }
  writer.sample(
    "telex_sink_sent_bytes_total",
    "Compressed request bytes the endpoint accepted.",
    "counter",
    labels,
    stats.bytesSent,
  );
  writer.histogram(
    "telex_sink_request_duration_seconds",
    "Duration of delivery attempts.",
    labels,
    LATENCY_BUCKETS_S,
    stats.latency.counts,
    stats.latency.sumSeconds,
    stats.latency.count,
  );
  writer.sample(
    "telex_sink_consecutive_failures",
    "Failed attempts since the last success.",
    "gauge",
    labels,
    stats.consecutiveFailures,
  );
  if (stats.lastSuccessMs !== undefined) {
    writer.sample(
      "telex_sink_last_success_timestamp_seconds",
      "When the endpoint last accepted a request.",
      "gauge",
      labels,
      stats.lastSuccessMs / 1000,
    );
  }
}
