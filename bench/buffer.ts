// The durable log (src/exporter/buffer/): append throughput and CPU, commit
// latency with a sync every second and with a sync per commit, read-back
// speed for one sink, recovery time of a large log, and the issue's
// comparison at 1,000 policies: one shared log against a file per sink.
// Files go to a temp dir under os.tmpdir() (BUFFER_BENCH_DIR overrides);
// BUFFER_BENCH_RECOVERY_MIB sets the recovered log's size (default 1024).
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { crc32 } from "node:zlib";
import { DurableLog } from "../src/exporter/buffer/index.js";
import type { SinkLog } from "../src/exporter/buffer/index.js";
import type { SeriesRef } from "../src/exporter/series.js";
import { SampleBatch } from "../src/exporter/sink/queue.js";
import { encodeLabels } from "../src/remotewrite/index.js";
import { formatRate } from "./harness.js";

const SERIES = 5000;
const SAMPLES_PER_REQUEST = 1000;
/** Requests in flight at once, as concurrent agents would send them. */
const CLIENTS = 8;
const PROJECTS = 100;
const SINKS_PER_PROJECT = 10;
/** Sinks a sample goes to, out of its project's 10 (the README's 1,000-policy workload has 2.84). */
const TARGETS_PER_SAMPLE = 3;

function platformSeries(): SeriesRef[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    labelBytes: encodeLabels([
      { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
      { name: "envoy_response_code", value: String(200 + (i % 5)) },
      { name: "gateway_name", value: `gateway-${i % 500}` },
      { name: "resource_name", value: `gw-${i}` },
      { name: "resourcemanager_datumapis_com_project_name", value: `test-${(i % 20).toString(36)}rdzjb8` },
      { name: "service_name", value: "networking.miloapis.com" },
    ]),
  }));
}

/** Which sinks (by number) sample i of request r goes to: 1 policy → always sink 0. */
type Targets = (request: number, sample: number, out: number[]) => number;
const onePolicy: Targets = (_request, _sample, out) => {
  out[0] = 0;
  return 1;
};
const thousandPolicies: Targets = (request, sample, out) => {
  const base = (request % PROJECTS) * SINKS_PER_PROJECT;
  for (let t = 0; t < TARGETS_PER_SAMPLE; t++) out[t] = base + ((sample + t * 3) % SINKS_PER_PROJECT);
  return TARGETS_PER_SAMPLE;
};

/** The write side both layouts implement: one call per ingest request, resolving when acknowledged. */
interface Layout {
  write(request: number, series: readonly SeriesRef[], targets: Targets): Promise<void>;
  close(): Promise<void>;
  syncSeconds(): number;
  syncs(): number;
}

function sharedLog(log: DurableLog, sinks: SinkLog[]): Layout {
  const out: number[] = [];
  return {
    write(request, series, targets) {
      const record = log.record();
      const ts = 1_700_000_000_000 + request;
      for (let i = 0; i < SAMPLES_PER_REQUEST; i++) {
        const ref = series[(request * SAMPLES_PER_REQUEST + i) % SERIES];
        if (ref === undefined) continue;
        const n = targets(request, i, out);
        for (let t = 0; t < n; t++) {
          const sink = sinks[out[t] ?? 0];
          if (sink !== undefined) record.add(sink, ref, i, ts);
        }
      }
      return record.commit();
    },
    close: () => log.close(),
    syncSeconds: () => log.stats.syncSeconds,
    syncs: () => log.stats.syncs,
  };
}

/**
 * The alternative the issue asks to measure: a file per sink, one write per
 * target sink per request (a framed, checksummed section of 20-byte samples,
 * as the shared log writes), and every second an fdatasync of each file
 * written since, through the libuv pool. Series definitions are left out,
 * which flatters this layout slightly.
 */
