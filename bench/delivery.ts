// Delivery throughput: samples/s from push() to "accepted by the receiver",
// through the whole sink (queue, batcher, encoder, snappy, HTTP), against a
// null receiver (telex's own ceiling) and a real VictoriaMetrics when
// installed (what a real receiver allows). CPU time is the process's own.
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { RemoteWriteSink } from "../src/exporter/sink/index.js";
import type { SeriesRef } from "../src/exporter/series.js";
import { encodeLabels } from "../src/remotewrite/index.js";
import { startVictoriaMetrics, victoriaMetricsAvailability } from "../test-support/victoriametrics.js";
import { formatRate } from "./harness.js";

const SERIES = 5000;
const SAMPLES = 1_000_000;
/** Pushed between event-loop turns, as an ingest request would deliver them. */
const CHUNK = 5000;

function platformSeries(): SeriesRef[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    labelBytes: encodeLabels([
      { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
      { name: "envoy_response_code", value: String(200 + (i % 5)) },
      { name: "gateway_name", value: `gateway-${i % 500}` },
      { name: "gateway_namespace", value: "default" },
      { name: "label_topology_kubernetes_io_region", value: "us-east-2" },
      { name: "resource_kind", value: "Gateway" },
      { name: "resource_name", value: `gw-${i}` },
      { name: "resource_namespace", value: "default" },
      { name: "resourcemanager_datumapis_com_project_name", value: `test-${(i % 20).toString(36)}rdzjb8` },
      { name: "service_name", value: "networking.miloapis.com" },
    ]),
  }));
}

async function nullReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function deliver(
  endpoint: string,
  batchMaxSize: number,
  series: readonly SeriesRef[],
): Promise<string> {
  const sink = new RemoteWriteSink(
    { endpoint, batchMaxSize, batchTimeoutMs: 50, maxAttempts: 3, backoffMs: 100 },
    { queueBatches: Math.ceil((CHUNK * 4) / batchMaxSize) },
  );
  const baseTs = Date.now() - 3_600_000;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < SAMPLES; i += CHUNK) {
    for (let j = i; j < i + CHUNK; j++) {
      const ref = series[j % SERIES];
      if (ref !== undefined) sink.push(ref, j, baseTs + Math.floor(j / SERIES) * 1000);
    }
    // Let the sink send before the next chunk arrives, as with real ingest.
    while (sink.queued > CHUNK) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  while (sink.stats.samplesSent + sink.stats.droppedTotal() < SAMPLES) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const dropped = sink.stats.droppedTotal();
  await sink.close(0);
  const rate = sink.stats.samplesSent / seconds;
  return `${formatRate(rate).padStart(9)} samples/s  ${((cpuSeconds / SAMPLES) * 1e6).toFixed(2)} CPU-s per million  ${(sink.stats.bytesSent / 2 ** 20).toFixed(1)} MB sent${dropped > 0 ? `  (${dropped} dropped)` : ""}`;
}

export async function runDeliveryBench(): Promise<void> {
  console.log(`\n## delivery: push → receiver, one sink, ${SERIES} series × 10 labels, 1 M samples`);
  const series = platformSeries();
  const sink = await nullReceiver();
  try {
    for (const batch of [500, 5000]) {
      console.log(
        `  null receiver, batch ${String(batch).padEnd(5)}      ${await deliver(sink.url, batch, series)}`,
      );
    }
  } finally {
    await sink.close();
  }
  if (victoriaMetricsAvailability().path === undefined) {
    console.log("  VictoriaMetrics: not installed (apt-get install victoria-metrics), skipped");
    return;
  }
  const vm = await startVictoriaMetrics();
  try {
    for (const batch of [500, 5000]) {
      console.log(
        `  VictoriaMetrics, batch ${String(batch).padEnd(5)}    ${await deliver(`${vm.url}/api/v1/write`, batch, series)}`,
      );
    }
  } finally {
    await vm.stop();
  }
}
