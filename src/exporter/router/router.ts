// Routes incoming series to sinks. A series belongs to the project named by
// its tenant label; only that project's sources are evaluated, and a series
// goes to every sink that forwards a matching source — twice to a sink that
// forwards two matching sources, as the API promises no de-duplication.
//
// The decision is cached per series (see series-cache.ts) and recomputed when
// the series' project changes its policies; other projects' series keep their
// cached routes.
//
// Telex's own delivery metrics (self-metrics.ts) are routed here too, as
// series of their project, but only to sources whose selector names them.
//
// A series over a label limit (LabelLimits) is dropped and counted, never
// cached, and the rest of its request is accepted, as VictoriaMetrics and
// Prometheus do: refusing the request would make the agent retry, or drop,
// the good series sent with it. The limits are checked on a cache miss only,
// where the labels are decoded anyway; a cached series has passed them, so
// the steady state pays one length comparison.
import { decodeLabelBytes, encodeLabels, InvalidLabelsError } from "../../remotewrite/index.js";
import type { Label } from "../../remotewrite/index.js";
import type { SeriesMatcher } from "../../metricsql/index.js";
import type { SinkLog } from "../buffer/index.js";
import type { FamilyRecord, MetadataBook } from "../metadata.js";
import type { SeriesRef } from "../series.js";
import { isSelfMetric } from "../self-metrics.js";
import { SeriesCache, hashRange, type CacheEntry } from "./series-cache.js";

/** Where a routed sample goes: a sink's push. */
export interface SampleTarget {
  push(series: SeriesRef, value: number, timestampMs: number): void;
  /** With a durable buffer: the sink's view of the log, written before push() is called. */
  readonly durable?: SinkLog | undefined;
  /** With a durable buffer: the seq in the log of the next pushed sample. */
  expectSeq?(seq: number): void;
  /**
   * In a fleet, for a policy another replica runs: the replica its samples
   * are forwarded to (undefined while none is known). Such a target is never
   * pushed to: the ingest processor forwards the series instead.
   */
  readonly forwardTo?: (() => string | undefined) | undefined;
  /** The router routes series of the metric family here (see metadata.ts). */
  noteFamily?(record: FamilyRecord): void;
}

/** Counts what one source of one policy matched. */
export class SourceStats {
  matchedSamples = 0;
}

export interface CompiledSource {
  readonly matcher: SeriesMatcher;
  /**
   * Telex's own delivery metrics (self-metrics.ts) are matched against this
   * instead: the source's groups that name a metric. Undefined when none
   * does, and the source never gets them (they are opt-in by name).
   */
  readonly selfMatcher?: SeriesMatcher | undefined;
  /** The sinks forwarding this source. */
  readonly targets: readonly SampleTarget[];
  readonly stats: SourceStats;
}

/** A resolved series: what to push and where. */
export interface Route {
  readonly series: SeriesRef;
  /** One entry per (matching source, forwarding sink); may repeat a sink. */
  readonly targets: readonly SampleTarget[];
  /** One entry per matching source. */
  readonly sources: readonly SourceStats[];
  /** The series' tenant, for attributing a request's metric metadata. */
  readonly project: string;
}

/** Why a series over a label limit is dropped: one counter each. */
export const LABEL_LIMIT_REASONS = [
  "too_many_labels",
  "label_name_too_long",
  "label_value_too_long",
  "labels_too_large",
] as const;
export type LabelLimitReason = (typeof LABEL_LIMIT_REASONS)[number];

/** Why a series has no route. */
export type Unrouted = "no-tenant" | "not-selected" | LabelLimitReason;

/** Per-series label limits; lengths in bytes (UTF-8), as VictoriaMetrics counts them. */
export interface LabelLimits {
  readonly maxLabels: number;
  readonly maxNameBytes: number;
  readonly maxValueBytes: number;
  /** The series' encoded label fields (names, values and 2–6 bytes of framing per label). */
  readonly maxSeriesBytes: number;
}

