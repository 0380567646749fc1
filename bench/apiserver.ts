// Resource API: writes per second (store alone, with each synchronous mode,
// and through HTTP), list time, and watch fan-out latency — from a PATCH
// being sent to each watcher reading its event — with 10 000 objects stored.
// The server runs alone in a child process (bench/apiserver-server.ts) on its
// own core; the clients run here.
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { controlPlanePath } from "../src/apiserver/index.js";
import { ObjectStore, type Synchronous } from "../src/store/index.js";
import { examplePolicy } from "../test-support/telex-api.js";
import { fileURLToPath } from "node:url";
import { formatRate } from "./harness.js";

const OBJECTS = 10_000;
const HTTP_CONCURRENCY = 32;
const UPDATES = 100;
const PROJECT = "bench";
const COLLECTION = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function storeCommits(synchronous: Synchronous, dir: string): number {
  const store = ObjectStore.open({ path: join(dir, `store-${synchronous}.db`), synchronous });
  const body = examplePolicy("x");
  const start = performance.now();
  for (let i = 0; i < OBJECTS; i++) {
    store.commit(
      "ADDED",
      { resource: "exportpolicies", project: PROJECT, namespace: "default", name: `p-${i}` },
      body,
    );
  }
  const rate = (OBJECTS * 1000) / (performance.now() - start);
  store.close();
  return rate;
}

async function httpCreates(pool: Pool, prefix: string): Promise<{ rate: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < OBJECTS) {
      const name = `policy-${next++}`;
      const started = performance.now();
      const response = await pool.request({
        method: "POST",
        path: `${prefix}${COLLECTION}`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          ...examplePolicy(name),
          metadata: { name, labels: { shard: String(next % 10) } },
        }),
      });
      await response.body.text();
      if (response.statusCode !== 201) throw new Error(`create answered ${response.statusCode}`);
      latencies.push(performance.now() - started);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
  const rate = (OBJECTS * 1000) / (performance.now() - start);
  latencies.sort((a, b) => a - b);
  return { rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

interface Watcher {
  /** Receipt time of each policy's latest MODIFIED event, by name. */
  readonly seen: Map<string, number>;
  close(): void;
}

/** A watch from the list's resourceVersion, parsed as it streams in. */
function openWatch(url: URL, resourceVersion: string): Promise<Watcher> {
  return new Promise((resolve, reject) => {
    const seen = new Map<string, number>();
    const req = httpRequest(
      new URL(`${url.href}?watch=true&resourceVersion=${resourceVersion}`),
      { agent: false },
      (response) => {
        let buffered = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          const now = performance.now();
          buffered += chunk;
          let newline;
          while ((newline = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            const event = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
            if (event.type === "MODIFIED") seen.set(event.object.metadata.name, now);
          }
        });
        response.on("error", () => undefined);
        resolve({ seen, close: () => req.destroy() });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function fanOut(pool: Pool, base: URL, prefix: string, watchers: number): Promise<string> {
  const list = await pool.request({ method: "GET", path: `${prefix}${COLLECTION}?limit=1` });
  const rv = ((await list.body.json()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const open = await Promise.all(
    Array.from({ length: watchers }, () => openWatch(new URL(`${prefix}${COLLECTION}`, base), rv)),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const latencies: number[] = [];
  const spreads: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const name = `policy-${i * 97}`;
    const sent = performance.now();
    const response = await pool.request({
      method: "PATCH",
      path: `${prefix}${COLLECTION}/${name}`,
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ metadata: { labels: { round: `${watchers}-${i}` } } }),
    });
    await response.body.text();
    const deadline = performance.now() + 5000;
    while (open.some((w) => !w.seen.has(name)) && performance.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const arrivals = open.map((w) => w.seen.get(name) ?? Infinity);
    latencies.push(...arrivals.map((t) => t - sent));
    spreads.push(Math.max(...arrivals) - sent);
  }
  for (const w of open) w.close();
  latencies.sort((a, b) => a - b);
  spreads.sort((a, b) => a - b);
  return `${String(watchers).padStart(4)} watchers: event latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms; all watchers served p50 ${percentile(spreads, 50).toFixed(2)} ms, max ${Math.max(...spreads).toFixed(2)} ms`;
}

/** Starts bench/apiserver-server.js and returns its URL and a stop function. */
async function startServerChild(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL("./apiserver-server.js", import.meta.url));
  const child = spawn(process.execPath, [script, dataDir], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const match = /api: listening on (\S+)/.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once("exit", (code) => {
      reject(new Error(`the API server exited (${String(code)})`));
    });
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function runApiServerBench(): Promise<void> {
  console.log(`\n## resource API (${OBJECTS} ExportPolicies)`);
  const dir = mkdtempSync(join(tmpdir(), "telex-bench-api-"));
  try {
    for (const mode of ["FULL", "NORMAL"] as const) {
      console.log(
        `  store commits, synchronous=${mode.padEnd(6)}  ${formatRate(storeCommits(mode, dir)).padStart(10)} writes/s`,
      );
    }
    const serve = await startServerChild(join(dir, "serve"));
    const base = new URL(serve.url);
    const prefix = controlPlanePath(PROJECT);
    const pool = new Pool(serve.url, { connections: HTTP_CONCURRENCY });
    try {
      const creates = await httpCreates(pool, prefix);
      console.log(
        `  HTTP creates, ${HTTP_CONCURRENCY} in flight       ${formatRate(creates.rate).padStart(10)} creates/s  (latency p50 ${creates.p50.toFixed(1)} ms, p99 ${creates.p99.toFixed(1)} ms)`,
      );
      for (const accept of ["application/json", "application/json;as=Table;v=v1;g=meta.k8s.io"]) {
        const started = performance.now();
        const response = await pool.request({
          method: "GET",
          path: `${prefix}${COLLECTION}`,
          headers: { accept },
        });
        const bytes = (await response.body.arrayBuffer()).byteLength;
        console.log(
          `  list all ${accept.includes("Table") ? "as Table" : "as JSON "}                ${(performance.now() - started).toFixed(0).padStart(7)} ms  (${(bytes / 1e6).toFixed(1)} MB)`,
        );
      }
      for (const watchers of [1, 10, 100]) console.log(`  ${await fanOut(pool, base, prefix, watchers)}`);
    } finally {
      await pool.close();
      await serve.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
