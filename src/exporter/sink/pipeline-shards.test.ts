// Sharded delivery, resharding, the settled() barrier and reading back from a
// durable backlog, with a manual clock. The backlog here is a test double of
// the durable log's contract (backlog.ts); the log itself is tested against
// real files in src/exporter/buffer/.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ManualClock } from "../../../test-support/manual-clock.js";
import type { ArrivalRange, BacklogTrimReason, ShardPositions, TrimListener } from "./backlog.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import {
  PROBE_SAMPLES,
  SinkPipeline,
  type BatchEncoder,
  type PipelineBacklog,
  type SinkPipelineOptions,
} from "./pipeline.js";
import { DeliveryBudget } from "./delivery-budget.js";
import { MemoryBudget } from "./memory-budget.js";
import type { SampleBatch } from "./queue.js";

type Row = [string, number, number];

const jsonEncoder: BatchEncoder<string> = {
  encode(batch: SampleBatch<string>, start: number, end: number): Uint8Array {
    const rows: Row[] = [];
    for (let i = start; i < end; i++)
      rows.push([batch.series[i] ?? "?", batch.values[i] ?? NaN, batch.timestamps[i] ?? NaN]);
    return Buffer.from(JSON.stringify(rows));
  },
};

/** Answers each request after `latencyMs` of clock time; `up` decides ok or 503. */
class SlowSender implements Sender {
  readonly requests: Row[][] = [];
  /** Every request sent, answered ok or not. */
  readonly attempts: Row[][] = [];
  /** Refuses (503) any request holding a sample of this series while `up`. */
  refuse: string | undefined;
  inFlight = 0;
  maxInFlight = 0;
  up = true;
  constructor(
    private readonly clock: ManualClock,
    private readonly latencyMs: number,
  ) {}
  send(body: Uint8Array): Promise<DeliveryOutcome> {
    const rows = JSON.parse(Buffer.from(body).toString()) as Row[];
    this.attempts.push(rows);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) => {
      this.clock.setTimer(this.latencyMs, () => {
        this.inFlight--;
        if (!this.up || rows.some(([series]) => series === this.refuse)) {
          resolve({ kind: "retryable", reason: "ServerError", message: "HTTP 503" });
          return;
        }
        this.requests.push(rows);
        resolve({ kind: "ok" });
      });
    });
  }
  delivered(): Row[] {
    return this.requests.flat();
  }
}

/** Answers after `latencyMs`, and records the most request bytes it ever held at once. */
class ByteCountingSender implements Sender {
  bytesInFlight = 0;
  maxBytesInFlight = 0;
  samples = 0;
  constructor(
    private readonly clock: ManualClock,
    private readonly latencyMs: number,
  ) {}
  send(body: Uint8Array): Promise<DeliveryOutcome> {
    this.bytesInFlight += body.length;
    this.maxBytesInFlight = Math.max(this.maxBytesInFlight, this.bytesInFlight);
    return new Promise((resolve) => {
      this.clock.setTimer(this.latencyMs, () => {
        this.bytesInFlight -= body.length;
        this.samples += (JSON.parse(Buffer.from(body).toString()) as Row[]).length;
        resolve({ kind: "ok" });
      });
    });
  }
}

/** The test double of the durable log: samples by seq, positions as committed. */
class MemoryBacklog implements PipelineBacklog<string> {
  private readonly samples: Row[] = [];
  startSeq = 0;
  recovered: ShardPositions | undefined;
  committed: ShardPositions | undefined;
  onTrim: TrimListener | undefined;
  reads = 0;

  get endSeq(): number {
    return this.samples.length;
  }
  append(series: string, value: number, timestampMs: number): void {
    this.samples.push([series, value, timestampMs]);
  }
  read(from: number, batch: SampleBatch<string>): Promise<number> {
    this.reads++;
    let read = 0;
    for (let seq = Math.max(from, this.startSeq); seq < this.endSeq && batch.length < batch.capacity; seq++) {
      const [series, value, timestampMs] = this.samples[seq] ?? ["?", NaN, NaN];
      batch.add(series, value, timestampMs, seq);
      read++;
    }
    return Promise.resolve(read);
  }
  commit(positions: ShardPositions): void {
    this.committed = positions;
  }
  trim(to: number, reason: BacklogTrimReason, arrived?: ArrivalRange): void {
    const from = this.startSeq;
    this.startSeq = to;
    this.onTrim?.(from, to, reason, arrived);
  }
}

