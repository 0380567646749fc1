import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ArrivalRange, BacklogTrimReason } from "../sink/backlog.js";
import { eventually } from "../../../test-support/eventually.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { itemRef, type SeriesRef } from "../series.js";
import { SampleBatch } from "../sink/queue.js";
import { ExpositionWriter } from "../../metrics/exposition.js";
import { DurableLog } from "./log.js";
import { writeBufferMetrics } from "./metrics.js";
import type { DurableLogOptions, SinkLog } from "./log.js";
import { SLOT_BYTES } from "./positions.js";
import { SAMPLE_BYTES } from "./record.js";
import { READ_WINDOWS } from "./defaults.js";
import { nameOf, readAll, removeAll, seriesNamed, tempDir } from "../../../test-support/buffer/helpers.js";
import type { ReadSample } from "../../../test-support/buffer/helpers.js";

const dirs: string[] = [];
after(() => removeAll(dirs));

const small: Partial<DurableLogOptions> = { segmentBytes: 4096, totalMaxBytes: 1 << 24 };

async function openLog(dir: string, options: Partial<DurableLogOptions> = {}): Promise<DurableLog> {
  return DurableLog.open({ dir, ...small, ...options });
}

/** A deterministic stream of samples spread over sinks: what each sink must read back, in order. */
async function writeSpread(
  log: DurableLog,
  sinks: SinkLog[],
  records: number,
  perRecord: number,
  seed = 1,
): Promise<Map<SinkLog, ReadSample[]>> {
  const expected = new Map<SinkLog, ReadSample[]>(sinks.map((s) => [s, []]));
  const series = Array.from({ length: 50 }, (_, i) => seriesNamed(`series_${i}{seed="${seed}"}`));
  let x = seed;
  const random = () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const commits: Promise<void>[] = [];
  for (let r = 0; r < records; r++) {
    const record = log.record();
    for (let i = 0; i < perRecord; i++) {
      const ref = series[Math.floor(random() * series.length)] ?? seriesNamed("x");
      const value = seed * 1e6 + r * 1000 + i;
      for (const sink of sinks) {
        if (random() < 0.5) continue;
        record.add(sink, ref, value, r);
        expected.get(sink)?.push({ series: new TextDecoder().decode(ref.labelBytes), value, timestamp: r });
      }
    }
    commits.push(record.commit());
    // Several records per event-loop turn, as concurrent ingest requests would give.
    if (r % 3 === 2) await Promise.all(commits.splice(0));
  }
  await Promise.all(commits);
  return expected;
}

function trims(sink: SinkLog): [number, number, BacklogTrimReason][] {
  const seen: [number, number, BacklogTrimReason][] = [];
  sink.onTrim = (from, to, reason) => seen.push([from, to, reason]);
  return seen;
}

