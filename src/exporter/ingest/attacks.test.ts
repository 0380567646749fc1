// The ingest attacks of issue 11, against a real `telex serve` in a child
// process whose RSS is read from /proc (in-process, the test's own buffers
// would be measured too). Before the limits: 160,000 untenanted series with
// 10 KB labels took RSS from 368 MB to 2.69 GB, and 40 concurrent 30 MiB
// bodies added 1.2 GB that was never released.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeWriteRequest, snappyCompress, type TimeSeriesInput } from "../../remotewrite/index.js";
import { postRaw, postRemoteWrite, type PushResult } from "../../../test-support/remote-write-client.js";
import { startTelexServe, type TelexServe } from "../../../test-support/telex-serve.js";

const SERIES = 160_000;
const SERIES_PER_REQUEST = 1000;
const PUSHERS = 4;
/** The aim: < 500 MB of RSS whatever is sent (a fresh server uses ~100 MB). */
const MAX_RSS_BYTES = 500 * 2 ** 20;
/** What one attack may add on top of what the ones before it left (the route cache, V8's heap). */
const MAX_RSS_GROWTH_BYTES = 300 * 2 ** 20;
const MiB = 2 ** 20;

interface NativeSnappy {
  compressSync(input: Uint8Array): Buffer;
}

/** The native compressor when it loads: JavaScript takes seconds for these 1.5 GB. */
const compress: (input: Uint8Array) => Uint8Array = (() => {
  try {
    const native = createRequire(import.meta.url)("snappy") as NativeSnappy;
    return (input: Uint8Array) => native.compressSync(input);
  } catch {
    return snappyCompress;
  }
})();

const mb = (bytes: number) => `${(bytes / MiB).toFixed(0)} MB`;

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? NaN) * 1024;
}

/** Samples the process' RSS every 50 ms while work runs; returns the RSS before and the peak. */
async function peakRss<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ start: number; peak: number; result: T }> {
  const start = rssBytes(pid);
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 50);
  try {
    const result = await work();
    peak = Math.max(peak, rssBytes(pid));
    assert.ok(peak - start < MAX_RSS_GROWTH_BYTES, `RSS ${mb(start)} → peak ${mb(peak)}`);
    assert.ok(peak < MAX_RSS_BYTES, `RSS peak ${mb(peak)}`);
    return { start, peak, result };
  } finally {
    clearInterval(timer);
  }
}

/** Untenanted series, each with its own label values of valueBytes each. */
function attackRequest(request: number, labels: number, valueBytes: number): Uint8Array {
  const pad = "x".repeat(valueBytes - 12);
  const series: TimeSeriesInput[] = [];
  for (let i = 0; i < SERIES_PER_REQUEST; i++) {
    const id = String(request * SERIES_PER_REQUEST + i).padStart(12, "0");
    series.push({
      labels: [
        { name: "__name__", value: "attack" },
        ...Array.from({ length: labels }, (_, l) => ({ name: `junk${l}`, value: `${id}${pad}` })),
      ],
      samples: [{ value: 1, timestampMs: 1_700_000_000_000 }],
    });
  }
  return compress(encodeWriteRequest(series));
}

async function pushAll(url: string, body: (request: number) => Uint8Array): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < SERIES / SERIES_PER_REQUEST) {
      const result = await postRemoteWrite(url, body(next++));
      statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: PUSHERS }, worker));
  return statuses;
}

/** Sends the same body from `count` clients at once; an answer, or "reset" if the connection broke first. */
async function concurrently(
  url: string,
  count: number,
  body: Buffer,
): Promise<Map<number | "reset", number>> {
  const results = await Promise.all(
    Array.from({ length: count }, () =>
      postRaw(url, { "Content-Length": body.length }, (request) => {
        request.end(body);
      }).then(
        (result: PushResult) => result.status,
        () => "reset" as const,
      ),
    ),
  );
  const counted = new Map<number | "reset", number>();
  for (const r of results) counted.set(r, (counted.get(r) ?? 0) + 1);
  return counted;
}

