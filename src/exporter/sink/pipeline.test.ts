// Pipeline logic with a scripted sender and a manual clock. Delivery to real
// receivers is tested in remote-write.peers.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { memoryLogger } from "../../../test-support/memory-logger.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import { IDLE_SHRINK_MS, SinkPipeline, type BatchEncoder, type SinkPipelineOptions } from "./pipeline.js";
import type { SampleBatch } from "./queue.js";

/** Encodes a range as JSON [[series, value, ts], …] so tests can read what was sent. */
const jsonEncoder: BatchEncoder<string> = {
  encode(batch: SampleBatch<string>, start: number, end: number): Uint8Array {
    const rows: [string, number, number][] = [];
    for (let i = start; i < end; i++)
      rows.push([batch.series[i] ?? "?", batch.values[i] ?? NaN, batch.timestamps[i] ?? NaN]);
    return Buffer.from(JSON.stringify(rows));
  },
};

type Script = (body: [string, number, number][], attempt: number) => DeliveryOutcome | "hang";

/** A sender that answers from a script and records every request it got. */
class ScriptedSender implements Sender {
  readonly requests: [string, number, number][][] = [];
  constructor(private readonly script: Script = () => ({ kind: "ok" })) {}
  send(body: Uint8Array, signal: AbortSignal): Promise<DeliveryOutcome> {
    const rows = JSON.parse(Buffer.from(body).toString()) as [string, number, number][];
    this.requests.push(rows);
    const answer = this.script(rows, this.requests.length);
    if (answer !== "hang") return Promise.resolve(answer);
    return new Promise((resolve) => {
      signal.addEventListener("abort", () => {
        resolve({ kind: "retryable", reason: "Timeout", message: "aborted" });
      });
    });
  }
  sentValues(): number[] {
    return this.requests.flat().map(([, v]) => v);
  }
}

function pipeline(sender: Sender, overrides: Partial<SinkPipelineOptions<string>> = {}) {
  const clock = new ManualClock();
  const sink = new SinkPipeline<string>({
    batchMaxSize: 3,
    batchTimeoutMs: 5000,
    retry: { maxAttempts: 3, backoffMs: 1000, random: () => 0 },
    queueCapacity: 10,
    sender,
    encoder: jsonEncoder,
    clock,
    ...overrides,
  });
  return { sink, clock };
}

function assertBalanced(sink: SinkPipeline<string>): void {
  const s = sink.stats;
  assert.equal(
    s.samplesReceived,
    s.samplesSent + s.droppedTotal() + sink.buffered,
    `received ${s.samplesReceived} ≠ sent ${s.samplesSent} + dropped ${s.droppedTotal()} + buffered ${sink.buffered}`,
  );
}

const serverError: DeliveryOutcome = { kind: "retryable", reason: "ServerError", message: "HTTP 503" };