const shardOf = (series: string): number => Number(series.slice(1));

function make(clock: ManualClock, sender: Sender, overrides: Partial<SinkPipelineOptions<string>> = {}) {
  return new SinkPipeline<string>({
    batchMaxSize: 500,
    batchTimeoutMs: 1000,
    retry: { maxAttempts: 2, backoffMs: 1000, random: () => 0 },
    queueCapacity: 5000,
    sender,
    encoder: jsonEncoder,
    shardOf,
    maxShards: 16,
    clock,
    ...overrides,
  });
}

function assertBalanced(sink: SinkPipeline<string>): void {
  const s = sink.stats;
  assert.equal(
    s.samplesReceived,
    s.samplesSent + s.droppedTotal() + sink.buffered,
    "received = sent + dropped + buffered",
  );
}

/** Every series' values arrive increasing: order per series held across shards. */
function assertOrderPerSeries(rows: Row[]): void {
  const last = new Map<string, number>();
  for (const [series, value] of rows) {
    assert.ok(value > (last.get(series) ?? -Infinity), `${series}: ${value} after ${last.get(series)}`);
    last.set(series, value);
  }
}

describe("SinkPipeline shards", () => {
  it("adds shards when one request at a time cannot keep up with a far endpoint, and keeps each series in order", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 100);
    const sink = make(clock, sender, { queueCapacity: 400_000 });
    // 10,000 samples/s over 100 series for 30 s; one request of 500 per 100 ms carries 5,000/s.
    let value = 0;
    for (let tick = 0; tick < 300; tick++) {
      for (let i = 0; i < 1000; i++) sink.push(`s${i % 100}`, value++, clock.now());
      await clock.advance(100);
    }
    assert.ok(sink.shardCount >= 2, `resharded to ${sink.shardCount}`);
    await clock.advance(20_000);
    assert.equal(sink.stats.samplesSent, 300_000, "everything delivered");
    assert.equal(sink.stats.droppedTotal(), 0);
    assert.ok(sender.maxInFlight >= 2, `parallel requests (${sender.maxInFlight})`);
    assertOrderPerSeries(sender.delivered());
    assertBalanced(sink);
    await sink.close();
  });

  it("settled() resolves once everything pushed before it is delivered, sending partial batches at once", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 50);
    const sink = make(clock, sender);
    for (let v = 0; v < 10; v++) sink.push("s1", v, v);
    let settled = false;
    const done = sink.settled().then(() => {
      settled = true;
    });
    sink.push("s1", 10, 10);
    await clock.advance(49);
    assert.equal(settled, false);
    await clock.advance(1);
    await done;
    assert.equal(settled, true, "without waiting for batch.timeout");
    assert.equal(sink.stats.samplesSent, 10, "what came after the call may still wait");
    await sink.close();
  });

  it("settled() waits while the sink is down and resolves when it recovers", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const sink = make(clock, sender);
    sink.push("s1", 1, 1);
    let settled = false;
    void sink.settled().then(() => {
      settled = true;
    });
    await clock.advance(60_000);
    assert.ok(sink.down);
    assert.equal(settled, false);
    sender.up = true;
    await clock.advance(120_000);
    assert.equal(settled, true);
    assert.equal(sink.stats.samplesSent, 1);
    await sink.close();
  });
});

