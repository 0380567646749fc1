// Scale of the control plane: 10,000 ExportPolicies in 1,000 projects are
// created through the API of an in-process `telex serve`; reported are the
// time until every policy has been reconciled (finalizer set, plan running,
// status written), reconciles per second, status writes, and memory.
// No data flows, so every sink reports AwaitingData: a Ready of True needs
// each of the 10,000 sinks to deliver, which takes 10,000 connections.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { KubeClient } from "../src/controller/kube/client.js";
import { startServer } from "../src/server.js";

const PROJECTS = 1000;
const PER_PROJECT = 10;
const CONCURRENCY = 16;

function policy(index: number): Record<string, unknown> {
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
          target: { prometheusRemoteWrite: { endpoint: "http://127.0.0.1:9/api/v1/write" } },
        },
      ],
    },
  };
}

const policiesPath = (project: number) =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/project-${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

export async function runControllerBench(): Promise<void> {
  const total = PROJECTS * PER_PROJECT;
  console.log(
    `\n## control plane: ${total} ExportPolicies in ${PROJECTS} projects, one in-process telex serve`,
  );
  const dataDir = await mkdtemp(join(tmpdir(), "telex-bench-controller-"));
  const server = await startServer({
    apiListen: "127.0.0.1:0",
    ingestListen: "127.0.0.1:0",
    dataDir,
    statusRefreshMs: 60_000,
  });
  const client = new KubeClient({
    server: server.api.url,
    tls: { rejectUnauthorized: true },
    authorization: () => undefined,
  });
  try {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < total) {
          const i = next++;
          await client.request("POST", policiesPath(i % PROJECTS), { body: policy(i) });
        }
      }),
    );
    const created = performance.now();
    const reconcilesBefore = server.controller.reconciles;
    const allPath =
      "/apis/resourcemanager.miloapis.com/v1alpha1/projects/-/control-plane/apis/telemetry.miloapis.com/v1alpha1/exportpolicies";
    for (;;) {
      const list = await client.request<{ items: { status?: { conditions?: unknown[] } }[] }>("GET", allPath);
      if (list.items.filter((p) => (p.status?.conditions?.length ?? 0) > 0).length === total) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const done = performance.now();
    const rss = process.memoryUsage().rss;
    const seconds = (done - started) / 1000;
    console.log(
      `  created through the API          ${((created - started) / 1000).toFixed(1)} s (${(total / ((created - started) / 1000)).toFixed(0)} creates/s)`,
    );
    console.log(`  all reconciled with status       ${seconds.toFixed(1)} s after the first create`);
    console.log(
      `  reconciles                       ${server.controller.reconciles} (${(server.controller.reconciles / seconds).toFixed(0)}/s; ${server.controller.reconciles - reconcilesBefore} after the last create)`,
    );
    console.log(`  status writes                    ${server.controller.reconciler.status.writes}`);
    console.log(
      `  process memory (RSS)             ${(rss / 2 ** 20).toFixed(0)} MB (${((rss - rssBefore) / 2 ** 20).toFixed(0)} MB for the policies)`,
    );
  } finally {
    await client.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
