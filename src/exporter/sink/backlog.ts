// The contract between a sink's delivery pipeline and the durable log that
// holds its samples on disk (src/exporter/buffer/). Without a backlog a sink
// runs from memory alone, as in pull mode and with `--buffer=memory`.
//
// Every sample a sink receives has a sequence number (seq): 0, 1, 2, … in
// the order the sink received it, per sink, continued across restarts. The
// log assigns the same numbers as the pipeline because both count the same
// samples in the same order: the log when it writes a record, the pipeline
// when the record's samples are handed to it after the write.
import type { SeriesRef } from "../series.js";
import type { SampleBatch } from "./queue.js";

/** Where each shard of a sink has got to; what a restart resumes from. */
export interface ShardPositions {
  /** The shard count the positions were taken with (a series goes to shard crc32(labels) % shards). */
  readonly shards: number;
  /**
   * Per shard: every sample of that shard with a smaller seq is delivered or
   * dropped for good. The sink's low watermark is the minimum.
   */
  readonly next: readonly number[];
}

/** Why the log itself gave up samples before the sink could read them. */
export type BacklogTrimReason = "buffer_full" | "expired" | "corrupt";

/** When trimmed samples arrived (epoch ms): what an Event about expired data names. */
export interface ArrivalRange {
  readonly oldestMs: number;
  readonly newestMs: number;
}

export type TrimListener = (
  fromSeq: number,
  toSeq: number,
  reason: BacklogTrimReason,
  arrived?: ArrivalRange,
) => void;

export interface SinkBacklog {
  /** The oldest seq the log still holds; anything below was trimmed. */
  readonly startSeq: number;
  /** One past the newest seq written; equals the samples the sink has received over its life. */
  readonly endSeq: number;
  /**
   * The latest positions: of the last commit in this run, else as recovered
   * at start; undefined for a new sink. A pipeline replacing another one on
   * the same sink resumes from here.
   */
  readonly recovered: ShardPositions | undefined;
  /**
   * Reads samples with seq from `from` on into `batch` (appending, at most
   * batch.capacity − batch.length), in seq order. Resolves with how many were
   * read; 0 only when from ≥ endSeq. `from` below startSeq reads from startSeq
   * on: the caller learns of the gap through onTrim.
   */
  read(from: number, batch: SampleBatch<SeriesRef>): Promise<number>;
  /** Records delivery progress: persisted soon (and synced with the log), releases what all shards passed. */
  commit(positions: ShardPositions): void;
  /**
   * Called by the log when it trims [fromSeq, toSeq) of this sink (bounds,
   * age, corruption). The pipeline counts what it had not delivered yet. For
   * "expired", `arrived` is when the first and last of them were written.
   */
  onTrim: TrimListener | undefined;
}
