// PullSource against a stand-in export server and a manual clock: windows,
// retries, partial answers, stop and job changes, with every emitted sample
// counted. The real VictoriaMetrics is in pull.peers.test.ts.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Label } from "../../metricsql/ast.js";
import { silentLogger } from "../../util/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { memoryLogger } from "../../../test-support/memory-logger.js";
import { startFakeExportServer, type FakeExportServer } from "../../../test-support/fake-export-server.js";
import { freePort } from "../../../test-support/peers.js";
import { MemoryCursorStore, type CursorStore } from "./cursor-store.js";
import { PullSource, type PullSourceOptions } from "./pull-source.js";
import {
  duplicates,
  healthOf,
  recordingJob,
  sampleId,
  type RecordingJob,
} from "../../../test-support/pull/recorder.js";

const TENANT = "resourcemanager_datumapis_com_project_name";
const T = 1_700_000_040_000;
const INTERVAL = 10_000;
const LAG = 5_000;
const FIRST_CURSOR = T - LAG - INTERVAL;
const KEY = "policy-a/gateway-metrics";
const SELECTOR_A = `{${TENANT}="test-rdzjb8"}`;

function labels(record: Record<string, string>): Label[] {
  return Object.entries(record)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

const SERIES: Label[][] = [
  labels({
    __name__: "envoy_vhost_vcluster_upstream_rq",
    [TENANT]: "test-rdzjb8",
    envoy_response_code: "200",
  }),
  labels({
    __name__: "envoy_vhost_vcluster_upstream_rq",
    [TENANT]: "test-rdzjb8",
    envoy_response_code: "503",
  }),
  labels({ __name__: "envoy_vhost_vcluster_upstream_rq_time_bucket", [TENANT]: "test-rdzjb8", le: "+Inf" }),
  labels({
    __name__: "envoy_vhost_vcluster_upstream_rq",
    [TENANT]: "test-rdzjb80",
    envoy_response_code: "200",
  }),
];

/** One sample per series per second (every 700 ms for the last), from T − 2 min to T + 10 min. */
function loadSamples(server: FakeExportServer): void {
  SERIES.forEach((series, index) => {
    const step = index === 2 ? 700 : 1000;
    const samples = [];
    for (let t = T - 120_000 + index; t < T + 600_000; t += step)
      samples.push({ timestampMs: t, value: (t / 1000) % 977 });
    server.add(series, samples);
  });
}

/** The samples of project test-rdzjb8 in [fromMs, toMs): what a job for it must emit, once each. */
function expectedSamples(fromMs: number, toMs: number): string[] {
  const ids: string[] = [];
  SERIES.slice(0, 3).forEach((series, index) => {
    const step = index === 2 ? 700 : 1000;
    for (let t = T - 120_000 + index; t < T + 600_000; t += step)
      if (t >= fromMs && t < toMs) ids.push(sampleId(series, t));
  });
  return ids.sort();
}

function assertExactlyOnce(job: RecordingJob, fromMs: number, toMs: number): void {
  assert.deepEqual(duplicates(job.counts), [], "no sample emitted twice");
  const expected = expectedSamples(fromMs, toMs);
  assert.ok(expected.length > 0);
  assert.deepEqual([...job.counts.keys()].sort(), expected, "every sample of the windows, nothing else");
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fakeServer(maxRowsPerLine?: number): Promise<FakeExportServer> {
  const server = await startFakeExportServer(maxRowsPerLine === undefined ? {} : { maxRowsPerLine });
  cleanups.push(() => server.close());
  loadSamples(server);
  return server;
}

function pullSource(
  server: FakeExportServer,
  clock: ManualClock,
  cursorStore: CursorStore,
  overrides: Partial<PullSourceOptions> = {},
): PullSource {
  const source = new PullSource({
    url: server.url,
    intervalMs: INTERVAL,
    lagMs: LAG,
    cursorStore,
    clock,
    logger: silentLogger,
    retryBackoffMs: 1000,
    random: () => 0,
    requestTimeoutMs: 2000,
    ...overrides,
  });
  cleanups.push(() => source.stop());
  return source;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function completed(source: PullSource, key = KEY): number {
  return source.health(key)?.windowsCompleted ?? -1;
}

describe("PullSource (stand-in store, manual clock)", () => {
  it("reads consecutive windows and resumes after a restart: every sample exactly once", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const job = recordingJob(KEY, SELECTOR_A);
    const first = pullSource(server, clock, store);
    first.setJobs([job]);
    assert.equal(first.health(KEY)?.cursorMs, FIRST_CURSOR, "a new job starts one interval before now − lag");
    first.start();
    await eventually(() => completed(first) === 1, "first window");
    for (let window = 2; window <= 4; window++) {
      await clock.advance(INTERVAL);
      await eventually(() => completed(first) === window, `window ${window}`);
    }
    assert.equal(store.load(KEY), FIRST_CURSOR + 4 * INTERVAL, "the cursor is saved after each window");
    const pulledBeforeRestart = first.health(KEY)?.samplesPulled ?? 0;
    await first.stop();
    await first.stop();

    await clock.advance(2500);
    const second = pullSource(server, clock, store);
    second.setJobs([job]);
    second.start();
    await clock.advance(INTERVAL);
    await eventually(() => completed(second) === 1, "window after the restart");
    await clock.advance(INTERVAL);
    await eventually(() => completed(second) === 2, "second window after the restart");
    const cursor = store.load(KEY) ?? 0;
    assert.ok(cursor > FIRST_CURSOR + 5 * INTERVAL);
    assertExactlyOnce(job, FIRST_CURSOR, cursor);

    const windows = server.requests.map((r) => [r.startMs, r.endMs]);
    for (let i = 1; i < windows.length; i++) {
      assert.equal(
        windows[i]?.[0],
        (windows[i - 1]?.[1] ?? 0) + 1,
        "each request starts right after the last one's inclusive end",
      );
    }
    const health = healthOf(second, KEY);
    assert.equal(health.consecutiveFailures, 0);
    assert.equal(health.cursorMs, cursor);
    assert.ok(health.lagBehindMs < INTERVAL);
    assert.equal(pulledBeforeRestart + health.samplesPulled, job.counts.size);
  });

  it("retries store errors and broken answers on the same window, without gaps or duplicates", async () => {
    // Lines of at most 4 samples: a broken answer stops in the middle of a series.
    const server = await fakeServer(4);
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const logger = memoryLogger();
    const job = recordingJob(KEY, SELECTOR_A);
    const source = pullSource(server, clock, store, { logger });
    server.injectFaults(
      { status: 503, body: "service\n unavailable" },
      { status: 500 },
      { resetAfterLines: 3 },
      { garbageAfterLines: 5, text: "<html>proxy error</html>\n" },
    );
    source.setJobs([job]);
    source.start();
    const failures = (n: number) =>
      eventually(() => source.health(KEY)?.consecutiveFailures === n, `${n} failures`);

    await failures(1);
    let health = healthOf(source, KEY);
    assert.deepEqual(health.lastError, {
      reason: "ServerError",
      message: "HTTP 503: service unavailable",
      atMs: T,
    });
    assert.equal(health.cursorMs, FIRST_CURSOR, "a failed window does not move the cursor");
    assert.equal(health.windowsCompleted, 0);
    await clock.advance(999);
    assert.equal(source.health(KEY)?.consecutiveFailures, 1, "waits the backoff before retrying");
    await clock.advance(1);
    await failures(2);
    await clock.advance(2000);
    await failures(3);
    assert.equal(source.health(KEY)?.lastError?.reason, "Unreachable");
    await clock.advance(4000);
    await failures(4);
    health = healthOf(source, KEY);
    const badResponse = health.lastError;
    assert.ok(badResponse !== undefined);
    assert.equal(badResponse.reason, "BadResponse");
    assert.match(badResponse.message, /expected "\{" at column 1, found "<"/);
    assert.ok(health.samplesPulled > 0, "the broken answers emitted their good lines");

    await clock.advance(8000);
    await eventually(() => completed(source) === 1, "the window finally read");
    health = healthOf(source, KEY);
    assert.equal(health.consecutiveFailures, 0);
    assert.equal(health.lastError?.reason, "BadResponse", "the last error is kept after recovery");
    assert.equal(health.lastSuccessMs, T + 15_000);
    // The retried window grew while failing: it ends at the horizon when it finally succeeded.
    assert.equal(store.load(KEY), T + 15_000 - LAG);
    assertExactlyOnce(job, FIRST_CURSOR, T + 15_000 - LAG);
    assert.equal(health.samplesPulled, job.counts.size);
    assert.equal(
      logger.lines.filter((l) => l.includes("pull failed")).length,
      1,
      "one warning per run of failures",
    );
    assert.equal(logger.lines.filter((l) => l.includes("pull recovered")).length, 1);
    assert.ok(!logger.lines.some((l) => l.includes(SELECTOR_A)), "logs carry the job key, not the selector");
  });

  it("classifies refused connections, timeouts, rejections and bad credentials", async () => {
    const cases: {
      url: string;
      fault?: Parameters<FakeExportServer["injectFaults"]>[0];
      reason: string;
      message: RegExp;
    }[] = [];
    const server = await fakeServer();
    cases.push({
      url: `http://127.0.0.1:${await freePort()}`,
      reason: "Unreachable",
      message: /ECONNREFUSED/,
    });
    cases.push({
      url: server.url,
      fault: { stallAfterLines: 0 },
      reason: "Timeout",
      message: /UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT/,
    });
    cases.push({
      url: server.url,
      fault: { status: 401, body: "Unauthorized" },
      reason: "Unauthorized",
      message: /HTTP 401/,
    });
    cases.push({
      url: server.url,
      fault: { status: 422, body: "cannot parse" },
      reason: "Rejected",
      message: /HTTP 422: cannot parse/,
    });
    cases.push({ url: server.url, fault: { status: 429 }, reason: "ServerError", message: /^HTTP 429$/ });
    for (const { url, fault, reason, message } of cases) {
      if (fault !== undefined) server.injectFaults(fault);
      const clock = new ManualClock(T);
      const source = new PullSource({
        url,
        intervalMs: INTERVAL,
        lagMs: LAG,
        cursorStore: new MemoryCursorStore(),
        clock,
        logger: silentLogger,
        requestTimeoutMs: 300,
      });
      source.setJobs([recordingJob(KEY, SELECTOR_A)]);
      source.start();
      await eventually(() => source.health(KEY)?.consecutiveFailures === 1, `${reason} recorded`);
      assert.equal(source.health(KEY)?.lastError?.reason, reason);
      assert.match(source.health(KEY)?.lastError?.message ?? "", message);
      await source.stop();
    }
  });

  it("catches up a backlog in windows of at most maxWindowMs", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const backlogStart = T - LAG - 65_000;
    await store.save(KEY, backlogStart);
    const job = recordingJob(KEY, SELECTOR_A);
    const source = pullSource(server, clock, store, { maxWindowMs: 20_000 });
    source.setJobs([job]);
    assert.equal(source.health(KEY)?.lagBehindMs, 65_000);
    source.start();
    await eventually(() => completed(source) === 3, "three catch-up windows");
    assert.deepEqual(
      server.requests.map((r) => r.endMs + 1 - r.startMs),
      [20_000, 20_000, 20_000],
    );
    assert.equal(source.health(KEY)?.lagBehindMs, 5_000, "less than an interval left: waits for more");
    await clock.advance(5_000);
    await eventually(() => completed(source) === 4, "back to the interval");
    assert.equal(server.requests.at(-1)?.startMs, backlogStart + 60_000);
    assertExactlyOnce(job, backlogStart, backlogStart + 70_000);
  });

  it("stop() is idempotent, ends waits and silent requests at once, and lets an emitting window finish", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();

    // Waiting for the next window: stops at once, and no timer is left behind.
    const idle = pullSource(server, clock, store);
    idle.setJobs([recordingJob(KEY, SELECTOR_A)]);
    idle.start();
    await eventually(() => completed(idle) === 1, "first window");
    const stopping = idle.stop();
    assert.equal(idle.stop(), stopping);
    await stopping;
    assert.equal(clock.pendingTimers(), 0);

    // A request that has sent nothing yet is aborted at once.
    server.injectFaults({ stallAfterLines: 0 });
    const silent = pullSource(server, clock, new MemoryCursorStore(), { requestTimeoutMs: 60_000 });
    silent.setJobs([recordingJob(KEY, SELECTOR_A)]);
    silent.start();
    const requests = server.requests.length;
    await eventually(() => server.requests.length === requests + 1, "request sent");
    await silent.stop();

    // A window that is emitting gets the grace period and completes within it.
    server.injectFaults({ pauseAfterLines: 1, pauseMs: 100 });
    const emittingStore = new MemoryCursorStore();
    const job = recordingJob(KEY, SELECTOR_A);
    const emitting = pullSource(server, clock, emittingStore, { stopGraceMs: 10_000 });
    emitting.setJobs([job]);
    emitting.start();
    await eventually(() => job.counts.size > 0, "first line emitted");
    await emitting.stop();
    assert.equal(
      emittingStore.load(KEY),
      FIRST_CURSOR + INTERVAL,
      "the window finished and its cursor was saved",
    );
    assertExactlyOnce(job, FIRST_CURSOR, FIRST_CURSOR + INTERVAL);

    // One that does not finish in time is aborted when the grace runs out; its cursor stays.
    server.injectFaults({ stallAfterLines: 1 });
    const stalledStore = new MemoryCursorStore();
    const stalledJob = recordingJob(KEY, SELECTOR_A);
    const stalled = pullSource(server, clock, stalledStore, { stopGraceMs: 3000, requestTimeoutMs: 60_000 });
    stalled.setJobs([stalledJob]);
    stalled.start();
    await eventually(() => stalledJob.counts.size > 0, "first line emitted");
    let stopped = false;
    const stalledStop = stalled.stop().then(() => (stopped = true));
    await clock.advance(2999);
    assert.equal(stopped, false, "still within the grace period");
    await clock.advance(1);
    await stalledStop;
    assert.equal(stalledStore.load(KEY), FIRST_CURSOR, "an unfinished window leaves the cursor where it was");
  });

  it("pauses reading while emit's promise is pending (backpressure), and completes the window after", async () => {
    const server = await fakeServer(2);
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const recorder = recordingJob(KEY, SELECTOR_A);
    let release: (() => void) | undefined;
    let calls = 0;
    const job = {
      key: KEY,
      selector: SELECTOR_A,
      emit(...args: Parameters<RecordingJob["emit"]>) {
        void recorder.emit(...args);
        calls++;
        // The first line waits until released, as a full sink queue would.
        if (calls === 1) return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      },
    };
    const source = pullSource(server, clock, store);
    source.setJobs([job]);
    source.start();
    await eventually(() => release !== undefined, "first line emitted");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(calls, 1, "nothing more is read while the first emit is pending");
    release?.();
    await eventually(() => completed(source) === 1, "window completed after the release");
    assert.ok(recorder.counts.size > 10, "the rest of the window followed");
    assertExactlyOnce(recorder, FIRST_CURSOR, FIRST_CURSOR + INTERVAL);
  });

  it("setJobs adds, replaces, removes and forgets jobs by key", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const source = pullSource(server, clock, store);
    const a = recordingJob("a", SELECTOR_A);
    const b = recordingJob("b", `{${TENANT}="test-rdzjb80"}`);
    source.setJobs([a, b]);
    source.start();
    await eventually(() => completed(source, "a") === 1 && completed(source, "b") === 1, "both jobs read");
    assert.ok([...b.series.values()].every((s) => s[TENANT] === "test-rdzjb80"));

    // Same key, new selector and target: the cursor carries on.
    const narrowed = recordingJob(
      "a",
      `envoy_vhost_vcluster_upstream_rq{${TENANT}="test-rdzjb8", envoy_response_code="503"}`,
    );
    source.setJobs([narrowed, b]);
    await clock.advance(INTERVAL);
    await eventually(() => completed(source, "a") === 2 && completed(source, "b") === 2, "second windows");
    assert.equal(narrowed.series.size, 1);
    assert.ok([...narrowed.counts.keys()].every((id) => Number(id.split("@")[1]) >= FIRST_CURSOR + INTERVAL));

    assert.throws(() => {
      source.setJobs([b, b]);
    }, /two pull jobs with the key "b"/);

    // Removed: stops, keeps its cursor unless asked to forget it.
    source.setJobs([b]);
    assert.equal(source.health("a"), undefined);
    source.setJobs([], { forgetRemoved: true });
    await eventually(() => store.load("b") === undefined, "b's cursor forgotten");
    assert.equal(store.load("a"), FIRST_CURSOR + 2 * INTERVAL);

    // Re-added: resumes from its saved cursor.
    await clock.advance(INTERVAL);
    const again = recordingJob("a", SELECTOR_A);
    source.setJobs([again]);
    await eventually(() => completed(source, "a") === 1, "a again");
    const first = Math.min(...[...again.counts.keys()].map((id) => Number(id.split("@")[1])));
    assert.ok(first >= FIRST_CURSOR + 2 * INTERVAL);
    assert.throws(
      () =>
        new PullSource({
          url: server.url,
          intervalMs: 1000,
          lagMs: 0,
          maxWindowMs: 10,
          cursorStore: store,
          clock,
          logger: silentLogger,
        }),
      /maxWindowMs/,
    );
  });
});
