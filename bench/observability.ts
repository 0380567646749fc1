// The cost of observing the ingest hot path: the ingest benchmark's
// 1,000 policies in 100 projects (bench/ingest-workload.ts), each request
// applied in-process (decode, route, push; the sinks encode and send to a
// null receiver in another process). Three exporters take turns in this
// process: logs off; JSON logs at info into a file; and those logs with
// /metrics rendered every OBSERVE_SCRAPE_MS (default 15 s, Prometheus'
// default interval; the render runs whenever a request finds the last one
// older). OBSERVE_ROUNDS rounds (default 10) of OBSERVE_REQUESTS requests of
// 1,000 samples (default 300); CPU is this process's (process.cpuUsage)
// until every sink settled. Each round compares its turns with the logs-off
// turn of the same round, and the median of those ratios is reported: a
// shared machine's load changes more between rounds than within one.
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Exporter } from "../src/exporter/exporter.js";
import { ExpositionWriter } from "../src/metrics/exposition.js";
import { writeProcessMetrics } from "../src/metrics/process.js";
import { uncompressBody } from "../src/remotewrite/index.js";
import { createLogger, silentLogger, type Logger } from "../src/util/index.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { policyPlan } from "../test-support/policies.js";
import { startNullReceiver } from "./controller.js";
import { BENCH_SELECTORS, benchRequests, benchSeries } from "./ingest-workload.js";

const ROUNDS = Number(process.env.OBSERVE_ROUNDS ?? 10);
const REQUESTS = Number(process.env.OBSERVE_REQUESTS ?? 300);
const SCRAPE_MS = Number(process.env.OBSERVE_SCRAPE_MS ?? 15_000);
const PROJECTS = 100;

function exporterWith(logger: Logger, endpoint: string): Exporter {
  const exporter = new Exporter({ tenantLabel: TENANT_LABEL, maxCachedSeries: 1_000_000, logger });
  for (let p = 0; p < PROJECTS; p++) {
    for (let i = 0; i < 10; i++) {
      exporter.apply(
        policyPlan(`project-${p}`, {
          name: `policy-${i}`,
          sources: { s: BENCH_SELECTORS[i % BENCH_SELECTORS.length] ?? "{}" },
          sinks: [{ name: "k", endpoint, sources: ["s"], batch: { maxSize: 5000, timeout: "1s" } }],
        }),
      );
    }
  }
  return exporter;
}

async function settled(exporter: Exporter): Promise<void> {
  for (let p = 0; p < PROJECTS; p++) {
    for (let i = 0; i < 10; i++) {
      await exporter.health(`uid-project-${p}-policy-${i}`)?.sinks.get("k")?.settled();
    }
  }
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

export async function runObservabilityBench(): Promise<void> {
  const bodies = benchRequests(benchSeries(PROJECTS, 100), 1000, 2).map((body) =>
    Buffer.from(uncompressBody(body, 64 * 2 ** 20)),
  );
  console.log(
    `\n## ingest hot path: logs off vs JSON logs at info, and with /metrics every ${SCRAPE_MS / 1000} s (1,000 policies, ${(REQUESTS * 1000) / 1e6} M samples a turn, ${ROUNDS} rounds)`,
  );
  const receiver = await startNullReceiver();
  const logPath = join(tmpdir(), `telex-bench-observe-${process.pid}.log`);
  const logFile = createWriteStream(logPath);
  let logLines = 0;
  const jsonLogger = () =>
    createLogger({
      format: "json",
      level: "info",
      write: (line) => {
        logLines++;
        logFile.write(line);
      },
    });
  const modes = [
    { name: "logs off, no scrape", exporter: exporterWith(silentLogger, receiver.url), scrape: false },
    { name: "logs info (json, file)", exporter: exporterWith(jsonLogger(), receiver.url), scrape: false },
    {
      name: `logs info + /metrics every ${SCRAPE_MS / 1000} s`,
      exporter: exporterWith(jsonLogger(), receiver.url),
      scrape: true,
    },
  ];
  let lastScrape = performance.now();
  let scrapes = 0;
  let scrapeCpuMs = 0;
  const cpuPerMillion = modes.map(() => [] as number[]);
  let metricsBytes = 0;
  try {
    for (const mode of modes) {
      // Warm-up: every series routed once, connections open.
      for (const body of bodies) void mode.exporter.ingest.apply(body);
      await settled(mode.exporter);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [m, mode] of modes.entries()) {
        const before = process.cpuUsage();
        for (let i = 0; i < REQUESTS; i++) {
          void mode.exporter.ingest.apply(bodies[i % bodies.length] ?? Buffer.alloc(0));
          // Let the sinks send, as the ingest server's event loop would between requests.
          if (i % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
          if (mode.scrape && performance.now() - lastScrape >= SCRAPE_MS) {
            lastScrape = performance.now();
            const scrapeStarted = process.cpuUsage();
            const writer = new ExpositionWriter();
            mode.exporter.writeMetrics(writer);
            writeProcessMetrics(writer);
            const rendered = writer.renderParts();
            metricsBytes = rendered.parts.reduce((sum, part) => sum + part.length, 0);
            rendered.release();
            const used = process.cpuUsage(scrapeStarted);
            scrapeCpuMs += (used.user + used.system) / 1000;
            scrapes++;
          }
        }
        await settled(mode.exporter);
        const used = process.cpuUsage(before);
        cpuPerMillion[m]?.push((used.user + used.system) / 1e6 / ((REQUESTS * 1000) / 1e6));
      }
    }
  } finally {
    await Promise.all(modes.map((mode) => mode.exporter.close()));
    await receiver.stop();
    logFile.end();
  }
  const off = cpuPerMillion[0] ?? [];
  for (const [m, mode] of modes.entries()) {
    const runs = cpuPerMillion[m] ?? [];
    const ratios = runs.map((value, round) => value / (off[round] ?? NaN));
    console.log(
      `  ${mode.name.padEnd(34)} median ${median(runs).toFixed(2)} CPU-s per million (${runs.map((v) => v.toFixed(2)).join(" ")})` +
        (m === 0
          ? ""
          : `; against logs off in the same round: median ${((median(ratios) - 1) * 100).toFixed(1)} %`),
    );
  }
  console.log(
    `  aim < 2 %; ${logLines} log lines in all; ${scrapes} renders of /metrics (${(metricsBytes / 2 ** 20).toFixed(1)} MiB), ${(scrapeCpuMs / Math.max(1, scrapes)).toFixed(0)} ms of CPU each`,
  );
}
