// The telex side of the ingest benchmark, run as its own process so its CPU
// time can be read from /proc: an Exporter with the benchmark's policies and
// the ingest endpoint. Prints `ready <ingest url>` and runs until killed.
//
// argv: <receiver url> <projects> <shape> [<buffer dir>], shape one of
//   single       one policy (SINGLE_POLICY), ~1 % of the series;
//   per-project  one `{}` policy per project: every sample leaves once;
//   overlapping  ten policies per project (BENCH_SELECTORS): samples leave ≈2.8 times.
// With a buffer dir, ingest writes through a DurableLog there (telex serve's
// default --buffer disk); without, it pushes straight to the sinks (--buffer memory).
// INGEST_COMPRESS_THREADS: compression threads (default as telex serve's --compress-threads).
// INGEST_WARM_UP_SAMPLES: the warm-up pass before the first request, as telex serve's
// --warm-up-samples (default as there; 0: none).
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from "node:perf_hooks";
import { DurableLog } from "../src/exporter/buffer/index.js";
import { Exporter } from "../src/exporter/exporter.js";
import { CompressPool, defaultCompressThreads } from "../src/exporter/sink/index.js";
import { startIngestServer } from "../src/exporter/ingest/server.js";
import { DEFAULT_WARM_UP_SAMPLES, warmUp } from "../src/serve/warm-up.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { policyPlan } from "../test-support/policies.js";
import { BENCH_SELECTORS, SINGLE_POLICY } from "./ingest-workload.js";

const [receiver = "", projectsArg = "100", shape = "overlapping", bufferDir] = process.argv.slice(2);
// As telex serve does before it takes traffic, with its own log directory beside the buffer's.
await warmUp({
  tenantLabel: TENANT_LABEL,
  samples: Number(process.env.INGEST_WARM_UP_SAMPLES ?? DEFAULT_WARM_UP_SAMPLES),
  ...(bufferDir === undefined ? {} : { logDir: `${bufferDir}-warm-up` }),
});
const log = bufferDir === undefined ? undefined : await DurableLog.open({ dir: bufferDir });
const compressor = new CompressPool({
  threads: Number(process.env.INGEST_COMPRESS_THREADS ?? defaultCompressThreads()),
});
const exporter = new Exporter({
  tenantLabel: TENANT_LABEL,
  sinkRuntime: { compressor },
  maxCachedSeries: 1_000_000,
  ...(log === undefined ? {} : { log }),
});
const sink = (name: string) => ({
  name,
  endpoint: receiver,
  sources: ["s"],
  batch: { maxSize: 5000, timeout: "1s" },
});

if (shape === "single") {
  exporter.apply(
    policyPlan(SINGLE_POLICY.project, {
      name: "one",
      sources: { s: SINGLE_POLICY.selector },
      sinks: [sink("k")],
    }),
  );
} else if (shape === "per-project") {
  for (let p = 0; p < Number(projectsArg); p++) {
    exporter.apply(policyPlan(`project-${p}`, { name: "all", sources: { s: "{}" }, sinks: [sink("k")] }));
  }
} else if (shape === "overlapping") {
  for (let p = 0; p < Number(projectsArg); p++) {
    BENCH_SELECTORS.forEach((selector, i) => {
      exporter.apply(
        policyPlan(`project-${p}`, { name: `policy-${i}`, sources: { s: selector }, sinks: [sink("k")] }),
      );
    });
  }
} else {
  throw new Error(`unknown shape ${shape}: single, per-project or overlapping`);
}
// Garbage collections by kind, printed on exit: what the buffer mode costs in GC shows here.
const gc = { major: 0, minor: 0, ms: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
    const kind = detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    else gc.minor++;
    gc.ms += entry.duration;
  }
}).observe({ entryTypes: ["gc"] });
const ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
console.log(`ready ${ingest.url}/api/v1/write`);
process.on("SIGTERM", () => {
  let sent = 0;
  let dropped = 0;
  for (const uid of exporter.runningPolicies()) {
    for (const sink of exporter.health(uid)?.sinks.values() ?? []) {
      sent += sink.stats.samplesSent;
      dropped += sink.stats.droppedTotal();
    }
  }
  console.log(
    `routed ${exporter.ingest.stats.samplesRouted} received ${exporter.ingest.stats.samplesReceived} cache-misses ${exporter.router.cacheMisses}` +
      (log === undefined ? "" : ` log-reads ${log.stats.reads} table-loads ${log.stats.tableLoads}`) +
      ` gc-major ${gc.major} gc-minor ${gc.minor} gc-ms ${Math.round(gc.ms)}` +
      ` sent ${sent} dropped ${dropped}` +
      ` compressed-thread ${compressor.counts.threads} inline ${compressor.counts.inline} busy ${compressor.counts.busy}`,
  );
  process.exit(0);
});
