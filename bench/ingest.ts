// Ingest → route → deliver, end to end over loopback HTTP: the same
// pre-encoded Remote Write requests are pushed into telex and into vmagent,
// each running as its own process, in the shapes of issue 16:
//   - one policy, against vmagent with one remote-write URL and an equivalent keep filter;
//   - one `{}` policy per project (every sample leaves once, to its project's
//     endpoint), against vmagent doing the same job (one remote-write URL with
//     a keep filter on the tenant label per project) and against vmagent
//     forwarding everything to one URL (the cost floor of relaying);
//   - ten overlapping policies per project (1,000 policies; a sample leaves
//     ≈2.8 times), against vmagent forwarding everything.
// Reported per process: accepted samples/s; relayed samples/s (input samples
// over the time until the receiver's last request); CPU seconds per million
// input samples (from /proc, 100 ticks/s); peak RSS (VmHWM: what a container
// memory limit must allow). Then the ratios against the goals of issue 16.
// telex runs twice per case: with --buffer memory (straight to the sinks) and
// with the default disk buffer (a DurableLog in its own temp dir), and the
// ratio of their CPU is printed (issue 12: at most +20 %).
//
// Knobs: INGEST_REQUESTS (measured requests per run, default 5000);
// INGEST_CPU_PROF=<dir> runs the telex children under --cpu-prof into it;
// INGEST_COLD_REQUESTS (default 1000, 0 skips): the short run, the first requests of a fresh
// process (issue 16: warm-up), telex after its warm-up pass as telex serve runs it and without it;
// INGEST_VMAGENT=0 skips the vmagent comparison; INGEST_COMPRESS_THREADS sets telex's
// compression threads (default: as telex serve's --compress-threads).
// INGEST_THREAD_CPU=1 prints each candidate's CPU per thread (main, libuv pool, GC, compression) and
// its garbage collections; INGEST_ONLY=<text> runs only the telex candidates whose name has it;
// INGEST_HEAP_FLAGS=0 runs telex without the heap flags of telex serve (src/serve/heap-flags.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { peerAvailability, freePort, waitForHttp } from "../test-support/peers.js";
import { AGENT_HEADERS } from "../test-support/remote-write-client.js";
import { SINGLE_POLICY, benchRequests, benchSeries } from "./ingest-workload.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { defaultCompressThreads } from "../src/exporter/sink/index.js";
import { HEAP_FLAGS } from "../src/serve/index.js";

const PROJECTS = 100;
const SERIES_PER_PROJECT = 100;
const SERIES_PER_REQUEST = 1000;
const REQUESTS = Number(process.env.INGEST_REQUESTS ?? 5000);
const COLD_REQUESTS = Number(process.env.INGEST_COLD_REQUESTS ?? 1000);
const CONCURRENCY = 4;
const CLOCK_TICKS_PER_SECOND = 100;
const THREAD_CPU = process.env.INGEST_THREAD_CPU === "1";

interface Receiver {
  readonly url: string;
  requests: number;
  /** performance.now() of the last request answered. */
  lastRequestMs: number;
  bytes: number;
  close(): Promise<void>;
}

async function nullReceiver(): Promise<Receiver> {
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      receiver.bytes += chunk.length;
    });
    req.on("end", () => {
      receiver.requests++;
      receiver.lastRequestMs = performance.now();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests: 0,
    lastRequestMs: 0,
    bytes: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  return receiver;
}

/** The process's peak resident memory so far in MiB (VmHWM), what a container's memory limit must allow. */
function peakRssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds (user, system) per thread, keyed "name/tid": which threads a candidate's CPU goes to (INGEST_THREAD_CPU=1). */
function threadCpu(pid: number): Map<string, [number, number]> {
  const byName = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue;
    }
    const name = `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}/${tid}`;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [user, system] = byName.get(name) ?? [0, 0];
    byName.set(name, [
      user + Number(fields[11]) / CLOCK_TICKS_PER_SECOND,
      system + Number(fields[12]) / CLOCK_TICKS_PER_SECOND,
    ]);
  }
  return byName;
}

function printThreadCpu(before: Map<string, [number, number]>, after: Map<string, [number, number]>): void {
  for (const [name, [user, system]] of after) {
    const [userBefore, systemBefore] = before.get(name) ?? [0, 0];
    if (user + system - userBefore - systemBefore < 0.05) continue;
    console.log(
      `    thread ${name.padEnd(16)} user ${(user - userBefore).toFixed(2)} s  system ${(system - systemBefore).toFixed(2)} s`,
    );
  }
}

