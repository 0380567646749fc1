// The exporter's counters in the API's terms, for the ExportPolicy `delivery`
// subresource (served on read, never written to status: see
// src/apiserver/delivery.ts). Every replica keeps its sinks' rate history and
// reads its reports: the all-in-one server's API calls it in-process, a
// fleet's API server (`--api-only`) asks the replica running the policy at
// DELIVERY_PATH on its listener (src/fleet/delivery.ts).
import type { DeliveryRateHistory, PolicyDelivery } from "../apiserver/index.js";
import type { Exporter, PolicyHealth } from "../exporter/exporter.js";
import { DROP_REASONS, REQUEST_OUTCOMES } from "../exporter/sink/index.js";
import { DeliveryHistory, sinkHistoryKey, type SinkCounters } from "./delivery-history.js";

/** What a replica answers at DELIVERY_PATH when it runs the policy (src/fleet/delivery.ts reads it). */
export interface ReplicaDeliveryAnswer {
  readonly replica: string;
  /** It runs the policy but no longer owns it: handing it over to its new owner. */
  readonly draining: boolean;
  readonly delivery: PolicyDelivery;
}

/** A replica's delivery reports: its exporter's counters and the rate history it records. */
export class ReplicaDelivery {
  readonly history: DeliveryHistory;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly exporter: Exporter,
    intervalMs?: number,
  ) {
    this.history = new DeliveryHistory(intervalMs === undefined ? {} : { intervalMs });
  }

  /** Reads every running sink's counters each interval (delivery-history.ts). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.history.record(Date.now(), sinkCounters(this.exporter));
    }, this.history.intervalMs);
    this.#timer.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  /** The policy's report; undefined when no pipelines run for it here. */
  report(uid: string): PolicyDelivery | undefined {
    const health = this.exporter.health(uid);
    return health === undefined ? undefined : this.reportOf(uid, health);
  }

  /** In a fleet, a policy handed over to another replica: the report of the sinks still delivering its backlog here. */
  drainingReport(uid: string): PolicyDelivery | undefined {
    const health = this.exporter.drainingHealth(uid);
    return health === undefined ? undefined : this.reportOf(uid, health);
  }

  private reportOf(uid: string, health: PolicyHealth): PolicyDelivery {
    // Draining sinks are not in runningSinks(): they have no history, and say so by its absence.
    return deliveryReport(health, (sink) => this.history.rates(sinkHistoryKey(uid, sink)));
  }
}

function* sinkCounters(exporter: Exporter): Generator<readonly [string, SinkCounters]> {
  for (const [uid, name, sink] of exporter.runningSinks()) {
    const { stats } = sink;
    yield [
      sinkHistoryKey(uid, name),
      { samplesSent: stats.samplesSent, samplesDropped: stats.droppedTotal() },
    ];
  }
}

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
