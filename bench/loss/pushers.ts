// Load for the loss benchmark, shaped like an agent's pushes: numbered
// samples at a steady rate (each value is its sequence number, so what
// arrived can be checked sample by sample), a steady volume of anonymous
// samples, and pre-encoded bodies sent as fast as concurrent writers can.
import { encodeWriteRequest, snappyCompress, type TimeSeriesInput } from "../../src/remotewrite/index.js";
import { AGENT_HEADERS } from "../../test-support/remote-write-client.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";

export const SEQ_METRIC = "loss_seq";
const TICK_MS = 100;
const PUSH_TIMEOUT_MS = 10_000;

/** Undefined when acknowledged (2xx); else why not: `HTTP 503`, or the error's code or name. */
async function post(
  url: string,
  body: Uint8Array,
  headers: Readonly<Record<string, string>> = AGENT_HEADERS,
): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (error: unknown) {
    // Refused, reset or timed out: not acknowledged, as for an agent.
    const cause = (error as { cause?: { code?: unknown } }).cause?.code;
    return typeof cause === "string" ? cause : error instanceof Error ? error.name : String(error);
  }
}

/**
 * Numbered samples at `rate` per second, in one request every 100 ms spread
 * over `series` series of one project. A request that fails is not resent
 * (an agent would): only what was acknowledged is held against the system.
 */
export class SequencePusher {
  /** Send time (ms) of each sample by sequence number. */
  readonly sentAtMs: number[] = [];
  /** 1 when the request carrying the sample was answered 2xx. */
  acked = new Uint8Array(1024);
  private next = 0;
  private lastTs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly rate: number,
    readonly project: string,
    private readonly series = 4,
  ) {}

  get pushed(): number {
    return this.next;
  }

  start(): void {
    const started = Date.now();
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      const due = Math.round((ticks * TICK_MS * this.rate) / 1000);
      this.send(due - this.next);
      this.timer = setTimeout(tick, Math.max(0, started + (ticks + 1) * TICK_MS - Date.now()));
    };
    this.timer = setTimeout(tick, TICK_MS);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.inFlight);
  }

  private send(count: number): void {
    if (count <= 0) return;
    const first = this.next;
    this.next += count;
    if (this.acked.length < this.next) {
      const grown = new Uint8Array(Math.max(this.next, this.acked.length * 2));
      grown.set(this.acked);
      this.acked = grown;
    }
    const bySeries = new Map<number, { value: number; timestampMs: number }[]>();
    const now = Date.now();
    for (let seq = first; seq < this.next; seq++) {
      // Strictly increasing timestamps: each sample stays distinct in the receiver.
      this.lastTs = Math.max(now, this.lastTs + 1);
      this.sentAtMs[seq] = now;
      const s = seq % this.series;
      const samples = bySeries.get(s) ?? [];
      samples.push({ value: seq, timestampMs: this.lastTs });
      bySeries.set(s, samples);
    }
    const series: TimeSeriesInput[] = [...bySeries].map(([s, samples]) => ({
      labels: [
        { name: "__name__", value: SEQ_METRIC },
        { name: TENANT_LABEL, value: this.project },
        { name: "series", value: String(s) },
      ],
      samples,
    }));
    const body = snappyCompress(encodeWriteRequest(series));
    const done = post(this.url, body).then((refused) => {
      if (refused === undefined) this.acked.fill(1, first, first + count);
      this.inFlight.delete(done);
    });
    this.inFlight.add(done);
  }
}

/** One request of `seriesPerProject` series in each of `projects` projects from `first`, one sample each. */
export function projectRequest(
  projects: number,
  seriesPerProject: number,
  timestampMs: number,
  first = 0,
): Buffer {
  const series: TimeSeriesInput[] = [];
  for (let p = first; p < first + projects; p++) {
    for (let s = 0; s < seriesPerProject; s++) {
      series.push({
        labels: [
          { name: "__name__", value: "loss_load" },
          { name: "instance", value: `10.0.${p}.${s}:9090` },
          { name: "job", value: "gateway" },
          { name: TENANT_LABEL, value: projectName(p) },
        ],
        samples: [{ value: s, timestampMs }],
      });
    }
  }
  return snappyCompress(encodeWriteRequest(series));
}

