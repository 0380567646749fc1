// A warm-up pass before a replica takes traffic (issue 16 part 4: a fresh
// process should relay its first million samples at its steady cost).
//
// V8 runs new code in its interpreter and compiles the functions that turn
// out hot; until it has, a fresh process spends up to twice its steady CPU
// per sample (`npm run bench -- ingest`, short run). This pass sends
// synthetic platform-like series through a throwaway exporter of the same
// code — decompression, scanning, routing, the durable log when the replica
// has one, the sinks' queues and batches, encoding, compression and HTTP to a
// null receiver on loopback — so that the hot functions are compiled before
// the first real request arrives. Measured on this project's 2-core machine:
// the first million samples of a fresh process cost 15–30 % less CPU with it
// (README, Benchmarks), for about a third of a second of CPU at start.
//
// Nothing of it stays: its exporter, policies, series, log directory and
// receiver are its own and gone before the replica starts; no counter of the
// replica counts it. It is an optimization: a failure is logged and the
// replica starts cold.
import { createServer, type Server } from "node:http";
import { rm } from "node:fs/promises";
import { validateExportPolicy } from "../api/index.js";
import { compilePolicy } from "../controller/compile.js";
import { DurableLog } from "../exporter/buffer/index.js";
import { Exporter } from "../exporter/exporter.js";
import type { PolicyPlan } from "../exporter/plan.js";
import { CompressPool } from "../exporter/sink/index.js";
import { encodeWriteRequest, snappyCompress, uncompressBody, type Label } from "../remotewrite/index.js";
import { errorField, silentLogger, type Logger } from "../util/index.js";

/** A few tenths of a second of CPU here; more improved the short-run figure no further. */
export const DEFAULT_WARM_UP_SAMPLES = 50_000;

/** The pass's projects (tenant label values no platform uses) and their series. */
const PROJECTS = 4;
const SERIES_PER_PROJECT = 250;
const SERIES_PER_REQUEST = 500;
/** How long the pass waits for its sinks to deliver what it sent before closing them anyway. */
const DELIVERY_WAIT_MS = 2_000;

/** Selectors of the kinds policies use: everything, equality, regex alternation, negation. */
const SELECTORS = [
  "{}",
  '{service_name="networking.miloapis.com", resource_kind="Gateway"}',
  '{resource_kind=~"Gateway|HTTPProxy"}',
  '{__name__=~"warm_up_.*", code!~"2.."}',
] as const;

export interface WarmUpOptions {
  readonly tenantLabel: string;
  /** Samples to relay (rounded up to whole requests of 500); 0 skips the pass. */
  readonly samples?: number;
  /** The replica writes through a durable log: warm that path in this directory (removed before and after). */
  readonly logDir?: string;
  readonly logger?: Logger;
}

export interface WarmUpReport {
  /** Samples ingested. */
  readonly samples: number;
  /** Samples sent to the null receiver: those the pass's policies select (62.5 %), unless the wait ran out. */
  readonly sent: number;
  readonly ms: number;
}

/** Relays synthetic series through a throwaway pipeline; never throws. */
export async function warmUp(options: WarmUpOptions): Promise<WarmUpReport | undefined> {
  const samples = options.samples ?? DEFAULT_WARM_UP_SAMPLES;
  if (samples <= 0) return undefined;
  const logger = options.logger ?? silentLogger;
  const started = performance.now();
  let receiver: Server | undefined;
  let exporter: Exporter | undefined;
  let log: DurableLog | undefined;
  const compressor = new CompressPool({ threads: 0 });
  try {
    receiver = await startNullReceiver();
    const address = receiver.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const endpoint = `http://127.0.0.1:${port}/api/v1/write`;
    if (options.logDir !== undefined) {
      await rm(options.logDir, { recursive: true, force: true });
      log = await DurableLog.open({ dir: options.logDir });
    }
    exporter = new Exporter({
      tenantLabel: options.tenantLabel,
      sinkRuntime: { compressor },
      ...(log === undefined ? {} : { log }),
    });
    const uids: string[] = [];
    for (let p = 0; p < PROJECTS; p++) {
      const selector = SELECTORS[p % SELECTORS.length] ?? "{}";
      // Its uid and its project are the same name: one policy a project.
      const uid = projectName(p);
      exporter.apply(policyPlan(uid, uid, selector, endpoint, options.tenantLabel));
      uids.push(uid);
    }
    // Decompressed once each, as the ingest server does, and then used again: a fresh 200 KB buffer per
    // request was tens of MiB of garbage that a process at rest kept for minutes.
    const bodies = requests(options.tenantLabel).map((body) => uncompressBody(body, Number.MAX_SAFE_INTEGER));
    const rounds = Math.ceil(samples / SERIES_PER_REQUEST);
    for (let round = 0; round < rounds; round++) {
      const body = bodies[round % bodies.length] ?? new Uint8Array();
      // Scanned and routed; with a log, written before the sinks get it.
      await exporter.ingest.apply(body);
      // Each request in a turn of its own, as real traffic comes: the sinks send in between (without
      // a log they would otherwise fill up and drop, warming the wrong path).
      await new Promise((resolve) => setImmediate(resolve));
    }
    const sent = await waitForDelivery(exporter, uids);
    const report = { samples: rounds * SERIES_PER_REQUEST, sent, ms: performance.now() - started };
    logger.info("warmed up the relaying path", {
      samples: report.samples,
      sent: report.sent,
      ms: Math.round(report.ms),
    });
    return report;
  } catch (error: unknown) {
    logger.warn("warm-up pass failed; starting cold", { error: errorField(error) });
    return undefined;
  } finally {
    await exporter?.close().catch(() => undefined);
    await log?.close().catch(() => undefined);
    if (options.logDir !== undefined)
      await rm(options.logDir, { recursive: true, force: true }).catch(() => undefined);
    await compressor.close();
    if (receiver !== undefined) await stopServer(receiver);
  }
}