async function filePerSink(dir: string, sinks: number): Promise<Layout> {
  const handles: FileHandle[] = [];
  for (let i = 0; i < sinks; i++) handles.push(await open(join(dir, `sink-${i}.buf`), "w"));
  const sizes = new Array<number>(sinks).fill(0);
  const dirty = new Set<number>();
  const counts = new Uint32Array(sinks);
  const cursors = new Uint32Array(sinks);
  const out: number[] = [];
  let syncSeconds = 0;
  let syncs = 0;
  let closed = false;
  const syncRound = async () => {
    const files = [...dirty];
    dirty.clear();
    // Wall time of the round: the pool runs 4 syncs at once, so summing each sync's latency would count queueing.
    const started = performance.now();
    await Promise.all(files.map((i) => handles[i]?.datasync() ?? Promise.resolve()));
    syncSeconds += (performance.now() - started) / 1000;
    syncs += files.length;
  };
  let syncing = Promise.resolve();
  const timer = setInterval(() => {
    if (!closed) syncing = syncing.then(syncRound);
  }, 1000);
  return {
    async write(request, series, targets) {
      const touched: number[] = [];
      for (let i = 0; i < SAMPLES_PER_REQUEST; i++) {
        const n = targets(request, i, out);
        for (let t = 0; t < n; t++) {
          const sink = out[t] ?? 0;
          if (counts[sink] === 0) touched.push(sink);
          counts[sink] = (counts[sink] ?? 0) + 1;
        }
      }
      const buffers = new Map<number, Buffer>();
      for (const sink of touched) {
        buffers.set(sink, Buffer.allocUnsafe(8 + (counts[sink] ?? 0) * 20));
        cursors[sink] = 8;
      }
      const ts = 1_700_000_000_000 + request;
      for (let i = 0; i < SAMPLES_PER_REQUEST; i++) {
        const id = (request * SAMPLES_PER_REQUEST + i) % SERIES;
        const n = targets(request, i, out);
        for (let t = 0; t < n; t++) {
          const sink = out[t] ?? 0;
          const buf = buffers.get(sink);
          if (buf === undefined) continue;
          const at = cursors[sink] ?? 0;
          buf.writeUInt32LE(id, at);
          buf.writeDoubleLE(ts, at + 4);
          buf.writeDoubleLE(i, at + 12);
          cursors[sink] = at + 20;
        }
      }
      await Promise.all(
        touched.map(async (sink) => {
          const buf = buffers.get(sink) ?? Buffer.alloc(8);
          buf.writeUInt32LE(buf.length - 8, 0);
          buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
          counts[sink] = 0;
          const at = sizes[sink] ?? 0;
          sizes[sink] = at + buf.length;
          await handles[sink]?.write(buf, 0, buf.length, at);
          dirty.add(sink);
        }),
      );
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await syncing;
      await syncRound();
      await Promise.all(handles.map((h) => h.close()));
    },
    syncSeconds: () => syncSeconds,
    syncs: () => syncs,
  };
}

interface RunResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly sampleTargets: number;
  readonly latenciesMs: number[];
}

/** CLIENTS concurrent request loops until `requests` are acknowledged. */
async function drive(
  layout: Layout,
  requests: number,
  series: readonly SeriesRef[],
  targets: Targets,
): Promise<RunResult> {
  const latenciesMs: number[] = [];
  const out: number[] = [];
  let sampleTargets = 0;
  for (let r = 0; r < requests; r++)
    for (let i = 0; i < SAMPLES_PER_REQUEST; i++) sampleTargets += targets(r, i, out);
  let next = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < requests) {
        const request = next++;
        const sent = performance.now();
        await layout.write(request, series, targets);
        latenciesMs.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, sampleTargets, latenciesMs };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function describeRun(result: RunResult): string {
  const perMillion = (result.cpuSeconds / result.sampleTargets) * 1e6;
  return (
    `${formatRate(result.sampleTargets / result.seconds).padStart(9)} sample-targets/s  ` +
    `${perMillion.toFixed(3)} CPU-s per million  ` +
    `ack p50 ${percentile(result.latenciesMs, 50).toFixed(2)} ms p99 ${percentile(result.latenciesMs, 99).toFixed(2)} ms`
  );
}

async function openShared(
  dir: string,
  sinkCount: number,
  syncIntervalMs: number,
): Promise<Layout & { log: DurableLog }> {
  const log = await DurableLog.open({
    dir,
    syncIntervalMs,
    totalMaxBytes: 64 * 2 ** 30,
    sinkMaxBytes: 16 * 2 ** 30,
  });
  const sinks = Array.from({ length: sinkCount }, (_, i) => log.sink(`policy-${i}/sink`));
  return Object.assign(sharedLog(log, sinks), { log });
}