export const ROUTER_DEFAULTS = {
  // Routes of 200,000 series: a few platform clusters' worth of agents.
  maxCachedSeries: 200_000,
  // 64 MiB of label bytes holds the 200,000 series of the entry bound at up
  // to 335 bytes each (platform series: 200–250), and caps what long label
  // sets can pin: 8,000 series of 8 KiB.
  maxCachedBytes: 64 * 2 ** 20,
  labelLimits: {
    // VictoriaMetrics' defaults (lib/timeserieslimits: -maxLabelsPerTimeseries=40,
    // -maxLabelNameLen=256, -maxLabelValueLen=4096); platform series carry ≤ 11 labels.
    maxLabels: 40,
    maxNameBytes: 256,
    maxValueBytes: 4096,
    // VictoriaMetrics has no total; without one 40 labels of 4 KiB would pass.
    // 8 KiB is ~30× a platform series and 2× the longest single value allowed.
    maxSeriesBytes: 8192,
  } satisfies LabelLimits,
} as const;

/**
 * What a series was seen doing lately, for `telex preview` (see
 * recent-series.ts): the samples accepted in the minute it was last seen in
 * and in the minute before. Kept on the route cache's entry, so recording it
 * costs no lookup of its own: one comparison and one increment per sample.
 */
export interface SeriesActivity {
  /** The minute (ms since the epoch / 60,000) the series was last seen in. */
  minute: number;
  /** Samples in that minute. */
  samples: number;
  /** Samples in the minute before it (0 when the series was not seen then). */
  previousSamples: number;
  /**
   * When the series entered the cache (again, after an eviction), in seconds
   * since ACTIVITY_EPOCH_SECONDS: a small integer, stored in the entry itself
   * where milliseconds since 1970 would take a boxed number of their own.
   */
  readonly firstSeenSecond: number;
}

/** 2025-01-01T00:00:00Z: firstSeenSecond counts from here (a small integer until 2059). */
export const ACTIVITY_EPOCH_SECONDS = 1_735_689_600;

/** Counts one accepted sample of the series, in the given minute. */
export function countSample(activity: SeriesActivity, minute: number): void {
  if (activity.minute !== minute) {
    activity.previousSamples = activity.minute === minute - 1 ? activity.samples : 0;
    activity.samples = 0;
    activity.minute = minute;
  }
  activity.samples++;
}

interface CachedRoute extends SeriesActivity {
  readonly project: string | undefined;
  generation: number;
  route: Route | Unrouted;
}

/** A cached series of one project: its label bytes and what it was seen doing. */
export interface RecentSeries {
  readonly labelBytes: Uint8Array;
  readonly activity: SeriesActivity;
}

/** Prometheus' label name syntax: what every Remote Write receiver accepts. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface RouterOptions {
  readonly tenantLabel: string;
  /** Upper bound on series whose routes are cached (default ROUTER_DEFAULTS). */
  readonly maxCachedSeries?: number;
  /** Upper bound on the label bytes of the cached series (default ROUTER_DEFAULTS). */
  readonly maxCachedBytes?: number;
  readonly labelLimits?: Partial<LabelLimits>;
  /** The time, for when series are first seen and for the cache's generations (default Date.now). */
  readonly now?: () => number;
  /** Told of every route built, so metric metadata reaches the sinks of its family. */
  readonly metadata?: MetadataBook;
}

export class Router {
  private readonly projects = new Map<string, readonly CompiledSource[]>();
  private readonly generations = new Map<string, number>();
  private readonly cache: SeriesCache<CachedRoute>;
  private nextGeneration = 1;
  // The request resolve() saw last, as a Buffer (for native comparison) and a DataView (for hashing).
  private lastBytes: Uint8Array = new Uint8Array(0);
  private lastBuffer: Buffer = Buffer.alloc(0);
  private lastView: DataView = new DataView(new ArrayBuffer(0));
  /** The series resolved last: its successor is the first guess for the next one. */
  private lastEntry: CacheEntry<CachedRoute> | undefined;
  private readonly limits: LabelLimits;
  private readonly now: () => number;
  /** The activity of the series resolve() returned last; undefined when it is not cached (over a limit). */
  resolvedActivity: SeriesActivity | undefined;
  cacheHits = 0;
  cacheMisses = 0;

