// A sink's health and accounting as Prometheus metrics, labelled by the
// caller (project, policy, sink).
import type { ExpositionWriter, LabelSet } from "../../metrics/exposition.js";
import { DROP_REASONS, LATENCY_BUCKETS_S, REQUEST_OUTCOMES, type SinkStats } from "./stats.js";

export interface SinkMetricsSource {
  readonly stats: SinkStats;
  readonly queued: number;
}

export function writeSinkMetrics(writer: ExpositionWriter, labels: LabelSet, sink: SinkMetricsSource): void {
  const { stats } = sink;
  writer.sample(
    "telex_sink_samples_received_total",
    "Samples routed to the sink.",
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
      "Samples dropped, by reason; received = sent + dropped + pending.",
      "counter",
      { ...labels, reason },
      stats.dropped[reason],
    );
  }
  writer.sample(
    "telex_sink_samples_pending",
    "Samples queued or in a request not finished yet.",
    "gauge",
    labels,
    sink.queued + stats.samplesInFlight,
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
