// `npm run bench -- backlog`: memory of a large durable backlog (issue 12:
// "RSS stays under 400 MB with a 1 GiB backlog") and how fast it drains.
// `telex serve` runs as a child with 1,000 policies (10 in each of 100
// projects, the ingest benchmark's selectors) whose sinks all point at a
// closed port. The ingest workload is pushed until the buffer holds
// BACKLOG_BYTES (telex_buffer_disk_bytes); then a counting receiver comes up
// on that port and the backlog drains. The child's RSS (VmRSS) is sampled
// every second; the peaks of both phases are reported, with the drain rate
// and the samples dropped by reason (expected: none).
//
// Knobs: BACKLOG_BYTES (default 1 GiB), BACKLOG_PROJECTS (100),
// BACKLOG_POLICIES_PER_PROJECT (10), BACKLOG_BATCH (sink batch.maxSize, 5000),
// BACKLOG_DRAIN_TIMEOUT_S (900), BACKLOG_HEAP_MB (the child's --max-old-space-size; default: node's own),
// BACKLOG_NODE_ARGS (more node flags for the child, split at spaces, e.g. "--heapsnapshot-signal=SIGUSR2"),
// BACKLOG_SELECTOR (every policy's selector instead of the ingest benchmark's ten, e.g.
// '{__name__=~".+"}' for one sink that takes every series), BACKLOG_SERVE_ARGS (more `telex serve`
// flags, split at spaces, e.g. "--max-inflight-bytes 16MiB").
// A quick run: BACKLOG_BYTES=64MiB-ish, e.g. 67108864.
import { mkdtempSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startCountingReceiver, type CountingReceiver } from "../test-support/counting-receiver.js";
import { freePort } from "../test-support/peers.js";
import { AGENT_HEADERS } from "../test-support/remote-write-client.js";
import { apiRequest } from "../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../test-support/telex-serve.js";
import { BENCH_SELECTORS, benchRequests, benchSeries } from "./ingest-workload.js";

const MIB = 2 ** 20;
const SERIES_PER_PROJECT = 100;
const SERIES_PER_REQUEST = 1000;
const CONCURRENCY = 4;

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: ${raw} is not a positive number`);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const n = (value: number): string => Math.round(value).toLocaleString("en-US");
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

/** Per metric name, the sum of its samples; for dropped samples also per reason. */
interface Exposition {
  readonly sums: Map<string, number>;
  readonly droppedByReason: Map<string, number>;
  readonly sinks: number;
}

function parseExposition(text: string): Exposition {
  const sums = new Map<string, number>();
  const droppedByReason = new Map<string, number>();
  let sinks = 0;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    sums.set(name, (sums.get(name) ?? 0) + value);
    if (name === "telex_sink_samples_received_total") sinks++;
    if (name === "telex_sink_samples_dropped_total") {
      const reason = /reason="([^"]*)"/.exec(line)?.[1] ?? "?";
      droppedByReason.set(reason, (droppedByReason.get(reason) ?? 0) + value);
    }
  }
  return { sums, droppedByReason, sinks };
}

/** Peaks of the child's own memory gauges: where RSS goes (V8 heap or memory outside it). */
const memoryPeaks = { heapUsed: 0, heapTotal: 0, external: 0, inflightBytes: 0 };

async function scrape(ingestUrl: string): Promise<Exposition> {
  const response = await fetch(`${ingestUrl}/metrics`);
  if (response.status !== 200) throw new Error(`${ingestUrl}/metrics: HTTP ${response.status}`);
  const exposition = parseExposition(await response.text());
  const gauge = (name: string) => exposition.sums.get(name) ?? 0;
  memoryPeaks.heapUsed = Math.max(memoryPeaks.heapUsed, gauge("nodejs_heap_size_used_bytes"));
  memoryPeaks.heapTotal = Math.max(memoryPeaks.heapTotal, gauge("nodejs_heap_size_total_bytes"));
  memoryPeaks.external = Math.max(memoryPeaks.external, gauge("nodejs_external_memory_bytes"));
  memoryPeaks.inflightBytes = Math.max(memoryPeaks.inflightBytes, gauge("telex_delivery_inflight_bytes"));
  return exposition;
}

function takeMemoryPeaks(): string {
  const text = `V8 heap used ≤ ${mib(memoryPeaks.heapUsed)} of ≤ ${mib(memoryPeaks.heapTotal)}, external ≤ ${mib(memoryPeaks.external)}, request bodies in flight ≤ ${mib(memoryPeaks.inflightBytes)}`;
  memoryPeaks.heapUsed = memoryPeaks.heapTotal = memoryPeaks.external = memoryPeaks.inflightBytes = 0;
  return text;
}

function policiesPath(project: string): string {
  return `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;
}