  constructor(private readonly options: RouterOptions) {
    this.limits = { ...ROUTER_DEFAULTS.labelLimits, ...options.labelLimits };
    this.now = options.now ?? Date.now;
    this.cache = new SeriesCache<CachedRoute>(
      options.maxCachedSeries ?? ROUTER_DEFAULTS.maxCachedSeries,
      options.maxCachedBytes ?? ROUTER_DEFAULTS.maxCachedBytes,
      this.now,
    );
  }

  /** The minute samples applied now are counted in (see SeriesActivity). */
  currentMinute(): number {
    return Math.floor(this.now() / 60_000);
  }

  /**
   * The cached series of a project, at most `max` of them (a snapshot: the
   * cache goes on changing). Series seen since `evictedBeforeMs` are all
   * there (up to the cache's bounds), older ones may have been evicted.
   */
  recentSeries(project: string, max: number): { series: RecentSeries[]; truncated: boolean } {
    const series: RecentSeries[] = [];
    for (const entry of this.cache.entries()) {
      if (entry.value.project !== project) continue;
      if (series.length === max) return { series, truncated: true };
      series.push({ labelBytes: entry.key, activity: entry.value });
    }
    return { series, truncated: false };
  }

  /** No series looked up since this time has been evicted from the cache (0: none ever was). */
  get evictedBeforeMs(): number {
    return this.cache.evictedBeforeMs;
  }

  /** Label bytes held by the route cache. */
  get cachedBytes(): number {
    return this.cache.keyBytes;
  }

  /** Replaces a project's sources (all its policies together); an empty list removes the project. */
  setProject(project: string, sources: readonly CompiledSource[]): void {
    if (sources.length === 0) this.projects.delete(project);
    else this.projects.set(project, sources);
    this.generations.set(project, this.nextGeneration++);
  }

  /**
   * The ref of a cached series with exactly these label bytes, if any; no
   * route is computed, nothing counted, no entry kept from expiring. The
   * durable log shares it instead of copying the labels of every series a
   * sealed segment defines (buffer/log.ts, internSeries).
   */
  cachedSeries(bytes: Uint8Array): SeriesRef | undefined {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const route = this.cache.peek(buffer, 0, bytes.length, hashRange(view, bytes, 0, bytes.length))?.value
      .route;
    return typeof route === "object" ? route.series : undefined;
  }