async function metric(ingestUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${ingestUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe("ingest attacks against telex serve (RSS of the child process)", () => {
  let dir: string;
  let serve: TelexServe;
  let ingestUrl: string;
  let url: string;
  let pid: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-attacks-"));
    serve = await startTelexServe(["--api-listen", "127.0.0.1:0", "--data-dir", join(dir, "data")]);
    assert.ok(serve.ingestUrl !== undefined && serve.child.pid !== undefined);
    ingestUrl = serve.ingestUrl;
    url = `${ingestUrl}/api/v1/write`;
    pid = serve.child.pid;
    // Warm: code paths compiled, buffers and pools allocated once.
    await postRemoteWrite(url, attackRequest(10_000, 1, 100));
  });

  after(async () => {
    await serve.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const report = (what: string, { start, peak }: { start: number; peak: number }) =>
    `${what}: RSS ${mb(start)} → peak ${mb(peak)}`;

  // Each attack: RSS may grow by at most 300 MB and never pass 500 MB (asserted in peakRss).
  it(`drops ${SERIES} untenanted series with 10 KB labels, counted, RSS bounded`, async (t) => {
    const rss = await peakRss(pid, () => pushAll(url, (n) => attackRequest(n, 1, 10_000)));
    const { result } = rss;
    t.diagnostic(report("10 KB labels", rss));
    assert.deepEqual(Object.fromEntries(result), { 204: SERIES / SERIES_PER_REQUEST });
    assert.equal(
      await metric(ingestUrl, 'telex_ingest_samples_dropped_total{reason="labels_too_large"}'),
      SERIES,
    );
  });

  it(`caches at most 64 MiB of ${SERIES} untenanted series just within the limits`, async (t) => {
    // Two values of 3.9 KB: under every label limit, so each series is cached.
    const rss = await peakRss(pid, () => pushAll(url, (n) => attackRequest(n, 2, 3900)));
    const { result } = rss;
    t.diagnostic(report("7.8 KB label sets", rss));
    assert.deepEqual(Object.fromEntries(result), { 204: SERIES / SERIES_PER_REQUEST });
    assert.ok((await metric(ingestUrl, "telex_ingest_samples_without_tenant_total")) >= SERIES);
    const cached = await metric(ingestUrl, "telex_router_cache_bytes");
    assert.ok(cached > 32 * MiB && cached <= 64 * MiB, `route cache holds ${cached} bytes`);
  });

  it("refuses 40 concurrent 30 MiB bodies (413) and 40 of 8 MiB beyond the budget (429)", async (t) => {
    const huge = Buffer.alloc(30 * MiB, 1);
    const hugeRss = await peakRss(pid, () => concurrently(url, 40, huge));
    const hugeStatuses = hugeRss.result;
    t.diagnostic(`${report("40 × 30 MiB", hugeRss)}; ${JSON.stringify(Object.fromEntries(hugeStatuses))}`);
    assert.ok((hugeStatuses.get(413) ?? 0) > 0, "413 for bodies over the limit");
    assert.deepEqual(
      [...hugeStatuses.keys()].filter((s) => s !== 413 && s !== "reset"),
      [],
      "nothing but 413",
    );
    // Incompressible, so each body is the full 8 MiB on the wire and declares ~8 MiB decompressed.
    const random = Buffer.alloc(8 * MiB - 64 * 1024);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const large = Buffer.from(snappyCompress(random));
    const largeRss = await peakRss(pid, () => concurrently(url, 40, large));
    const largeStatuses = largeRss.result;
    t.diagnostic(`${report("40 × 8 MiB", largeRss)}; ${JSON.stringify(Object.fromEntries(largeStatuses))}`);
    assert.ok((largeStatuses.get(429) ?? 0) > 0, "429 beyond the budget");
    assert.deepEqual(
      [...largeStatuses.keys()].filter((s) => s !== 429 && s !== 400 && s !== "reset"),
      [],
      "429, or 400 for the garbage inside",
    );
    assert.equal(await metric(ingestUrl, "telex_ingest_inflight_bytes"), 0);
    assert.equal((await fetch(`${ingestUrl}/healthz`)).status, 200);
  });
});
