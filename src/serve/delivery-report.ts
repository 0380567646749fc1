// The exporter's counters in the API's terms, for the ExportPolicy `delivery`
// subresource (served on read, never written to status: see
// src/apiserver/delivery.ts). Only where the API and the exporter share a
// process: the all-in-one server.
import type { DeliveryRateHistory, PolicyDelivery } from "../apiserver/index.js";
import type { PolicyHealth } from "../exporter/exporter.js";
import { DROP_REASONS, REQUEST_OUTCOMES } from "../exporter/sink/index.js";

/** `history`: a sink's recent rates by its name, when the server keeps them (delivery-history.ts). */
export function deliveryReport(
  health: PolicyHealth,
  history: (sink: string) => DeliveryRateHistory | undefined = () => undefined,
): PolicyDelivery {
  return {
    generation: health.generation,
    sinks: [...health.sinks].map(([name, sink]) => {
      const { stats } = sink;
      const rates = history(name);
      return {
        name,
        samplesReceived: stats.samplesReceived,
        samplesSent: stats.samplesSent,
        samplesDropped: Object.fromEntries(DROP_REASONS.map((r) => [r, stats.dropped[r]])),
        samplesBuffered: sink.buffered,
        bufferedBytes: sink.bufferedBytes,
        lagSeconds: sink.lagSeconds(),
        shards: sink.shardCount,
        samplesRetried: stats.samplesRetried,
        ...(sink.down === undefined
          ? {}
          : {
              down: {
                sinceMs: sink.down.sinceMs,
                nextProbeMs: sink.down.nextProbeMs,
                probes: sink.down.probes,
              },
            }),
        requests: Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, stats.requests[o]])),
        bytesSent: stats.bytesSent,
        consecutiveFailures: stats.consecutiveFailures,
        ...(stats.lastSuccessMs === undefined ? {} : { lastSuccessMs: stats.lastSuccessMs }),
        ...(stats.lastError === undefined ? {} : { lastError: stats.lastError }),
        latency: { count: stats.latency.count, sumSeconds: stats.latency.sumSeconds },
        ...(rates === undefined ? {} : { history: rates }),
      };
    }),
    sources: [...health.sources].map(([name, stats]) => ({ name, samplesMatched: stats.matchedSamples })),
  };
}
