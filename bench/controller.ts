// Scale of the control plane: 10,000 ExportPolicies in 1,000 projects are
// created through the API of an in-process `telex serve` (default status
// refresh of 10 s) by a client in another process (16 concurrent requests,
// and a watch of every policy, as `kubectl get -w`); reported are the time
// until every policy has been reconciled (finalizer set, plan running,
// status written: AwaitingData), from the first and from the last create,
// then, after one Remote Write request with a series of every project goes
// into ingest, the time until every policy is Ready (each of the 10,000
// sinks delivered once, over its own connection, to a null receiver in
// another process: one process could not hold both ends' 20,000 sockets),
// reconciles, status writes, the server's CPU and memory.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { writeHeapSnapshot } from "node:v8";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startServer } from "../src/serve/index.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { pushSeries } from "../test-support/remote-write-client.js";

const PER_PROJECT = 10;
/** CONTROL_POLICIES=2000 for a quicker look while profiling; the figures the README quotes are at 10,000. */
const PROJECTS = Math.max(1, Math.round(Number(process.env["CONTROL_POLICIES"] ?? 10_000) / PER_PROJECT));
const CONCURRENCY = 16;
const REST_MS = 15_000;

/** The client process (bench/controller-client.ts): resolves each milestone it prints as it arrives. */
function startClient(
  server: string,
  endpoint: string,
  total: number,
): { milestone(step: string): Promise<number>; stop(): Promise<void> } {
  const script = fileURLToPath(new URL("./controller-client.js", import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
    script,
    server,
    endpoint,
    String(total),
    String(PROJECTS),
    String(CONCURRENCY),
  ]);
  child.stderr.pipe(process.stderr);
  const seen = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  createInterface({ input: child.stdout }).on("line", (text) => {
    const { step } = JSON.parse(text) as { step: string };
    const at = performance.now();
    seen.set(step, at);
    waiting.get(step)?.(at);
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  return {
    milestone: (step) =>
      new Promise<number>((resolve, reject) => {
        const at = seen.get(step);
        if (at !== undefined) resolve(at);
        else waiting.set(step, resolve);
        void exited.then(() => {
          reject(new Error(`the client exited before "${step}"`));
        });
      }),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function startNullReceiver(): Promise<{ url: string; stop: () => Promise<string> }> {
  const script = fileURLToPath(new URL("./null-receiver.js", import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => {
      const match = /ready (\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once("exit", () => {
      reject(new Error("null receiver exited"));
    });
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      return /requests \d+ connections \d+/.exec(output)?.[0] ?? "";
    },
  };
}

export async function runControllerBench(): Promise<void> {
  const total = PROJECTS * PER_PROJECT;
  console.log(
    `\n## control plane: ${total} ExportPolicies in ${PROJECTS} projects, one in-process telex serve`,
  );
  const dataDir = await mkdtemp(join(tmpdir(), "telex-bench-controller-"));
  const receiver = await startNullReceiver();
  const server = await startServer({ apiListen: "127.0.0.1:0", ingestListen: "127.0.0.1:0", dataDir });
  const line = (label: string, value: string) => {
    console.log(`  ${label.padEnd(34)} ${value}`);
  };
  const rssBefore = process.memoryUsage().rss;
  const client = startClient(server.api.url, receiver.url, total);
  try {
    await client.milestone("synced");
    // From here the server's process does the server's work only: the client is the other process.
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const created = await client.milestone("created");
    const reconcilesBefore = server.controller.reconciles;
    const reconciled = await client.milestone("reconciled");
    const cpuReconciled = process.cpuUsage(cpuBefore);
    const reconcilesAtRest = server.controller.reconciles;
    const errorsAtRest = server.controller.reconcileErrors;
    const writesAtRest = server.controller.reconciler.status.writes;
    const justReconciled = process.memoryUsage().rss;
    // At rest: the burst over, V8's memory reducer has had its turn (it collects a few seconds
    // after allocation slows down) and the status refresh of every 10 s has run.
    await new Promise((resolve) => setTimeout(resolve, REST_MS));
    const atRest = process.memoryUsage();
    const rssAtRest = atRest.rss;
    // CONTROL_HEAP_SNAPSHOT=1: what the memory at rest is made of (open it in Chrome's DevTools).
    if (process.env["CONTROL_HEAP_SNAPSHOT"] === "1")
      console.log(
        `  heap snapshot at rest: ${writeHeapSnapshot(join(tmpdir(), "telex-control.heapsnapshot"))}`,
      );

    const ingestUrl = `${server.ingest?.url ?? ""}/api/v1/write`;
    const series = Array.from({ length: PROJECTS }, (_, p) => ({
      labels: [
        { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
        { name: TENANT_LABEL, value: `project-${p}` },
        { name: "resource_kind", value: "Gateway" },
        { name: "service_name", value: "networking.miloapis.com" },
      ],
      samples: [{ value: 1, timestampMs: Date.now() }],
    }));
    const pushed = performance.now();
    const result = await pushSeries(ingestUrl, series);
    if (result.status !== 204) throw new Error(`ingest answered ${result.status}: ${result.body}`);
    // When every sink has delivered once, read from the exporter's health: what is left is the status.
    let delivered: number | undefined;
    const deliveries = setInterval(() => {
      let sinks = 0;
      for (const [, , sink] of server.exporter.runningSinks())
        if (sink.stats.lastSuccessMs !== undefined) sinks++;
      if (sinks === total) {
        delivered = performance.now();
        clearInterval(deliveries);
      }
    }, 100);
    const allReady = await client.milestone("ready").finally(() => {
      clearInterval(deliveries);
    });
    // The client may see the last status through its watch before the controller has its answer.
    for (let i = 0; i < 50 && !server.controller.queue.idle; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const cpuReady = process.cpuUsage(cpuBefore);
    const rss = process.memoryUsage().rss;
    const heap = process.memoryUsage().heapUsed;

    const createSeconds = (created - started) / 1000;
    line(
      "created through the API",
      `${createSeconds.toFixed(1)} s (${(total / createSeconds).toFixed(0)} creates/s)`,
    );
    line(
      "all reconciled with status",
      `${((reconciled - started) / 1000).toFixed(1)} s after the first create, ${((reconciled - created) / 1000).toFixed(1)} s after the last`,
    );
    line(
      "reconciles until then",
      `${reconcilesAtRest} (${(reconcilesAtRest / ((reconciled - started) / 1000)).toFixed(0)}/s; ${reconcilesAtRest - reconcilesBefore} after the last create; ${errorsAtRest} failed and retried)`,
    );
    line("status writes until then", String(writesAtRest));
    // The server's process alone; wall times swing with the machine's load, CPU less.
    const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;
    line(
      "server process CPU",
      `${cpuSeconds(cpuReconciled).toFixed(1)} s until all reconciled, ${(cpuSeconds(cpuReady) - cpuSeconds(cpuReconciled)).toFixed(1)} s more until all Ready (load average ${loadavg()[0]?.toFixed(1) ?? "?"})`,
    );
    line(
      "all Ready after one ingest request",
      `${((allReady - pushed) / 1000).toFixed(1)} s (a sink's first delivery reconciles its policy)`,
    );
    line(
      "every sink delivered once",
      delivered === undefined
        ? "not seen"
        : `${((delivered - pushed) / 1000).toFixed(1)} s after the ingest request`,
    );
    line("status writes for Ready", String(server.controller.reconciler.status.writes - writesAtRest));
    line("receiver saw", await receiver.stop());
    line(
      "process memory (RSS)",
      `${(rssAtRest / 2 ** 20).toFixed(0)} MiB at rest, ${REST_MS / 1000} s after (${(justReconciled / 2 ** 20).toFixed(0)} MiB when all were reconciled; ${((rssAtRest - rssBefore) / 2 ** 20).toFixed(0)} MiB for the policies), ${(rss / 2 ** 20).toFixed(0)} MiB with ${total.toLocaleString("en-US")} open sink connections; JS heap ${(heap / 2 ** 20).toFixed(0)} MiB`,
    );
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    line(
      "at rest, of the RSS",
      `JS heap ${mb(atRest.heapUsed)} used of ${mb(atRest.heapTotal)}, ${mb(atRest.external)} outside it (buffers, SQLite's is not counted)`,
    );
  } finally {
    await client.stop();
    await server.stop();
    await receiver.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
