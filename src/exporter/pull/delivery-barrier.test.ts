// The runner's delivery barrier, against a stand-in store and a manual clock:
// the cursor waits for the target's settled(), a target that goes down stops
// the read (releasing the store connection and the permit) and the window is
// read again from what it did not take, a cursor older than maxBacklogAge
// jumps ahead, and per-source cursors are taken over.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Label } from "../../metricsql/ast.js";
import { silentLogger } from "../../util/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { memoryLogger } from "../../../test-support/memory-logger.js";
import { startFakeExportServer, type FakeExportServer } from "../../../test-support/fake-export-server.js";
import { MemoryCursorStore } from "./cursor-store.js";
import type { EmitResult, PullJob, PullTarget } from "./job.js";
import { PullSource, type PullSourceOptions } from "./pull-source.js";
import { duplicates, recordingJob, sampleId } from "../../../test-support/pull/recorder.js";

const TENANT = "resourcemanager_datumapis_com_project_name";
const T = 1_700_000_040_000;
const INTERVAL = 10_000;
const LAG = 5_000;
const FIRST_CURSOR = T - LAG - INTERVAL;

function labels(record: Record<string, string>): Label[] {
  return Object.entries(record)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

const SERIES = ["a", "b", "c"].map((name) => labels({ __name__: `m_${name}`, [TENANT]: "p1" }));
const OTHER = labels({ __name__: "m_other", [TENANT]: "p2" });

/** One sample per series every 100 ms from T − 2 min to T + 10 min. */
function timestamps(): number[] {
  const out: number[] = [];
  for (let t = T - 120_000; t < T + 600_000; t += 100) out.push(t);
  return out;
}

function expected(series: readonly Label[][], fromMs: number, toMs: number): string[] {
  return series
    .flatMap((s) => timestamps().flatMap((t) => (t >= fromMs && t < toMs ? [sampleId(s, t)] : [])))
    .sort();
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fakeServer(): Promise<FakeExportServer> {
  const server = await startFakeExportServer({ maxRowsPerLine: 7 });
  cleanups.push(() => server.close());
  for (const s of [...SERIES, OTHER])
    server.add(
      s,
      timestamps().map((t) => ({ timestampMs: t, value: t % 1000 })),
    );
  return server;
}

function pullSource(
  server: FakeExportServer,
  clock: ManualClock,
  store: MemoryCursorStore,
  overrides: Partial<PullSourceOptions> = {},
): PullSource {
  const source = new PullSource({
    url: server.url,
    intervalMs: INTERVAL,
    lagMs: LAG,
    cursorStore: store,
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

/** A sink as the runner sees it: down and up on command, settled() held until released. */
class FakeTarget implements PullTarget {
  isDown = false;
  holdSettled = false;
  settledCalls = 0;
  private settleWaiters: (() => void)[] = [];
  private upWaiters: (() => void)[] = [];

  settled(signal: AbortSignal): Promise<void> {
    this.settledCalls++;
    if (!this.holdSettled && !this.isDown) return Promise.resolve();
    return this.wait(this.settleWaiters, signal);
  }

  whenUp(signal: AbortSignal): Promise<void> {
    if (!this.isDown) return Promise.resolve();
    return this.wait(this.upWaiters, signal);
  }

  /** Back up: resolves whenUp() and, unless held, settled(). */
  up(): void {
    this.isDown = false;
    for (const waiter of this.upWaiters.splice(0)) waiter();
    if (!this.holdSettled) this.release();
  }

  release(): void {
    this.holdSettled = false;
    for (const waiter of this.settleWaiters.splice(0)) waiter();
  }

  private wait(list: (() => void)[], signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        resolve();
      };
      signal.addEventListener("abort", () => {
        list.splice(list.indexOf(waiter), 1);
        reject(signal.reason as Error);
      });
      list.push(waiter);
    });
  }
}

/**
 * A job whose target takes `budget` samples, then goes down and takes none
 * until up() again; every taken sample is counted.
 */
function limitedJob(key: string, selector: string, target: FakeTarget, budget: { left: number }) {
  const recorder = recordingJob(key, selector);
  const job: PullJob = {
    key,
    selector,
    target,
    emit(chunkLabels, values, timestampsMs): EmitResult {
      if (target.isDown) return 0;
      const take = Math.min(values.length, budget.left);
      budget.left -= take;
      void recorder.emit(chunkLabels, values.slice(0, take), timestampsMs.slice(0, take));
      if (take < values.length) {
        target.isDown = true;
        return take;
      }
      return undefined;
    },
  };
  return { job, counts: recorder.counts };
}

describe("pull delivery barrier (stand-in store, manual clock)", () => {
  it("saves the cursor only after the target settled the window", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const target = new FakeTarget();
    target.holdSettled = true;
    const key = "p/sink";
    const job = { ...recordingJob(key, `{${TENANT}="p1"}`), target };
    const source = pullSource(server, clock, store);
    source.setJobs([job]);
    source.start();
    await eventually(() => target.settledCalls === 1, "the barrier");
    assert.equal(job.counts.size, 3 * 100, "the window was emitted");
    await clock.advance(INTERVAL);
    assert.equal(source.health(key)?.windowsCompleted, 0);
    assert.equal(store.load(key), FIRST_CURSOR, "not advanced before delivery");
    assert.equal(server.requests.length, 1, "no next window before the barrier");
    target.release();
    await eventually(() => source.health(key)?.windowsCompleted === 2, "both windows");
    assert.equal(store.load(key), FIRST_CURSOR + 2 * INTERVAL);
    assert.deepEqual(duplicates(job.counts), []);
  });

  it("a down target stops its read and frees the permit; after recovery the window is read again without duplicates", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const logger = memoryLogger();
    const target = new FakeTarget();
    const budget = { left: 250 };
    const down = limitedJob("p/down", `{${TENANT}="p1"}`, target, budget);
    const healthy = recordingJob("p/healthy", `{${TENANT}="p2"}`);
    // One request at a time: the healthy job only moves if the down one gave its permit back.
    const source = pullSource(server, clock, store, { maxConcurrentRequests: 1, logger });
    source.setJobs([down.job, healthy]);
    source.start();
    await eventually(() => source.health("p/down")?.waitingForTarget === true, "down job waiting");
    assert.equal(down.counts.size, 250, "what the target took before going down");
    await eventually(() => source.health("p/healthy")?.windowsCompleted === 1, "healthy window 1");
    for (let window = 2; window <= 4; window++) {
      await clock.advance(INTERVAL);
      await eventually(() => source.health("p/healthy")?.windowsCompleted === window, `healthy ${window}`);
    }
    assert.equal(store.load("p/down"), FIRST_CURSOR, "the down job's cursor did not move");
    assert.equal(source.health("p/down")?.consecutiveFailures, 0, "a down sink is not a store failure");
    const requestsWhileDown = server.requests.filter((r) => r.selector.includes("p1")).length;
    assert.equal(requestsWhileDown, 1, "no reads while down");

    budget.left = Infinity;
    target.up();
    await eventually(() => store.load("p/down") === FIRST_CURSOR + 4 * INTERVAL, "caught up");
    assert.deepEqual(duplicates(down.counts), [], "the re-read skipped what the target had taken");
    assert.deepEqual(
      [...down.counts.keys()].sort(),
      expected(SERIES, FIRST_CURSOR, FIRST_CURSOR + 4 * INTERVAL),
    );
    assert.equal(source.health("p/down")?.waitingForTarget, false);
    assert.ok(logger.lines.some((l) => l.includes("pull paused")));
    assert.ok(logger.lines.some((l) => l.includes("pull resumed")));
  });

  it("a target down when its window comes up waits without a request, then delivers it", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const target = new FakeTarget();
    target.isDown = true;
    const job = { ...recordingJob("p/sink", `{${TENANT}="p1"}`), target };
    const source = pullSource(server, clock, store);
    source.setJobs([job]);
    source.start();
    await eventually(() => source.health("p/sink")?.waitingForTarget === true, "waiting");
    await clock.advance(3 * INTERVAL);
    assert.equal(server.requests.length, 0);
    target.up();
    await eventually(() => store.load("p/sink") === FIRST_CURSOR + 4 * INTERVAL, "caught up");
    assert.deepEqual(
      [...job.counts.keys()].sort(),
      expected(SERIES, FIRST_CURSOR, FIRST_CURSOR + 4 * INTERVAL),
    );
  });

  it("stop() during a held barrier leaves the cursor where it was", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const target = new FakeTarget();
    target.holdSettled = true;
    const job = { ...recordingJob("p/sink", `{${TENANT}="p1"}`), target };
    const source = pullSource(server, clock, store, { stopGraceMs: 1000 });
    source.setJobs([job]);
    source.start();
    await eventually(() => target.settledCalls === 1, "the barrier");
    const stopping = source.stop();
    await clock.advance(1000);
    await stopping;
    assert.equal(store.load("p/sink"), FIRST_CURSOR, "re-read after the restart, not skipped");
  });

  it("jumps a cursor older than maxBacklogAge ahead and counts the skipped time", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    const logger = memoryLogger();
    const maxBacklogAgeMs = 60_000;
    await store.save("p/sink", T - 3 * 86_400_000);
    const job = recordingJob("p/sink", `{${TENANT}="p1"}`);
    const source = pullSource(server, clock, store, { maxBacklogAgeMs, logger, maxWindowMs: 20_000 });
    source.setJobs([job]);
    source.start();
    await eventually(() => (source.health("p/sink")?.windowsCompleted ?? 0) >= 1, "first window");
    assert.equal(server.requests[0]?.startMs, T - maxBacklogAgeMs);
    assert.equal(source.health("p/sink")?.skippedSeconds.expired, (3 * 86_400_000 - maxBacklogAgeMs) / 1000);
    assert.ok(logger.lines.some((l) => l.includes("max backlog age")));
    assert.throws(() => pullSource(server, clock, store, { maxBacklogAgeMs: 1000 }), /maxBacklogAgeMs/);
  });

  it("takes over per-source cursors: the minimum, then deletes them", async () => {
    const server = await fakeServer();
    const clock = new ManualClock(T);
    const store = new MemoryCursorStore();
    await store.save("u/a", T - 50_000);
    await store.save("u/b", T - 70_000);
    await store.save("u/main", T - 90_000); // a source named like a sink
    await store.save("u/x", T - 20_000); // its own key already (migrated before): kept unless a legacy is older
    await store.save("v/a", T - 10_000); // another policy
    const job = (key: string, legacy: string[]) => ({
      ...recordingJob(key, `{${TENANT}="p1"}`),
      legacyKeys: legacy,
    });
    const source = pullSource(server, clock, store);
    source.setJobs([
      job("u/s1", ["u/a", "u/b"]),
      job("u/s2", ["u/a"]),
      job("u/main", ["u/main", "u/b"]),
      job("u/x", ["u/gone"]),
      job("u/new", ["u/none"]),
    ]);
    assert.equal(store.load("u/s1"), T - 70_000);
    assert.equal(store.load("u/s2"), T - 50_000);
    assert.equal(store.load("u/main"), T - 90_000, "its own stored cursor counts in the minimum");
    assert.equal(store.load("u/x"), T - 20_000);
    assert.equal(store.load("u/new"), undefined, "no legacy cursor: starts as a new job");
    assert.equal(store.load("u/a"), undefined, "legacy cursors deleted");
    assert.equal(store.load("u/b"), undefined);
    assert.equal(store.load("v/a"), T - 10_000, "other policies untouched");
    assert.equal(source.health("u/s1")?.cursorMs, T - 70_000);
    // Applied again (a restart): nothing left to take over, the cursors stay.
    const again = pullSource(server, clock, store);
    again.setJobs([job("u/s1", ["u/a", "u/b"]), job("u/s2", ["u/a"])]);
    assert.equal(store.load("u/s1"), T - 70_000);
  });
});
