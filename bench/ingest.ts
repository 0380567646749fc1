// Ingest → route → deliver, end to end over loopback HTTP: the same
// pre-encoded Remote Write requests are pushed into telex (1,000 policies in
// 100 projects, and a single policy) and into vmagent (one remote-write URL
// with an equivalent keep filter, and forwarding everything), each running
// as its own process. Reported: accepted samples/s and CPU seconds the
// process spent per million input samples (from /proc, 100 ticks/s).
// telex runs twice per case: with --buffer memory (straight to the sinks) and
// with the default disk buffer (a DurableLog in its own temp dir), and the
// ratio of their CPU is printed (issue 12: at most +20 %).
//
// Knobs: INGEST_REQUESTS (measured requests per run, default 5000);
// INGEST_CPU_PROF=<dir> runs the telex children under --cpu-prof into it;
// INGEST_COLD_REQUESTS (default 1000, 0 skips): the short run, the first requests of a fresh
// process measured with no warm-up pass (issue 16: warm-up);
// INGEST_VMAGENT=0 skips the vmagent comparison; INGEST_COMPRESS_THREADS sets telex's
// compression threads (default: as telex serve's --compress-threads).
// INGEST_THREAD_CPU=1 prints each candidate's CPU per thread (main, libuv pool, GC, compression) and
// its garbage collections; INGEST_ONLY=<text> runs only the telex candidates whose name has it;
// INGEST_YOUNG_GENERATION=0 runs telex without --min-semi-space-size=16.
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
import { defaultCompressThreads } from "../src/exporter/sink/index.js";
import { YOUNG_GENERATION_FLAG } from "../src/serve/index.js";

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
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests: 0,
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

