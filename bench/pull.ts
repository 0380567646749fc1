// Pull throughput: samples/s from a local VictoriaMetrics loaded with 1 M
// samples (2,000 platform-like series of 20 projects × 500 samples), read
// through /api/v1/export. Three layers, so the figure can be explained: the
// store's own answer fetched without parsing (the ceiling), the line parser
// alone on that answer held in memory, and the whole PullSource (windows,
// streaming parse, emit) with one job for everything and with one scoped job
// per project. CPU time is this process's own; the store's is not counted.
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { MemoryCursorStore, PullSource, type PullJob } from "../src/exporter/pull/index.js";
import { parseExportLine } from "../src/exporter/pull/export-parser.js";
import { exportForm } from "../src/exporter/pull/export-request.js";
import { systemClock, silentLogger } from "../src/util/index.js";
import { print, parse, scope } from "../src/metricsql/index.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import {
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../test-support/victoriametrics.js";
import { formatRate } from "./harness.js";

const SERIES = 2000;
const SAMPLES_PER_SERIES = 500;
const TOTAL = SERIES * SAMPLES_PER_SERIES;
const STEP_MS = 1000;
const PROJECTS = 20;
const LAG_MS = 60_000;

interface Loaded {
  readonly startMs: number;
  readonly endMs: number;
}

function project(index: number): string {
  return `test-${index.toString(36).padStart(2, "0")}rdzjb8`;
}

function metric(i: number): Record<string, string> {
  return {
    __name__: "envoy_vhost_vcluster_upstream_rq",
    envoy_response_code: String(200 + (i % 5)),
    gateway_name: `gateway-${i % 500}`,
    gateway_namespace: "default",
    label_topology_kubernetes_io_region: "us-east-2",
    resource_kind: "Gateway",
    resource_name: `gw-${i}`,
    resource_namespace: "default",
    [TENANT_LABEL]: project(i % PROJECTS),
    service_name: "networking.miloapis.com",
  };
}

/** Imports the series as JSON lines (/api/v1/import), ending two minutes ago so it is all older than the lag. */
async function load(vm: RunningVictoriaMetrics): Promise<Loaded> {
  const endMs = Math.floor((Date.now() - 2 * LAG_MS) / 1000) * 1000;
  const startMs = endMs - SAMPLES_PER_SERIES * STEP_MS;
  const timestamps = Array.from({ length: SAMPLES_PER_SERIES }, (_, k) => startMs + k * STEP_MS);
  const lines: string[] = [];
  for (let i = 0; i < SERIES; i++) {
    const values = timestamps.map((_, k) => (i * 7 + k * 3) % 10_000);
    lines.push(JSON.stringify({ metric: metric(i), values, timestamps }));
  }
  const response = await fetch(`${vm.url}/api/v1/import`, { method: "POST", body: `${lines.join("\n")}\n` });
  if (!response.ok) throw new Error(`import failed: HTTP ${response.status}: ${await response.text()}`);
  await forceFlush(vm);
  return { startMs, endMs };
}

/** The whole range's answer as the store sends it, not parsed. */
async function fetchExport(pool: Pool, loaded: Loaded): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const response = await pool.request({
    method: "POST",
    path: "/api/v1/export",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: exportForm('{__name__=~".+"}', { startMs: loaded.startMs, endMs: loaded.endMs }),
  });
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function countSamples(body: Buffer): number {
  let samples = 0;
  for (const line of body.toString("utf8").split("\n")) {
    if (line !== "") samples += parseExportLine(line).values.length;
  }
  return samples;
}

function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; cpuSeconds: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  return work().then((result) => {
    const cpu = process.cpuUsage(cpuStart);
    return { result, seconds: (performance.now() - start) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  });
}

function line(name: string, samples: number, seconds: number, cpuSeconds?: number, note = ""): string {
  const cpu =
    cpuSeconds === undefined ? "" : `  ${((cpuSeconds / samples) * 1e6).toFixed(2)} CPU-s per million`;
  return `  ${name.padEnd(46)} ${formatRate(samples / seconds).padStart(9)} samples/s${cpu}${note}`;
}

