// `npm run bench -- attacks`: the attacks of SECURITY.md, as a hostile project
// admin and an unauthenticated agent would run them, against one `telex serve`
// process. Reported per attack: what the server answered, its RSS after the
// attack and its peak RSS so far (VmHWM), and the slowest answer to a
// /healthz probe sent every 20 ms during the attack (how long the event loop
// was blocked, seen from outside; the probe runs in its own thread so the
// load generator's work does not inflate it).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { encodeWriteRequest, snappyCompress, type TimeSeriesInput } from "../src/remotewrite/index.js";
import { postRemoteWrite, pushSeries } from "../test-support/remote-write-client.js";
import { apiRequest } from "../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../test-support/telex-serve.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";

const PROJECT = "attacker";
const CONTROL_PLANE = `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
const POLICIES = `${CONTROL_PLANE}/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

interface Row {
  readonly attack: string;
  readonly answer: string;
  readonly rssMb: number;
  readonly peakRssMb: number;
  readonly slowestProbeMs: number;
}

function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
}

const PROBE_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
let slowest = 0;
let running = true;
parentPort.on("message", () => { running = false; });
(async () => {
  while (running) {
    const start = performance.now();
    try { await (await fetch(workerData.url, { signal: AbortSignal.timeout(120000) })).text(); } catch {}
    slowest = Math.max(slowest, performance.now() - start);
    await new Promise((r) => setTimeout(r, 20));
  }
  parentPort.postMessage(slowest);
})();
`;

/** Runs the attack while a probe thread measures the server's slowest answer. */
async function underProbe(url: string, attack: () => Promise<string>): Promise<[string, number]> {
  const probe = new Worker(PROBE_SOURCE, { eval: true, workerData: { url: `${url}/healthz` } });
  const slowest = new Promise<number>((resolve) => probe.once("message", resolve));
  const answer = await attack();
  probe.postMessage("stop");
  const result = await slowest;
  await probe.terminate();
  return [answer, Math.round(result)];
}

function summarise(results: readonly { status: number; text: string }[]): string {
  const byStatus = new Map<number, number>();
  for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const first = results.find((r) => r.status >= 400);
  const reason = first === undefined ? "" : ` — ${messageOf(first.text)}`;
  return `${[...byStatus].map(([status, n]) => `${n}× ${status}`).join(", ")}${reason}`;
}

function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message.slice(0, 90);
  } catch {
    // Not a Status: plain text.
  }
  return text.trim().slice(0, 90);
}

function policy(name: string, endpoint: string, sources = 1): string {
  const names = Array.from({ length: sources }, (_, i) => `s${i}`);
  return JSON.stringify({
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: names.map((n) => ({ name: n, metrics: { metricsql: "{}" } })),
      sinks: [{ name: "out", sources: names, target: { prometheusRemoteWrite: { endpoint } } }],
    },
  });
}

function copyBomb(): string {
  const operations: unknown[] = [{ op: "add", path: "/spec/x", value: [["a".repeat(1000)]] }];
  for (let i = 0; i < 40; i++) operations.push({ op: "copy", from: "/spec/x", path: "/spec/x/-" });
  return JSON.stringify(operations);
}

function deepLabels(depth: number): string {
  return `{"apiVersion":"telemetry.miloapis.com/v1alpha1","kind":"ExportPolicy","metadata":{"name":"deep","labels":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}}`;
}

function aliasBomb(): string {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let level = 1; level < 9; level++) {
    const previous = String.fromCharCode(96 + level);
    const name = String.fromCharCode(97 + level);
    lines.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(",")}]`);
  }
  lines.push("apiVersion: telemetry.miloapis.com/v1alpha1", "kind: ExportPolicy", "metadata: {name: bomb}");
  return lines.join("\n");
}

/** Series without the tenant label, each with a distinct 10 KB label. */
function untenantedRequest(first: number, count: number, pad: string): Uint8Array {
  const series: TimeSeriesInput[] = [];
  for (let i = first; i < first + count; i++) {
    series.push({
      labels: [
        { name: "__name__", value: "attack" },
        { name: "pad", value: `${i.toString(36)}${pad}` },
      ],
      samples: [{ value: 1, timestampMs: Date.now() }],
    });
  }
  return snappyCompress(encodeWriteRequest(series));
}

async function inParallel<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

async function ingestCounter(ingestUrl: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${ingestUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) if (pattern.test(line)) total += Number(line.split(" ").pop());
  return total;
}

class ServerDied extends Error {
  constructor(readonly rows: Row[]) {
    super("the server died");
  }
}

