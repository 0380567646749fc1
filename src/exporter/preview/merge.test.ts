// Merging replicas' push previews: distinct series across replicas (exact
// while each replica holds at most SKETCH_SIZE, estimated beyond), summed
// rates, the smallest sample lines, and answers that are not previews refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PreviewAnswerError,
  mergePushPreviews,
  parsePushPreviewParts,
  type PushPreviewParts,
} from "./merge.js";
import { SKETCH_SIZE, SketchBuilder, distinctSeries, seriesHash } from "./sketch.js";

const key = (i: number) => `rq{id="${i}",tenant="alpha"}`;

function sketchOf(from: number, to: number) {
  const builder = new SketchBuilder();
  for (let i = from; i < to; i++) builder.offer(seriesHash(key(i)));
  return builder.sketch;
}

function parts(from: number, to: number, perMinute: number): PushPreviewParts {
  const sketch = sketchOf(from, to);
  return {
    mode: "push",
    selectors: [{ source: "rq", scoped: 'rq{tenant="alpha"}' }],
    sources: [
      {
        name: "rq",
        sketch,
        atLeast: false,
        perMinute,
        sample: Array.from({ length: Math.min(10, to - from) }, (_, i) => key(from + i)).sort(),
        sinks: ["out"],
      },
    ],
    sinks: [{ name: "out", sources: ["rq"], sketch, atLeast: false, perMinute }],
    notes: ["first"],
  };
}

describe("distinct series across replicas", () => {
  it("is exact while every replica holds at most SKETCH_SIZE series", () => {
    assert.deepEqual(distinctSeries([sketchOf(0, 600), sketchOf(300, 1000)]), {
      series: 1000,
      estimated: false,
    });
    assert.deepEqual(
      distinctSeries([sketchOf(0, 5000)]),
      { series: 5000, estimated: false },
      "one replica knows",
    );
  });

  it("is estimated within a few percent beyond, a shared series counted once", () => {
    const { series, estimated } = distinctSeries([sketchOf(0, 20_000), sketchOf(10_000, 30_000)]);
    assert.equal(estimated, true);
    assert.ok(Math.abs(series - 30_000) / 30_000 < 0.1, String(series));
  });

  it("keeps the SKETCH_SIZE smallest hashes, ascending", () => {
    const sketch = sketchOf(0, 3000);
    assert.equal(sketch.series, 3000);
    assert.equal(sketch.hashes.length, SKETCH_SIZE);
    const all = Array.from({ length: 3000 }, (_, i) => seriesHash(key(i))).sort((a, b) => a - b);
    assert.deepEqual(sketch.hashes, all.slice(0, SKETCH_SIZE));
  });
});

describe("mergePushPreviews", () => {
  it("sums rates, counts distinct series and keeps the smallest sample lines", () => {
    const merged = mergePushPreviews([parts(0, 3, 4), parts(2, 5, 2.5)]);
    const source = merged.sources[0];
    assert.ok(source !== undefined);
    assert.equal(source.series, 5);
    assert.equal(source.samplesPerMinute, 6.5);
    assert.deepEqual(source.sample, [0, 1, 2, 3, 4].map(key));
    assert.equal(merged.sinks[0]?.series, 5);
    assert.equal(merged.estimated, false);
  });
});

describe("parsePushPreviewParts", () => {
  const plan = { sources: ["rq"], sinks: ["out"] };
  it("takes a replica's answer as JSON carries it", () => {
    const answer = JSON.parse(JSON.stringify(parts(0, 3, 1))) as unknown;
    assert.deepEqual(parsePushPreviewParts(answer, plan), parts(0, 3, 1));
  });

  it("refuses answers about other sources, oversized sketches and bad rates", () => {
    const good = parts(0, 3, 1);
    const bad: unknown[] = [
      null,
      { ...good, mode: "pull" },
      { ...good, sources: [{ ...good.sources[0], name: "other" }] },
      { ...good, sinks: [] },
      { ...good, sources: [{ ...good.sources[0], perMinute: -1 }] },
      { ...good, sources: [{ ...good.sources[0], sketch: { series: 1, hashes: [1, 2] } }] },
      {
        ...good,
        sources: [
          { ...good.sources[0], sketch: { series: 5000, hashes: new Array(SKETCH_SIZE + 1).fill(1) } },
        ],
      },
    ];
    for (const answer of bad) assert.throws(() => parsePushPreviewParts(answer, plan), PreviewAnswerError);
  });
});