describe("SinkPipeline with a durable backlog", () => {
  it("keeps everything on disk while down, far beyond memory, and delivers it in order afterwards", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const sink = make(clock, sender, { backlog, batchMaxSize: 100, queueCapacity: 200, maxShards: 1 });
    for (let v = 0; v < 20_000; v++) {
      backlog.append(`s${v % 7}`, v, v);
      sink.push(`s${v % 7}`, v, v);
      if (v % 1000 === 0) await clock.advance(100);
    }
    assert.ok(sink.down);
    assert.equal(sink.stats.droppedTotal(), 0, "nothing dropped");
    assert.equal(sink.buffered, 20_000);
    assert.ok(sink.queued <= 200, "memory stays bounded");
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.equal(sink.stats.samplesSent, 20_000);
    assert.deepEqual(
      sender.delivered().map(([, v]) => v),
      Array.from({ length: 20_000 }, (_, i) => i),
    );
    assert.ok(backlog.reads > 0, "read back from the log");
    assert.deepEqual(backlog.committed, { shards: 1, next: [20_000] });
    assertBalanced(sink);
    await sink.close();
  });

  it("while down keeps nothing in its ring and reads nothing ahead: the log has it", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const sink = make(clock, sender, { backlog, batchMaxSize: 100, queueCapacity: 5000, maxShards: 1 });
    let v = 0;
    const push = (count: number) => {
      for (const end = v + count; v < end; v++) {
        backlog.append(`s${v % 7}`, v, v);
        sink.push(`s${v % 7}`, v, v);
      }
    };
    push(50);
    await clock.advance(5000);
    assert.ok(sink.down, "down after its attempts");
    const reads = backlog.reads;
    for (let round = 0; round < 10; round++) {
      push(500);
      await clock.advance(100);
    }
    assert.equal(sink.queued, 0, "the ring holds nothing while down");
    assert.equal(backlog.reads, reads, "nothing read ahead while down");
    assert.equal(sink.buffered, 5050);
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.deepEqual(
      sender.delivered().map(([, value]) => value),
      Array.from({ length: 5050 }, (_, i) => i),
    );
    assertBalanced(sink);
    await sink.close();
  });

  it("a down sink gives its kept batch back to the log and reads the oldest again for each probe", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const memory = new MemoryBudget(10_000);
    const sink = make(clock, sender, {
      backlog,
      memory,
      batchMaxSize: 100,
      queueCapacity: 5000,
      maxShards: 1,
    });
    for (let v = 0; v < 1000; v++) {
      backlog.append(`s${v % 7}`, v, v);
      sink.push(`s${v % 7}`, v, v);
    }
    assert.ok(memory.used > 0, "borrowed while it could not send");
    await clock.advance(5000);
    assert.ok(sink.down);
    assert.equal(sink.inMemory, 0, "its batch and queue are in the log");
    assert.equal(memory.used, 0, "and what it borrowed is the budget's again");
    assert.equal(sink.buffered, 1000);
    assertBalanced(sink);
    assert.deepEqual(backlog.committed, { shards: 1, next: [0] });
    const attempts = sender.attempts.length;
    const reads = backlog.reads;
    await clock.advance(60_000);
    const probes = sender.attempts.slice(attempts);
    assert.ok(probes.length >= 2, `${probes.length} probes`);
    for (const probe of probes) {
      assert.deepEqual(
        probe.map(([, v]) => v),
        Array.from({ length: 100 }, (_, i) => i),
        "each probe sends the oldest batch, read again",
      );
    }
    assert.ok(backlog.reads > reads);
    assert.equal(sink.inMemory, 0, "and gives it back after a failed probe");
    assertBalanced(sink);
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.deepEqual(
      sender.delivered().map(([, v]) => v),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assertBalanced(sink);
    await sink.close();
    assert.deepEqual(backlog.committed, { shards: 1, next: [1000] });
  });

  it("reading again after a release, sends nothing twice that another shard had delivered, and counts trims exactly", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.refuse = "s1";
    const backlog = new MemoryBacklog();
    // Two shards from the start: s0 goes to shard 0, s1 to shard 1.
    backlog.recovered = { shards: 2, next: [0, 0] };
    const sink = make(clock, sender, { backlog, batchMaxSize: 100, queueCapacity: 5000, maxShards: 2 });
    for (let v = 0; v < 1000; v++) {
      backlog.append(`s${v % 2}`, v, v);
      sink.push(`s${v % 2}`, v, v);
    }
    await clock.advance(5000);
    assert.ok(sink.down, "shard 1 failed");
    const s0Sent = sink.stats.samplesSent;
    assert.ok(s0Sent >= 100, `shard 0 delivered ${s0Sent} meanwhile`);
    assert.equal(sink.inMemory, 0);
    assertBalanced(sink);
    const [next0 = 0, next1 = 0] = backlog.committed?.next ?? [];
    assert.equal(next1, 1, "shard 1 owes its first sample");
    assert.ok(next0 > 2 * s0Sent - 2, `shard 0 owes nothing below ${next0}`);
    await clock.advance(30_000);
    assert.equal(sink.inMemory, 0);
    assert.equal(sink.stats.samplesSent, s0Sent, "probes fail; nothing of shard 0 is sent again");
    // s1's samples below 301 (1, 3, … 299) go; shard 0's there were delivered already.
    backlog.trim(301, "buffer_full");
    assert.equal(sink.stats.dropped.buffer_full, 150);
    assertBalanced(sink);
    sender.refuse = undefined;
    await clock.advance(10 * 60_000);
    const delivered = sender.delivered().map(([, v]) => v);
    assert.equal(new Set(delivered).size, delivered.length, "nothing delivered twice");
    assert.deepEqual(
      [...delivered].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i).filter((v) => v % 2 === 0 || v >= 301),
    );
    assertOrderPerSeries(sender.delivered());
    assert.equal(sink.stats.samplesSent + sink.stats.droppedTotal(), 1000);
    assertBalanced(sink);
    await sink.close();
    assert.ok(
      backlog.committed?.next.every((n) => n === 1000),
      "every shard passed everything",
    );
  });

  it("keeps a probe's batch that the log trimmed while it was being sent, rather than find a gap later", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 1000);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const sink = make(clock, sender, { backlog, batchMaxSize: 10, queueCapacity: 100, maxShards: 1 });
    for (let v = 0; v < 100; v++) {
      backlog.append("s0", v, v);
      sink.push("s0", v, v);
    }
    while (!sink.down) await clock.advance(100);
    while (sink.inMemory > 0) await clock.advance(100);
    while (sender.inFlight === 0) await clock.advance(100);
    assert.equal(sink.inMemory, 10, "the probe's batch, read again");
    backlog.trim(50, "expired", { oldestMs: 0, newestMs: 49 });
    assert.equal(sink.stats.dropped.expired, 40, "the probe's 10 are not the log's to drop any more");
    await clock.advance(1000);
    assert.equal(sink.inMemory, 10, "kept after the probe failed");
    assertBalanced(sink);
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.deepEqual(
      sender.delivered().map(([, v]) => v),
      Array.from({ length: 100 }, (_, i) => i).filter((v) => v < 10 || v >= 50),
    );
    assert.equal(sink.stats.dropped.corrupt, 0);
    assertBalanced(sink);
    await sink.close();
  });

  it("after a restart resumes each shard exactly after what it had delivered", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    const backlog = new MemoryBacklog();
    for (let seq = 0; seq < 10; seq++) backlog.append(seq % 2 === 0 ? "s0" : "s1", seq, seq);
    // Shard 0 (s0: even seqs) delivered below 5, shard 1 (s1: odd seqs) below 8.
    backlog.recovered = { shards: 2, next: [5, 8] };
    const sink = make(clock, sender, { backlog });
    assert.equal(sink.stats.samplesReceived, 5, "what the log holds past the lowest position");
    await clock.advance(5000);
    assert.deepEqual(
      sender
        .delivered()
        .map(([, v]) => v)
        .sort((a, b) => a - b),
      [6, 8, 9],
    );
    assertBalanced(sink);
    await sink.close();
    assert.deepEqual(
      backlog.committed?.next.every((n) => n === 10),
      true,
    );
  });

  it("counts what the log trims before it was sent, by reason; a down sink kept none of it in memory", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const sink = make(clock, sender, { backlog, batchMaxSize: 10, queueCapacity: 10, maxShards: 1 });
    for (let v = 0; v < 1000; v++) {
      backlog.append("s0", v, v);
      sink.push("s0", v, v);
    }
    await clock.advance(30_000);
    assert.ok(sink.down);
    backlog.trim(600, "expired", { oldestMs: 1000, newestMs: 2000 });
    // The batch and queue it held when it went down were given back to the log: the trim takes them too.
    assert.equal(sink.stats.dropped.expired, 600);
    assert.deepEqual([sink.stats.expiredOldestMs, sink.stats.expiredNewestMs], [1000, 2000], "for the Event");
    assertBalanced(sink);
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.deepEqual(
      sender.delivered().map(([, v]) => v),
      Array.from({ length: 400 }, (_, i) => 600 + i),
    );
    assertBalanced(sink);
    await sink.close();
  });

  it("closing at shutdown keeps the rest in the log; closing for removal gives it up", async () => {
    for (const reason of ["shutdown", "removed"] as const) {
      const clock = new ManualClock();
      const sender = new SlowSender(clock, 10);
      sender.up = false;
      const backlog = new MemoryBacklog();
      const sink = make(clock, sender, { backlog });
      for (let v = 0; v < 50; v++) {
        backlog.append("s0", v, v);
        sink.push("s0", v, v);
      }
      await clock.advance(10_000);
      await sink.close({ drainTimeoutMs: 0, reason });
      if (reason === "shutdown") {
        assert.equal(sink.buffered, 50);
        assert.equal(sink.stats.droppedTotal(), 0);
        assert.deepEqual(backlog.committed, { shards: 1, next: [0] });
      } else {
        assert.equal(sink.stats.dropped.removed, 50);
      }
      assertBalanced(sink);
    }
  });
});

