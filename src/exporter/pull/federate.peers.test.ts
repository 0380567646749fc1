// Federate mode against the two stores it is for: VictoriaMetrics (which also
// has /api/v1/export) and Prometheus (which has only /federate). It shows
// both what it gives — each series' newest sample, once, scoped to the
// project — and what it cannot: a sample superseded before the next pull is
// never exported.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Label } from "../../metricsql/ast.js";
import { parse, print, scope } from "../../metricsql/index.js";
import { silentLogger } from "../../util/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { encodeWriteRequest, snappyCompress } from "../../remotewrite/index.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { prometheusAvailability, startPrometheus } from "../../../test-support/prometheus.js";
import {
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
} from "../../../test-support/victoriametrics.js";
import { MemoryCursorStore } from "./cursor-store.js";
import { PullSource } from "./pull-source.js";
import { healthOf, recordingJob, sampleId } from "../../../test-support/pull/recorder.js";

const INTERVAL = 15_000;

interface Sample {
  readonly labels: Label[];
  readonly value: number;
  readonly timestampMs: number;
}

interface Store {
  readonly url: string;
  /** Writes the samples and returns once /federate shows the newest of them. */
  write(samples: readonly Sample[]): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function series(project: string, code: string): Label[] {
  return [
    { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
    { name: "envoy_response_code", value: code },
    { name: TENANT_LABEL, value: project },
  ];
}

async function waitForFederated(url: string, timestampMs: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  const query = new URLSearchParams({ "match[]": '{__name__=~".+"}' });
  while (!(await (await fetch(`${url}/federate?${query.toString()}`)).text()).includes(` ${timestampMs}`)) {
    if (Date.now() > deadline) throw new Error(`sample at ${timestampMs} never federated`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function federateScenario(store: Store): Promise<void> {
  const now = Date.now();
  const a200 = series("test-rdzjb8", "200");
  const a503 = series("test-rdzjb8", "503");
  const b200 = series("test-rdzjb80", "200");
  await store.write([
    { labels: a200, value: 1, timestampMs: now - 10_000 },
    { labels: a200, value: 2, timestampMs: now - 9_000 },
    { labels: a503, value: 5, timestampMs: now - 9_000 },
    { labels: b200, value: 7, timestampMs: now - 9_000 },
  ]);
  const clock = new ManualClock(now);
  const source = new PullSource({
    mode: "federate",
    url: store.url,
    intervalMs: INTERVAL,
    lagMs: 0,
    cursorStore: new MemoryCursorStore(),
    clock,
    logger: silentLogger,
  });
  cleanups.push(() => source.stop());
  const selector = print(
    scope(parse('{__name__=~".+"}'), { tenantLabel: TENANT_LABEL, project: "test-rdzjb8" }),
  );
  const job = recordingJob("policy-a/all", selector);
  source.setJobs([job]);
  source.start();
  const pulls = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (healthOf(source, job.key).windowsCompleted < n) {
      if (Date.now() > deadline)
        throw new Error(`pull ${n} did not complete: ${JSON.stringify(healthOf(source, job.key))}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await pulls(1);
  await clock.advance(INTERVAL);
  await pulls(2);
  await store.write([{ labels: a200, value: 3, timestampMs: now - 5_000 }]);
  await clock.advance(INTERVAL);
  await pulls(3);
  const pulled = healthOf(source, job.key).samplesPulled;
  await source.stop();

  assert.deepEqual(
    Object.fromEntries(job.values),
    {
      [sampleId(a200, now - 9_000)]: 2,
      [sampleId(a503, now - 9_000)]: 5,
      [sampleId(a200, now - 5_000)]: 3,
    },
    "the newest sample of each series, once; the one superseded before the first pull is missed",
  );
  assert.ok(
    [...job.counts.values()].every((n) => n === 1),
    "an unchanged sample is not emitted again",
  );
  assert.equal(pulled, 3);
}

describe("PullSource in federate mode", () => {
  it("against VictoriaMetrics", { skip: victoriaMetricsAvailability().skip }, async () => {
    const vm = await startVictoriaMetrics();
    cleanups.push(() => vm.stop());
    await federateScenario({
      url: vm.url,
      async write(samples) {
        const lines = samples.map((s) => {
          const name = s.labels.find((l) => l.name === "__name__")?.value ?? "";
          const rest = s.labels.filter((l) => l.name !== "__name__").map((l) => `${l.name}="${l.value}"`);
          return `${name}{${rest.join(",")}} ${s.value} ${s.timestampMs}`;
        });
        await importPrometheusText(vm, `${lines.join("\n")}\n`);
        await forceFlush(vm);
        await waitForFederated(vm.url, Math.max(...samples.map((s) => s.timestampMs)));
      },
    });
  });

  it("against Prometheus, which has no /api/v1/export", { skip: prometheusAvailability().skip }, async () => {
    const prometheus = await startPrometheus();
    cleanups.push(() => prometheus.stop());
    await federateScenario({
      url: prometheus.url,
      async write(samples) {
        const response = await fetch(prometheus.remoteWriteUrl, {
          method: "POST",
          headers: { "content-encoding": "snappy", "content-type": "application/x-protobuf" },
          body: snappyCompress(
            encodeWriteRequest(
              samples.map((s) => ({
                labels: s.labels,
                samples: [{ value: s.value, timestampMs: s.timestampMs }],
              })),
            ),
          ),
        });
        assert.equal(response.status, 204, await response.text());
        await waitForFederated(prometheus.url, Math.max(...samples.map((s) => s.timestampMs)));
      },
    });
  });
});