export async function runBufferBench(): Promise<void> {
  const root = await mkdtemp(join(process.env["BUFFER_BENCH_DIR"] ?? tmpdir(), "telex-buffer-bench-"));
  const series = platformSeries();
  console.log(
    `\n## buffer: durable log, requests of ${SAMPLES_PER_REQUEST} samples, ${CLIENTS} in flight, ${SERIES} series; dir ${root}`,
  );
  try {
    // Append, 1 policy and 1,000 sinks, sync every second.
    {
      const layout = await openShared(join(root, "one"), 1, 1000);
      await drive(layout, 200, series, onePolicy);
      const result = await drive(layout, 3000, series, onePolicy);
      console.log(`  append, 1 policy, sync 1 s          ${describeRun(result)}`);

      const sink = layout.log.sink("policy-0/sink");
      const batch = new SampleBatch<SeriesRef>(5000);
      let seq = sink.startSeq;
      const started = performance.now();
      const cpuStart = process.cpuUsage();
      while (seq < sink.endSeq) {
        batch.clear();
        seq += await sink.read(seq, batch);
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      const samples = sink.endSeq - sink.startSeq;
      console.log(
        `  read back, one sink, batch 5000     ${formatRate(samples / seconds).padStart(9)} samples/s  ${(((cpu.user + cpu.system) / 1e6 / samples) * 1e6).toFixed(3)} CPU-s per million (${(samples / 1e6).toFixed(1)} M samples)`,
      );
      await layout.close();
    }
    {
      const layout = await openShared(join(root, "thousand"), PROJECTS * SINKS_PER_PROJECT, 1000);
      await drive(layout, 200, series, thousandPolicies);
      const result = await drive(layout, 3000, series, thousandPolicies);
      console.log(`  append, 1,000 sinks, sync 1 s       ${describeRun(result)}`);
      await layout.close();
    }
    {
      const layout = await openShared(join(root, "sync0"), 1, 0);
      await drive(layout, 100, series, onePolicy);
      const syncsBefore = layout.syncs();
      const result = await drive(layout, 2000, series, onePolicy);
      console.log(
        `  append, 1 policy, sync 0 (group)    ${describeRun(result)}  ${layout.syncs() - syncsBefore} syncs`,
      );
      await layout.close();
    }

    // Shared log against a file per sink at 1,000 policies, same requests.
    console.log(
      `  1,000 policies (${PROJECTS} projects × ${SINKS_PER_PROJECT} sinks, ${TARGETS_PER_SAMPLE} targets per sample), 6000 requests:`,
    );
    for (const variant of ["shared log", "file per sink"] as const) {
      const dir = join(root, variant.replaceAll(" ", "-"));
      await rm(dir, { recursive: true, force: true });
      const layout =
        variant === "shared log"
          ? await openShared(dir, PROJECTS * SINKS_PER_PROJECT, 1000)
          : await (async () => {
              await mkdir(dir, { recursive: true });
              return filePerSink(dir, PROJECTS * SINKS_PER_PROJECT);
            })();
      await drive(layout, 200, series, thousandPolicies);
      const syncBefore = layout.syncSeconds();
      const syncsBefore = layout.syncs();
      const result = await drive(layout, 6000, series, thousandPolicies);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      console.log(
        `    ${variant.padEnd(14)} ${describeRun(result)}  syncs ${layout.syncs() - syncsBefore}, ${(layout.syncSeconds() - syncBefore).toFixed(3)} s of sync wall time`,
      );
      await layout.close();
    }

    // Recovery of a large log.
    const mib = Number(process.env["BUFFER_BENCH_RECOVERY_MIB"] ?? 1024);
    {
      const dir = join(root, "recovery");
      const layout = await openShared(dir, 10, 1000);
      const requests = Math.ceil((mib * 2 ** 20) / (SAMPLES_PER_REQUEST * 20));
      const written = await drive(layout, requests, series, (request, _sample, out) => {
        out[0] = request % 10;
        return 1;
      });
      const bytes = layout.log.stats.diskBytes;
      await layout.close();
      const started = performance.now();
      const reopened = await DurableLog.open({
        dir,
        totalMaxBytes: 64 * 2 ** 30,
        sinkMaxBytes: 16 * 2 ** 30,
      });
      const seconds = (performance.now() - started) / 1000;
      const rss = process.memoryUsage().rss;
      console.log(
        `  recovery of ${(bytes / 2 ** 20).toFixed(0)} MiB (${reopened.stats.segments} segments, written at ${formatRate(written.sampleTargets / written.seconds)} samples/s)  ${seconds.toFixed(2)} s, RSS after ${(rss / 2 ** 20).toFixed(0)} MB`,
      );
      await reopened.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
