// Hands samples read from the metrics store (pull mode) to a source's sinks.
// The store was asked with the tenant-scoped selector; the tenant label is
// checked again here anyway, so a misbehaving store cannot leak another
// project's series. Reading waits while a sink's queue is over half full:
// in pull mode the store can be read again later, so waiting beats dropping.
import { encodeLabels, type Label } from "../remotewrite/index.js";
import type { PullJob } from "./pull/index.js";
import type { SourceStats } from "./router/router.js";
import type { SeriesRef } from "./series.js";
import type { RemoteWriteSink } from "./sink/index.js";
import { sleep, type Clock } from "./util/clock.js";

/** Label sets remembered per job so each series is encoded once; cleared when it grows past this. */
const MAX_REMEMBERED_SERIES = 100_000;
const ROOM_POLL_MS = 20;

export interface PullEmitterOptions {
  readonly project: string;
  readonly tenantLabel: string;
  readonly sinks: readonly RemoteWriteSink[];
  readonly stats: SourceStats;
  readonly clock: Clock;
  /** Counts samples whose series is not the project's (never sent). */
  readonly onForeign: (samples: number) => void;
}

export function pullEmitter(options: PullEmitterOptions): PullJob["emit"] {
  const { project, tenantLabel, sinks, stats, clock } = options;
  const seen = new Map<string, SeriesRef>();
  const crowded = () => sinks.some((sink) => !sink.closed && sink.queued > sink.capacity / 2);
  const waitForRoom = async () => {
    while (crowded()) await sleep(clock, ROOM_POLL_MS);
  };
  return (labels: readonly Label[], values: readonly number[], timestampsMs: readonly number[]) => {
    if (labels.find((l) => l.name === tenantLabel)?.value !== project) {
      options.onForeign(values.length);
      return;
    }
    const key = labels.map((l) => `${l.name}\u0000${l.value}`).join("\u0001");
    let series = seen.get(key);
    if (series === undefined) {
      if (seen.size >= MAX_REMEMBERED_SERIES) seen.clear();
      series = { labelBytes: encodeLabels(labels) };
      seen.set(key, series);
    }
    for (let i = 0; i < values.length; i++) {
      const value = values[i] ?? NaN;
      const timestamp = timestampsMs[i] ?? 0;
      for (const sink of sinks) sink.push(series, value, timestamp);
    }
    stats.matchedSamples += values.length;
    return crowded() ? waitForRoom() : undefined;
  };
}
