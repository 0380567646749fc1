// Push mode's preview: the policy's scoped selectors matched against the
// series of its project that the router has seen lately. The record is the
// route cache itself (router.ts SeriesActivity): every ingested series of a
// project has an entry there, with the samples of its last two minutes, so
// keeping it costs ingest one comparison and one increment per sample, and
// 32 bytes per cached series (measured: 404 → 436 bytes an entry; 6 MB at
// the default bound). Its bounds are the route
// cache's (ROUTER_DEFAULTS: 200,000 series and 64 MiB of labels across all
// projects, --route-cache-bytes); when the cache has had to evict series seen
// within the look-back, or the project has more than
// PREVIEW_LIMITS.maxScannedSeries of them, counts are marked "at least".
//
// A series belongs to the project the router files it under (its tenant
// label), and is matched with the same scoped selector the router compiles
// from the same plan: the preview sees exactly what the policy would export,
// and never another project's series.
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { compileSelector, print } from "../../metricsql/index.js";
import { decodeLabelBytes } from "../../remotewrite/index.js";
import type { PolicyPlan, SourcePlan } from "../plan.js";
import { ACTIVITY_EPOCH_SECONDS, type Router, type SeriesActivity } from "../router/router.js";
import { mergePushPreviews, type PushPreviewParts } from "./merge.js";
import { PREVIEW_LIMITS, SmallestStrings, formatSeries, type PolicyPreview } from "./report.js";
import { SketchBuilder, seriesHash } from "./sketch.js";

/** What a preview needs of a policy: its project, scoped sources and which sink forwards which. */
export interface PreviewPlan {
  readonly project: PolicyPlan["project"];
  readonly sources: readonly SourcePlan[];
  readonly sinks: readonly { readonly name: string; readonly sources: readonly string[] }[];
}

const MINUTE_MS = 60_000;
/** Series matched between two yields to the event loop: ingest waits at most a few milliseconds. */
const SLICE = 2_000;

/**
 * Samples per minute of a series, from the samples of the minute it was last
 * seen in and the one before, over the time since the start of that earlier
 * minute (or since it was first seen) — at least a minute, so one sample of
 * a series first seen a second ago does not read as 60 a minute.
 */
export function samplesPerMinute(activity: SeriesActivity, nowMs: number): number {
  const firstSeenMs = (activity.firstSeenSecond + ACTIVITY_EPOCH_SECONDS) * 1000;
  const since = Math.max(firstSeenMs, (activity.minute - 1) * MINUTE_MS);
  const minutes = Math.max(1, (nowMs - since) / MINUTE_MS);
  return (activity.samples + activity.previousSamples) / minutes;
}

/**
 * The preview of this server's series alone, with what a fleet needs to merge
 * it with the other replicas' (src/exporter/preview/merge.ts): unrounded rates
 * and a sketch of each source's and sink's series.
 */
export async function previewPushParts(
  router: Router,
  plan: PreviewPlan,
  nowMs: number,
): Promise<PushPreviewParts> {
  const lookBackMinutes = PREVIEW_LIMITS.recentMinutes;
  const oldestMinute = Math.floor(nowMs / MINUTE_MS) - lookBackMinutes;
  const { series, truncated } = router.recentSeries(plan.project, PREVIEW_LIMITS.maxScannedSeries);
  // Series seen within the look-back may have been evicted since: then counts are lower bounds.
  const evicted = router.evictedBeforeMs > oldestMinute * MINUTE_MS;
  const atLeast = truncated || evicted;
  const sources = plan.sources.map((source) => ({
    name: source.name,
    matcher: compileSelector(source.selector),
    perMinute: 0,
    sketch: new SketchBuilder(),
    sample: new SmallestStrings(PREVIEW_LIMITS.sampleSeries),
  }));
  const sinks = plan.sinks.map((sink) => ({
    name: sink.name,
    sources: sink.sources,
    reads: sources.map((source) => sink.sources.includes(source.name)),
    sketch: new SketchBuilder(),
    perMinute: 0,
  }));
  const matched = new Array<boolean>(sources.length).fill(false);
  for (let i = 0; i < series.length; i++) {
    if (i > 0 && i % SLICE === 0) await yieldToEventLoop();
    const { labelBytes, activity } = series[i] as (typeof series)[number];
    if (activity.minute < oldestMinute) continue;
    const labels = decodeLabelBytes(labelBytes);
    const rate = samplesPerMinute(activity, nowMs);
    let printed: string | undefined;
    let hash: number | undefined;
    sources.forEach((source, s) => {
      matched[s] = source.matcher.matches(labels);
      if (!matched[s]) return;
      printed ??= formatSeries(labels);
      hash ??= seriesHash(printed);
      source.sketch.offer(hash);
      source.perMinute += rate;
      source.sample.offer(printed);
    });
    for (const sink of sinks) {
      let times = 0;
      for (let s = 0; s < sources.length; s++) if (sink.reads[s] === true && matched[s] === true) times++;
      if (times === 0 || hash === undefined) continue;
      sink.sketch.offer(hash);
      // The router sends a series once per matching source the sink forwards.
      sink.perMinute += rate * times;
    }
  }
  const notes = [
    `series whose samples reached this server's ingest in the last ${lookBackMinutes} minutes; samples per minute estimated from each series' last two minutes`,
  ];
  if (truncated)
    notes.push(
      `the project has more than ${PREVIEW_LIMITS.maxScannedSeries} recent series: the first ${PREVIEW_LIMITS.maxScannedSeries} were examined`,
    );
  if (evicted)
    notes.push(
      "the route cache is full and has dropped series seen in that time (more series than --route-cache-bytes holds): counts are lower bounds",
    );
  return {
    mode: "push",
    selectors: plan.sources.map((source) => ({ source: source.name, scoped: print(source.selector) })),
    sources: sources.map((source) => ({
      name: source.name,
      sketch: source.sketch.sketch,
      atLeast,
      perMinute: source.perMinute,
      sample: source.sample.values,
      sinks: plan.sinks.filter((sink) => sink.sources.includes(source.name)).map((sink) => sink.name),
    })),
    sinks: sinks.map((sink) => ({
      name: sink.name,
      sources: sink.sources,
      sketch: sink.sketch.sketch,
      atLeast,
      perMinute: sink.perMinute,
    })),
    notes,
  };
}

export async function previewPush(router: Router, plan: PreviewPlan, nowMs: number): Promise<PolicyPreview> {
  const parts = await previewPushParts(router, plan, nowMs);
  const { mode, selectors, sources, sinks } = mergePushPreviews([parts]);
  return { mode, selectors, sources, sinks, notes: parts.notes };
}