function projectName(p: number): string {
  return `telex-warm-up-${p}`;
}

function policyPlan(
  project: string,
  uid: string,
  selector: string,
  endpoint: string,
  tenantLabel: string,
): PolicyPlan {
  const validation = validateExportPolicy(
    {
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      kind: "ExportPolicy",
      metadata: { name: "warm-up", namespace: "default", uid, generation: 1 },
      spec: {
        sources: [{ name: "all", metrics: { metricsql: selector } }],
        sinks: [
          {
            name: "null",
            sources: ["all"],
            target: { prometheusRemoteWrite: { endpoint, batch: { maxSize: 500, timeout: "50ms" } } },
          },
        ],
      },
    },
    { tenantLabel },
  );
  if (!validation.valid) throw new Error(`warm-up policy invalid: ${JSON.stringify(validation.errors)}`);
  return compilePolicy(validation.object, { project, tenantLabel, secret: () => undefined }).plan;
}

/** Compressed requests of SERIES_PER_REQUEST series with one sample each, at two timestamps. */
function requests(tenantLabel: string): Uint8Array[] {
  const series: Label[][] = [];
  const metrics = [
    "warm_up_requests_total",
    "warm_up_request_duration_seconds_bucket",
    "warm_up_bytes_total",
  ];
  const kinds = ["Gateway", "HTTPProxy", "Instance"];
  for (let p = 0; p < PROJECTS; p++) {
    for (let s = 0; s < SERIES_PER_PROJECT; s++) {
      const labels: Label[] = [
        { name: "__name__", value: metrics[s % metrics.length] ?? "warm_up" },
        { name: "code", value: ["200", "404", "503"][s % 3] ?? "200" },
        { name: "instance", value: `10.255.${p}.${s % 250}:9090` },
        { name: "le", value: ["0.1", "1", "+Inf"][s % 3] ?? "1" },
        { name: "resource_kind", value: kinds[s % kinds.length] ?? "Gateway" },
        { name: "resource_name", value: `warm-up-${s % 40}` },
        { name: "service_name", value: s % 2 === 0 ? "networking.miloapis.com" : "compute.miloapis.com" },
      ];
      // A --tenant-label named like one of the labels above replaces it: a repeated name is a bad series.
      series.push([
        ...labels.filter((label) => label.name !== tenantLabel),
        { name: tenantLabel, value: projectName(p) },
      ]);
    }
  }
  const now = Date.now();
  const bodies: Uint8Array[] = [];
  for (let round = 0; round < 2; round++) {
    for (let start = 0; start < series.length; start += SERIES_PER_REQUEST) {
      const chunk = series.slice(start, start + SERIES_PER_REQUEST).map((labels, i) => ({
        labels,
        samples: [{ value: round * 1000 + i, timestampMs: now - 15_000 * (2 - round) }],
      }));
      bodies.push(snappyCompress(encodeWriteRequest(chunk)));
    }
  }
  return bodies;
}

/** Waits until every sink of the pass has sent or dropped what it received, or DELIVERY_WAIT_MS; returns what was sent. */
async function waitForDelivery(exporter: Exporter, uids: readonly string[]): Promise<number> {
  const sinks = uids.flatMap((uid) => [...(exporter.health(uid)?.sinks.values() ?? [])]);
  const deadline = AbortSignal.timeout(DELIVERY_WAIT_MS);
  // Past the deadline the sinks are closed with what they still hold: only the count is reported.
  await Promise.all(sinks.map((sink) => sink.settled(deadline))).catch(() => undefined);
  return sinks.reduce((sent, sink) => sent + sink.stats.samplesSent, 0);
}

function startNullReceiver(): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve(server);
    });
  });
}

function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}
