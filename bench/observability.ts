// The cost of observing the ingest hot path: the ingest benchmark's
// 1,000 policies in 100 projects (bench/ingest-workload.ts), each request
// applied in-process (decode, route, push; the sinks encode and send to a
// null receiver in another process), with logs off against JSON logs at info
// into a file plus /metrics rendered every second (a scrape every 15–60 s is
// usual: this is 15–60× that). Both exporters live in this process and take
// turns, OBSERVE_ROUNDS times (default 8) of OBSERVE_REQUESTS requests of
// 1,000 samples (default 500), so a shared machine's load falls on both
// alike; CPU is this process's (process.cpuUsage), until every sink settled.
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

const ROUNDS = Number(process.env.OBSERVE_ROUNDS ?? 8);
const REQUESTS = Number(process.env.OBSERVE_REQUESTS ?? 500);
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
    `\n## ingest hot path: logs off vs JSON logs at info + /metrics every second (1,000 policies, ${(REQUESTS * 1000) / 1e6} M samples a turn, ${ROUNDS} rounds)`,
  );
  const receiver = await startNullReceiver();
  const logPath = join(tmpdir(), `telex-bench-observe-${process.pid}.log`);
  const logFile = createWriteStream(logPath);
  let logLines = 0;
  const modes = [
    { name: "logs off, no scrape", exporter: exporterWith(silentLogger, receiver.url), observe: false },
    {
      name: "logs info (json, file) + /metrics every 1 s",
      exporter: exporterWith(
        createLogger({
          format: "json",
          level: "info",
          write: (line) => {
            logLines++;
            logFile.write(line);
          },
        }),
        receiver.url,
      ),
      observe: true,
    },
  ];
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
        let lastScrape = performance.now();
        for (let i = 0; i < REQUESTS; i++) {
          void mode.exporter.ingest.apply(bodies[i % bodies.length] ?? Buffer.alloc(0));
          // Let the sinks send, as the ingest server's event loop would between requests.
          if (i % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
          if (mode.observe && performance.now() - lastScrape >= 1000) {
            lastScrape = performance.now();
            const writer = new ExpositionWriter();
            mode.exporter.writeMetrics(writer);
            writeProcessMetrics(writer);
            const rendered = writer.renderParts();
            metricsBytes = rendered.parts.reduce((sum, part) => sum + part.length, 0);
            rendered.release();
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
  const [off = NaN, on = NaN] = cpuPerMillion.map(median);
  for (const [m, mode] of modes.entries()) {
    console.log(
      `  ${mode.name.padEnd(46)} median ${median(cpuPerMillion[m] ?? []).toFixed(2)} CPU-s per million (runs: ${(cpuPerMillion[m] ?? []).map((v) => v.toFixed(2)).join(" ")})`,
    );
  }
  console.log(
    `  observing costs ${(((on - off) / off) * 100).toFixed(1)} % (aim < 2 %); ${logLines} log lines, /metrics ${(metricsBytes / 2 ** 20).toFixed(1)} MiB`,
  );
}