export function projectName(index: number): string {
  return `loss-${String(index).padStart(3, "0")}`;
}

export interface PushTally {
  requests: number;
  acknowledgedSamples: number;
  failedRequests: number;
  /** Failed requests by why (`HTTP 503`, `ECONNRESET`, `TimeoutError` …). */
  readonly refusals: Map<string, number>;
}

function tallyOf(tally: PushTally, refused: string | undefined, samples: number): void {
  if (refused === undefined) {
    tally.acknowledgedSamples += samples;
    return;
  }
  tally.failedRequests++;
  tally.refusals.set(refused, (tally.refusals.get(refused) ?? 0) + 1);
}

/**
 * `samplesPerSecond` in one request every 100 ms (bodies of a fixed sample
 * count from the ring, reused), for `seconds`. Requests do not wait for
 * each other: a slow system is pushed at the same rate, as agents do.
 */
export async function pushAtRate(
  url: string,
  bodies: readonly Buffer[],
  samplesPerBody: number,
  samplesPerSecond: number,
  seconds: number,
): Promise<PushTally> {
  const tally: PushTally = { requests: 0, acknowledgedSamples: 0, failedRequests: 0, refusals: new Map() };
  const inFlight: Promise<void>[] = [];
  const started = Date.now();
  let sentSamples = 0;
  let index = 0;
  for (let tick = 1; tick <= (seconds * 1000) / TICK_MS; tick++) {
    const due = Math.round((tick * TICK_MS * samplesPerSecond) / 1000);
    while (sentSamples + samplesPerBody <= due) {
      const body = bodies[index++ % bodies.length];
      if (body === undefined) throw new Error("no bodies to push");
      sentSamples += samplesPerBody;
      tally.requests++;
      inFlight.push(
        post(url, body).then((refused) => {
          tallyOf(tally, refused, samplesPerBody);
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + tick * TICK_MS - Date.now())));
  }
  await Promise.all(inFlight);
  return tally;
}

/**
 * `writers` concurrent writers, each sending the next body once its last
 * was answered, until `count` bodies are sent or `untilMs` has passed.
 * Given several URLs, each request goes to the next one (as a Service
 * spreads them over replicas), and each body to every URL in turn; with
 * `aligned`, request k sends bodies[k % bodies.length] to urls[k % urls.length]
 * (the caller lines them up: bodies meant for one URL).
 */
export async function pushFullSpeed(
  url: string | readonly string[],
  bodies: readonly Buffer[],
  samplesPerBody: number,
  writers: number,
  options: {
    readonly count?: number;
    readonly untilMs?: number;
    /** Added to an agent's Remote Write headers (e.g. an Authorization). */
    readonly headers?: Readonly<Record<string, string>>;
    readonly aligned?: boolean;
  },
): Promise<PushTally> {
  const urls = typeof url === "string" ? [url] : url;
  const headers = { ...AGENT_HEADERS, ...options.headers };
  const tally: PushTally = { requests: 0, acknowledgedSamples: 0, failedRequests: 0, refusals: new Map() };
  let next = 0;
  const more = (): boolean =>
    (options.count === undefined || next < options.count) &&
    (options.untilMs === undefined || Date.now() < options.untilMs);
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (more()) {
        const request = next++;
        const target = urls[request % urls.length];
        const body =
          bodies[(options.aligned === true ? request : Math.floor(request / urls.length)) % bodies.length];
        if (body === undefined || target === undefined) throw new Error("no bodies or URLs to push");
        tally.requests++;
        tallyOf(tally, await post(target, body, headers), samplesPerBody);
      }
    }),
  );
  return tally;
}