async function runAttacks(server: TelexServe, pid: number): Promise<Row[]> {
  const rows: Row[] = [];
  const api = server.url;
  const ingest = server.ingestUrl ?? "";
  const record = async (attack: string, url: string, run: () => Promise<string>): Promise<void> => {
    let answer: string;
    let slowestProbeMs = Number.NaN;
    try {
      [answer, slowestProbeMs] = await underProbe(url, run);
    } catch (error) {
      answer = `failed: ${String(error)}`;
    }
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      rows.push({
        attack,
        answer: `the server died (${server.output().slice(-200)})`,
        rssMb: 0,
        peakRssMb: 0,
        slowestProbeMs,
      });
      throw new ServerDied(rows);
    }
    const memory = memoryMb(pid);
    rows.push({ attack, answer, rssMb: memory.rss, peakRssMb: memory.peak, slowestProbeMs });
  };

  await record("at rest", api, () => Promise.resolve("—"));
  await apiRequest(api, "POST", POLICIES, { body: policy("target", "http://192.0.2.1/api/v1/write") });

  await record("JSON patch copy bomb (41 operations, 2 KB)", api, async () =>
    summarise([
      await apiRequest(api, "PATCH", `${POLICIES}/target`, {
        body: copyBomb(),
        contentType: "application/json-patch+json",
      }),
    ]),
  );
  await record("10,001 JSON patch operations", api, async () => {
    const ops = Array.from({ length: 10_001 }, () => ({ op: "test", path: "/kind", value: "ExportPolicy" }));
    return summarise([
      await apiRequest(api, "PATCH", `${POLICIES}/target`, {
        body: JSON.stringify(ops),
        contentType: "application/json-patch+json",
      }),
    ]);
  });
  await record("100,000-deep nesting in labels", api, async () =>
    summarise([await apiRequest(api, "POST", POLICIES, { body: deepLabels(100_000) })]),
  );
  await record("YAML alias bomb (10^9 nodes)", api, async () =>
    summarise([
      await apiRequest(api, "POST", POLICIES, { body: aliasBomb(), contentType: "application/yaml" }),
    ]),
  );
  await record("largest body: 3 MiB of JSON whitespace", api, async () => {
    const body = policy("padded", "http://192.0.2.1/api/v1/write");
    const padded = body + " ".repeat(3 * 2 ** 20 - Buffer.byteLength(body));
    const oneMore = `${padded} `;
    return `${Buffer.byteLength(padded)} B: ${summarise([await apiRequest(api, "POST", POLICIES, { body: padded })])}; +1 B: ${summarise([await apiRequest(api, "POST", POLICIES, { body: oneMore })])}`;
  });
  await record("2,000 policy creates in one project", api, async () =>
    summarise(
      await inParallel(2000, 8, (i) =>
        apiRequest(api, "POST", POLICIES, { body: policy(`p${i}`, "http://192.0.2.1/api/v1/write", 10) }),
      ),
    ),
  );

  if (ingest !== "") {
    /** An agent's push; status 0 when the connection broke before an answer (the server may close early). */
    const push = async (body: Uint8Array): Promise<{ status: number; text: string }> => {
      try {
        const result = await postRemoteWrite(`${ingest}/api/v1/write`, body);
        return { status: result.status, text: result.body };
      } catch (error) {
        return { status: 0, text: `${String(error)}: ${String((error as Error).cause)}` };
      }
    };
    const pad = randomBytes(7680).toString("base64");
    await record("160,000 untenanted series, 10 KB labels", ingest, async () => {
      const results = await inParallel(640, 4, (i) => push(untenantedRequest(i * 250, 250, pad)));
      return summarise(results);
    });
    const big = snappyCompress(randomBytes(30 * 2 ** 20));
    await record("40 concurrent 30 MiB bodies", ingest, async () => {
      const results = await inParallel(40, 40, () => push(big));
      return summarise(results);
    });
    await record("sink pointed at Telex's own ingest, 2 sources, 1 sample", ingest, async () => {
      await apiRequest(api, "POST", POLICIES, { body: policy("loop", `${ingest}/api/v1/write`, 2) });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const series: TimeSeriesInput = {
        labels: [
          { name: "__name__", value: "loop_probe" },
          { name: TENANT_LABEL, value: PROJECT },
        ],
        samples: [{ value: 1, timestampMs: Date.now() }],
      };
      const before = await ingestCounter(ingest, /^telex_ingest_samples_received_total/);
      await pushSeries(`${ingest}/api/v1/write`, [series]);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const after = await ingestCounter(ingest, /^telex_ingest_samples_received_total/);
      return `${after - before} samples ingested in 10 s after pushing 1`;
    });
  }
  return rows;
}

export async function runAttackBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "telex-attacks-"));
  const started = performance.now();
  const server = await startTelexServe(["--api-listen", "127.0.0.1:0", "--data-dir", dataDir]);
  try {
    const pid = server.child.pid ?? 0;
    const rows = await runAttacks(server, pid).catch((error: unknown) => {
      if (error instanceof ServerDied) return error.rows;
      throw error;
    });
    console.log("\n## attacks (one telex serve process; RSS and peak in MB; slowest /healthz answer in ms)");
    const width = Math.max(...rows.map((r) => r.attack.length));
    for (const row of rows) {
      console.log(
        `  ${row.attack.padEnd(width)}  rss ${String(row.rssMb).padStart(5)}  peak ${String(row.peakRssMb).padStart(5)}  probe ${String(row.slowestProbeMs).padStart(6)}  ${row.answer}`,
      );
    }
    console.log(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