/** Runs a PullSource over the loaded range with these jobs until every cursor has passed its end. */
async function pullAll(
  vm: RunningVictoriaMetrics,
  loaded: Loaded,
  selectors: readonly string[],
  maxWindowMs: number,
): Promise<number> {
  const cursorStore = new MemoryCursorStore();
  let samples = 0;
  const jobs: PullJob[] = selectors.map((selector, i) => {
    const key = `bench/${i}`;
    void cursorStore.save(key, loaded.startMs);
    return {
      key,
      selector,
      emit: (_labels, values) => {
        samples += values.length;
      },
    };
  });
  const source = new PullSource({
    url: vm.url,
    intervalMs: 10_000,
    lagMs: LAG_MS,
    maxWindowMs,
    cursorStore,
    clock: systemClock,
    logger: silentLogger,
  });
  source.setJobs(jobs);
  source.start();
  try {
    while (!jobs.every((job) => (source.health(job.key)?.cursorMs ?? 0) >= loaded.endMs)) {
      const failing = jobs
        .map((job) => source.health(job.key)?.lastError)
        .find((error) => error !== undefined);
      if (failing !== undefined) throw new Error(`pull failed: ${failing.reason}: ${failing.message}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    await source.stop();
  }
  return samples;
}

export async function runPullBench(): Promise<void> {
  console.log(
    `\n## pull: VictoriaMetrics /api/v1/export → PullSource, ${SERIES} series × 10 labels × ${SAMPLES_PER_SERIES} samples (1 M), ${PROJECTS} projects`,
  );
  if (victoriaMetricsAvailability().path === undefined) {
    console.log("  VictoriaMetrics: not installed (apt-get install victoria-metrics), skipped");
    return;
  }
  const vm = await startVictoriaMetrics();
  const pool = new Pool(vm.url, { connections: 1 });
  try {
    const loaded = await load(vm);
    const deadline = Date.now() + 30_000;
    // Searchable asynchronously even after a flush.
    let body = await fetchExport(pool, loaded);
    while (countSamples(body) < TOTAL && Date.now() < deadline) body = await fetchExport(pool, loaded);
    if (countSamples(body) !== TOTAL)
      throw new Error(`only ${countSamples(body)} of ${TOTAL} samples searchable`);

    let best = Infinity;
    for (let run = 0; run < 3; run++)
      best = Math.min(best, (await measured(() => fetchExport(pool, loaded))).seconds);
    const megabytes = body.length / 2 ** 20;
    const note = `  (${megabytes.toFixed(1)} MB, ${(megabytes / best).toFixed(0)} MB/s)`;
    console.log(line("store answer alone, not parsed (ceiling)", TOTAL, best, undefined, note));

    const text = body.toString("utf8");
    const lines = text.split("\n").filter((l) => l !== "");
    const parse1 = await measured(() => {
      let samples = 0;
      for (let run = 0; run < 3; run++) for (const l of lines) samples += parseExportLine(l).values.length;
      return Promise.resolve(samples);
    });
    console.log(line("line parser alone (in memory)", parse1.result, parse1.seconds, parse1.cpuSeconds));

    const everything = ['{__name__=~".+"}'];
    const perProject = Array.from({ length: PROJECTS }, (_, p) =>
      print(scope(parse('{__name__=~".+"}'), { tenantLabel: TENANT_LABEL, project: project(p) })),
    );
    const scenarios: [string, readonly string[], number][] = [
      ["PullSource, 1 job, 5 min windows", everything, 5 * 60_000],
      ["PullSource, 1 job, 1 min windows", everything, 60_000],
      [`PullSource, ${PROJECTS} scoped jobs, 4 requests at once`, perProject, 5 * 60_000],
    ];
    for (const [name, selectors, maxWindowMs] of scenarios) {
      // One pass is a fraction of a second: the median of three steadies the figure.
      const runs = [];
      for (let run = 0; run < 3; run++)
        runs.push(await measured(() => pullAll(vm, loaded, selectors, maxWindowMs)));
      for (const run of runs) {
        if (run.result !== TOTAL) throw new Error(`${name}: pulled ${run.result} samples, expected ${TOTAL}`);
      }
      const median = runs.sort((a, b) => a.seconds - b.seconds)[1] ?? runs[0];
      if (median !== undefined) console.log(line(name, TOTAL, median.seconds, median.cpuSeconds));
    }
  } finally {
    await pool.close();
    await vm.stop();
  }
}
