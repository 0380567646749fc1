// previewPush over a real router and ingest processor, time driven by hand:
// samples are counted once each (also when the scanner falls back to the
// general decoder), per project, with rates from the last two minutes, and
// counts turn into "at least" when the route cache drops recent series.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, scope } from "../../metricsql/index.js";
import { encodeWriteRequest, type TimeSeriesInput } from "../../remotewrite/index.js";
import { IngestProcessor } from "../ingest/processor.js";
import { ACTIVITY_EPOCH_SECONDS, Router } from "../router/router.js";
import { previewPush, samplesPerMinute, type PreviewPlan } from "./push.js";
import { SmallestStrings, formatSeries } from "./report.js";

const TENANT = "tenant";
const MINUTE = 60_000;
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MINUTE);

function series(project: string, name: string, id: number, samples = 1): TimeSeriesInput {
  return {
    labels: [
      { name: "__name__", value: name },
      { name: "id", value: String(id) },
      { name: TENANT, value: project },
    ],
    samples: Array.from({ length: samples }, (_, i) => ({ value: i, timestampMs: T0 + i })),
  };
}

function plan(project: string, selectors: Record<string, string>, sinks: PreviewPlan["sinks"]): PreviewPlan {
  return {
    project,
    sources: Object.entries(selectors).map(([name, selector]) => ({
      name,
      selector: scope(parse(selector), { tenantLabel: TENANT, project }),
    })),
    sinks,
  };
}

function setup(maxCachedSeries = 1000) {
  const clock = { now: T0 };
  const router = new Router({ tenantLabel: TENANT, maxCachedSeries, now: () => clock.now });
  const ingest = new IngestProcessor(router);
  return { clock, router, ingest };
}

describe("previewPush", () => {
  it("counts the project's own series only, though another project has the same names", async () => {
    const { clock, router, ingest } = setup();
    ingest.apply(
      encodeWriteRequest([
        series("alpha", "rq", 1),
        series("alpha", "rq", 2),
        series("alpha", "errors", 3),
        series("beta", "rq", 1),
        series("beta", "rq", 2),
        series("beta", "rq", 3),
      ]),
    );
    const previewed = await previewPush(
      router,
      plan("alpha", { rq: "rq", all: "{}" }, [
        { name: "twice", sources: ["rq", "all"] },
        { name: "once", sources: ["all"] },
      ]),
      clock.now,
    );
    assert.deepEqual(
      previewed.sources.map((s) => [s.name, s.series, s.atLeast]),
      [
        ["rq", 2, false],
        ["all", 3, false],
      ],
    );
    for (const s of previewed.sources) for (const line of s.sample) assert.match(line, /tenant="alpha"/);
    assert.deepEqual(previewed.sources[0]?.sample, [
      'rq{id="1",tenant="alpha"}',
      'rq{id="2",tenant="alpha"}',
    ]);
    // A series that matches two sources of a sink is sent to it twice (as the router does).
    assert.deepEqual(
      previewed.sinks.map((s) => [s.name, s.series, s.samplesPerMinute]),
      [
        ["twice", 3, 5],
        ["once", 3, 3],
      ],
    );
    assert.equal(
      previewed.selectors[0]?.scoped,
      'rq{tenant="alpha"}',
      "the selector as the router runs it: scoped to the project",
    );
  });

  it("counts each sample once, also when the scanner hands the request to the general decoder", async () => {
    const { clock, router, ingest } = setup();
    // Metadata after the series makes the fast scanner give up after reading them.
    ingest.apply(
      encodeWriteRequest(
        [series("alpha", "rq", 1, 3)],
        [{ type: "counter", metricFamilyName: "rq", help: "requests", unit: "" }],
      ),
    );
    const previewed = await previewPush(router, plan("alpha", { rq: "rq" }, []), clock.now);
    assert.equal(previewed.sources[0]?.samplesPerMinute, 3);
  });

  it("estimates samples per minute from the last two minutes; series idle for 5 minutes drop out", async () => {
    const { clock, router, ingest } = setup();
    // One sample every 15 s for two and a half minutes.
    for (let t = 0; t < 150_000; t += 15_000) {
      clock.now = T0 + t;
      ingest.apply(encodeWriteRequest([series("alpha", "rq", 1)]));
    }
    const previewed = await previewPush(router, plan("alpha", { rq: "rq" }, []), clock.now);
    // 4 a minute, give or take the one sample at the edge of the window (6 in 75 s here).
    const rate = previewed.sources[0]?.samplesPerMinute ?? 0;
    assert.ok(rate >= 3.5 && rate <= 5, String(rate));
    clock.now += 6 * MINUTE;
    const later = await previewPush(router, plan("alpha", { rq: "rq" }, []), clock.now);
    assert.equal(later.sources[0]?.series, 0);
  });

  it("marks counts 'at least' once the route cache has dropped series seen in the look-back", async () => {
    const { clock, router, ingest } = setup(4);
    ingest.apply(encodeWriteRequest([series("alpha", "rq", 1), series("alpha", "rq", 2)]));
    const whole = await previewPush(router, plan("alpha", { rq: "rq" }, []), clock.now);
    assert.deepEqual([whole.sources[0]?.series, whole.sources[0]?.atLeast], [2, false]);
    clock.now += 1000;
    // Eight more series through a cache of four: the first ones fall out.
    for (let id = 10; id < 18; id++) ingest.apply(encodeWriteRequest([series("alpha", "rq", id)]));
    const partial = await previewPush(router, plan("alpha", { rq: "rq" }, []), clock.now);
    const [rq] = partial.sources;
    assert.ok(rq);
    assert.equal(rq.atLeast, true);
    assert.ok(rq.series < 10, String(rq.series));
    assert.match(partial.notes.join("\n"), /route cache is full/);
  });
});

describe("samplesPerMinute", () => {
  it("is at least a minute's worth for a series first seen seconds ago", () => {
    const activity = {
      minute: T0 / MINUTE,
      samples: 1,
      previousSamples: 0,
      firstSeenSecond: (T0 + 1000) / 1000 - ACTIVITY_EPOCH_SECONDS,
    };
    assert.equal(samplesPerMinute(activity, T0 + 2000), 1);
  });
});

describe("SmallestStrings and formatSeries", () => {
  it("keeps the smallest distinct values in order", () => {
    const kept = new SmallestStrings(3);
    for (const value of ["d", "b", "e", "a", "b", "c"]) kept.offer(value);
    assert.deepEqual(kept.values, ["a", "b", "c"]);
  });

  it("prints a series as Prometheus does: name, then labels by name, values quoted", () => {
    assert.equal(
      formatSeries([
        { name: "z", value: 'say "hi"' },
        { name: "__name__", value: "up" },
        { name: "a", value: "1" },
      ]),
      'up{a="1",z="say \\"hi\\""}',
    );
  });
});
