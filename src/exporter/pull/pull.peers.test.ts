// The pull source against a real VictoriaMetrics (Debian's v1.79) holding
// realistic platform data of 20 projects. Time is a ManualClock set to the
// real present, so the store accepts the samples and the windows are driven
// step by step; each step writes the next stretch of samples before the
// clock moves, the way agents keep writing while Telex reads behind them.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Labels } from "../../metricsql/ast.js";
import { compileSelector, parse, print, scope } from "../../metricsql/index.js";
import { silentLogger } from "../../util/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { STALE_NAN, encodeWriteRequest, isStaleMarker, snappyCompress } from "../../remotewrite/index.js";
import { TENANT_LABEL, generatePlatformSeries } from "../../../test-support/platform-series.js";
import { Random } from "../../../test-support/random.js";
import {
  exportSamples,
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";
import { ExportClient } from "./export-client.js";
import type { ExportedChunk } from "./export-parser.js";
import type { CursorStore } from "./cursor-store.js";
import { FileCursorStore } from "./file-cursor-store.js";
import { PullError } from "./pull-error.js";
import { PullSource } from "./pull-source.js";
import {
  duplicates,
  healthOf,
  recordingJob,
  sampleId,
  type RecordingJob,
} from "../../../test-support/pull/recorder.js";

const availability = victoriaMetricsAvailability();
const INTERVAL = 15_000;
const LAG = 10_000;
/** Each series has a sample every 5 s, at its own offset. */
const STEP = 5_000;
/** Window bounds are multiples of 5 s (see alignedNow): these offsets put samples on a bound and 1 ms either side. */
const EDGE_OFFSETS = [0, 1, STEP - 1];

/** A recent instant on the 15 s grid, so that every window bound falls on the samples' 5 s grid. */
function alignedNow(ago: number): number {
  return Math.floor((Date.now() - ago) / INTERVAL) * INTERVAL;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "telex-pull-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The platform's series and the samples the test writes, so expectations are computed, not queried. */
class PlatformData {
  readonly projects: readonly string[];
  readonly series: readonly Labels[];
  private writtenUpTo: number;

  constructor(
    private readonly vm: RunningVictoriaMetrics,
    startMs: number,
  ) {
    const dataset = generatePlatformSeries(new Random(20), 20);
    this.projects = dataset.projects;
    this.series = dataset.series;
    this.writtenUpTo = startMs;
  }

  /** Sample timestamps of series i in [fromMs, toMs). */
  timestamps(index: number, fromMs: number, toMs: number): number[] {
    const offset = EDGE_OFFSETS[index % 4] ?? (index * 997) % STEP;
    const first = Math.ceil((fromMs - offset) / STEP) * STEP + offset;
    const result: number[] = [];
    for (let t = first; t < toMs; t += STEP) result.push(t);
    return result;
  }

  value(index: number, timestampMs: number): number {
    return (Math.floor(timestampMs / 1000) + index) % 100_000;
  }

  /** Writes every series' samples from where the last write stopped up to toMs, and waits until all are searchable. */
  async writeUpTo(toMs: number): Promise<void> {
    const lines: string[] = [];
    this.series.forEach((labels, index) => {
      for (const t of this.timestamps(index, this.writtenUpTo, toMs)) {
        lines.push(`${exposition(labels)} ${this.value(index, t)} ${t}`);
      }
    });
    const from = this.writtenUpTo;
    this.writtenUpTo = toMs;
    await importPrometheusText(this.vm, `${lines.join("\n")}\n`);
    await this.waitSearchable(from, toMs, lines.length);
  }

  /** The sample ids of the series the matcher selects, in [fromMs, toMs). */
  expected(selects: (labels: Labels) => boolean, fromMs: number, toMs: number): string[] {
    const ids: string[] = [];
    this.series.forEach((labels, index) => {
      if (!selects(labels)) return;
      for (const t of this.timestamps(index, fromMs, toMs)) ids.push(sampleId(labels, t));
    });
    return ids.sort();
  }

  /** VictoriaMetrics makes ingested samples searchable asynchronously, even after a flush. */
  private async waitSearchable(fromMs: number, toMs: number, count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await forceFlush(this.vm);
      const exported = await exportSamples(this.vm, '{__name__=~".+"}', {
        start: fromMs / 1000,
        end: (toMs - 1) / 1000,
      });
      const found = exported.reduce(
        (sum, series) => sum + series.timestamps.filter((t) => t >= fromMs && t < toMs).length,
        0,
      );
      if (found === count) return;
      if (Date.now() > deadline) throw new Error(`only ${found} of ${count} samples searchable`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function exposition(labels: Labels): string {
  const name = labels.find((label) => label.name === "__name__")?.value ?? "";
  const rest = labels
    .filter((label) => label.name !== "__name__")
    .map(
      (label) => `${label.name}="${label.value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`,
    );
  return `${name}{${rest.join(",")}}`;
}

function scoped(metricsql: string, project: string): string {
  return print(scope(parse(metricsql), { tenantLabel: TENANT_LABEL, project }));
}

function assertExactly(job: RecordingJob, expected: readonly string[], what: string): void {
  assert.deepEqual(duplicates(job.counts), [], `${what}: no sample emitted twice`);
  const emitted = [...job.counts.keys()].sort();
  const missing = expected.filter((id) => !job.counts.has(id));
  const extra = emitted.filter((id) => !expected.includes(id));
  assert.deepEqual(
    { missing: missing.slice(0, 3), extra: extra.slice(0, 3) },
    { missing: [], extra: [] },
    what,
  );
  assert.equal(emitted.length, expected.length, what);
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function pullSource(vm: { url: string }, clock: ManualClock, cursorStore: CursorStore): PullSource {
  const source = new PullSource({
    url: vm.url,
    intervalMs: INTERVAL,
    lagMs: LAG,
    cursorStore,
    clock,
    logger: silentLogger,
    retryBackoffMs: 1000,
    random: () => 0,
    requestTimeoutMs: 5000,
  });
  cleanups.push(() => source.stop());
  return source;
}

describe("ExportClient against VictoriaMetrics", { skip: availability.skip }, () => {
  it("reads exactly the half-open window [start, end), to the millisecond, with special values", async () => {
    const vm = await startVictoriaMetrics();
    cleanups.push(() => vm.stop());
    const base = alignedNow(60_000);
    // 1093083007337 is where v1.79 misreads the plain decimal "1093083007.337" as …336.
    const edges = [
      base - 1,
      base,
      base + 1,
      base + 998,
      base + 999,
      base + 1000,
      1093083007336,
      1093083007337,
      1093083007338,
    ];
    const lines = edges.map((t, i) => `edge{case="${i}"} ${i} ${t}`);
    lines.push(`special{kind="inf"} +Inf ${base}`, `special{kind="minus_inf"} -Inf ${base + 1}`);
    await importPrometheusText(vm, `${lines.join("\n")}\n`);
    const write = await fetch(`${vm.url}/api/v1/write`, {
      method: "POST",
      headers: { "content-encoding": "snappy", "content-type": "application/x-protobuf" },
      body: snappyCompress(
        encodeWriteRequest([
          {
            labels: [
              { name: "__name__", value: "special" },
              { name: "kind", value: "stale" },
            ],
            samples: [
              { value: 7, timestampMs: base },
              { value: STALE_NAN, timestampMs: base + 1 },
            ],
          },
        ]),
      ),
    });
    assert.equal(write.status, 204);
    await forceFlush(vm);
    const client = new ExportClient({ url: vm.url, requestTimeoutMs: 5000, maxConnections: 1 });
    cleanups.push(() => client.close());
    const read = async (selector: string, startMs: number, endMs: number): Promise<ExportedChunk[]> => {
      const chunks: ExportedChunk[] = [];
      const deadline = Date.now() + 10_000;
      // Searchable asynchronously even after a flush: retry until the first read finds something.
      do {
        chunks.length = 0;
        await client.read(selector, { startMs, endMs }, new AbortController().signal, (chunk) => {
          chunks.push(chunk);
          return undefined;
        });
      } while (chunks.length === 0 && Date.now() < deadline);
      return chunks;
    };
    const timestamps = async (startMs: number, endMs: number): Promise<number[]> =>
      (await read("edge", startMs, endMs)).flatMap((chunk) => chunk.timestampsMs).sort((a, b) => a - b);

    assert.deepEqual(await timestamps(base, base + 1000), [base, base + 1, base + 998, base + 999]);
    assert.deepEqual(await timestamps(base + 1, base + 999), [base + 1, base + 998]);
    assert.deepEqual(await timestamps(base - 1, base), [base - 1]);
    assert.deepEqual(await timestamps(1093083007337, 1093083007338), [1093083007337]);

    const special = new Map(
      (await read("special", base, base + 2)).map((c) => [c.labels[1]?.value, c.values]),
    );
    assert.deepEqual(special.get("inf"), [Infinity]);
    assert.deepEqual(special.get("minus_inf"), [-Infinity]);
    const stale = special.get("stale") ?? [];
    assert.equal(stale[0], 7);
    assert.ok(isStaleMarker(stale[1] ?? 0), "VictoriaMetrics' null comes back as the staleness marker");
  });

  it("sends the configured headers (basic auth) and reports a 401 as Unauthorized", async () => {
    const vm = await startVictoriaMetrics({ httpAuth: { username: "telex", password: "s3cret" } });
    cleanups.push(() => vm.stop());
    const window = { startMs: alignedNow(60_000), endMs: alignedNow(0) };
    const anonymous = new ExportClient({ url: vm.url, requestTimeoutMs: 5000, maxConnections: 1 });
    const authorized = new ExportClient({
      url: vm.url,
      headers: vm.headers,
      requestTimeoutMs: 5000,
      maxConnections: 1,
    });
    cleanups.push(
      () => anonymous.close(),
      () => authorized.close(),
    );
    const never = new AbortController().signal;
    await assert.rejects(
      anonymous.read("up", window, never, () => undefined),
      (error: unknown) =>
        error instanceof PullError && error.reason === "Unauthorized" && /HTTP 401/.test(error.detail),
    );
    assert.deepEqual(await authorized.read("up", window, never, () => undefined), { lines: 0, samples: 0 });
  });
});

describe("PullSource against VictoriaMetrics", { skip: availability.skip }, () => {
  it("exports each sample once across windows and a restart, and only the job's own project", async () => {
    const vm = await startVictoriaMetrics();
    cleanups.push(() => vm.stop());
    const t0 = alignedNow(60_000);
    const clock = new ManualClock(t0);
    const data = new PlatformData(vm, t0 - 120_000);
    const [projectA = "", projectB = ""] = data.projects;
    assert.ok(projectB.startsWith(projectA), "B's id extends A's: scoping must compare whole values");
    await data.writeUpTo(t0 + INTERVAL);

    const everything = recordingJob("policy-a/all", scoped('{__name__=~".+"}', projectA));
    // Tries to reach other projects through other labels; scoping confines it to B.
    const adversarialSelector = scoped(`{__name__=~".+", resource_name=~".*${projectA}.*|.+"}`, projectB);
    const adversarial = recordingJob("policy-b/adversarial", adversarialSelector);
    const jobs = [everything, adversarial];
    const cursorPath = join(await tempDir(), "pull-cursors.json");
    const first = pullSource(vm, clock, await FileCursorStore.open(cursorPath));
    first.setJobs(jobs);
    const firstCursor = first.health(everything.key)?.cursorMs ?? 0;
    first.start();
    const windowsDone = (source: PullSource, n: number) =>
      eventually(
        () => jobs.every((job) => source.health(job.key)?.windowsCompleted === n),
        `${n} windows of both jobs`,
      );
    await windowsDone(first, 1);
    for (let window = 2; window <= 4; window++) {
      await data.writeUpTo(clock.now() + 2 * INTERVAL);
      await clock.advance(INTERVAL);
      await windowsDone(first, window);
    }
    await first.stop();

    // Telex is down for two intervals while the platform keeps writing.
    await data.writeUpTo(clock.now() + 3 * INTERVAL);
    await clock.advance(2 * INTERVAL);
    const second = pullSource(vm, clock, await FileCursorStore.open(cursorPath));
    second.setJobs(jobs);
    second.start();
    await windowsDone(second, 1);
    assert.equal(second.health(everything.key)?.lagBehindMs, 0, "the catch-up window reached now − lag");
    for (let window = 2; window <= 3; window++) {
      await data.writeUpTo(clock.now() + 2 * INTERVAL);
      await clock.advance(INTERVAL);
      await windowsDone(second, window);
    }
    const finalCursor = second.health(everything.key)?.cursorMs ?? 0;
    assert.equal(finalCursor, clock.now() - LAG);
    assert.ok(finalCursor - firstCursor >= 7 * INTERVAL);

    const tenantIs = (project: string) => (labels: Labels) =>
      labels.some((l) => l.name === TENANT_LABEL && l.value === project);
    assertExactly(
      everything,
      data.expected(tenantIs(projectA), firstCursor, finalCursor),
      "project A, everything",
    );
    const adversarialMatcher = compileSelector(parse(adversarialSelector));
    assertExactly(
      adversarial,
      data.expected((labels) => adversarialMatcher.matches(labels), firstCursor, finalCursor),
      "project B, adversarial selector",
    );
    for (const [job, project] of [
      [everything, projectA],
      [adversarial, projectB],
    ] as const) {
      const foreign = [...job.series.values()].filter((labels) => labels[TENANT_LABEL] !== project);
      assert.deepEqual(foreign, [], `nothing but ${project}'s series for ${job.key}`);
      assert.ok(job.series.size > 50, `${job.key} got ${job.series.size} series`);
    }
    const index = data.series.findIndex(tenantIs(projectA));
    const series = data.series[index] ?? [];
    const [timestamp = 0] = data.timestamps(index, firstCursor, finalCursor);
    assert.equal(
      everything.values.get(sampleId(series, timestamp)),
      data.value(index, timestamp),
      "values arrive intact",
    );
  });

  it("shows a stopped store in the health, and catches up without gaps or duplicates once it is back", async () => {
    const storageDataPath = await tempDir();
    const vm = await startVictoriaMetrics({ storageDataPath });
    cleanups.push(() => vm.stop());
    const t0 = alignedNow(120_000);
    const clock = new ManualClock(t0);
    const data = new PlatformData(vm, t0 - 60_000);
    const [project = ""] = data.projects;
    await data.writeUpTo(t0 + 10 * INTERVAL);

    const job = recordingJob("policy-a/all", scoped('{__name__=~".+"}', project));
    const cursorStore = await FileCursorStore.open(join(await tempDir(), "pull-cursors.json"));
    const source = pullSource(vm, clock, cursorStore);
    source.setJobs([job]);
    const firstCursor = source.health(job.key)?.cursorMs ?? 0;
    source.start();
    await eventually(() => source.health(job.key)?.windowsCompleted === 1, "first window");
    await clock.advance(INTERVAL);
    await eventually(() => source.health(job.key)?.windowsCompleted === 2, "second window");
    const cursorBeforeOutage = source.health(job.key)?.cursorMs ?? 0;

    await vm.stop();
    await clock.advance(INTERVAL);
    await eventually(() => source.health(job.key)?.consecutiveFailures === 1, "the failure shows");
    const failure = healthOf(source, job.key).lastError;
    assert.ok(failure !== undefined);
    assert.equal(failure.reason, "Unreachable");
    assert.match(failure.message, /ECONNREFUSED/);
    for (const [backoff, failures] of [
      [1000, 2],
      [2000, 3],
      [4000, 4],
    ] as const) {
      await clock.advance(backoff);
      await eventually(
        () => source.health(job.key)?.consecutiveFailures === failures,
        `${failures} failures`,
      );
    }
    const down = healthOf(source, job.key);
    assert.equal(down.cursorMs, cursorBeforeOutage, "no window is skipped while the store is down");
    assert.equal(down.windowsCompleted, 2);
    assert.ok(down.lagBehindMs >= INTERVAL + 7000, "the backlog grows");

    const restarted = await startVictoriaMetrics({ storageDataPath, port: vm.port });
    cleanups.push(() => restarted.stop());
    await clock.advance(8000);
    await eventually(() => source.health(job.key)?.windowsCompleted === 3, "caught up after the restart");
    const recovered = healthOf(source, job.key);
    assert.equal(recovered.consecutiveFailures, 0);
    assert.equal(recovered.lagBehindMs, 0);
    await clock.advance(INTERVAL);
    await eventually(() => source.health(job.key)?.windowsCompleted === 4, "steady again");
    const finalCursor = source.health(job.key)?.cursorMs ?? 0;
    assert.equal(cursorStore.load(job.key), finalCursor, "the cursor is persisted");
    const tenantIs = (labels: Labels) => labels.some((l) => l.name === TENANT_LABEL && l.value === project);
    assertExactly(job, data.expected(tenantIs, firstCursor, finalCursor), "across the outage");
  });
});