describe("SinkPipeline", () => {
  it("flushes as soon as maxSize samples are queued", async () => {
    const sender = new ScriptedSender();
    const { sink, clock } = pipeline(sender);
    sink.push("a", 1, 1);
    sink.push("a", 2, 2);
    await clock.advance(0);
    assert.equal(sender.requests.length, 0);
    sink.push("b", 3, 3);
    await clock.advance(0);
    assert.deepEqual(sender.requests, [
      [
        ["a", 1, 1],
        ["a", 2, 2],
        ["b", 3, 3],
      ],
    ]);
    assert.equal(sink.stats.samplesSent, 3);
    assertBalanced(sink);
  });

  it("flushes a partial batch when batch.timeout passes", async () => {
    const sender = new ScriptedSender();
    const { sink, clock } = pipeline(sender);
    sink.push("a", 1, 1);
    await clock.advance(4999);
    assert.equal(sender.requests.length, 0);
    await clock.advance(1);
    assert.deepEqual(sender.sentValues(), [1]);
    assert.ok(sink.slots > 0, "an idle shard keeps its arrays for a while");
    assert.equal(clock.pendingTimers(), 1, "the idle shard's timer to give its arrays back");
    await clock.advance(IDLE_SHRINK_MS);
    assert.equal(sink.slots, 0, "then gives them back");
    assert.equal(clock.pendingTimers(), 0, "no timer while idle");
    assertBalanced(sink);
  });

  it("keeps arrival order across batches", async () => {
    const sender = new ScriptedSender();
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 8; v++) sink.push(v % 2 === 0 ? "even" : "odd", v, v);
    await clock.advance(5000);
    assert.deepEqual(sender.sentValues(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(
      sender.requests.map((r) => r.length),
      [3, 3, 2],
    );
  });

  it("retries a retryable failure after backoffDuration, then succeeds", async () => {
    const sender = new ScriptedSender((_, attempt) => (attempt === 1 ? serverError : { kind: "ok" }));
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.equal(sender.requests.length, 1);
    assert.equal(sink.buffered, 3);
    assertBalanced(sink);
    await clock.advance(999);
    assert.equal(sender.requests.length, 1, "waits the full backoff");
    await clock.advance(1);
    assert.equal(sender.requests.length, 2);
    assert.equal(sink.stats.samplesSent, 3);
    assert.equal(sink.stats.requests.server_error, 1);
    assert.equal(sink.stats.requests.success, 1);
    assert.equal(sink.stats.consecutiveFailures, 0);
    assertBalanced(sink);
  });

  it("keeps a batch after maxAttempts: the sink goes down and probes with a growing backoff", async () => {
    let up = false;
    const sender = new ScriptedSender(() => (up ? { kind: "ok" } : serverError));
    const logger = memoryLogger();
    const { sink, clock } = pipeline(sender, { logger });
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(0);
    await clock.advance(1000); // attempt 2 after 1 s
    await clock.advance(2000); // attempt 3 after 2 s more
    assert.equal(sender.requests.length, 3);
    assert.ok(sink.down, "down after maxAttempts");
    assert.equal(sink.stats.droppedTotal(), 0, "nothing dropped");
    assert.equal(sink.buffered, 3);
    // Probes continue the schedule: 4 s, 8 s, 16 s, … (random() = 0: no jitter).
    await clock.advance(3999);
    assert.equal(sender.requests.length, 3);
    await clock.advance(1);
    assert.equal(sender.requests.length, 4, "first probe after 4 s");
    await clock.advance(8000);
    assert.equal(sender.requests.length, 5, "second probe 8 s later");
    for (let v = 4; v <= 9; v++) sink.push("b", v, v);
    assert.equal(sender.requests.length, 5, "no sending while down");
    up = true;
    await clock.advance(16_000);
    assert.equal(sink.down, undefined, "back up");
    await clock.advance(0);
    assert.deepEqual(
      sender.requests
        .slice(5)
        .flat()
        .map(([, v]) => v),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(sink.stats.samplesSent, 9);
    assert.equal(sink.stats.samplesRetried, 3 * 5, "2 retries, 2 failed probes, then the probe that worked");
    assert.equal(sink.stats.consecutiveFailures, 0);
    assert.equal(logger.lines.filter((l) => l.includes("endpoint down")).length, 1);
    assertBalanced(sink);
  });

  it("whenUp() resolves at once when up, after recovery when down, on close, and rejects on abort", async () => {
    let up = false;
    const sender = new ScriptedSender(() => (up ? { kind: "ok" } : serverError));
    const { sink, clock } = pipeline(sender, { retry: { maxAttempts: 1, backoffMs: 1000, random: () => 0 } });
    await sink.whenUp();
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.ok(sink.down);
    let resolved = false;
    const waiting = sink.whenUp().then(() => {
      resolved = true;
    });
    const aborter = new AbortController();
    const aborted = sink.whenUp(aborter.signal);
    aborter.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    await clock.advance(2000); // first probe fails
    assert.equal(resolved, false, "still down");
    up = true;
    await clock.advance(4000);
    await waiting;
    assert.equal(resolved, true);
    assert.equal(sink.down, undefined);
    up = false;
    for (let v = 4; v <= 6; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.ok(sink.down);
    const onClose = sink.whenUp();
    await sink.close({ drainTimeoutMs: 0 });
    await onClose;
  });

  it("caps the probe backoff at five minutes and honours Retry-After", async () => {
    const throttled: DeliveryOutcome = {
      kind: "retryable",
      reason: "Throttled",
      message: "HTTP 429",
      retryAfterMs: 42_000,
    };
    const sender = new ScriptedSender((_, attempt) => (attempt === 12 ? throttled : serverError));
    const { sink, clock } = pipeline(sender, {
      retry: { maxAttempts: 1, backoffMs: 60_000, random: () => 0 },
    });
    sink.push("a", 1, 1);
    await clock.advance(5000);
    assert.equal(sender.requests.length, 1);
    const probeTimes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const before: number = sender.requests.length;
      const started = clock.now();
      while (sender.requests.length === before) await clock.advance(1000);
      probeTimes.push(clock.now() - started);
    }
    assert.deepEqual(probeTimes.slice(0, 4), [60_000, 120_000, 240_000, 300_000]);
    assert.ok(probeTimes.slice(3, 11).every((t) => t === 300_000));
    assert.equal(probeTimes[11], 42_000, "Retry-After of the 12th request sets the next wait");
    assert.equal(sink.stats.droppedTotal(), 0);
    await sink.close();
  });

  it("waits for Retry-After instead of the backoff when the server gives one", async () => {
    const throttled: DeliveryOutcome = {
      kind: "retryable",
      reason: "Throttled",
      message: "HTTP 429",
      retryAfterMs: 7000,
    };
    const sender = new ScriptedSender((_, attempt) => (attempt === 1 ? throttled : { kind: "ok" }));
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(6999);
    assert.equal(sender.requests.length, 1);
    await clock.advance(1);
    assert.equal(sender.requests.length, 2);
    assert.equal(sink.stats.requests.throttled, 1);
  });

  it("drops a rejected batch at once, without retrying", async () => {
    const sender = new ScriptedSender(() => ({
      kind: "fatal",
      reason: "Rejected",
      message: "HTTP 400: bad labels",
    }));
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(60_000);
    assert.equal(sender.requests.length, 1);
    assert.equal(sink.stats.dropped.rejected, 3);
    assert.equal(sink.stats.lastError?.message, "HTTP 400: bad labels");
    assertBalanced(sink);
  });

  it("counts unauthorized drops apart from other rejections", async () => {
    const sender = new ScriptedSender(() => ({ kind: "fatal", reason: "Unauthorized", message: "HTTP 401" }));
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 3; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.equal(sink.stats.dropped.unauthorized, 3);
    assert.equal(sink.stats.lastError?.reason, "Unauthorized");
  });

  it("splits a batch the endpoint finds too large and sends the halves", async () => {
    const sender = new ScriptedSender((rows) =>
      rows.length > 2 ? { kind: "fatal", reason: "TooLarge", message: "HTTP 413" } : { kind: "ok" },
    );
    const { sink, clock } = pipeline(sender, { batchMaxSize: 5 });
    for (let v = 1; v <= 5; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.deepEqual(
      sender.requests.map((r) => r.map(([, v]) => v)),
      [[1, 2, 3, 4, 5], [1, 2, 3], [1, 2], [3, 4], [5]],
    );
    assert.equal(sink.stats.samplesSent, 5);
    assert.equal(sink.stats.droppedTotal(), 0);
    assertBalanced(sink);
  });

  it("drops a single sample the endpoint still finds too large", async () => {
    const sender = new ScriptedSender(() => ({ kind: "fatal", reason: "TooLarge", message: "HTTP 413" }));
    const { sink, clock } = pipeline(sender, { batchMaxSize: 2 });
    sink.push("a", 1, 1);
    sink.push("a", 2, 2);
    await clock.advance(0);
    assert.equal(sender.requests.length, 3);
    assert.equal(sink.stats.dropped.rejected, 2);
    assertBalanced(sink);
  });

  it("without a durable log, drops the oldest samples when memory is full, logging once per run", async () => {
    const logger = memoryLogger();
    const sender = new ScriptedSender(() => "hang");
    const { sink, clock } = pipeline(sender, { queueCapacity: 4, logger });
    for (let v = 1; v <= 3; v++) sink.push("a", v, v); // a batch in flight, hanging
    await clock.advance(0);
    // The shard queues two batches (6), the ring 4 more; the rest pushes the oldest out.
    for (let v = 4; v <= 20; v++) sink.push("a", v, v);
    assert.equal(sink.queued, 4);
    assert.equal(sink.stats.dropped.buffer_full, 7);
    assert.equal(sink.buffered, 13);
    assert.equal(logger.lines.filter((l) => l.includes("buffer full")).length, 1);
    assertBalanced(sink);
    await sink.close();
    assertBalanced(sink);
  });

  it("close() delivers what is queued within the drain timeout", async () => {
    const sender = new ScriptedSender();
    const { sink } = pipeline(sender, { batchMaxSize: 2 });
    for (let v = 1; v <= 5; v++) sink.push("a", v, v);
    await sink.close({ drainTimeoutMs: 1000 });
    assert.deepEqual(sender.sentValues(), [1, 2, 3, 4, 5]);
    assert.equal(sink.stats.dropped.shutdown, 0);
    assertBalanced(sink);
  });

  it("close() counts what it could not deliver, and later pushes, as shutdown drops", async () => {
    const sender = new ScriptedSender(() => "hang");
    const { sink, clock } = pipeline(sender);
    for (let v = 1; v <= 5; v++) sink.push("a", v, v);
    await clock.advance(0);
    const closed = sink.close({ drainTimeoutMs: 1000 });
    assert.equal(sink.close(), closed, "idempotent");
    await clock.advance(1000);
    await closed;
    sink.push("a", 6, 6);
    assert.equal(sink.stats.dropped.shutdown, 6);
    assert.equal(sink.stats.samplesSent, 0);
    assertBalanced(sink);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("counts a failing encoder as internal_error and keeps going", async () => {
    let fail = true;
    const encoder: BatchEncoder<string> = {
      encode(batch, start, end) {
        if (fail) {
          fail = false;
          throw new Error("boom");
        }
        return jsonEncoder.encode(batch, start, end);
      },
    };
    const sender = new ScriptedSender();
    const { sink, clock } = pipeline(sender, { encoder });
    for (let v = 1; v <= 6; v++) sink.push("a", v, v);
    await clock.advance(0);
    assert.equal(sink.stats.dropped.internal_error, 3);
    assert.deepEqual(sender.sentValues(), [4, 5, 6]);
    assertBalanced(sink);
  });
});
