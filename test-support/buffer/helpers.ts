// Shared by the buffer tests: temp dirs, series, and reading a sink whole.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SeriesRef } from "../../src/exporter/series.js";
import { SampleBatch } from "../../src/exporter/sink/queue.js";
import type { SinkLog } from "../../src/exporter/buffer/log.js";

export async function tempDir(dirs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "telex-buffer-"));
  dirs.push(dir);
  return dir;
}

export async function removeAll(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

export function seriesNamed(name: string): SeriesRef {
  return { labelBytes: new TextEncoder().encode(name) };
}

export function nameOf(ref: SeriesRef | undefined): string {
  return ref === undefined ? "<none>" : new TextDecoder().decode(ref.labelBytes);
}

export interface ReadSample {
  readonly series: string;
  readonly value: number;
  readonly timestamp: number;
}

/**
 * Reads everything of a sink from `from` on with small batches (so reads
 * cross sections and segments), moving its cursor past ranges the log
 * reports as given up, as a pipeline does.
 */
export async function readAll(sink: SinkLog, from = 0, batchSize = 37): Promise<ReadSample[]> {
  const out: ReadSample[] = [];
  let seq = from;
  const previous = sink.onTrim;
  sink.onTrim = (trimFrom, trimTo, reason) => {
    previous?.(trimFrom, trimTo, reason);
    if (seq >= trimFrom && seq < trimTo) seq = trimTo;
  };
  const batch = new SampleBatch<SeriesRef>(batchSize);
  try {
    for (;;) {
      seq = Math.max(seq, sink.startSeq);
      batch.clear();
      const before = seq;
      const n = await sink.read(seq, batch);
      if (n === 0 && seq >= sink.endSeq) return out;
      if (n === 0 && seq === before)
        throw new Error(`read(${seq}) found nothing below endSeq ${sink.endSeq}`);
      for (let i = 0; i < n; i++) {
        // Every sample carries its seq: the pipeline tracks delivery by it.
        if (batch.seqs[i] !== seq + i)
          throw new Error(`sample ${i} of read(${seq}) has seq ${batch.seqs[i]}`);
        out.push({
          series: nameOf(batch.series[i]),
          value: batch.values[i] ?? NaN,
          timestamp: batch.timestamps[i] ?? NaN,
        });
      }
      seq += n;
    }
  } finally {
    sink.onTrim = previous;
  }
}