describe("DurableLog", () => {
  it("gives each sink exactly its samples, in order, with their series, across segment rolls and a reopen", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sinks = ["p1/a", "p1/b", "p2/a"].map((key) => log.sink(key));
    const expected = await writeSpread(log, sinks, 120, 20);
    assert.ok(log.stats.segments > 3, `rolled over ${log.stats.segments} segments`);
    for (const sink of sinks) {
      const want = expected.get(sink) ?? [];
      assert.equal(sink.endSeq, want.length);
      assert.deepEqual(await readAll(sink), want);
    }
    assert.equal(log.sink("p1/a"), sinks[0], "one view per key");
    await log.close();

    const reopened = await openLog(dir);
    assert.equal(reopened.cleanStart, true);
    for (const sink of sinks) {
      const again = reopened.sink(sink.key);
      assert.equal(again.endSeq, sink.endSeq);
      assert.deepEqual(await readAll(again), expected.get(sink));
    }
    // The numbering continues where it was.
    const more = await writeSpread(
      reopened,
      sinks.map((s) => reopened.sink(s.key)),
      5,
      10,
      2,
    );
    const first = reopened.sink("p1/a");
    assert.deepEqual(await readAll(first, sinks[0]?.endSeq ?? 0), more.get(first));
    await reopened.close();
  });

  it("keeps exemplars and histograms as items of their series, in order with its samples, across rolls and a reopen", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sink = log.sink("p1/items");
    const base = seriesNamed("rq_duration_seconds");
    const want: string[] = [];
    for (let r = 0; r < 60; r++) {
      const record = log.record();
      // An item whose series has no float sample in the record still finds its series defined.
      const item = new Uint8Array(40).fill(r);
      record.add(sink, itemRef(base, item), 0, r);
      want.push(`item ${r}`);
      if (r % 2 === 0) {
        record.add(sink, base, r, r);
        want.push(`sample ${r}`);
      }
      await record.commit();
    }
    assert.ok(log.stats.segments > 1, "rolled over segments");
    const readBack = async (from: DurableLog): Promise<string[]> => {
      const batch = new SampleBatch<SeriesRef>(1000);
      const n = await from.sink("p1/items").read(0, batch);
      return Array.from({ length: n }, (_, i) => {
        const ref = batch.series[i];
        assert.equal(nameOf(ref), "rq_duration_seconds");
        return ref?.item === undefined ? `sample ${batch.values[i]}` : `item ${ref.item[0]}`;
      });
    };
    assert.deepEqual(await readBack(log), want);
    await log.close();
    const reopened = await openLog(dir);
    assert.deepEqual(await readBack(reopened), want, "from the series tables on disk");
    await reopened.close();
  });

  it("tells when every record appended so far is written and in its sinks' backlogs", async () => {
    const log = await openLog(await tempDir(dirs));
    const sink = log.sink("uid/out");
    await log.written();
    const record = log.record();
    record.add(sink, seriesNamed("a"), 1, 1);
    record.add(sink, seriesNamed("a"), 2, 2);
    const committed = record.commit();
    assert.equal(log.backlogOf("uid/out"), 0, "appended, not written yet");
    let written = false;
    const told = log.written().then(() => {
      written = true;
    });
    await Promise.resolve();
    assert.equal(written, false, "it waits for the write");
    await told;
    assert.equal(log.backlogOf("uid/out"), 2);
    await committed;
    await log.close();
  });

  it("makes room in the reader's batch only once the data is there, not while the read waits", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sink = log.sink("p1/a");
    const expected = (await writeSpread(log, [sink], 40, 20)).get(sink) ?? [];
    const batch = new SampleBatch<SeriesRef>(1000);
    const reading = sink.read(0, batch);
    assert.equal(batch.values.length, 0, "no arrays while waiting for the read");
    assert.equal(await reading, Math.min(1000, expected.length));
    assert.equal(batch.length, Math.min(1000, expected.length));
    await log.close();
  });

  it("reads for many sinks at once a few at a time: the others hold no arrays while they wait", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir, { segmentBytes: 1 << 20 });
    const sinks = Array.from({ length: 40 }, (_, i) => log.sink(`p/${i}`));
    const expected = await writeSpread(log, sinks, 200, 40);
    const batches = sinks.map(() => new SampleBatch<SeriesRef>(5000));
    const done = new Set<number>();
    const reads = sinks.map((sink, i) =>
      sink.read(0, batches[i] as SampleBatch<SeriesRef>).then((read) => {
        done.add(i);
        return read;
      }),
    );
    let most = 0;
    while (done.size < sinks.length) {
      const started = batches.filter((batch, i) => batch.values.length > 0 && !done.has(i)).length;
      most = Math.max(most, started);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const counts = await Promise.all(reads);
    sinks.forEach((sink, i) => {
      assert.equal(counts[i], Math.min(5000, expected.get(sink)?.length ?? 0));
    });
    assert.ok(most >= 1, "seen reading");
    assert.ok(most <= READ_WINDOWS, `${most} sinks read at once`);
    await log.close();
  });

  it("gives the next read to a sink whose series table is at hand, not to the next in line", async () => {
    const dir = await tempDir(dirs);
    const written = await openLog(dir, { segmentBytes: 8192 });
    await writeSpread(
      written,
      Array.from({ length: 60 }, (_, i) => written.sink(`p/${i}`)),
      300,
      30,
    );
    await written.close();
    // Reopened (no table at hand from writing) with room for two tables only: readers compete for them.
    const log = await openLog(dir, { segmentBytes: 8192, seriesTableCacheBytes: 0 });
    const sinks = Array.from({ length: 60 }, (_, i) => log.sink(`p/${i}`));
    assert.ok(log.stats.segments >= 12, `${log.stats.segments} segments`);
    // Sinks behind by different amounts, reading small batches: spread over many segments.
    const reads: Promise<number>[] = [];
    const starts = [0, 0.3, 0.6, 0.9].map((at) => sinks.map((sink) => Math.floor(sink.endSeq * at)));
    for (let round = 0; round < 4; round++) {
      sinks.forEach((sink, i) =>
        reads.push(sink.read(starts[(i + round) % 4]?.[i] ?? 0, new SampleBatch(20))),
      );
    }
    await Promise.all(reads);
    assert.ok(
      log.stats.tableLoads < reads.length / 2,
      `${log.stats.tableLoads} tables loaded for ${reads.length} reads in ${log.stats.segments} segments`,
    );
    const writer = new ExpositionWriter();
    writeBufferMetrics(writer, log);
    const exposition = writer.render();
    assert.match(exposition, new RegExp(`^telex_buffer_reads_total ${reads.length}$`, "m"));
    assert.match(
      exposition,
      new RegExp(`^telex_buffer_series_table_loads_total ${log.stats.tableLoads}$`, "m"),
    );
    assert.match(exposition, /^telex_buffer_readers_waiting 0$/m);
    await log.close();
  });

  it("keeps series tables up to a memory bound, not a count: each is loaded once while they fit", async () => {
    const dir = await tempDir(dirs);
    const writer = await openLog(dir, { segmentBytes: 8192 });
    await writeSpread(
      writer,
      Array.from({ length: 20 }, (_, i) => writer.sink(`p/${i}`)),
      200,
      30,
    );
    await writer.close();
    const log = await openLog(dir, { segmentBytes: 8192 });
    const sinks = Array.from({ length: 20 }, (_, i) => log.sink(`p/${i}`));
    const sealed = log.stats.segments - 1;
    assert.ok(sealed >= 8, `${sealed} sealed segments`);
    // Every sink reads its whole backlog in small batches, all sinks at once: reads hop between segments.
    await Promise.all(
      sinks.map(async (sink) => {
        for (let from = 0; from < sink.endSeq;)
          from += (await sink.read(from, new SampleBatch(7))) || sink.endSeq;
      }),
    );
    assert.ok(log.stats.reads > 4 * sealed, `${log.stats.reads} reads`);
    assert.ok(
      log.stats.tableLoads <= sealed + 1,
      `${log.stats.tableLoads} tables loaded for ${sealed} sealed segments`,
    );
    await log.close();
  });

  it("shares the router's refs of live series in the tables it loads, copies only the others", async () => {
    const dir = await tempDir(dirs);
    const first = await openLog(dir);
    const expected = (await writeSpread(first, [first.sink("p1/a")], 60, 20)).get(first.sink("p1/a")) ?? [];
    await first.close();
    const log = await openLog(dir);
    // The live series: those of even index, as a router's cache would hold them after a restart.
    const live = new Map<string, SeriesRef>();
    for (let i = 0; i < 50; i += 2) {
      const ref = seriesNamed(`series_${i}{seed="1"}`);
      live.set(nameOf(ref), ref);
    }
    log.internSeries = (labelBytes) => live.get(new TextDecoder().decode(labelBytes));
    const batch = new SampleBatch<SeriesRef>(100_000);
    assert.equal(await log.sink("p1/a").read(0, batch), expected.length);
    let shared = 0;
    let copied = 0;
    for (const ref of batch.series.slice(0, batch.length)) {
      const name = nameOf(ref);
      if (live.has(name)) {
        assert.equal(ref, live.get(name), `${name} is the live ref`);
        shared++;
      } else {
        assert.ok(ref !== undefined && !Array.from(live.values()).includes(ref));
        copied++;
      }
    }
    assert.ok(shared > 0 && copied > 0, `${shared} shared, ${copied} copied`);
    assert.deepEqual(
      Array.from({ length: batch.length }, (_, i) => nameOf(batch.series[i])),
      expected.map((sample) => sample.series),
    );
    await log.close();
  });

  it("keeps the labels of a loaded series table in a few buffers, not one per series", async () => {
    const dir = await tempDir(dirs);
    const first = await openLog(dir);
    const expected = (await writeSpread(first, [first.sink("p1/a")], 60, 20)).get(first.sink("p1/a")) ?? [];
    await first.close();
    const log = await openLog(dir);
    const batch = new SampleBatch<SeriesRef>(100_000);
    assert.equal(await log.sink("p1/a").read(0, batch), expected.length);
    const series = new Set(batch.series.slice(0, batch.length));
    const buffers = new Set([...series].map((ref) => ref?.labelBytes.buffer));
    assert.ok(series.size >= 40, `${series.size} series`);
    assert.ok(buffers.size <= log.stats.tableLoads, `${buffers.size} buffers for ${series.size} series`);
    assert.deepEqual(
      Array.from({ length: batch.length }, (_, i) => nameOf(batch.series[i])),
      expected.map((sample) => sample.series),
    );
    await log.close();
  });

  it("keeps a record's samples for the caller and names each sink's first sample with its seq", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const [a, b] = [log.sink("p/a"), log.sink("p/b")];
    const x = seriesNamed("x");
    const first = log.record();
    first.add(a, x, 1, 10);
    await first.commit();
    assert.deepEqual(first.firstEntries, [0, 0]);
    const record = log.record(2);
    record.add(b, x, 2, 20);
    record.add(a, x, 3, 30);
    record.add(b, x, 4, 40);
    assert.equal(record.size, 3);
    assert.deepEqual(
      [0, 1, 2].map((i) => [nameOf(record.seriesAt(i)), record.valueAt(i), record.timestampAt(i)]),
      [
        ["x", 2, 20],
        ["x", 3, 30],
        ["x", 4, 40],
      ],
    );
    await record.commit();
    // b's first sample is entry 0 at seq 0; a's is entry 1 at seq 1 (after the first record's).
    assert.deepEqual(record.firstEntries, [0, 0, 1, 1]);
    assert.deepEqual(
      (await readAll(a)).map((s) => s.value),
      [1, 3],
    );
    await log.close();
  });

  it("keeps every resolved commit when dropped without close() (kill-style reopen)", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sink = log.sink("p/s");
    const expected = await writeSpread(log, [sink], 40, 30);
    // No close(): the object is simply abandoned, as a killed process would leave it.
    const reopened = await openLog(dir);
    assert.equal(reopened.cleanStart, false);
    const again = reopened.sink("p/s");
    assert.equal(again.endSeq, sink.endSeq);
    assert.deepEqual(await readAll(again), expected.get(sink));
    assert.equal(reopened.stats.tornRecords, 0);
    await reopened.close();
  });

  it("persists committed positions and recovers them; a damaged newest slot falls back to the older copy", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sink = log.sink("p/s");
    assert.equal(sink.recovered, undefined);
    await writeSpread(log, [sink], 10, 10);
    sink.commit({ shards: 2, next: [3, 4] });
    await new Promise((resolve) => setImmediate(resolve));
    sink.commit({ shards: 2, next: [5, 9] });
    await log.close();

    let reopened = await openLog(dir);
    assert.deepEqual(reopened.sink("p/s").recovered, { shards: 2, next: [5, 9] });
    assert.equal(reopened.stats.positionRecoveries, 0);
    await reopened.close();

    // Damage the copy written last (generation 2 → slot parity 0 of sink 0).
    const path = join(dir, "positions");
    const file = await readFile(path);
    file[40] = (file[40] ?? 0) ^ 0xff;
    await writeFile(path, file);
    reopened = await openLog(dir);
    assert.deepEqual(
      reopened.sink("p/s").recovered,
      { shards: 2, next: [3, 4] },
      "older positions: resend, never skip",
    );
    assert.equal(reopened.stats.positionRecoveries, 1);
    assert.equal(file.length, 2 * SLOT_BYTES);
    await reopened.close();
  });

  it("deletes a segment only when every sink has passed it", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const a = log.sink("p/a");
    const b = log.sink("p/b");
    await writeSpread(log, [a, b], 60, 20);
    const segments = log.stats.segments;
    assert.ok(segments > 3);
    a.commit({ shards: 1, next: [a.endSeq] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(log.stats.segments, segments, "b still needs them");
    b.commit({ shards: 2, next: [b.endSeq, Math.floor(b.endSeq / 2)] });
    await new Promise((resolve) => setImmediate(resolve));
    const afterHalf = log.stats.segments;
    assert.ok(afterHalf < segments && afterHalf > 1, `some freed: ${segments} → ${afterHalf}`);
    assert.ok(b.startSeq <= Math.floor(b.endSeq / 2), "b's unsent half is still there");
    b.commit({ shards: 2, next: [b.endSeq, b.endSeq] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(log.stats.segments, 1, "only the active one is left");
    assert.ok(a.startSeq > 0 && a.startSeq <= a.endSeq, "a's start follows the deleted segments");
    await log.close();
    assert.equal((await readdir(dir)).filter((f) => f.endsWith(".seg")).length, 1);
  });

  it("trims the oldest samples of a sink over its bound, reporting exactly the undelivered range", async () => {
    const dir = await tempDir(dirs);
    const maxSamples = 100;
    const log = await openLog(dir, { sinkMaxBytes: maxSamples * SAMPLE_BYTES });
    const full = log.sink("p/full");
    const other = log.sink("p/other");
    const seen = trims(full);
    const otherSeen = trims(other);
    full.commit({ shards: 1, next: [0] });
    const series = seriesNamed("s");
    for (let r = 0; r < 30; r++) {
      const record = log.record();
      for (let i = 0; i < 10; i++) record.add(full, series, r * 10 + i, r);
      record.add(other, series, r, r);
      await record.commit();
      if (r === 5) full.commit({ shards: 1, next: [40] });
    }
    assert.equal(full.endSeq, 300);
    assert.equal(full.startSeq, 200);
    // Delivered up to 40 at the first trim: nothing below it is reported; the ranges are contiguous.
    assert.deepEqual(seen[0]?.slice(0, 1), [40]);
    let expectedFrom = 40;
    for (const [from, to, reason] of seen) {
      assert.equal(from, expectedFrom);
      assert.equal(reason, "buffer_full");
      expectedFrom = to;
    }
    assert.equal(expectedFrom, 200);
    assert.deepEqual(
      (await readAll(full)).map((s) => s.value),
      Array.from({ length: 100 }, (_, i) => 200 + i),
    );
    assert.deepEqual(otherSeen, []);
    await log.close();
    const reopened = await openLog(dir);
    assert.equal(reopened.sink("p/full").startSeq, 200, "the trim point survives a restart");
    await reopened.close();
  });

  it("deletes the oldest segment over the total bound, trimming every sink inside it", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir, { segmentBytes: 4096, totalMaxBytes: 3 * 4096 });
    const a = log.sink("p/a");
    const b = log.sink("p/b");
    const aSeen = trims(a);
    const bSeen = trims(b);
    const series = seriesNamed("s");
    for (let r = 0; r < 100; r++) {
      const record = log.record();
      for (let i = 0; i < 5; i++) record.add(a, series, r * 5 + i, r);
      record.add(b, series, r, r);
      await record.commit();
    }
    assert.ok(log.stats.diskBytes <= 3 * 4096, `disk ${log.stats.diskBytes}`);
    for (const [sink, seen] of [
      [a, aSeen],
      [b, bSeen],
    ] as const) {
      let from = 0;
      for (const [f, t, reason] of seen) {
        assert.equal(f, from);
        assert.equal(reason, "buffer_full");
        from = t;
      }
      assert.equal(from, sink.startSeq, "reported exactly up to the new start");
      assert.ok(sink.startSeq > 0);
      const read = await readAll(sink);
      assert.equal(read.length, sink.endSeq - sink.startSeq);
      assert.equal(read[0]?.value, sink === a ? sink.startSeq : sink.startSeq);
    }
    await log.close();
  });

  it("leaves minFreeDisk free on its volume: short of it, the oldest goes first as buffer_full", async () => {
    const dir = await tempDir(dirs);
    const clock = new ManualClock();
    let freeBytes = 1 << 30;
    const looks: number[] = [];
    const log = await openLog(dir, {
      clock,
      segmentBytes: 4096,
      minFreeDisk: { bytes: 1 << 20 },
      diskSpace: () => {
        looks.push(clock.now());
        return Promise.resolve({ freeBytes, totalBytes: 1 << 31 });
      },
    });
    assert.equal(log.stats.diskFreeBytes, 1 << 30, "looked at the volume when opened");
    assert.equal(log.stats.limitBytes, 1 << 24, "room: the total bound applies");
    const sink = log.sink("p/s");
    const seen = trims(sink);
    const series = seriesNamed("s");
    for (let r = 0; r < 200; r++) {
      const record = log.record();
      for (let i = 0; i < 5; i++) record.add(sink, series, r * 5 + i, r);
      await record.commit();
    }
    const held = log.stats.diskBytes;
    assert.ok(held > 6 * 4096, `the log holds several segments (${held} bytes)`);
    const trimmed = () => seen.length;
    assert.equal(trimmed(), 0, "nothing trimmed while there is room");
    // Something else fills the volume: what is free beyond the floor allows two segments less.
    freeBytes = (1 << 20) - 2 * 4096;
    await clock.advance(5_000);
    await eventually(() => log.stats.limitBytes === held - 2 * 4096, "the bound follows the free space");
    assert.ok(log.stats.diskBytes <= held - 2 * 4096, `disk ${log.stats.diskBytes}`);
    assert.ok(trimmed() > 0 && seen.every(([, , reason]) => reason === "buffer_full"));
    assert.equal(seen.at(-1)?.[1], sink.startSeq, "trims are reported exactly up to the new start");
    const read = await readAll(sink);
    assert.equal(read.length, sink.endSeq - sink.startSeq, "what is left reads back whole");
    assert.equal(read[0]?.value, sink.startSeq);
    // The volume has room again: the total bound applies again.
    freeBytes = 1 << 30;
    await clock.advance(5_000);
    await eventually(() => log.stats.limitBytes === 1 << 24, "the total bound again");
    assert.ok(looks.length >= 3);
    await log.close();
  });

  it("measures its volume with statfs by default", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    assert.ok(log.stats.diskFreeBytes > 0, `free ${log.stats.diskFreeBytes}`);
    const writer = new ExpositionWriter();
    writeBufferMetrics(writer, log);
    const text = writer.render();
    assert.match(text, /^telex_buffer_volume_free_bytes [1-9][0-9]*$/m);
    assert.match(text, /^telex_buffer_limit_bytes [1-9][0-9]*$/m);
    await log.close();
  });

  it("expires data older than maxBacklogAgeMs by append time", async () => {
    const dir = await tempDir(dirs);
    const clock = new ManualClock();
    const log = await openLog(dir, { clock, maxBacklogAgeMs: 3600_000 });
    const sink = log.sink("p/s");
    const seen = trims(sink);
    const arrivals: (ArrivalRange | undefined)[] = [];
    const counting = sink.onTrim;
    sink.onTrim = (from, to, reason, arrived) => {
      counting?.(from, to, reason);
      arrivals.push(arrived);
    };
    const started = clock.now();
    const series = seriesNamed("s");
    const add = async (count: number, base: number) => {
      const record = log.record();
      for (let i = 0; i < count; i++) record.add(sink, series, base + i, 0);
      await record.commit();
    };
    await add(10, 0);
    await clock.advance(1800_000);
    await add(10, 10);
    sink.commit({ shards: 1, next: [4] });
    await clock.advance(1800_000 + 1);
    log.sweep();
    assert.deepEqual(seen, [[4, 10, "expired"]]);
    assert.deepEqual(
      arrivals[0],
      { oldestMs: started, newestMs: started },
      "when the expired samples arrived",
    );
    assert.equal(sink.startSeq, 10);
    await clock.advance(3600_000);
    await add(5, 20);
    log.sweep();
    assert.deepEqual(seen[1], [10, 20, "expired"]);
    assert.deepEqual(
      (await readAll(sink)).map((s) => s.value),
      [20, 21, 22, 23, 24],
    );
    // The timer does it too.
    await clock.advance(3600_000 + 60_000);
    assert.deepEqual(seen[2], [20, 25, "expired"]);
    await log.close();
  });

  it("removeSink gives up its backlog and frees what only it held", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const gone = log.sink("p/gone");
    const kept = log.sink("p/kept");
    await writeSpread(log, [gone], 50, 20);
    const segments = log.stats.segments;
    gone.commit({ shards: 1, next: [100] });
    assert.equal(log.removeSink("p/gone"), gone.endSeq - 100);
    assert.equal(log.removeSink("p/gone"), 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(log.stats.segments < segments);
    assert.equal(log.stats.segments, 1);
    const again = log.sink("p/gone");
    assert.equal(again.endSeq, 0, "a new sink under the old key starts afresh");
    assert.notEqual(again, gone);
    await writeSpread(log, [kept, again], 3, 5);
    await log.close();
    const reopened = await openLog(dir);
    assert.equal(reopened.sink("p/gone").endSeq, again.endSeq);
    await reopened.close();
  });

  it("with syncIntervalMs 0 resolves a commit only after a sync covering it; otherwise on the timer", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir, { syncIntervalMs: 0 });
    const sink = log.sink("p/s");
    const syncsBefore = log.stats.syncs;
    const record = log.record();
    record.add(sink, seriesNamed("s"), 1, 1);
    let resolved = false;
    const done = record.commit().then(() => {
      resolved = true;
    });
    assert.equal(resolved, false);
    await done;
    assert.ok(log.stats.syncs > syncsBefore, "synced before resolving");
    await log.close();

    const clock = new ManualClock();
    const timed = await openLog(await tempDir(dirs), { clock, syncIntervalMs: 1000 });
    const timedSink = timed.sink("p/s");
    const before = timed.stats.syncs;
    const second = timed.record();
    second.add(timedSink, seriesNamed("s"), 1, 1);
    await second.commit();
    assert.equal(timed.stats.syncs, before, "acknowledged on write(2), before any sync");
    await clock.advance(1000);
    // The timer starts the fsync; on a loaded machine it takes more than a few milliseconds.
    await eventually(() => timed.stats.syncs === before + 1, "synced once the interval passed");
    assert.equal(timed.stats.syncs, before + 1);
    await timed.close();
  });

  it("reports the seqs of a damaged sealed segment as corrupt and reads on after them", async () => {
    const dir = await tempDir(dirs);
    const log = await openLog(dir);
    const sink = log.sink("p/s");
    const expected = (await writeSpread(log, [sink], 60, 20)).get(sink) ?? [];
    await log.close();
    const segments = (await readdir(dir)).filter((f) => f.endsWith(".seg")).sort();
    const victim = join(dir, segments[1] ?? "");
    const bytes = await readFile(victim);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x40;
    await writeFile(victim, bytes);

    const reopened = await openLog(dir);
    assert.equal(reopened.stats.corruptRecords, 1);
    const again = reopened.sink("p/s");
    const seen = trims(again);
    assert.equal(again.endSeq, expected.length, "numbering unchanged");
    const read = await readAll(again);
    assert.equal(seen.length, 1);
    const [[from, to, reason] = [0, 0, "corrupt"]] = seen;
    assert.equal(reason, "corrupt");
    assert.ok(to > from);
    assert.deepEqual(read, [...expected.slice(0, from), ...expected.slice(to)]);
    await reopened.close();
  });
});