function telex(single: boolean, buffer: BufferMode): Candidate {
  const what = single ? "telex, 1 policy" : `telex, ${PROJECTS * 10} policies in ${PROJECTS} projects`;
  return {
    name: `${what}, ${buffer}`,
    async start(receiverUrl) {
      const script = fileURLToPath(new URL("./ingest-server.js", import.meta.url));
      const dir = buffer === "disk" ? mkdtempSync(join(tmpdir(), "telex-bench-buffer-")) : undefined;
      const profile = process.env.INGEST_CPU_PROF;
      const child = spawn(
        process.execPath,
        [
          // As npm start and the image run telex serve (see src/serve/young-generation.ts).
          ...(process.env.INGEST_YOUNG_GENERATION === "0" ? [] : [YOUNG_GENERATION_FLAG]),
          ...(profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]),
          script,
          receiverUrl,
          String(PROJECTS),
          "10",
          single ? "1" : "0",
          ...(dir === undefined ? [] : [dir]),
        ],
        {
          stdio: ["ignore", "pipe", "inherit"],
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

function vmagent(filter: boolean): Candidate {
  return {
    name: filter ? "vmagent, 1 keep filter" : "vmagent, forwarding everything",
    async start(receiverUrl) {
      const binary = peerAvailability("vmagent", "apt-get install victoria-metrics").requirePath();
      const dir = mkdtempSync(join(tmpdir(), "telex-bench-vmagent-"));
      const port = await freePort();
      const args = [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-remoteWrite.url=${receiverUrl}`,
        `-remoteWrite.tmpDataPath=${dir}`,
        "-loggerLevel=ERROR",
      ];
      if (filter) {
        writeFileSync(join(dir, "relabel.yml"), SINGLE_POLICY.relabel);
        args.push(`-remoteWrite.urlRelabelConfig=${join(dir, "relabel.yml")}`);
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
  readonly cpuPerMillion: number;
  readonly requestsOut: number;
  /** Samples sent per sample received (telex: one per matching source and sink). */
  readonly fanOut: number | undefined;
  /** Reads of the durable log (disk mode): sinks that fell behind their memory ring read back from disk. */
  readonly logReads: number | undefined;
  /** Garbage collections over the process's life (warm-up included): telex only. */
  readonly gc: string | undefined;
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
    const seconds = (performance.now() - pushStarted) / 1000;
    await settle(receiver);
    const cpu = cpuSeconds(pid) - cpuBefore;
    if (threadsBefore !== undefined) printThreadCpu(threadsBefore, threadCpu(pid));
    const samples = requests * SERIES_PER_REQUEST;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    const output = started.output?.() ?? "";
    const counters = /routed (\d+) received (\d+)/.exec(output);
    const logReads = /log-reads (\d+)/.exec(output);
    const gc = /gc-major (\d+) gc-minor (\d+) gc-ms (\d+)/.exec(output);
    return {
      name: candidate.name,
      samplesPerSecond: samples / seconds,
      cpuPerMillion: cpu / (samples / 1e6),
      requestsOut: receiver.requests - requestsBefore,
      fanOut: counters === null ? undefined : Number(counters[1]) / Number(counters[2]),
      logReads: logReads === null ? undefined : Number(logReads[1]),
      gc: gc === null ? undefined : `${gc[1]} major and ${gc[2]} minor GCs in the run, ${gc[3]} ms`,
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
  const candidates = [
    telex(false, "memory"),
    telex(false, "disk"),
    telex(true, "memory"),
    telex(true, "disk"),
  ].filter((candidate) => only === undefined || candidate.name.includes(only));
  const vmagentInstalled =
    process.env.INGEST_VMAGENT !== "0" && peerAvailability("vmagent", "").path !== undefined;
  if (vmagentInstalled) candidates.push(vmagent(true), vmagent(false));
  const results: Measurement[] = [];
  for (const candidate of candidates) {
    const result = await measureCandidate(candidate, bodies, REQUESTS);
    results.push(result);
    console.log(
      `  ${result.name.padEnd(48)} ${(result.samplesPerSecond / 1e6).toFixed(2).padStart(6)} M samples/s  ${result.cpuPerMillion.toFixed(2).padStart(5)} CPU-s per million  (${result.requestsOut} requests out${result.fanOut === undefined ? "" : `, ${result.fanOut.toPrecision(3)} samples sent per sample in`}${result.logReads === undefined ? "" : `, ${result.logReads} log reads`}${result.gc === undefined || !THREAD_CPU ? "" : `; ${result.gc}`})`,
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
  const filtering = results.find((r) => r.name.startsWith("vmagent, 1"));
  const forwarding = results.find((r) => r.name.startsWith("vmagent, forwarding"));
  if (filtering === undefined || forwarding === undefined) {
    console.log("  vmagent not installed (apt-get install victoria-metrics): no comparison");
    return;
  }
  // One policy compares with vmagent keeping the same series; 1,000 policies, where every
  // sample leaves (≈3 times), with vmagent forwarding everything.
  for (const result of results.filter((r) => r.name.startsWith("telex"))) {
    const [reference, what] = result.name.includes("1 policy")
      ? [filtering, "filtering to the same policy"]
      : [forwarding, "forwarding everything"];
    console.log(
      `  ${result.name}: ${(result.cpuPerMillion / reference.cpuPerMillion).toFixed(2)}× the CPU per input sample of vmagent ${what}`,
    );
  }
  if (COLD_REQUESTS > 0) await runColdRuns(bodies, vmagentInstalled);
}

/** The short run: each candidate's first COLD_REQUESTS requests from a fresh process, next to its steady cost. */
async function runColdRuns(bodies: readonly Buffer[], withVmagent: boolean): Promise<void> {
  console.log(
    `  short run: the first ${(COLD_REQUESTS * SERIES_PER_REQUEST) / 1e6} M samples of a fresh process, no warm-up pass`,
  );
  const candidates = [telex(true, "memory"), telex(false, "memory")];
  if (withVmagent) candidates.push(vmagent(true), vmagent(false));
  for (const candidate of candidates) {
    const result = await measureCandidate(candidate, bodies, COLD_REQUESTS, true);
    console.log(
      `  ${result.name.padEnd(48)} ${(result.samplesPerSecond / 1e6).toFixed(2).padStart(6)} M samples/s  ${result.cpuPerMillion.toFixed(2).padStart(5)} CPU-s per million (cold)`,
    );
  }
}