async function push(url: string, bodies: readonly Buffer[], count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const body = bodies[next++ % bodies.length];
      const response = await fetch(url, { method: "POST", headers: AGENT_HEADERS, body });
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`push failed: HTTP ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Waits until the receiver has had no request for quietMs. */
async function settle(receiver: Receiver, quietMs = 2500): Promise<void> {
  let last = receiver.requests;
  let quietSince = performance.now();
  while (performance.now() - quietSince < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (receiver.requests !== last) {
      last = receiver.requests;
      quietSince = performance.now();
    }
  }
}

interface Candidate {
  readonly name: string;
  start(receiverUrl: string): Promise<Started>;
}

interface Started {
  readonly url: string;
  readonly child: ChildProcess;
  cleanup(): void;
  /** What the process printed on stdout (telex prints its routing counters when stopped). */
  output?(): string;
}

type BufferMode = "memory" | "disk";

type TelexShape = "single" | "per-project" | "overlapping";

const TELEX_SHAPES: Record<TelexShape, string> = {
  single: "telex, 1 policy",
  "per-project": `telex, one {} policy per project (${PROJECTS})`,
  overlapping: `telex, ${PROJECTS * 10} policies in ${PROJECTS} projects`,
};

/** warmUp false: the process starts without telex serve's warm-up pass (src/serve/warm-up.ts). */
function telex(shape: TelexShape, buffer: BufferMode, warmUp = true): Candidate {
  const what = TELEX_SHAPES[shape];
  return {
    name: `${what}, ${buffer}${warmUp ? "" : ", no warm-up pass"}`,
    async start(receiverUrl) {
      const script = fileURLToPath(new URL("./ingest-server.js", import.meta.url));
      const dir = buffer === "disk" ? mkdtempSync(join(tmpdir(), "telex-bench-buffer-")) : undefined;
      const profile = process.env.INGEST_CPU_PROF;
      const child = spawn(
        process.execPath,
        [
          // As npm start and the image run telex serve (see src/serve/heap-flags.ts).
          ...(process.env.INGEST_HEAP_FLAGS === "0" ? [] : HEAP_FLAGS),
          ...(profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]),
          script,
          receiverUrl,
          String(PROJECTS),
          shape,
          ...(dir === undefined ? [] : [dir]),
        ],
        {
          stdio: ["ignore", "pipe", "inherit"],
          env: warmUp ? process.env : { ...process.env, INGEST_WARM_UP_SAMPLES: "0" },
        },
      );
      let output = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /ready (\S+)/.exec(output);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
        child.once("exit", () => {
          reject(new Error("telex bench server exited"));
        });
      });
      return {
        url,
        child,
        cleanup: () => {
          if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
        },
        output: () => output,
      };
    },
  };
}

/**
 * filter: one URL with SINGLE_POLICY's keep filter; per-tenant: one URL per project, each with a keep
 * filter on the tenant label (what telex's one-policy-per-project does, configured in vmagent);
 * unsplit: one URL, everything forwarded.
 */
type VmagentShape = "filter" | "per-tenant" | "unsplit";

const VMAGENT_SHAPES: Record<VmagentShape, string> = {
  filter: "vmagent, 1 keep filter",
  "per-tenant": `vmagent, ${PROJECTS} URLs, a keep filter each`,
  unsplit: "vmagent, forwarding everything",
};

function vmagent(shape: VmagentShape): Candidate {
  return {
    name: VMAGENT_SHAPES[shape],
    async start(receiverUrl) {
      const binary = peerAvailability("vmagent", "apt-get install victoria-metrics").requirePath();
      const dir = mkdtempSync(join(tmpdir(), "telex-bench-vmagent-"));
      const port = await freePort();
      const args = [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-remoteWrite.tmpDataPath=${dir}`,
        "-loggerLevel=ERROR",
      ];
      if (shape === "per-tenant") {
        for (let p = 0; p < PROJECTS; p++) {
          const relabel = join(dir, `relabel-${p}.yml`);
          writeFileSync(
            relabel,
            ["- action: keep", `  source_labels: [${TENANT_LABEL}]`, `  regex: "project-${p}"`, ""].join(
              "\n",
            ),
          );
          // A URL of its own per project (the receiver ignores the path), as tenants' endpoints differ.
          args.push(
            `-remoteWrite.url=${receiverUrl}/project-${p}`,
            `-remoteWrite.urlRelabelConfig=${relabel}`,
          );
        }
      } else {
        args.push(`-remoteWrite.url=${receiverUrl}`);
        if (shape === "filter") {
          writeFileSync(join(dir, "relabel.yml"), SINGLE_POLICY.relabel);
          args.push(`-remoteWrite.urlRelabelConfig=${join(dir, "relabel.yml")}`);
        }
      }
      const child = spawn(binary, args, { stdio: "ignore" });
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      return {
        url: `http://127.0.0.1:${port}/api/v1/write`,
        child,
        cleanup: () => {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

interface Measurement {
  readonly name: string;
  readonly samplesPerSecond: number;
  /**
   * Input samples over the time from the first push to the receiver's last request: how fast the
   * input was carried through to the receiver (for a shape that sends each sample once, delivered samples/s).
   */
  readonly relayedPerSecond: number;
  readonly cpuPerMillion: number;
  readonly requestsOut: number;
  /** Samples sent per sample received (telex: one per matching source and sink). */
  readonly fanOut: number | undefined;
  /** Reads of the durable log (disk mode): sinks that fell behind their memory ring read back from disk. */
  readonly logReads: number | undefined;
  /** Garbage collections over the process's life (warm-up included): telex only. */
  readonly gc: string | undefined;
  /** Peak RSS of the process over its life (warm-up included), MiB. */
  readonly peakRssMib: number;
}

/**
 * Steady: after a warm-up pass (every series seen once), `requests` requests. Cold: the first
 * `requests` requests of the fresh process, what a short run or a restart costs.
 */
async function measureCandidate(
  candidate: Candidate,
  bodies: readonly Buffer[],
  requests: number,
  cold = false,
): Promise<Measurement> {
  const receiver = await nullReceiver();
  const started = await candidate.start(receiver.url);
  const { url, child } = started;
  const pid = child.pid ?? 0;
  try {
    if (!cold) {
      await push(url, bodies, bodies.length);
      await settle(receiver);
    }
    const requestsBefore = receiver.requests;
    const cpuBefore = cpuSeconds(pid);
    const threadsBefore = THREAD_CPU ? threadCpu(pid) : undefined;
    const pushStarted = performance.now();
    await push(url, bodies, requests);
    const pushEnded = performance.now();
    const seconds = (pushEnded - pushStarted) / 1000;
    await settle(receiver);
    const cpu = cpuSeconds(pid) - cpuBefore;
    if (threadsBefore !== undefined) printThreadCpu(threadsBefore, threadCpu(pid));
    const samples = requests * SERIES_PER_REQUEST;
    const peakRss = peakRssMib(pid);
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    const output = started.output?.() ?? "";
    const counters = /routed (\d+) received (\d+)/.exec(output);
    const logReads = /log-reads (\d+)/.exec(output);
    const gc = /gc-major (\d+) gc-minor (\d+) gc-ms (\d+)/.exec(output);
    return {
      name: candidate.name,
      samplesPerSecond: samples / seconds,
      relayedPerSecond: samples / ((Math.max(receiver.lastRequestMs, pushEnded) - pushStarted) / 1000),
      cpuPerMillion: cpu / (samples / 1e6),
      requestsOut: receiver.requests - requestsBefore,
      fanOut: counters === null ? undefined : Number(counters[1]) / Number(counters[2]),
      logReads: logReads === null ? undefined : Number(logReads[1]),
      gc: gc === null ? undefined : `${gc[1]} major and ${gc[2]} minor GCs in the run, ${gc[3]} ms`,
      peakRssMib: peakRss,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    started.cleanup();
    await receiver.close();
  }
}

export async function runIngestBench(): Promise<void> {
  const series = benchSeries(PROJECTS, SERIES_PER_PROJECT);
  const bodies = benchRequests(series, SERIES_PER_REQUEST, 2);
  console.log(
    `\n## ingest → route → deliver (${series.length} series of 11 labels in ${PROJECTS} projects, ${SERIES_PER_REQUEST} samples a request, ${(REQUESTS * SERIES_PER_REQUEST) / 1e6} M samples, ${CONCURRENCY} concurrent pushers; telex with ${process.env.INGEST_COMPRESS_THREADS ?? defaultCompressThreads()} compression threads)`,
  );
  const only = process.env.INGEST_ONLY;
  const shapes: TelexShape[] = ["overlapping", "per-project", "single"];
  const candidates = shapes
    .flatMap((shape) => [telex(shape, "memory"), telex(shape, "disk")])
    .filter((candidate) => only === undefined || candidate.name.includes(only));
  const vmagentInstalled =
    process.env.INGEST_VMAGENT !== "0" && peerAvailability("vmagent", "").path !== undefined;
  if (vmagentInstalled) candidates.push(vmagent("filter"), vmagent("per-tenant"), vmagent("unsplit"));
  const results: Measurement[] = [];
  for (const candidate of candidates) {
    const result = await measureCandidate(candidate, bodies, REQUESTS);
    results.push(result);
    console.log(
      `  ${result.name.padEnd(64)} ${(result.samplesPerSecond / 1e6).toFixed(2).padStart(6)} M samples/s in, ${(result.relayedPerSecond / 1e6).toFixed(2).padStart(5)} M/s relayed  ${result.cpuPerMillion.toFixed(2).padStart(5)} CPU-s per million  peak RSS ${result.peakRssMib.toFixed(0).padStart(4)} MiB  (${result.requestsOut} requests out${result.fanOut === undefined ? "" : `, ${result.fanOut.toPrecision(3)} samples sent per sample in`}${result.logReads === undefined ? "" : `, ${result.logReads} log reads`}${result.gc === undefined || !THREAD_CPU ? "" : `; ${result.gc}`})`,
    );
  }
  for (const disk of results.filter((r) => r.name.endsWith(", disk"))) {
    const memory = results.find((r) => r.name === disk.name.replace(/, disk$/, ", memory"));
    if (memory === undefined) continue;
    const ratio = disk.cpuPerMillion / memory.cpuPerMillion;
    console.log(
      `  ${disk.name.replace(/, disk$/, "")}: disk buffer ${ratio.toFixed(2)}× the CPU of memory (${ratio <= 1.2 ? "within" : "over"} the +20 % of issue 12)`,
    );
  }
  if (!vmagentInstalled) {
    console.log("  vmagent not installed (apt-get install victoria-metrics): no comparison");
  } else {
    printRatios(results);
  }
  if (COLD_REQUESTS > 0) await runColdRuns(bodies, vmagentInstalled);
}

/** Telex against vmagent in the same run, each shape against the goals of issue 16. */
function printRatios(results: readonly Measurement[]): void {
  const vm = (shape: VmagentShape) => results.find((r) => r.name === VMAGENT_SHAPES[shape]);
  const [filter, perTenant, unsplit] = [vm("filter"), vm("per-tenant"), vm("unsplit")];
  const cpu = (telexRun: Measurement, reference: Measurement | undefined, what: string, goal?: number) => {
    if (reference === undefined) return;
    const ratio = telexRun.cpuPerMillion / reference.cpuPerMillion;
    const verdict = goal === undefined ? "" : ` (goal ≤ ${goal}×: ${ratio <= goal ? "met" : "not met"})`;
    console.log(`  ${telexRun.name}: ${ratio.toFixed(2)}× the CPU per input sample of ${what}${verdict}`);
  };
  for (const run of results.filter((r) => r.name.startsWith("telex"))) {
    if (run.name.startsWith(TELEX_SHAPES.single)) {
      cpu(run, filter, "vmagent filtering to the same policy", 0.5);
    } else if (run.name.startsWith(TELEX_SHAPES["per-project"])) {
      cpu(run, perTenant, "vmagent doing the same job (a URL and keep filter per project)", 0.25);
      cpu(run, unsplit, "vmagent forwarding everything", 1);
      if (unsplit !== undefined) {
        const ratio = run.relayedPerSecond / unsplit.relayedPerSecond;
        console.log(
          `  ${run.name}: relays ${ratio.toFixed(2)}× the samples/s of vmagent forwarding everything (goal ≥ 1×: ${ratio >= 1 ? "met" : "not met"})`,
        );
      }
    } else {
      cpu(run, unsplit, "vmagent forwarding everything (telex sends each sample ≈2.8 times)");
    }
  }
  for (const run of results) {
    const reference = run.name.startsWith(TELEX_SHAPES.single)
      ? filter
      : run.name.startsWith("telex")
        ? unsplit
        : undefined;
    if (reference === undefined) continue;
    console.log(
      `  ${run.name}: peak RSS ${(run.peakRssMib / reference.peakRssMib).toFixed(2)}× ${reference.name}'s`,
    );
  }
}

/** The short run: each candidate's first COLD_REQUESTS requests from a fresh process, next to its steady cost. */
async function runColdRuns(bodies: readonly Buffer[], withVmagent: boolean): Promise<void> {
  console.log(
    `  short run: the first ${(COLD_REQUESTS * SERIES_PER_REQUEST) / 1e6} M samples of a fresh process (after telex's warm-up pass, and without it)`,
  );
  const shapes: TelexShape[] = ["single", "per-project", "overlapping"];
  const candidates = shapes.flatMap((shape) => [telex(shape, "memory"), telex(shape, "memory", false)]);
  if (withVmagent) candidates.push(vmagent("filter"), vmagent("per-tenant"), vmagent("unsplit"));
  for (const candidate of candidates) {
    const result = await measureCandidate(candidate, bodies, COLD_REQUESTS, true);
    console.log(
      `  ${result.name.padEnd(64)} ${(result.samplesPerSecond / 1e6).toFixed(2).padStart(6)} M samples/s  ${result.cpuPerMillion.toFixed(2).padStart(5)} CPU-s per million (cold)  peak RSS ${result.peakRssMib.toFixed(0).padStart(4)} MiB`,
    );
  }
}
