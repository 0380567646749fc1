// Hands samples read from the metrics store (pull mode) to one sink: the job
// of a (policy, sink) reads the union of the sink's sources. The store was
// asked with the tenant-scoped selectors; the tenant label is checked again
// here anyway, so a misbehaving store cannot leak another project's series.
//
// Nothing is ever dropped for room: a sample is pushed only while the sink's
// memory ring has space for it (so it is kept until delivered or refused for
// good), and reading waits while the ring is over half full. A down sink
// takes nothing more: emit answers how many samples it took and the runner
// pauses the job until the sink is back. In pull mode the store is the
// buffer, so waiting beats dropping.
import type { SeriesMatcher } from "../metricsql/index.js";
import { encodeLabels, type Label } from "../remotewrite/index.js";
import type { EmitResult, PullJob } from "./pull/index.js";
import type { SourceStats } from "./router/router.js";
import type { SeriesRef } from "./series.js";
import type { RemoteWriteSink } from "./sink/index.js";
import { sleep, type Clock } from "../util/index.js";

/** Label sets remembered per job so each series is encoded and matched once; cleared when it grows past this. */
const MAX_REMEMBERED_SERIES = 100_000;
const ROOM_POLL_MS = 20;

/** A source whose matchedSamples this job counts (each source is counted by one job only). */
export interface CountedSource {
  readonly matcher: SeriesMatcher;
  readonly stats: SourceStats;
}

export interface PullEmitterOptions {
  readonly project: string;
  readonly tenantLabel: string;
  readonly sink: RemoteWriteSink;
  /** The sources this job counts: a series' samples count for every one whose selector it matches. */
  readonly counted: readonly CountedSource[];
  readonly clock: Clock;
  /** Counts samples whose series is not the project's (never sent). */
  readonly onForeign: (samples: number) => void;
}

interface KnownSeries {
  readonly ref: SeriesRef;
  readonly stats: readonly SourceStats[];
}

export function pullEmitter(options: PullEmitterOptions): PullJob["emit"] {
  const { project, tenantLabel, sink, counted, clock } = options;
  const seen = new Map<string, KnownSeries>();
  const stopped = () => sink.closed || sink.isDown;
  const crowded = () => !sink.closed && sink.queued > sink.capacity / 2;
  const full = () => !sink.closed && sink.queued >= sink.capacity;

  /** Pushes samples from `from` while the sink is up and has room; returns where it stopped. */
  const pushWhileRoom = (
    series: KnownSeries,
    values: readonly number[],
    timestampsMs: readonly number[],
    from: number,
  ): number => {
    if (sink.isDown) return from;
    const room = sink.closed ? values.length - from : sink.capacity - sink.queued;
    const to = Math.min(values.length, from + Math.max(0, room));
    for (let i = from; i < to; i++) sink.push(series.ref, values[i] ?? NaN, timestampsMs[i] ?? 0);
    for (const stats of series.stats) stats.matchedSamples += to - from;
    return to;
  };

  const finish = async (
    series: KnownSeries,
    values: readonly number[],
    timestampsMs: readonly number[],
    from: number,
  ): Promise<EmitResult> => {
    let next = from;
    while (next < values.length) {
      while (full() && !stopped()) await sleep(clock, ROOM_POLL_MS);
      if (sink.isDown) return next;
      next = pushWhileRoom(series, values, timestampsMs, next);
    }
    while (crowded() && !stopped()) await sleep(clock, ROOM_POLL_MS);
    return undefined;
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
      series = {
        ref: { labelBytes: encodeLabels(labels) },
        stats: counted.filter((source) => source.matcher.matches(labels)).map((source) => source.stats),
      };
      seen.set(key, series);
    }
    const next = pushWhileRoom(series, values, timestampsMs, 0);
    if (next < values.length) return sink.isDown ? next : finish(series, values, timestampsMs, next);
    return crowded() && !stopped() ? finish(series, values, timestampsMs, next) : undefined;
  };
}
