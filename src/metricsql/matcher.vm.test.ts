// Differential test: for hundreds of generated selectors, compileSelector must
// pick exactly the series VictoriaMetrics returns from /api/v1/series over the
// same generated platform dataset.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LabelFilter, Labels, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { compileSelector } from "./matcher.js";
import { parse } from "./parser.js";
import { print } from "./printer.js";
import {
  generatePlatformSeries,
  labelsFromRecord,
  labelVocabulary,
  seriesKey,
} from "../../test-support/platform-series.js";
import { Random } from "../../test-support/random.js";
import { randomSelector } from "../../test-support/selector-generator.js";
import {
  VictoriaMetricsError,
  forceFlush,
  importPrometheusText,
  querySeries,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
} from "../../test-support/victoriametrics.js";
import type { RunningVictoriaMetrics, TimeRange } from "../../test-support/victoriametrics.js";

const SEED = 20_240_611;
const SELECTOR_COUNT = 600;
const QUERY_CONCURRENCY = 4;

const availability = victoriaMetricsAvailability();
const dataset = generatePlatformSeries(new Random(SEED));
const sampleTime = Date.now() - 10 * 60_000;
const range: TimeRange = {
  start: Math.floor(sampleTime / 1000) - 3600,
  end: Math.floor(Date.now() / 1000) + 3600,
};