describe("SinkPipeline memory", () => {
  it("a down sink holds at most its own share and the process budget; a healthy one next to it loses nothing", async () => {
    const clock = new ManualClock();
    const memory = new MemoryBudget(300);
    const downSender = new SlowSender(clock, 10);
    downSender.up = false;
    const healthySender = new SlowSender(clock, 10);
    const options = { batchMaxSize: 50, queueCapacity: 100_000, maxShards: 1, memory };
    const down = make(clock, downSender, options);
    const healthy = make(clock, healthySender, options);
    for (let v = 0; v < 5000; v++) {
      down.push("s0", v, v);
      healthy.push("s0", v, v);
      if (v % 100 === 0) await clock.advance(20);
    }
    await clock.advance(5000);
    assert.ok(down.down);
    assert.ok(down.buffered <= 2 * 50 + 300, `down sink holds ${down.buffered}`);
    assert.equal(down.stats.dropped.buffer_full, 5000 - down.buffered);
    assert.equal(healthy.stats.samplesSent, 5000);
    assert.equal(healthy.stats.droppedTotal(), 0);
    assertBalanced(down);
    await down.close();
    await healthy.close();
    assert.equal(memory.used, 0, "closing gives the memory back");
  });
  it("bytes of request bodies in flight stay within the process-wide cap, not only their count", async () => {
    const clock = new ManualClock();
    const sender = new ByteCountingSender(clock, 100);
    // A body of 500 samples is about 13 KB here: 40 sinks × 4 shards would hold 2 MB at once.
    const budget = new DeliveryBudget(512, 100_000);
    const sinks = Array.from({ length: 40 }, () =>
      make(clock, sender, { budget, maxShards: 4, queueCapacity: 100_000, batchTimeoutMs: 50 }),
    );
    let value = 0;
    for (let round = 0; round < 20; round++) {
      for (const sink of sinks)
        for (let i = 0; i < 2000; i++) sink.push(`s${i % 8}`, value++, 1_700_000_000_000);
      await clock.advance(100);
    }
    for (let i = 0; i < 600 && sender.samples < value; i++) await clock.advance(100);
    assert.equal(sender.samples, value, "everything delivered");
    assert.ok(sender.maxBytesInFlight > 50_000, `the cap was the limit (${sender.maxBytesInFlight} bytes)`);
    // Permits are taken for an estimate (the last body's bytes per sample): bodies a little larger than
    // the one before may pass the cap by that little.
    assert.ok(
      sender.maxBytesInFlight <= 102_000,
      `about the cap in flight: ${sender.maxBytesInFlight} bytes`,
    );
    assert.equal(budget.inflightBytes, 0);
    for (const sink of sinks) {
      assertBalanced(sink);
      await sink.close();
    }
  });

  it("what it reads back counts against its memory, read buffer included; closing gives all of it back", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 1000);
    const memory = new MemoryBudget(1500);
    const backlog = new MemoryBacklog();
    // Its own share is two batches of 500; beyond, it borrows batches of 1,000 (one fits the budget).
    const sink = make(clock, sender, {
      backlog,
      memory,
      batchMaxSize: 1000,
      queueCapacity: 1000,
      maxShards: 1,
    });
    for (let v = 0; v < 20_000; v++) {
      const series = `s${v % 64}`;
      backlog.append(series, v, v);
      sink.push(series, v, v);
    }
    let most = 0;
    for (let i = 0; i < 600 && sink.stats.samplesSent < 20_000; i++) {
      await clock.advance(100);
      most = Math.max(most, sink.inMemory);
      assert.ok(memory.used <= memory.capacity);
    }
    assert.equal(sink.stats.samplesSent, 20_000);
    assert.ok(
      most <= 1000 + 1500,
      `at most its share and the budget in memory, read buffer included: ${most}`,
    );
    assertOrderPerSeries(sender.delivered());
    assertBalanced(sink);
    for (let v = 20_000; v < 30_000; v++) {
      backlog.append("s0", v, v);
      sink.push("s0", v, v);
    }
    await clock.advance(100);
    assert.ok(memory.used > 0, "borrowed while catching up");
    // The request in flight ends with the clock (the test sender ignores the abort).
    const closing = sink.close({ drainTimeoutMs: 0, reason: "replaced" });
    await clock.advance(1000);
    await closing;
    assert.equal(memory.used, 0, "a replaced pipeline gives back what it borrowed");
  });

  it("waiting for its next read, a sink keeps nothing of the batch it read before", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    const backlog = new MemoryBacklog();
    let first: WeakRef<SampleBatch<string>> | undefined;
    let release: (() => void) | undefined;
    const read = backlog.read.bind(backlog);
    let reads = 0;
    backlog.read = (from, batch) => {
      reads++;
      if (reads === 1) first = new WeakRef(batch);
      if (reads !== 2) return read(from, batch);
      // The second read waits: the log is busy with other sinks.
      return new Promise((resolve) => {
        release = () => {
          resolve(read(from, batch));
        };
      });
    };
    const sink = make(clock, sender, { backlog, batchMaxSize: 100, queueCapacity: 100, maxShards: 1 });
    for (let v = 0; v < 1000; v++) {
      backlog.append("s0", v, v);
      sink.push("s0", v, v);
    }
    for (let i = 0; i < 100 && release === undefined; i++) await clock.advance(10);
    assert.ok(release !== undefined, "the second read is waiting");
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(first?.deref(), undefined, "the first batch is garbage");
    release();
    await clock.advance(60_000);
    assert.equal(sink.stats.samplesSent, 1000);
    await sink.close();
  });

  it("a down sink probes with a small batch of its oldest, whatever its batch size", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 10);
    sender.up = false;
    const backlog = new MemoryBacklog();
    const sink = make(clock, sender, { backlog, batchMaxSize: 5000, queueCapacity: 10_000, maxShards: 1 });
    for (let v = 0; v < 20_000; v++) {
      backlog.append(`s${v % 7}`, v, v);
      sink.push(`s${v % 7}`, v, v);
    }
    while (!sink.down) await clock.advance(1000);
    const attempts = sender.attempts.length;
    await clock.advance(60_000);
    const probes = sender.attempts.slice(attempts);
    assert.ok(probes.length >= 2);
    for (const probe of probes) {
      assert.deepEqual(
        probe.map(([, v]) => v),
        Array.from({ length: PROBE_SAMPLES }, (_, i) => i),
      );
    }
    assert.equal(sink.inMemory, 0);
    sender.up = true;
    await clock.advance(10 * 60_000);
    assert.equal(sink.stats.samplesSent, 20_000);
    assertOrderPerSeries(sender.delivered());
    assertBalanced(sink);
    await sink.close();
  });

  it("short of memory while catching up, sends partial batches at once and runs only the shards it can fill", async () => {
    const clock = new ManualClock();
    const sender = new SlowSender(clock, 100);
    const backlog = new MemoryBacklog();
    // No process budget: the sink holds its own two batches (1,000 samples) and nothing more.
    const sink = make(clock, sender, { backlog, memory: new MemoryBudget(0), batchTimeoutMs: 3_600_000 });
    for (let v = 0; v < 40_000; v++) {
      const series = `s${v % 64}`;
      backlog.append(series, v, v);
      sink.push(series, v, v);
    }
    // An hour of batch timeout never passes: only partial batches sent at once can deliver it.
    for (let i = 0; i < 400 && sink.stats.samplesSent < 40_000; i++) await clock.advance(100);
    assert.equal(sink.stats.samplesSent, 40_000);
    assertOrderPerSeries(sender.delivered());
    assert.ok(sink.shardCount <= 2, `shards: ${sink.shardCount}, with memory for two batches`);
    assertBalanced(sink);
    await sink.close();
  });
});
