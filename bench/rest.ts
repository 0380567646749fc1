// `npm run bench -- rest`: memory at rest (issue 16 part 3). `telex serve`
// runs as a child; its RSS (VmRSS) and V8 heap are read with no policy, then
// with 1,000 and 10,000 ExportPolicies (10 per project, the ingest
// benchmark's selectors, one sink each to an idle null receiver in another
// process), each stage once every policy has a status and the process has
// rested REST_SETTLE_S seconds. No sample flows: this is what the policies
// themselves cost.
//
// The heap is read from a heap snapshot's totals when REST_SNAPSHOTS is a
// directory (the child runs with --heapsnapshot-signal; snapshots stay there
// for a closer look, e.g. by constructor in Chrome's devtools), else only RSS
// is reported. /metrics is not scraped: at 10,000 policies its render keeps
// ~50 MiB of buffers for the next scrape, which would be measured instead.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiRequest } from "../test-support/telex-api.js";
import { HEAP_FLAGS } from "../src/serve/index.js";
import { startTelexServe } from "../test-support/telex-serve.js";
import { startNullReceiver } from "./controller.js";
import { BENCH_SELECTORS } from "./ingest-workload.js";

const PER_PROJECT = 10;
const STAGES = [0, 1_000, 10_000] as const;
const CONCURRENCY = 16;
const MIB = 2 ** 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

const policiesPath = (project: number) =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/project-${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

function manifest(index: number, endpoint: string): Record<string, unknown> {
  const selector = BENCH_SELECTORS[index % BENCH_SELECTORS.length] ?? "{}";
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: `policy-${index % PER_PROJECT}` },
    spec: {
      sources: [{ name: "s", metrics: { metricsql: selector } }],
      sinks: [{ name: "k", sources: ["s"], target: { prometheusRemoteWrite: { endpoint } } }],
    },
  };
}

/** The self size of every node of a V8 heap snapshot, summed. */
function heapSnapshotBytes(path: string): number {
  const snapshot = JSON.parse(readFileSync(path, "utf8")) as {
    snapshot: { meta: { node_fields: string[] } };
    nodes: number[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const size = fields.indexOf("self_size");
  let total = 0;
  for (let i = size; i < snapshot.nodes.length; i += fields.length) total += snapshot.nodes[i] ?? 0;
  return total;
}

/**
 * Signals the child to write a heap snapshot and waits for it: the child writes it on its
 * event loop, so once the file is there and the child answers a request again, it is complete.
 */
async function takeSnapshot(pid: number, dir: string, serverUrl: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, "SIGUSR2");
  for (let waited = 0; waited < 120_000; waited += 500) {
    await sleep(500);
    const fresh = readdirSync(dir).find((name) => !before.has(name) && name.endsWith(".heapsnapshot"));
    if (fresh === undefined) continue;
    await fetch(`${serverUrl}/readyz`);
    return join(dir, fresh);
  }
  throw new Error("no heap snapshot within 120 s");
}

export async function runRestBench(): Promise<void> {
  const settleMs = Number(process.env.REST_SETTLE_S ?? 10) * 1000;
  const snapshots = process.env.REST_SNAPSHOTS;
  console.log(
    `\n## memory at rest: telex serve with 0, 1,000 and 10,000 ExportPolicies (${PER_PROJECT} per project, idle sinks), after ${settleMs / 1000} s of rest`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), "telex-bench-rest-"));
  const receiver = await startNullReceiver();
  const serve = await startTelexServe(
    [
      "--api-listen",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      "--max-policies-per-project",
      String(PER_PROJECT),
      "--self-metrics-interval",
      "0",
    ],
    15_000,
    {
      // As npm start and the image run it.
      nodeArgs: [
        ...HEAP_FLAGS,
        ...(snapshots === undefined
          ? []
          : ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshots}`]),
      ],
    },
  );
  const pid = serve.child.pid ?? 0;
  let baseline = 0;
  try {
    let created = 0;
    for (const stage of STAGES) {
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (created < stage) {
            const index = created++;
            const project = Math.floor(index / PER_PROJECT);
            const response = await apiRequest(serve.url, "POST", policiesPath(project), {
              body: manifest(index, receiver.url),
            });
            if (response.status !== 201)
              throw new Error(`create ${index}: HTTP ${response.status}: ${response.text}`);
          }
        }),
      );
      if (stage > 0) {
        // The controller takes policies in order: the last one with a status means all have one.
        const last = stage - 1;
        const path = `${policiesPath(Math.floor(last / PER_PROJECT))}/policy-${last % PER_PROJECT}`;
        for (;;) {
          const policy = (await apiRequest(serve.url, "GET", path)).json();
          const status = policy["status"] as { conditions?: unknown[] } | undefined;
          if ((status?.conditions?.length ?? 0) > 0) break;
          if (performance.now() - started > 600_000)
            throw new Error(`policy ${last} has no status after 600 s`);
          await sleep(500);
        }
      }
      await sleep(settleMs);
      const rss = rssBytes(pid);
      let heap = "";
      if (snapshots !== undefined) {
        const path = await takeSnapshot(pid, snapshots, serve.url);
        heap = `, V8 heap ${(heapSnapshotBytes(path) / MIB).toFixed(0)} MiB live (${path})`;
      }
      const perPolicy = stage === 0 ? "" : ` (${((rss - baseline) / stage / 1024).toFixed(1)} KiB a policy)`;
      if (stage === 0) baseline = rss;
      console.log(
        `  ${String(stage).padStart(6)} policies: RSS ${(rss / MIB).toFixed(0)} MiB${perPolicy}${heap}`,
      );
    }
  } finally {
    await serve.stop();
    console.log(`  receiver saw ${await receiver.stop()}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