function manifest(
  name: string,
  selector: string,
  endpoint: string,
  batchMaxSize: number,
): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: [{ name: "s", metrics: { metricsql: selector } }],
      sinks: [
        {
          name: "k",
          sources: ["s"],
          target: {
            prometheusRemoteWrite: {
              endpoint,
              batch: { maxSize: batchMaxSize },
              // The sink goes down at the first failure, and probes from 100 ms on (doubling, ≤ 5 min).
              retry: { maxAttempts: 1, backoffDuration: "100ms" },
            },
          },
        },
      ],
    },
  };
}

/** Samples VmRSS every second until stopped; the peak since the last reset. */
class RssSampler {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, 1000);
  }

  sample(): void {
    try {
      this.last = rssBytes(this.pid);
      this.peak = Math.max(this.peak, this.last);
    } catch {
      // The process has exited: nothing more to sample.
    }
  }

  reset(): void {
    this.peak = this.last;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Pushes the bodies round-robin until `stop()` says so; 429s are waited out. */
async function pushUntil(url: string, bodies: readonly Buffer[], stop: () => boolean): Promise<number> {
  let next = 0;
  let accepted = 0;
  const worker = async () => {
    while (!stop()) {
      const body = bodies[next++ % bodies.length];
      const response = await fetch(url, { method: "POST", headers: AGENT_HEADERS, body });
      await response.arrayBuffer();
      if (response.status === 429) {
        await sleep(50);
        continue;
      }
      if (response.status >= 300) throw new Error(`push failed: HTTP ${response.status}`);
      accepted++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return accepted;
}

export async function runBacklogBench(): Promise<void> {
  const targetBytes = knob("BACKLOG_BYTES", 2 ** 30);
  const projects = knob("BACKLOG_PROJECTS", 100);
  const perProject = knob("BACKLOG_POLICIES_PER_PROJECT", 10);
  const batchMaxSize = knob("BACKLOG_BATCH", 5000);
  const drainTimeoutMs = knob("BACKLOG_DRAIN_TIMEOUT_S", 900) * 1000;
  const heapMb = process.env.BACKLOG_HEAP_MB === undefined ? undefined : knob("BACKLOG_HEAP_MB", 0);
  const serveArgs = (process.env.BACKLOG_SERVE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
  const selectorOverride = process.env.BACKLOG_SELECTOR;
  const nodeArgs = (process.env.BACKLOG_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
  if (heapMb !== undefined) nodeArgs.push(`--max-old-space-size=${heapMb}`);
  const policies = projects * perProject;
  console.log(
    `\n## backlog: ${n(policies)} policies in ${n(projects)} projects, endpoint down until ${mib(targetBytes)} is buffered, then a counting receiver (sink batch ${n(batchMaxSize)}${heapMb === undefined ? "" : `, --max-old-space-size=${heapMb}`}${serveArgs.length === 0 ? "" : `, ${serveArgs.join(" ")}`})`,
  );

  const base = tmpdir();
  const disk = statfsSync(base);
  const free = disk.bavail * disk.bsize;
  if (free < targetBytes * 1.5) {
    throw new Error(`backlog: ${base} has ${mib(free)} free, ${mib(targetBytes * 1.5)} needed`);
  }
  const dataDir = mkdtempSync(join(base, "telex-bench-backlog-"));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/api/v1/write`;
  const series = benchSeries(projects, SERIES_PER_PROJECT);
  const bodies = benchRequests(series, SERIES_PER_REQUEST, 2);

  let serve: TelexServe | undefined;
  let receiver: CountingReceiver | undefined;
  let rss: RssSampler | undefined;
  try {
    serve = await startTelexServe(
      [
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        dataDir,
        "--max-policies-per-project",
        String(Math.max(100, perProject)),
        "--max-sinks-per-project",
        String(Math.max(200, perProject)),
        "--max-sources-per-project",
        String(Math.max(200, perProject)),
        ...serveArgs,
      ],
      15_000,
      { nodeArgs },
    );
    const ingestUrl = serve.ingestUrl;
    const pid = serve.child.pid;
    if (ingestUrl === undefined || pid === undefined) throw new Error("telex serve has no ingest endpoint");
    rss = new RssSampler(pid);
    const idleRss = rss.last;

    for (let p = 0; p < projects; p++) {
      for (let i = 0; i < perProject; i++) {
        const selector = selectorOverride ?? BENCH_SELECTORS[i % BENCH_SELECTORS.length] ?? "{}";
        const created = await apiRequest(serve.url, "POST", policiesPath(`project-${p}`), {
          body: manifest(`policy-${i}`, selector, endpoint, batchMaxSize),
        });
        if (created.status !== 201)
          throw new Error(`creating project-${p}/policy-${i}: HTTP ${created.status}: ${created.text}`);
      }
    }
    const readyBy = performance.now() + 60_000;
    while ((await scrape(ingestUrl)).sinks < policies) {
      if (performance.now() > readyBy) throw new Error(`not all ${policies} sinks run after 60 s`);
      await sleep(200);
    }
    rss.sample();
    const policiesRss = rss.last;
    takeMemoryPeaks();

    // Fill: push until the buffer holds the target; the monitor flips `full`.
    let full = false;
    let buffered = 0;
    const fillStarted = performance.now();
    const monitor = (async () => {
      while (!full) {
        await sleep(1000);
        buffered = (await scrape(ingestUrl)).sums.get("telex_buffer_disk_bytes") ?? 0;
        if (buffered >= targetBytes) full = true;
      }
    })();
    const requests = await pushUntil(`${ingestUrl}/api/v1/write`, bodies, () => full);
    await monitor;
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    await sleep(2000);
    rss.sample();
    const filled = await scrape(ingestUrl);
    const fillPeak = rss.peak;
    const inputSamples = requests * SERIES_PER_REQUEST;
    console.log(
      `  fill: ${n(inputSamples)} samples in ${fillSeconds.toFixed(0)} s (${n(inputSamples / fillSeconds)}/s), buffer ${mib(filled.sums.get("telex_buffer_disk_bytes") ?? 0)} on disk, ${n(filled.sums.get("telex_sink_buffered_samples") ?? 0)} samples buffered for sinks`,
    );
    console.log(
      `  RSS: ${mib(idleRss)} idle, ${mib(policiesRss)} with ${n(policies)} policies, peak ${mib(fillPeak)} while filling (${takeMemoryPeaks()}), ${mib(rss.last)} at rest with the backlog`,
    );

    // Drain: the endpoint comes up on the port the sinks were probing.
    rss.reset();
    const expected = filled.sums.get("telex_sink_samples_received_total") ?? 0;
    receiver = await startCountingReceiver(port);
    const upAt = performance.now();
    let firstAt: number | undefined;
    let lastChangeAt = upAt;
    let lastSamples = 0;
    let bestPerSecond = 0;
    let drained = filled;
    for (;;) {
      await sleep(1000);
      const now = performance.now();
      const got = receiver.samples;
      if (got > 0) firstAt ??= now;
      if (got !== lastSamples) {
        bestPerSecond = Math.max(bestPerSecond, ((got - lastSamples) * 1000) / (now - lastChangeAt));
        lastSamples = got;
        lastChangeAt = now;
      }
      drained = await scrape(ingestUrl);
      if ((drained.sums.get("telex_sink_buffered_samples") ?? 0) === 0 && got >= expected) break;
      if (now - upAt > drainTimeoutMs) {
        console.log(`  drain: not done after ${drainTimeoutMs / 1000} s`);
        break;
      }
    }
    const doneAt = lastChangeAt;
    const firstSeconds = ((firstAt ?? doneAt) - upAt) / 1000;
    const activeSeconds = Math.max(0.001, (doneAt - (firstAt ?? upAt)) / 1000 + 1);
    const delivered = receiver.samples;
    console.log(
      `  drain: ${n(delivered)} of ${n(expected)} samples delivered; first after ${firstSeconds.toFixed(1)} s (the sinks' probe backoff), done ${((doneAt - upAt) / 1000).toFixed(1)} s after the endpoint came up; ${n(delivered / activeSeconds)} samples/s on average while delivering, best second ${n(bestPerSecond)}/s; ${n(receiver.requests)} requests of ${n(delivered / Math.max(1, receiver.requests))} samples, ${(receiver.bytes / Math.max(1, delivered)).toFixed(1)} bytes a sample`,
    );
    const gauge = (name: string): number => drained.sums.get(name) ?? 0;
    console.log(
      `  buffer reads: ${n(gauge("telex_buffer_reads_total") - (filled.sums.get("telex_buffer_reads_total") ?? 0))} while draining, ${n(gauge("telex_buffer_series_table_loads_total"))} series tables loaded`,
    );
    console.log(`  RSS: peak ${mib(rss.peak)} while draining (${takeMemoryPeaks()}), ${mib(rss.last)} after`);
    const dropped = [...drained.droppedByReason].filter(([, count]) => count > 0);
    console.log(
      `  dropped (telex_sink_samples_dropped_total): ${dropped.length === 0 ? "0" : dropped.map(([reason, count]) => `${reason} ${n(count)}`).join(", ")}`,
    );
    console.log(
      `  issue 12: RSS ${mib(Math.max(fillPeak, rss.peak))} peak with ${mib(filled.sums.get("telex_buffer_disk_bytes") ?? 0)} buffered: ${Math.max(fillPeak, rss.peak) < 400 * 1e6 ? "under" : "over"} 400 MB`,
    );
  } finally {
    rss?.stop();
    await receiver?.close();
    await serve?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
