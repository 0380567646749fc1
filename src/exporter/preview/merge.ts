// Push mode's preview put together from the answers of one or more servers:
// the all-in-one server's own, or every live replica's in a fleet (each sees
// only the series ingested through it; src/fleet/preview.ts asks them).
// - series: distinct across the answers (sketch.ts): a series ingested
//   through two replicas counts once;
// - samples per minute: summed. Each sample an agent sends is counted by the
//   one replica it reached (a replica does not count what another forwards to
//   it, src/exporter/ingest/processor.ts), so the sum counts each once;
// - sample: the PREVIEW_LIMITS.sampleSeries smallest of all answers' samples;
// - "at least" when any answer says so.
import {
  PREVIEW_LIMITS,
  SmallestStrings,
  roundRate,
  type SinkPreview,
  type SourcePreview,
} from "./report.js";
import { SKETCH_SIZE, distinctSeries, type SeriesSketch } from "./sketch.js";

/** One server's push preview before it is merged with others: unrounded rates, a sketch of the series. */
export interface PushPreviewParts {
  readonly mode: "push";
  readonly selectors: readonly { readonly source: string; readonly scoped: string }[];
  readonly sources: readonly {
    readonly name: string;
    readonly sketch: SeriesSketch;
    readonly atLeast: boolean;
    readonly perMinute: number;
    readonly sample: readonly string[];
    readonly sinks: readonly string[];
  }[];
  readonly sinks: readonly {
    readonly name: string;
    readonly sources: readonly string[];
    readonly sketch: SeriesSketch;
    readonly atLeast: boolean;
    readonly perMinute: number;
  }[];
  readonly notes: readonly string[];
}

export interface MergedPushPreview {
  readonly mode: "push";
  readonly selectors: PushPreviewParts["selectors"];
  readonly sources: readonly SourcePreview[];
  readonly sinks: readonly SinkPreview[];
  /** Some count was estimated from the sketches (more than SKETCH_SIZE series on a replica). */
  readonly estimated: boolean;
}

/** Merges answers for the same plan (the same sources and sinks, in the same order); at least one. */
export function mergePushPreviews(answers: readonly PushPreviewParts[]): MergedPushPreview {
  const first = answers[0];
  if (first === undefined) throw new RangeError("no preview to merge");
  let estimated = false;
  const count = (sketches: SeriesSketch[]): number => {
    const distinct = distinctSeries(sketches);
    estimated ||= distinct.estimated;
    return distinct.series;
  };
  const sources = first.sources.map((source, i): SourcePreview => {
    const all = answers.map((answer) => answer.sources[i] ?? source);
    const sample = new SmallestStrings(PREVIEW_LIMITS.sampleSeries);
    for (const one of all) for (const line of one.sample) sample.offer(line);
    return {
      name: source.name,
      series: count(all.map((one) => one.sketch)),
      atLeast: all.some((one) => one.atLeast),
      samplesPerMinute: roundRate(all.reduce((sum, one) => sum + one.perMinute, 0)),
      sample: sample.values,
      sinks: source.sinks,
    };
  });
  const sinks = first.sinks.map((sink, i): SinkPreview => {
    const all = answers.map((answer) => answer.sinks[i] ?? sink);
    return {
      name: sink.name,
      sources: sink.sources,
      series: count(all.map((one) => one.sketch)),
      atLeast: all.some((one) => one.atLeast),
      samplesPerMinute: roundRate(all.reduce((sum, one) => sum + one.perMinute, 0)),
    };
  });
  return { mode: "push", selectors: first.selectors, sources, sinks, estimated };
}

/** Thrown by parsePushPreviewParts: what is wrong with an answer. */
export class PreviewAnswerError extends Error {
  override readonly name = "PreviewAnswerError";
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === "string");

function sketchOf(value: unknown): SeriesSketch {
  if (!isObject(value)) throw new PreviewAnswerError("a sketch is not an object");
  const series = value["series"];
  const hashes = value["hashes"];
  if (typeof series !== "number" || !Number.isSafeInteger(series) || series < 0)
    throw new PreviewAnswerError("a sketch's series is not a count");
  if (
    !Array.isArray(hashes) ||
    hashes.length > SKETCH_SIZE ||
    hashes.length > series ||
    !hashes.every((hash) => typeof hash === "number" && Number.isSafeInteger(hash) && hash >= 0)
  )
    throw new PreviewAnswerError(`a sketch's hashes are not at most ${SKETCH_SIZE} integers`);
  return { series, hashes: hashes as number[] };
}

const rateOf = (value: unknown): number => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new PreviewAnswerError("a rate is not a number");
  return value;
};

/**
 * A replica's answer, checked against the plan it was asked about (the same
 * source and sink names in the same order) so that answers can be merged.
 */
export function parsePushPreviewParts(
  value: unknown,
  plan: { readonly sources: readonly string[]; readonly sinks: readonly string[] },
): PushPreviewParts {
  if (!isObject(value) || value["mode"] !== "push") throw new PreviewAnswerError("not a push preview");
  const { selectors, sources, sinks, notes } = value;
  if (!Array.isArray(sources) || !Array.isArray(sinks) || !Array.isArray(selectors) || !isStringArray(notes))
    throw new PreviewAnswerError("sources, sinks, selectors or notes missing");
  if (
    sources.length !== plan.sources.length ||
    sinks.length !== plan.sinks.length ||
    sources.some((s, i) => !isObject(s) || s["name"] !== plan.sources[i]) ||
    sinks.some((s, i) => !isObject(s) || s["name"] !== plan.sinks[i])
  )
    throw new PreviewAnswerError("its sources and sinks are not the policy's");
  return {
    mode: "push",
    selectors: selectors.map((s) => {
      if (!isObject(s) || typeof s["source"] !== "string" || typeof s["scoped"] !== "string")
        throw new PreviewAnswerError("a selector is not {source, scoped}");
      return { source: s["source"], scoped: s["scoped"] };
    }),
    sources: (sources as Record<string, unknown>[]).map((s, i) => {
      const sample = s["sample"];
      const forwardedBy = s["sinks"];
      if (
        !isStringArray(sample) ||
        sample.length > PREVIEW_LIMITS.sampleSeries ||
        !isStringArray(forwardedBy)
      )
        throw new PreviewAnswerError("a source's sample or sinks are not strings");
      return {
        name: plan.sources[i] ?? "",
        sketch: sketchOf(s["sketch"]),
        atLeast: s["atLeast"] === true,
        perMinute: rateOf(s["perMinute"]),
        sample,
        sinks: forwardedBy,
      };
    }),
    sinks: (sinks as Record<string, unknown>[]).map((s, i) => {
      const reads = s["sources"];
      if (!isStringArray(reads)) throw new PreviewAnswerError("a sink's sources are not strings");
      return {
        name: plan.sinks[i] ?? "",
        sources: reads,
        sketch: sketchOf(s["sketch"]),
        atLeast: s["atLeast"] === true,
        perMinute: rateOf(s["perMinute"]),
      };
    }),
    notes,
  };
}
