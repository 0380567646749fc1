// `/metrics` at scale: an exporter running METRICS_POLICIES one-sink policies
// (default 10,000, the fleet benchmark's total, in 100 projects; push mode,
// memory buffer, no traffic) renders its self-metrics as a replica does
// (exporter, process, build info), and a metrics listener serves them.
// Reported: render time in-process (wall and CPU), scrape time over loopback
// HTTP as curl, another process, sees it (median and worst of
// METRICS_SCRAPES, after two warm-up renders), size and series.
// METRICS_CPU_PROF=<file> writes a V8 CPU profile of the measured renders.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { Exporter } from "../src/exporter/exporter.js";
import { ExpositionWriter, type RenderedExposition } from "../src/metrics/exposition.js";
import { HealthEndpoints } from "../src/metrics/health.js";
import { writeBuildInfo, writeProcessMetrics } from "../src/metrics/process.js";
import { startMetricsServer } from "../src/serve/metrics-server.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { policyPlan } from "../test-support/policies.js";

const execFileAsync = promisify(execFile);
const POLICIES = Number(process.env.METRICS_POLICIES ?? 10_000);
const PROJECTS = 100;
const SCRAPES = Number(process.env.METRICS_SCRAPES ?? 10);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

export async function runMetricsBench(): Promise<void> {
  const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
  for (let i = 0; i < POLICIES; i++) {
    exporter.apply(
      policyPlan(`project-${i % PROJECTS}`, {
        name: `policy-${i}`,
        sources: { gw: '{service_name="networking.miloapis.com", resource_kind="Gateway"}' },
        sinks: [{ name: "k", endpoint: "http://127.0.0.1:9/api/v1/write", sources: ["gw"] }],
      }),
    );
  }
  const render = (): RenderedExposition => {
    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    writeProcessMetrics(writer);
    writeBuildInfo(writer);
    return writer.renderParts();
  };
  render();
  render();
  const profile = process.env.METRICS_CPU_PROF;
  const session = profile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const renderMs: number[] = [];
  const renderCpuMs: number[] = [];
  let text = "";
  for (let i = 0; i < SCRAPES; i++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const rendered = render();
    if (i === SCRAPES - 1) text = Buffer.concat(rendered.parts).toString("utf8");
    rendered.release();
    const used = process.cpuUsage(cpu);
    renderMs.push(performance.now() - start);
    renderCpuMs.push((used.user + used.system) / 1000);
  }
  if (session !== undefined && profile !== undefined) {
    const { profile: cpuProfile } = await session.post("Profiler.stop");
    writeFileSync(profile, JSON.stringify(cpuProfile));
    session.disconnect();
  }
  const server = await startMetricsServer("127.0.0.1", 0, render, new HealthEndpoints({ readiness: [] }));
  const scrapeMs: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < SCRAPES; i++) {
      const { stdout } = await execFileAsync("curl", [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total} %{size_download}",
        `${server.url}/metrics`,
      ]);
      const [seconds, size] = stdout.trim().split(" ").map(Number);
      scrapeMs.push((seconds ?? NaN) * 1000);
      bytes = size ?? 0;
    }
  } finally {
    await server.close();
    await exporter.close();
  }
  const lines = text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length;
  console.log(
    `/metrics at ${POLICIES} policies (1 sink each): ${lines} series, ${(bytes / 2 ** 20).toFixed(1)} MiB; ` +
      `render median ${median(renderMs).toFixed(0)} ms (worst ${Math.max(...renderMs).toFixed(0)}; ` +
      `CPU ${median(renderCpuMs).toFixed(0)} ms), ` +
      `curl scrape median ${median(scrapeMs).toFixed(0)} ms (worst ${Math.max(...scrapeMs).toFixed(0)}), ` +
      `heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
}