describe("compileSelector against VictoriaMetrics", { skip: availability.skip, timeout: 60_000 }, () => {
  let vm: RunningVictoriaMetrics | undefined;

  before(async () => {
    vm = await startVictoriaMetrics();
    await ingest(vm, dataset.series);
    await waitUntilSearchable(vm, ['{__name__=~".+"}'], dataset.series.length);
  });

  after(async () => {
    await vm?.stop();
  });

  it(`generates a dataset of ${dataset.series.length} series across ${dataset.projects.length} projects`, () => {
    assert.ok(dataset.series.length >= 3000, `only ${dataset.series.length} series`);
    assert.ok(dataset.projects.length >= 20);
  });

  it(`selects the same series as VictoriaMetrics for ${SELECTOR_COUNT} random selectors`, async () => {
    const peer = required(vm);
    const random = new Random(SEED + 1);
    const vocabulary = labelVocabulary(dataset.series);
    const selectors = Array.from({ length: SELECTOR_COUNT }, () => randomSelector(random, vocabulary));
    const mismatches: string[] = [];
    let nonEmptyResults = 0;
    await forEachConcurrently(selectors, QUERY_CONCURRENCY, async (selector) => {
      // VictoriaMetrics sees the groups one by one; the whole `or` text must still mean the same selector.
      assert.deepEqual(parse(print(selector)), selector, print(selector));
      const ours = matchingKeys(selector, dataset.series);
      const theirs = await vmKeys(peer, selector);
      if (ours.length > 0) nonEmptyResults++;
      const mismatch = describeMismatch(selector, ours, theirs);
      if (mismatch !== undefined) mismatches.push(mismatch);
    });
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${SELECTOR_COUNT} selectors disagree`);
    // Guard against a generator that only produces empty answers, which would agree trivially.
    assert.ok(nonEmptyResults > SELECTOR_COUNT / 3, `only ${nonEmptyResults} selectors matched anything`);
  });

  it("agrees on every operator with absent and empty labels", async () => {
    const peer = required(vm);
    const texts = [
      'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region=""}',
      'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region!=""}',
      'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region=~".*"}',
      'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region=~".+"}',
      'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region!~"us-.*"}',
      'coraza_envoy_filter_request_events_total{coraza_rule_id=~"|942100"}',
      'coraza_envoy_filter_request_events_total{coraza_rule_id!~"9.*"}',
      '{resource_namespace="", resource_kind="Gateway"}',
      '{absent_label="", resource_kind=~"(?i)gateway"}',
      '{absent_label!="", resource_kind="Gateway"}',
      '{__name__=~"datum_cloud_.*", resource_kind!~"Instance|Workload"}',
    ];
    for (const text of texts) {
      const selector = parse(text);
      const ours = matchingKeys(selector, dataset.series);
      assert.deepEqual(ours, await vmKeys(peer, selector), text);
    }
  });

  it("rejects the same invalid regexes", async () => {
    const peer = required(vm);
    for (const regex of [
      "\\1",
      "(?=a)",
      "(?<!a)b",
      "a**",
      "[z-a]",
      "(",
      "x{1001}",
      "\\C",
      "a{2,1}",
      "[[:foo:]]",
    ]) {
      const selector: Selector = { groups: [[{ label: "resource_name", op: "=~", value: regex }]] };
      assert.throws(() => compileSelector(selector), isInvalidRegex, regex);
      await assert.rejects(querySeries(peer, [print(selector)], range), isUnprocessable, regex);
    }
  });

  it("v1.79 quirk: its .*/.+/prefix/suffix shortcuts match \\n, RE2 (and we) do not", async () => {
    const peer = required(vm);
    const newline = labelsFromRecord({ __name__: "quirk_newline", v: "line\nbreak" });
    const plain = [
      labelsFromRecord({ __name__: "quirk_newline", v: "line break" }),
      labelsFromRecord({ __name__: "quirk_newline", v: "other" }),
    ];
    const series = [newline, ...plain];
    await ingest(peer, series);
    await waitUntilSearchable(peer, ['{__name__="quirk_newline"}'], series.length);
    const selectorFor = (op: "=~" | "!~", regex: string): Selector => ({
      groups: [
        [
          { label: "__name__", op: "=", value: "quirk_newline" },
          { label: "v", op, value: regex },
        ],
      ],
    });
    // VictoriaMetrics runs these through Go's regexp, as we run them through RE2.
    for (const regex of [
      "line.break",
      "(?s)line.break",
      "line\\nbreak",
      "[^x]+",
      "(line|x).*",
      "line\\sbreak",
    ]) {
      const selector = selectorFor("=~", regex);
      assert.deepEqual(matchingKeys(selector, series), await vmKeys(peer, selector), regex);
    }
    // v1.79's string shortcuts treat `.` as any character.
    const newlineKey = seriesKey(newline);
    for (const regex of [".*", ".+", "line.*", ".*break", "l.*k"]) {
      const ours = matchingKeys(selectorFor("=~", regex), series);
      assert.ok(!ours.includes(newlineKey), regex);
      assert.deepEqual(await vmKeys(peer, selectorFor("=~", regex)), [...ours, newlineKey].sort(), regex);
    }
  });

  it('v1.79 quirk: a!~".*" selects series without a, where absent means "" and ".*" matches ""', async () => {
    const peer = required(vm);
    const text = 'envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region!~".*"}';
    const selector = parse(text);
    assert.deepEqual(matchingKeys(selector, dataset.series), []);
    const withoutRegion = matchingKeys(
      parse('envoy_vhost_vcluster_upstream_rq{label_topology_kubernetes_io_region=""}'),
      dataset.series,
    );
    assert.ok(withoutRegion.length > 0);
    const records = await querySeries(peer, [text], range);
    assert.deepEqual(records.map((record) => seriesKey(labelsFromRecord(record))).sort(), withoutRegion);
  });
});

function required(vm: RunningVictoriaMetrics | undefined): RunningVictoriaMetrics {
  assert.ok(vm !== undefined, "VictoriaMetrics did not start");
  return vm;
}

function matchingKeys(selector: Selector, series: readonly Labels[]): string[] {
  const matcher = compileSelector(selector);
  return series
    .filter((labels) => matcher.matches(labels))
    .map(seriesKey)
    .sort();
}

/**
 * The series VictoriaMetrics selects. v1.79 has no `or` inside braces, so each
 * group is printed as its own selector; /api/v1/series returns the union of
 * all match[] arguments.
 */
async function vmKeys(vm: RunningVictoriaMetrics, selector: Selector): Promise<string[]> {
  const texts = selector.groups.map((group) => print({ groups: [group.map(avoidNegatedAnyQuirk)] }));
  const records = await querySeries(vm, texts, range);
  return records.map((record) => seriesKey(labelsFromRecord(record))).sort();
}

/**
 * v1.79 reads `a!~".*"` as `a=""` (see the quirk test); `(?:.*)` is the same
 * RE2 regex and goes down its correct path.
 */
function avoidNegatedAnyQuirk(filter: LabelFilter): LabelFilter {
  return filter.op === "!~" && filter.value === ".*" ? { ...filter, value: "(?:.*)" } : filter;
}

function describeMismatch(
  selector: Selector,
  ours: readonly string[],
  theirs: readonly string[],
): string | undefined {
  const oursSet = new Set(ours);
  const theirsSet = new Set(theirs);
  const onlyOurs = ours.filter((key) => !theirsSet.has(key));
  const onlyTheirs = theirs.filter((key) => !oursSet.has(key));
  if (onlyOurs.length === 0 && onlyTheirs.length === 0) return undefined;
  const sample = (keys: readonly string[]): string => keys.slice(0, 2).join(" ");
  return (
    `${selector.groups.map((group) => print({ groups: [group] })).join(" or ")}: ` +
    `${onlyOurs.length} only ours (${sample(onlyOurs)}), ${onlyTheirs.length} only VictoriaMetrics' (${sample(onlyTheirs)})`
  );
}

async function ingest(vm: RunningVictoriaMetrics, series: readonly Labels[]): Promise<void> {
  const lines = series.map((labels, i) => `${exposition(labels)} ${i} ${sampleTime}`);
  await importPrometheusText(vm, `${lines.join("\n")}\n`);
  await forceFlush(vm);
}

/** `name{a="1",b="2"}` in the Prometheus text format. */
function exposition(labels: Labels): string {
  const name = labels.find((label) => label.name === "__name__")?.value ?? "";
  const rest = labels
    .filter((label) => label.name !== "__name__")
    .map((label) => `${label.name}="${escapeExpositionValue(label.value)}"`);
  return `${name}{${rest.join(",")}}`;
}

function escapeExpositionValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === "\n" ? "\\n" : `\\${char}`));
}

/** Polls until the selectors return `count` series; ingestion is asynchronous even after a flush. */
async function waitUntilSearchable(
  vm: RunningVictoriaMetrics,
  selectors: string[],
  count: number,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = (await querySeries(vm, selectors, range)).length;
    if (seen === count) return;
    await forceFlush(vm);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`VictoriaMetrics shows ${seen} of ${count} series for ${selectors.join(", ")}`);
}

async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function isInvalidRegex(error: unknown): boolean {
  return error instanceof MetricsqlError && error.code === "InvalidRegex";
}

function isUnprocessable(error: unknown): boolean {
  return error instanceof VictoriaMetricsError && error.status >= 400 && error.status < 500;
}