  /**
   * The route of the series whose encoded label fields are bytes[start, end)
   * (by default all of bytes). Throws InvalidLabelsError or
   * WriteRequestDecodeError for a label set that is not acceptable, the first
   * time the series is seen. A series over a label limit gets its reason.
   */
  resolve(bytes: Uint8Array, start = 0, end = bytes.length): Route | Unrouted {
    // Before hashing: a 10 KB label set costs nothing more than this comparison.
    if (end - start > this.limits.maxSeriesBytes) {
      this.resolvedActivity = undefined;
      return "labels_too_large";
    }
    if (bytes !== this.lastBytes) {
      this.lastBytes = bytes;
      this.lastBuffer = Buffer.isBuffer(bytes)
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      this.lastView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    let entry = this.cache.follow(this.lastEntry, this.lastBuffer, start, end);
    let hash = 0;
    if (entry === undefined) {
      hash = hashRange(this.lastView, bytes, start, end);
      entry = this.cache.get(this.lastBuffer, start, end, hash);
      if (entry !== undefined) this.link(entry);
    }
    if (entry !== undefined) {
      this.lastEntry = entry;
      const cached = entry.value;
      this.resolvedActivity = cached;
      if (cached.project === undefined || cached.generation === this.generationOf(cached.project)) {
        this.cacheHits++;
        return cached.route;
      }
      this.cacheMisses++;
      cached.generation = this.generationOf(cached.project);
      cached.route = this.compute(entry.key, decodeLabelBytes(entry.key), cached.project);
      return cached.route;
    }
    this.cacheMisses++;
    const labels = decodeLabelBytes(bytes.subarray(start, end));
    checkLabels(labels);
    const overLimit = labelLimitExceeded(labels, this.limits);
    if (overLimit !== undefined) {
      this.resolvedActivity = undefined;
      return overLimit;
    }
    const project = labels.find((l) => l.name === this.options.tenantLabel)?.value;
    const generation = project === undefined ? 0 : this.generationOf(project);
    const created = this.cache.set(bytes, start, end, hash, {
      project,
      generation,
      route: "no-tenant",
      minute: 0,
      samples: 0,
      previousSamples: 0,
      firstSeenSecond: Math.floor(this.now() / 1000) - ACTIVITY_EPOCH_SECONDS,
    });
    this.resolvedActivity = created.value;
    this.link(created);
    created.value.route = project === undefined ? "no-tenant" : this.compute(created.key, labels, project);
    return created.value.route;
  }

  /** Remembers that entry followed the one resolved before it, for the next time. */
  private link(entry: CacheEntry<CachedRoute>): void {
    if (this.lastEntry !== undefined) this.lastEntry.next = entry;
    this.lastEntry = entry;
  }

  private generationOf(project: string): number {
    return this.generations.get(project) ?? 0;
  }

  private compute(
    labelBytes: Uint8Array,
    labels: readonly Label[],
    project: string | undefined,
  ): Route | Unrouted {
    if (project === undefined) return "no-tenant";
    const sources = this.projects.get(project);
    if (sources === undefined) return "not-selected";
    const targets: SampleTarget[] = [];
    const matched: SourceStats[] = [];
    const self = isSelfMetric(labels);
    for (const source of sources) {
      const matcher = self ? source.selfMatcher : source.matcher;
      if (matcher === undefined || !matcher.matches(labels)) continue;
      matched.push(source.stats);
      targets.push(...source.targets);
    }
    if (targets.length === 0) return "not-selected";
    const metricName = labels.find((l) => l.name === "__name__")?.value;
    if (metricName !== undefined) this.options.metadata?.noteSeries(project, metricName, targets);
    return {
      series: { labelBytes: canonicalLabelBytes(labelBytes, labels) },
      targets,
      sources: matched,
      project,
    };
  }
}

/** Rejects label sets Remote Write receivers would refuse: bad or repeated names. */
function checkLabels(labels: readonly Label[]): void {
  const seen = new Set<string>();
  for (const { name } of labels) {
    if (!LABEL_NAME.test(name)) throw new InvalidLabelsError(`invalid label name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new InvalidLabelsError(`label name ${JSON.stringify(name)} repeated`);
    seen.add(name);
  }
}

/** The first limit labels exceed (names are ASCII: checkLabels ran), or undefined. */
function labelLimitExceeded(labels: readonly Label[], limits: LabelLimits): LabelLimitReason | undefined {
  if (labels.length > limits.maxLabels) return "too_many_labels";
  for (const { name, value } of labels) {
    if (name.length > limits.maxNameBytes) return "label_name_too_long";
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: count bytes only when it can matter.
    if (
      value.length > limits.maxValueBytes ||
      (value.length * 3 > limits.maxValueBytes && Buffer.byteLength(value) > limits.maxValueBytes)
    ) {
      return "label_value_too_long";
    }
  }
  return undefined;
}

/**
 * The bytes to send: the received ones when already canonical (sorted, no
 * empty values — what every agent sends), else re-encoded.
 */
function canonicalLabelBytes(labelBytes: Uint8Array, labels: readonly Label[]): Uint8Array {
  let canonical = true;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    const previous = labels[i - 1];
    if (label === undefined) continue;
    // Names are ASCII (checkLabels), so string order is byte order.
    if (label.value === "" || (previous !== undefined && previous.name >= label.name)) {
      canonical = false;
      break;
    }
  }
  return canonical ? labelBytes : encodeLabels(labels);
}
