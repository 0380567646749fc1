// Scale of the control plane: 10,000 ExportPolicies in 1,000 projects are
// created through the API of an in-process `telex serve` (default status
// refresh of 10 s); reported are the time until every policy has been
// reconciled (finalizer set, plan running, status written: AwaitingData),
// then, after one Remote Write request with a series of every project goes
// into ingest, the time until every policy is Ready (each of the 10,000
// sinks delivered once, over its own connection, to a null receiver in
// another process: one process could not hold both ends' 20,000 sockets),
// reconciles per second, status writes, and memory.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { KubeClient, Informer, type KubeObject } from "../src/kube/index.js";
import { systemClock, silentLogger } from "../src/util/index.js";
import { startServer } from "../src/serve/index.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { pushSeries } from "../test-support/remote-write-client.js";

const PROJECTS = 1000;
const PER_PROJECT = 10;
const CONCURRENCY = 16;

function policy(index: number, endpoint: string): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: `policy-${index}` },
    spec: {
      sources: [
        {
          name: "gw",
          metrics: { metricsql: '{service_name="networking.miloapis.com", resource_kind="Gateway"}' },
        },
      ],
      sinks: [
        {
          name: "k",
          sources: ["gw"],
          target: { prometheusRemoteWrite: { endpoint, batch: { timeout: "1s" } } },
        },
      ],
    },
  };
}

const policiesPath = (project: number) =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/project-${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

interface PolicyStatus extends KubeObject {
  readonly status?: { readonly conditions?: readonly { type: string; status: string }[] };
}

const ALL_POLICIES =
  "/apis/resourcemanager.miloapis.com/v1alpha1/projects/-/control-plane/apis/telemetry.miloapis.com/v1alpha1/exportpolicies";

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
  const client = new KubeClient({
    server: server.api.url,
    tls: { rejectUnauthorized: true },
    authorization: () => undefined,
  });
  const line = (label: string, value: string) => {
    console.log(`  ${label.padEnd(34)} ${value}`);
  };
  // Watched like `kubectl get -w` would: polling a list of 10,000 objects
  // would cost the in-process server more than the work being measured.
  const withStatus = new Set<string>();
  const ready = new Set<string>();
  const informer = new Informer<PolicyStatus>({
    client,
    path: ALL_POLICIES,
    keyOf: (p) => p.metadata.uid ?? "",
    clock: systemClock,
    logger: silentLogger,
    handlers: {
      onUpsert: (key, p) => {
        const conditions = p.status?.conditions ?? [];
        if (conditions.length > 0) withStatus.add(key);
        if (conditions.some((c) => c.type === "Ready" && c.status === "True")) ready.add(key);
        else ready.delete(key);
      },
      onDelete: () => undefined,
    },
  });
  informer.start();
  await informer.waitForSync();
  const waitFor = async (done: () => boolean) => {
    while (!done()) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  try {
    const rssBefore = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < total) {
          const i = next++;
          await client.request("POST", policiesPath(i % PROJECTS), { body: policy(i, receiver.url) });
        }
      }),
    );
    const created = performance.now();
    const reconcilesBefore = server.controller.reconciles;
    await waitFor(() => withStatus.size === total);
    const reconciled = performance.now();
    const cpuReconciled = process.cpuUsage(cpuBefore);
    const reconcilesAtRest = server.controller.reconciles;
    const writesAtRest = server.controller.reconciler.status.writes;
    const rssAtRest = process.memoryUsage().rss;

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
    await waitFor(() => ready.size === total);
    const allReady = performance.now();
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
      `${((reconciled - started) / 1000).toFixed(1)} s after the first create`,
    );
    line(
      "reconciles until then",
      `${reconcilesAtRest} (${(reconcilesAtRest / ((reconciled - started) / 1000)).toFixed(0)}/s; ${reconcilesAtRest - reconcilesBefore} after the last create)`,
    );
    line("status writes until then", String(writesAtRest));
    // In-process server and client together; wall times swing with the machine's load, CPU less.
    const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;
    line(
      "process CPU",
      `${cpuSeconds(cpuReconciled).toFixed(1)} s until all reconciled, ${(cpuSeconds(cpuReady) - cpuSeconds(cpuReconciled)).toFixed(1)} s more until all Ready (load average ${loadavg()[0]?.toFixed(1) ?? "?"})`,
    );
    line(
      "all Ready after one ingest request",
      `${((allReady - pushed) / 1000).toFixed(1)} s (status refresh every 10 s)`,
    );
    line("status writes for Ready", String(server.controller.reconciler.status.writes - writesAtRest));
    line("receiver saw", await receiver.stop());
    line(
      "process memory (RSS)",
      `${(rssAtRest / 2 ** 20).toFixed(0)} MB at rest (${((rssAtRest - rssBefore) / 2 ** 20).toFixed(0)} MB for the policies), ${(rss / 2 ** 20).toFixed(0)} MB with 10,000 open sink connections; JS heap ${(heap / 2 ** 20).toFixed(0)} MB`,
    );
  } finally {
    await informer.stop();
    await client.close();
    await server.stop();
    await receiver.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
