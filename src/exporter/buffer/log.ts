// The durable log: ONE append-only log (segments) shared by every sink, with
// a position per sink (design section 3; measured against a buffer per sink
// in bench/buffer.ts). Ingest builds one record per request, and answers 2xx
// only when commit() resolves, i.e. when the record is written with write(2)
// (or synced, with syncIntervalMs 0).
//
// Not done here (yet): the design's spill tier. Without it a dead sink pins
// the segments holding its data up to its own bound (sinkMaxBytes); the
// total bound then deletes the oldest segment regardless and trims every
// sink positioned inside it.
//
// Memory: per sink, an index of its sections (8 bytes per section in typed
// arrays, not per sample), per segment the append time and offset of each record, and
// the series tables of the active segment and of a few recently read ones.
// Samples themselves are only ever in memory while being written or read.
import { constants } from "node:fs";
import { mkdir, open, readdir, rm, stat, statfs, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { silentLogger, systemClock, type Logger, type Clock, type TimerHandle } from "../../util/index.js";
import { itemRef, type SeriesRef } from "../series.js";
import type { BacklogTrimReason, ShardPositions, SinkBacklog, TrimListener } from "../sink/backlog.js";
import type { SampleBatch } from "../sink/queue.js";
import { lockDirectory } from "./lock.js";
import {
  DEFAULT_MAX_BACKLOG_AGE_MS,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MIN_FREE_DISK,
  DISK_CHECK_INTERVAL_MS,
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SINK_MAX_BYTES,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TOTAL_MAX_BYTES,
  EXPIRY_SWEEP_INTERVAL_MS,
  MAX_SEGMENT_BYTES,
  READ_GAP_BYTES,
  type DiskFloor,
  READ_WINDOW_BYTES,
  READ_WINDOWS,
  POINTER_BYTES,
  SERIES_TABLE_BYTES_PER_SERIES,
  SERIES_TABLE_CACHE_BYTES,
  SERIES_TABLE_CACHE_MIN,
} from "./defaults.js";
import { Float64List, Uint32List } from "./lists.js";
import { MAX_SHARDS, recoverSlot, writeSlot } from "./positions.js";
import {
  FRAME_BYTES,
  RecordFormatError,
  RECORD_CHECKPOINT,
  RECORD_SAMPLES,
  SAMPLE_BYTES,
  SAMPLES_HEAD_BYTES,
  SECTION_ENTRY_BYTES,
  checkpointBodyBytes,
  checkpointEntries,
  definitionBytes,
  forEachDefinition,
  recordType,
  samplesBodyBytes,
  samplesLayout,
  sealFrame,
  writeCheckpoint,
  writeDefinition,
  writeItemDefinition,
  writeSampleAt,
  writeSamplesHead,
  writeSectionEntry,
} from "./record.js";
import { syncDirectory } from "../util/durable-file.js";
import { SinkRegistry, asError } from "./registry.js";
import {
  SEGMENT_HEADER_BYTES,
  decodeSegmentHeader,
  encodeSegmentHeader,
  parseSegmentFileName,
  readFully,
  scanSegment,
  segmentFileName,
  writeFully,
} from "./segment.js";

export interface DurableLogOptions {
  /** E.g. `<data-dir>/buffer`; created if absent. */
  readonly dir: string;
  /** Sync the active segment this often; 0 = commit() resolves only after a sync covering the record. */
  readonly syncIntervalMs?: number;
  readonly segmentBytes?: number;
  /** Memory for cached series tables of sealed segments (default SERIES_TABLE_CACHE_BYTES). */
  readonly seriesTableCacheBytes?: number;
  /** Per sink: bytes of its samples from its low watermark to the end. */
  readonly sinkMaxBytes?: number;
  readonly totalMaxBytes?: number;
  /** By the record's append time, not the samples' timestamps. */
  readonly maxBacklogAgeMs?: number;
  /** Above this many encoded bytes not yet written, `overloaded` is true (ingest answers 429). */
  readonly maxPendingBytes?: number;
  /** Free space to leave on the volume: below it the total bound shrinks to fit (oldest first, buffer_full). */
  readonly minFreeDisk?: DiskFloor;
  /** How free space is measured (tests give their own); statfs(2) of dir by default. */
  readonly diskSpace?: (dir: string) => Promise<DiskSpace>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use. */
  readonly freeBytes: number;
  readonly totalBytes: number;
}

async function statDiskSpace(dir: string): Promise<DiskSpace> {
  const fs = await statfs(dir);
  return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
}

/** Plain numbers for /metrics. */
export interface LogStats {
  diskBytes: number;
  /** Free bytes on the log's volume at the last look (-1 before the first). */
  diskFreeBytes: number;
  /** What the log may hold now: the total bound, or less when the volume's free space is short. */
  limitBytes: number;
  segments: number;
  appendedBytes: number;
  appendedRecords: number;
  syncs: number;
  syncSeconds: number;
  writeErrors: number;
  syncErrors: number;
  tornRecords: number;
  tornBytes: number;
  corruptRecords: number;
  corruptBytes: number;
  /** Position slots found damaged at open (an older copy, or none, was used). */
  positionRecoveries: number;
  /** Reads of a sink's samples (SinkLog.read), and series tables of sealed segments loaded from disk for them. */
  reads: number;
  tableLoads: number;
  /** Samples given up with their sink: its policy or the sink itself was deleted (removeSink). */
  abandonedSamples: number;
}

export interface LogRecord {
  add(sink: SinkLog, series: SeriesRef, value: number, timestampMs: number): void;
  /** Samples added so far; seriesAt/valueAt/timestampAt read them back in add() order. */
  readonly size: number;
  seriesAt(index: number): SeriesRef;
  valueAt(index: number): number;
  timestampAt(index: number): number;
  /**
   * Once commit() resolved: flat pairs [index, seq, …], in add() order, for
   * the first sample of each sink in the record (by index) and the seq it got
   * in that sink; the sink's later samples in the record follow in add() order.
   * Samples of a sink removed meanwhile have none.
   */
  readonly firstEntries: readonly number[];
  /**
   * Resolves once the record is written with write(2) (or synced, with
   * syncIntervalMs 0). Records resolve in append order. After it resolves,
   * sink.endSeq covers the record's samples. Rejects (e.g. ENOSPC/EIO) having
   * counted nothing: the caller answers 503. An empty record resolves at once.
   */
  commit(): Promise<void>;
  /**
   * The caller is done with the record (its commit settled and its samples
   * were read back): the log reuses it for a later record. Not to be touched
   * after.
   */
  release(): void;
}

export class DurableLogClosedError extends Error {
  override readonly name = "DurableLogClosedError";
}

const CLEAN_SHUTDOWN = "clean-shutdown";
const REGISTRY_FILE = "sinks.json";
const REGISTRY_FLUSH_INTERVAL_MS = 1000;
const POSITIONS_FILE = "positions";

/** Series memo stamps must differ between logs in one process (tests reopen logs with the same refs). */
let nextTableId = 1;

class Segment {
  readonly tableId = nextTableId++;
  /** Bytes in the file (written with write(2)). */
  size = 0;
  synced = 0;
  /** Append time of each written record, the checkpoint included: expiry looks records up here. */
  readonly appendTimes = new Float64List();
  /** File offset of each written record, parallel to appendTimes: what a section's record is found by. */
  readonly recordStarts = new Uint32List();
  /** File offset and length of each written definitions area, in order: what a series table is loaded from. */
  readonly defOffsets: number[] = [];
  readonly defLengths: number[] = [];
  readonly sinks = new Map<SinkState, SinkSegment>();
  /** id → series, while the writer still defines series in this segment (or until it is cached on roll). */
  writerTable: SeriesRef[] | undefined;
  /** Encoder state: bytes and records given to the writer so far. */
  encodedBytes = 0;
  encodedRecords = 0;
  readHandle: Promise<FileHandle> | undefined;
  readers = 0;
  deleted = false;

  constructor(
    readonly firstLsn: number,
    readonly path: string,
  ) {}

  /** Number of the record holding the byte at `offset`. */
  recordAt(offset: number): number {
    let low = 0;
    let high = this.recordStarts.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.recordStarts.at(mid) <= offset) low = mid + 1;
      else high = mid;
    }
    return Math.max(0, low - 1);
  }

  /** Sealed: its sink segments will not grow. */
  compact(): void {
    for (const sinkSegment of this.sinks.values()) sinkSegment.compact();
    this.appendTimes.compact();
    this.recordStarts.compact();
  }
}

/**
 * One sink's sections in one segment, in seq order, contiguous: a section
 * starts where the one before it ended, so its count follows from the next
 * one's first seq and its record from its file offset. What is kept per
 * section is 8 bytes (the 1 GiB backlog at 1,000 sinks holds about
 * 15 M sections). A gap in the seqs (recovery found records lost) starts a
 * new sink segment for the same segment.
 */
class SinkSegment {
  endSeq: number;
  /** First seq of each section, less this sink segment's firstSeq (a segment holds far fewer than 2³² samples). */
  private readonly seqDeltas = new Uint32List();
  /** File offset of each section's first sample (segments stay below 4 GiB: see MAX_SEGMENT_BYTES). */
  private readonly offsets = new Uint32List();

  constructor(
    readonly segment: Segment,
    readonly firstSeq: number,
  ) {
    this.endSeq = firstSeq;
  }

  get sections(): number {
    return this.seqDeltas.length;
  }

  firstSeqAt(section: number): number {
    return this.firstSeq + this.seqDeltas.at(section);
  }

  countAt(section: number): number {
    const end = section + 1 < this.seqDeltas.length ? this.firstSeqAt(section + 1) : this.endSeq;
    return end - this.firstSeqAt(section);
  }

  offsetAt(section: number): number {
    return this.offsets.at(section);
  }

  /** When the record holding the section was appended. */
  appendTimeAt(section: number): number {
    return this.segment.appendTimes.at(this.segment.recordAt(this.offsets.at(section)));
  }

  add(firstSeq: number, count: number, offset: number): void {
    if (firstSeq !== this.endSeq)
      throw new Error(`section at seq ${firstSeq} does not follow ${this.endSeq}`);
    this.seqDeltas.push(firstSeq - this.firstSeq);
    this.offsets.push(offset);
    this.endSeq = firstSeq + count;
  }

  /** The segment is sealed: no more sections, so no spare room either. */
  compact(): void {
    this.seqDeltas.compact();
    this.offsets.compact();
  }

  /** Index of the first section that ends after seq (sections if none). */
  sectionAfter(seq: number): number {
    if (seq >= this.endSeq) return this.sections;
    // The last section whose first seq is at most seq holds it (sections are contiguous).
    let low = 0;
    let high = this.seqDeltas.length;
    const delta = seq - this.firstSeq;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.seqDeltas.at(mid) <= delta) low = mid + 1;
      else high = mid;
    }
    return Math.max(0, low - 1);
  }
}

/** A sink's state inside the log; SinkLog is its public face. */
class SinkState {
  startSeq = 0;
  endSeq = 0;
  /** Seqs handed to records being written: endSeq catches up when they are. */
  assignedSeq = 0;
  recovered: ShardPositions | undefined;
  committed: ShardPositions | undefined;
  readonly segments: SinkSegment[] = [];
  /** Seqs lost to damage, to be reported through onTrim(…, "corrupt"). */
  readonly lostRanges: { from: number; to: number }[] = [];
  slotGeneration = 0;
  removed = false;
  view: SinkLog | undefined;
  /** Scratch of the record being encoded (see DurableLog.append). */
  mark = 0;
  pendingCount = 0;
  cursor = 0;
  recordFirstSeq = 0;

  constructor(
    readonly key: string,
    readonly index: number,
  ) {}

  /** Below this every sample is delivered or given up. */
  lowWatermark(): number {
    const positions = this.committed ?? this.recovered;
    let low = positions === undefined ? 0 : Infinity;
    for (const next of positions?.next ?? []) low = Math.min(low, next);
    return Math.max(this.startSeq, low === Infinity ? 0 : low);
  }

  /** The sink segment a section starting at firstSeq in `segment` is added to. */
  lastSegment(segment: Segment, firstSeq: number): SinkSegment {
    const last = this.segments[this.segments.length - 1];
    if (last?.segment === segment && last.endSeq === firstSeq) return last;
    const created = new SinkSegment(segment, firstSeq);
    this.segments.push(created);
    segment.sinks.set(this, created);
    return created;
  }
}

export class SinkLog implements SinkBacklog {
  onTrim: TrimListener | undefined;

  /** Internal to the buffer package. */
  constructor(
    readonly state: SinkState,
    private readonly log: DurableLog,
  ) {}

  get key(): string {
    return this.state.key;
  }
  get startSeq(): number {
    return this.state.startSeq;
  }
  get endSeq(): number {
    return this.state.endSeq;
  }
  /** Bytes of the sink's samples the log still holds for it (their series definitions are shared, so not counted). */
  get bytes(): number {
    return Math.max(0, this.state.endSeq - this.state.lowWatermark()) * SAMPLE_BYTES;
  }
  /** The latest positions: committed in this run, else recovered at open (a replacing pipeline resumes here). */
  get recovered(): ShardPositions | undefined {
    return this.state.committed ?? this.state.recovered;
  }

  read(from: number, batch: SampleBatch<SeriesRef>): Promise<number> {
    return this.log.readSink(this.state, from, batch);
  }

  commit(positions: ShardPositions): void {
    this.log.commitPositions(this.state, positions);
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The records of one turn, encoded into one buffer and written with one
 * write(2). Reused once written (see DurableLog.spareBatches): a thousand
 * sinks' sections made each batch tens of kilobytes of arrays.
 */
class Batch {
  segment!: Segment;
  fileOffset = 0;
  buf!: Buffer;
  /** Over buf, for the samples (DataView writes are cheaper than Buffer's checked ones). */
  view!: DataView;
  length = 0;
  inFlight = false;
  readonly waiters: Waiter[] = [];
  readonly appendTimes: number[] = [];
  /** File offset of each record, parallel to appendTimes. */
  readonly recordStarts: number[] = [];
  /** The sink of each section, and per section its firstSeq, count and file offset (3 numbers). */
  readonly sectionSinks: (SinkState | undefined)[] = [];
  readonly sections = new Float64List(3 * 1024);
  sectionCount = 0;
  readonly defAreas: number[] = [];
  lastLsn = 0;

  reset(segment: Segment, fileOffset: number, buf: Buffer): void {
    this.segment = segment;
    this.fileOffset = fileOffset;
    this.buf = buf;
    this.view = viewOf(buf);
    this.length = 0;
    this.inFlight = false;
    this.waiters.length = 0;
    this.appendTimes.length = 0;
    this.recordStarts.length = 0;
    this.sectionSinks.fill(undefined, 0, this.sectionCount);
    this.sectionCount = 0;
    this.sections.clear();
    this.defAreas.length = 0;
    this.lastLsn = 0;
  }

  addSection(sink: SinkState, firstSeq: number, count: number, offset: number): void {
    const at = this.sectionCount++;
    this.sectionSinks[at] = sink;
    this.sections.push(firstSeq);
    this.sections.push(count);
    this.sections.push(offset);
  }
}

/** A sink waiting for its turn to read, and the segment its read starts in. */
interface ReaderWaiter {
  readonly segment: Segment | undefined;
  readonly start: () => void;
  /** Turns given to readers behind it: past MAX_READER_BYPASSES it goes next. */
  bypassed: number;
}

/**
 * How often a waiting reader may be passed over for one whose series table
 * is at hand: each turn is one read, so the wait this adds stays bounded.
 */
const MAX_READER_BYPASSES = 64;

interface SyncWaiter extends Waiter {
  readonly segment: Segment;
  readonly end: number;
}

/**
 * A record being built: the samples in parallel arrays, values and
 * timestamps in typed arrays. Records are reused (see DurableLog.record and
 * release()): one per request was megabytes a second of arrays for the
 * garbage collector at 1,000 policies.
 */
class PendingRecord implements LogRecord {
  readonly sinks: (SinkState | undefined)[] = [];
  readonly series: (SeriesRef | undefined)[] = [];
  readonly values: Float64List;
  readonly timestamps: Float64List;
  length = 0;
  /** Filled by DurableLog.append when the record is encoded. */
  readonly firstEntries: number[] = [];

  constructor(
    private readonly log: DurableLog,
    capacity: number,
  ) {
    this.values = new Float64List(capacity);
    this.timestamps = new Float64List(capacity);
  }

  get size(): number {
    return this.length;
  }

  seriesAt(index: number): SeriesRef {
    const series = index < this.length ? this.series[index] : undefined;
    if (series === undefined) throw new RangeError(`no sample ${index} in the record`);
    return series;
  }

  valueAt(index: number): number {
    return index < this.length ? this.values.at(index) : NaN;
  }

  timestampAt(index: number): number {
    return index < this.length ? this.timestamps.at(index) : NaN;
  }

  add(sink: SinkLog, series: SeriesRef, value: number, timestampMs: number): void {
    const at = this.length;
    this.sinks[at] = sink.state;
    this.series[at] = series;
    this.values.push(value);
    this.timestamps.push(timestampMs);
    this.length = at + 1;
  }

  commit(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return this.log.append(this);
  }

  release(): void {
    this.log.recycle(this);
  }

  /** Empties the record for its next use; its arrays stay. */
  reset(): void {
    this.sinks.fill(undefined, 0, this.length);
    this.series.fill(undefined, 0, this.length);
    this.length = 0;
    this.values.clear();
    this.timestamps.clear();
    this.firstEntries.length = 0;
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

/** Records kept for reuse: about as many as requests are written at once. */
const SPARE_RECORDS = 16;
/** A record grown beyond this many samples is not kept (its arrays would stay that large). */
const SPARE_RECORD_MAX_SAMPLES = 65_536;
/** Written batches kept for reuse (their arrays). */
const SPARE_BATCHES = 4;
/** Batch buffers kept for reuse once written, and the largest kept. */
const SPARE_BUFFERS = 4;
const SPARE_BUFFER_MAX_BYTES = 4 * 1024 * 1024;
const BATCH_MIN_BYTES = 64 * 1024;

export class DurableLog {
  readonly stats: LogStats = {
    diskBytes: 0,
    diskFreeBytes: -1,
    limitBytes: 0,
    segments: 0,
    appendedBytes: 0,
    appendedRecords: 0,
    syncs: 0,
    syncSeconds: 0,
    writeErrors: 0,
    syncErrors: 0,
    tornRecords: 0,
    tornBytes: 0,
    corruptRecords: 0,
    corruptBytes: 0,
    positionRecoveries: 0,
    reads: 0,
    tableLoads: 0,
    abandonedSamples: 0,
  };
  /** Whether the previous run ended with close(): if not, the end of the log may be resent (replays). */
  readonly cleanStart: boolean;

  private readonly syncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly seriesTableCacheBytes: number;
  private readonly sinkMaxSamples: number;
  private readonly totalMaxBytes: number;
  private readonly maxBacklogAgeMs: number;
  private readonly maxPendingBytes: number;
  private readonly minFreeDisk: DiskFloor;
  private readonly diskSpace: (dir: string) => Promise<DiskSpace>;
  /** The total bound the free space allows (Infinity until measured, or while there is room). */
  private diskLimitBytes = Infinity;
  private diskChecking: Promise<void> | undefined;
  private diskTimer: TimerHandle | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;

  private readonly sinksByKey = new Map<string, SinkState>();
  private readonly segments: Segment[] = [];
  /** The segment the writer writes into, and its file. */
  private active: Segment | undefined;
  private activeHandle: FileHandle | undefined;
  /** The segment new records are encoded into: the active one, or the next after a roll is decided. */
  private encoding: Segment | undefined;
  private nextLsn = 1;
  private lastWrittenLsn = 0;
  /** written() callers, by the LSN of the last record appended before their call. */
  private writtenWaiters: { readonly lsn: number; readonly resolve: () => void }[] = [];
  private lastAppendTime = 0;
  private encodeMark = 0;
  private pending = 0;
  private readonly queue: Batch[] = [];
  private readonly spareRecords: PendingRecord[] = [];
  private readonly spareBatches: Batch[] = [];
  /** Scratch of append: the series a record defines in its segment. */
  private readonly freshRefs: SeriesRef[] = [];
  /** Scratch of append: the record's sinks, in order of first sample (stale past the record's count). */
  private readonly recordSinks: SinkState[] = [];
  /** Written batches' buffers, for the next batches (see SPARE_BUFFERS). */
  private readonly spareBuffers: Buffer[] = [];
  private writing: Promise<void> | undefined;
  private writeScheduled = false;
  private rollNeeded = false;
  private broken: Error | undefined;
  private closed = false;

  private syncing: Promise<void> | undefined;
  private syncWaiters: SyncWaiter[] = [];
  private positionsUnsynced = false;
  private readonly dirtySlots = new Set<SinkState>();
  private positionsWriting: Promise<void> | undefined;
  private housekeepingScheduled = false;
  private registryTimer: TimerHandle | undefined;
  private lastRegistryFlushMs = 0;
  /**
   * Finds a live series with these label bytes (the router's cache): a table
   * loaded for readers points at it instead of holding its own copy. The
   * segments of a backlog define mostly the same series again and again; a
   * thousand sinks draining one held a copy of every series per segment.
   */
  internSeries: ((labelBytes: Uint8Array) => SeriesRef | undefined) | undefined;
  private readonly tables = new Map<Segment, Promise<SeriesRef[]>>();
  /** What a loaded table holds of its own (labels not shared, objects, views), for the cache's bound. */
  private readonly loadedTableBytes = new WeakMap<readonly SeriesRef[], number>();
  /** What each loaded table of `tables` takes in memory (an estimate), and their sum. */
  private readonly tableBytes = new Map<Segment, number>();
  private cachedTableBytes = 0;
  /** Read windows not in use, and readers waiting for one: at most READ_WINDOWS exist. */
  private readonly freeWindows: Buffer[] = [];
  private readonly windowWaiters: ((window: Buffer) => void)[] = [];
  private windowsMade = 0;
  /** Sinks reading now, and those waiting for their turn: at most READ_WINDOWS read at once. */
  private readersActive = 0;
  private readonly readerWaiters: ReaderWaiter[] = [];
  private readonly unlinks = new Set<Promise<void>>();
  private syncTimer: TimerHandle | undefined;
  private sweepTimer: TimerHandle | undefined;
  private unlock: () => Promise<void> = () => Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly registry: SinkRegistry,
    private readonly positionsHandle: FileHandle,
    cleanStart: boolean,
    options: DurableLogOptions,
  ) {
    this.cleanStart = cleanStart;
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.seriesTableCacheBytes = options.seriesTableCacheBytes ?? SERIES_TABLE_CACHE_BYTES;
    this.sinkMaxSamples = Math.floor((options.sinkMaxBytes ?? DEFAULT_SINK_MAX_BYTES) / SAMPLE_BYTES);
    this.totalMaxBytes = options.totalMaxBytes ?? DEFAULT_TOTAL_MAX_BYTES;
    this.maxBacklogAgeMs = options.maxBacklogAgeMs ?? DEFAULT_MAX_BACKLOG_AGE_MS;
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.minFreeDisk = options.minFreeDisk ?? DEFAULT_MIN_FREE_DISK;
    this.diskSpace = options.diskSpace ?? statDiskSpace;
    this.stats.limitBytes = this.totalMaxBytes;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    if (this.syncIntervalMs < 0) throw new RangeError("syncIntervalMs must be ≥ 0");
    if (this.segmentBytes < 4096) throw new RangeError("segmentBytes must be ≥ 4096");
    if (this.segmentBytes > MAX_SEGMENT_BYTES)
      throw new RangeError(`segmentBytes must be ≤ ${MAX_SEGMENT_BYTES}`);
    if (this.totalMaxBytes < 2 * this.segmentBytes)
      throw new RangeError("totalMaxBytes must hold at least two segments");
  }

  /** Opens the log in options.dir, recovering what a previous run left (torn tails are cut and counted). */
  static async open(options: DurableLogOptions): Promise<DurableLog> {
    const dir = options.dir;
    await mkdir(dir, { recursive: true });
    const unlock = await lockDirectory(dir);
    try {
      return await DurableLog.openLocked(options, unlock);
    } catch (error: unknown) {
      await unlock();
      throw error;
    }
  }

  private static async openLocked(
    options: DurableLogOptions,
    unlock: () => Promise<void>,
  ): Promise<DurableLog> {
    const dir = options.dir;
    const marker = join(dir, CLEAN_SHUTDOWN);
    const cleanStart = await exists(marker);
    await rm(marker, { force: true });
    const registry = await SinkRegistry.open(join(dir, REGISTRY_FILE));
    const positionsHandle = await open(
      join(dir, POSITIONS_FILE),
      constants.O_RDWR | constants.O_CREAT,
      0o644,
    );
    try {
      const log = new DurableLog(dir, registry, positionsHandle, cleanStart, options);
      log.unlock = unlock;
      await log.recover();
      return log;
    } catch (error: unknown) {
      await positionsHandle.close();
      throw error;
    }
  }

  /** The sink's view, created on first use, stable across restarts by key (`${policyUid}/${sinkName}`). */
  sink(key: string): SinkLog {
    let state = this.sinksByKey.get(key);
    if (state === undefined) {
      state = new SinkState(key, this.registry.indexOf(key));
      this.sinksByKey.set(key, state);
      this.scheduleHousekeeping();
    }
    state.view ??= new SinkLog(state, this);
    return state.view;
  }

  /**
   * Samples of the sink's backlog not yet delivered or given up; 0 for a key the log does not hold.
   * In a fleet, what a replica still holds of a policy another replica runs now (see Exporter.forwardTo).
   */
  backlogOf(key: string): number {
    const state = this.sinksByKey.get(key);
    return state === undefined ? 0 : Math.max(0, state.endSeq - state.lowWatermark());
  }

  /**
   * Resolves once every record appended before the call is written and its
   * sections are in their sinks' backlogs (not necessarily synced), or has
   * failed (its append rejected: nothing of it was acknowledged). A fleet's
   * draining sink waits for it before it is forgotten: a record routed to it
   * before its policy moved away may still be on its way.
   */
  written(): Promise<void> {
    const lsn = this.nextLsn - 1;
    if (lsn <= this.lastWrittenLsn || this.closed || this.broken !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.writtenWaiters.push({ lsn, resolve });
    });
  }

  private resolveWritten(all: boolean): void {
    if (this.writtenWaiters.length === 0) return;
    const written = this.lastWrittenLsn;
    const done = all ? this.writtenWaiters : this.writtenWaiters.filter((w) => w.lsn <= written);
    if (done.length === 0) return;
    this.writtenWaiters = all ? [] : this.writtenWaiters.filter((w) => w.lsn > written);
    for (const waiter of done) waiter.resolve();
  }

  /** Keys of every sink the log holds: those in use, and those a previous run left. */
  get sinkKeys(): string[] {
    return [...this.sinksByKey.keys()];
  }

  /** Forgets a sink (policy or sink deleted): returns how many samples of its backlog were given up. */
  removeSink(key: string): number {
    const state = this.sinksByKey.get(key);
    if (state === undefined) return 0;
    const givenUp = Math.max(0, state.endSeq - state.lowWatermark());
    this.stats.abandonedSamples += givenUp;
    state.removed = true;
    this.sinksByKey.delete(key);
    this.registry.remove(key);
    this.dirtySlots.delete(state);
    for (const sinkSegment of state.segments) sinkSegment.segment.sinks.delete(state);
    state.segments.length = 0;
    this.scheduleHousekeeping();
    return givenUp;
  }

  /**
   * One per ingest request; sizeHint: the samples it will likely hold (its
   * arrays start that large). The caller releases it once done with it.
   */
  record(sizeHint = 16): LogRecord {
    return this.spareRecords.pop() ?? new PendingRecord(this, sizeHint);
  }

  /** LogRecord.release(): the record's arrays serve the next one. */
  recycle(record: PendingRecord): void {
    const keep =
      record.values.data.length <= SPARE_RECORD_MAX_SAMPLES && this.spareRecords.length < SPARE_RECORDS;
    record.reset();
    if (keep && !this.spareRecords.includes(record)) this.spareRecords.push(record);
  }

  /** Encoded bytes not yet written. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** True while pendingBytes is over its cap: the caller should refuse new data (429). */
  get overloaded(): boolean {
    return this.pending >= this.maxPendingBytes;
  }

  /** Why the log takes no more records, for good (closed, or a failed write it could not cut back). */
  get refusal(): string | undefined {
    if (this.closed) return "the durable log is closed";
    return this.broken === undefined ? undefined : `the durable log refuses records: ${this.broken.message}`;
  }

  /** Clean stop: writes pending records and positions, syncs, and leaves the clean-shutdown marker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.syncTimer?.cancel();
    this.sweepTimer?.cancel();
    this.diskTimer?.cancel();
    this.registryTimer?.cancel();
    await this.diskChecking;
    await this.writeIdle().catch(() => undefined);
    this.resolveWritten(true);
    await this.flushPositions();
    await this.syncNow().catch(() => undefined);
    await this.activeHandle?.close();
    this.activeHandle = undefined;
    await this.positionsHandle.close();
    for (const segment of this.segments) await closeReadHandle(segment);
    await Promise.all(this.unlinks);
    await this.registry.flush();
    if (this.broken === undefined) {
      await writeFile(join(this.dir, CLEAN_SHUTDOWN), "");
      await syncDirectory(this.dir);
    }
    await this.unlock();
  }

  /**
   * Trims what is older than maxBacklogAgeMs (by append time) from every
   * sink, reporting it as "expired", then frees what no sink needs. Runs on a
   * timer every minute; tests call it with a manual clock.
   */
  sweep(): void {
    const cutoff = this.clock.now() - this.maxBacklogAgeMs;
    for (const sink of this.sinksByKey.values()) {
      const newStart = this.firstSeqAppendedSince(sink, cutoff);
      if (newStart > sink.lowWatermark()) this.trim(sink, newStart, "expired");
    }
    this.runRetention();
  }

  // ---- appending -------------------------------------------------------------------------------

  /** Encodes a record into the batch of this turn; called by LogRecord.commit(). */
  append(record: PendingRecord): Promise<void> {
    if (this.closed) return Promise.reject(new DurableLogClosedError("the durable log is closed"));
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.rollNeeded) this.rollEncoding();
    const mark = ++this.encodeMark;
    // Reused across records, with its own count: emptying an array (length = 0) gives its storage up.
    const sinks = this.recordSinks;
    let sinkCount = 0;
    const firstEntries = record.firstEntries;
    firstEntries.length = 0;
    let samples = 0;
    const count = record.length;
    for (let i = 0; i < count; i++) {
      const sink = record.sinks[i];
      if (sink === undefined || sink.removed) continue;
      if (sink.mark !== mark) {
        sink.mark = mark;
        sink.pendingCount = 0;
        sinks[sinkCount++] = sink;
        // The seq goes in below, once the sections are laid out.
        firstEntries.push(i, 0);
      }
      sink.pendingCount++;
      samples++;
    }
    if (samples === 0) return Promise.resolve();

    let segment = this.currentEncoding();
    let defBytes = this.defineSeries(segment, record);
    let bodyLength = samplesBodyBytes(sinkCount, defBytes, samples);
    if (segment.encodedBytes + FRAME_BYTES + bodyLength > this.segmentBytes && segment.encodedRecords > 1) {
      this.rollEncoding();
      segment = this.currentEncoding();
      defBytes = this.defineSeries(segment, record);
      bodyLength = samplesBodyBytes(sinkCount, defBytes, samples);
    }
    const fresh = this.freshRefs;
    const recordBytes = FRAME_BYTES + bodyLength;
    const batch = this.batchFor(segment, recordBytes);
    const start = batch.length;
    const body = start + FRAME_BYTES;
    const buf = batch.buf;
    const lsn = this.nextLsn++;
    const appendTime = this.appendTime();
    writeSamplesHead(buf, body, sinkCount, lsn, appendTime, fresh.length, defBytes);

    const defStart = body + SAMPLES_HEAD_BYTES + sinkCount * SECTION_ENTRY_BYTES;
    let at = defStart;
    for (const ref of fresh) {
      at =
        ref.item === undefined || ref.base === undefined
          ? writeDefinition(buf, at, ref.logId ?? 0, ref.labelBytes)
          : writeItemDefinition(buf, at, ref.logId ?? 0, ref.base.logId ?? 0, ref.item);
    }
    if (fresh.length > 0) batch.defAreas.push(batch.fileOffset + defStart, defBytes);
    for (let index = 0; index < sinkCount; index++) {
      const sink = sinks[index] as SinkState;
      const firstSeq = sink.assignedSeq;
      sink.recordFirstSeq = firstSeq;
      writeSectionEntry(buf, body, index, sink.index, sink.pendingCount, firstSeq);
      sink.assignedSeq += sink.pendingCount;
      sink.cursor = at;
      batch.addSection(sink, firstSeq, sink.pendingCount, batch.fileOffset + at);
      at += sink.pendingCount * SAMPLE_BYTES;
    }
    for (let k = 0; k < firstEntries.length; k += 2) {
      firstEntries[k + 1] = (record.sinks[firstEntries[k] ?? 0] as SinkState).recordFirstSeq;
    }
    const { series } = record;
    const values = record.values.data;
    const timestamps = record.timestamps.data;
    const view = batch.view;
    for (let i = 0; i < count; i++) {
      const sink = record.sinks[i];
      const ref = series[i];
      if (sink === undefined || ref === undefined || sink.removed) continue;
      writeSampleAt(view, sink.cursor, ref.logId ?? 0, timestamps[i] ?? 0, values[i] ?? 0);
      sink.cursor += SAMPLE_BYTES;
    }
    sealFrame(buf, start, bodyLength);
    batch.length += recordBytes;
    batch.appendTimes.push(appendTime);
    batch.recordStarts.push(batch.fileOffset + start);
    batch.lastLsn = lsn;
    segment.encodedBytes += recordBytes;
    segment.encodedRecords++;
    this.pending += recordBytes;
    const done = new Promise<void>((resolve, reject) => {
      batch.waiters.push({ resolve, reject });
    });
    this.scheduleWrite();
    return done;
  }

  /**
   * Gives the record's series not yet defined in the segment their ids there,
   * listing them in freshRefs; returns the bytes of their definitions.
   */
  private defineSeries(segment: Segment, record: PendingRecord): number {
    const table = segment.writerTable ?? [];
    segment.writerTable = table;
    this.freshRefs.length = 0;
    const tableId = segment.tableId;
    let bytes = 0;
    for (let i = 0; i < record.length; i++) {
      const ref = record.series[i];
      if (ref === undefined || ref.logSegment === tableId || record.sinks[i]?.removed === true) continue;
      // An item is stored by reference to its series, defined first (even without a float sample here).
      const base = ref.base;
      if (base !== undefined && base.logSegment !== tableId) bytes += this.define(segment, table, base);
      bytes += this.define(segment, table, ref);
    }
    return bytes;
  }

  private define(segment: Segment, table: SeriesRef[], ref: SeriesRef): number {
    ref.logSegment = segment.tableId;
    ref.logId = table.length;
    table.push(ref);
    this.freshRefs.push(ref);
    return definitionBytes(ref);
  }

  private currentEncoding(): Segment {
    if (this.encoding === undefined) this.rollEncoding();
    if (this.encoding === undefined) throw new Error("no segment to encode into");
    return this.encoding;
  }

  /** Starts a new segment for the records that follow: its header and checkpoint open its first batch. */
  private rollEncoding(): void {
    this.rollNeeded = false;
    // A new segment is the step in which the log grows: look at the volume again.
    if (this.segments.length > 0) this.checkDisk();
    const firstLsn = this.nextLsn;
    const segment = new Segment(firstLsn, join(this.dir, segmentFileName(firstLsn)));
    segment.writerTable = [];
    const entries = [...this.sinksByKey.values()]
      .map((sink) => ({ sinkIdx: sink.index, endSeq: sink.assignedSeq }))
      .sort((a, b) => a.sinkIdx - b.sinkIdx);
    const bodyLength = checkpointBodyBytes(entries.length);
    const bytes = SEGMENT_HEADER_BYTES + FRAME_BYTES + bodyLength;
    const appendTime = this.appendTime();
    const batch = this.newBatch(segment, 0, bytes);
    encodeSegmentHeader(firstLsn, appendTime).copy(batch.buf, 0);
    const lsn = this.nextLsn++;
    writeCheckpoint(batch.buf, SEGMENT_HEADER_BYTES + FRAME_BYTES, lsn, appendTime, entries);
    sealFrame(batch.buf, SEGMENT_HEADER_BYTES, bodyLength);
    batch.length = bytes;
    batch.appendTimes.push(appendTime);
    batch.recordStarts.push(SEGMENT_HEADER_BYTES);
    batch.lastLsn = lsn;
    segment.encodedBytes = bytes;
    segment.encodedRecords = 1;
    this.pending += bytes;
    this.segments.push(segment);
    this.encoding = segment;
    this.scheduleWrite();
  }

  private batchFor(segment: Segment, bytes: number): Batch {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && !last.inFlight && last.segment === segment) {
      if (last.length + bytes > last.buf.length) {
        const grown = this.batchBuffer(Math.max(last.length + bytes, last.buf.length * 2));
        last.buf.copy(grown, 0, 0, last.length);
        this.spareBuffer(last.buf);
        last.buf = grown;
        last.view = viewOf(grown);
      }
      return last;
    }
    return this.newBatch(segment, segment.encodedBytes, bytes);
  }

  private newBatch(segment: Segment, fileOffset: number, bytes: number): Batch {
    const batch = this.spareBatches.pop() ?? new Batch();
    batch.reset(segment, fileOffset, this.batchBuffer(bytes));
    this.queue.push(batch);
    return batch;
  }

  /** A buffer of at least `bytes` for a batch: a spare one when one is large enough. */
  private batchBuffer(bytes: number): Buffer {
    const spares = this.spareBuffers;
    for (let i = spares.length - 1; i >= 0; i--) {
      const spare = spares[i];
      if (spare !== undefined && spare.length >= bytes) {
        spares.splice(i, 1);
        return spare;
      }
    }
    return Buffer.allocUnsafe(Math.max(bytes, BATCH_MIN_BYTES));
  }

  /** Keeps a batch buffer no longer needed for the next batches (see SPARE_BUFFERS). */
  private spareBuffer(buf: Buffer): void {
    if (buf.length > SPARE_BUFFER_MAX_BYTES) return;
    if (this.spareBuffers.length >= SPARE_BUFFERS) {
      // The smallest goes: the larger ones fit more batches.
      let smallest = 0;
      for (let i = 1; i < this.spareBuffers.length; i++) {
        if ((this.spareBuffers[i]?.length ?? 0) < (this.spareBuffers[smallest]?.length ?? 0)) smallest = i;
      }
      if ((this.spareBuffers[smallest]?.length ?? 0) >= buf.length) return;
      this.spareBuffers.splice(smallest, 1);
    }
    this.spareBuffers.push(buf);
  }

  /** Append times only grow, so expiry can binary-search them even if the wall clock steps back. */
  private appendTime(): number {
    this.lastAppendTime = Math.max(this.lastAppendTime, this.clock.now());
    return this.lastAppendTime;
  }

  /** Lets the records of this event-loop turn join one write. */
  private scheduleWrite(): void {
    if (this.writeScheduled || this.writing !== undefined) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      this.startWriting();
    });
  }

  private startWriting(): void {
    if (this.writing !== undefined || this.queue.length === 0) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0 && this.broken === undefined) this.scheduleWrite();
    });
  }

  private async writeIdle(): Promise<void> {
    for (;;) {
      if (this.writing !== undefined) await this.writing;
      else if (this.queue.length > 0 && this.broken === undefined) this.startWriting();
      else return;
    }
  }

  /** One write in flight at a time, so the file order is the append order. */
  private async writeLoop(): Promise<void> {
    for (;;) {
      const batch = this.queue[0];
      if (batch === undefined) return;
      batch.inFlight = true;
      try {
        if (this.registry.dirty) await this.registry.flush();
        if (batch.segment !== this.active) await this.rollActive(batch.segment);
        const handle = this.activeHandle;
        if (handle === undefined) throw new Error("no active segment file");
        await writeFully(handle, batch.buf, batch.length, batch.fileOffset);
      } catch (error: unknown) {
        await this.failWrites(error);
        return;
      }
      this.queue.shift();
      this.applyBatch(batch);
    }
  }

  /** Seals the active segment (synced) and makes `next` the file written from now on. */
  private async rollActive(next: Segment): Promise<void> {
    await this.syncing;
    const previous = this.active;
    const previousHandle = this.activeHandle;
    if (previous !== undefined && previousHandle !== undefined) {
      await this.timedSync(previousHandle);
      previous.synced = previous.size;
      this.releaseSyncWaiters();
      await previousHandle.close();
      this.activeHandle = undefined;
      if (previous.writerTable !== undefined) {
        // The writer's table goes on serving readers of the sealed segment.
        this.tables.set(previous, Promise.resolve(previous.writerTable));
        this.setTableBytes(previous, tableBytesOf(previous.writerTable));
        this.evictTables();
      }
      previous.writerTable = undefined;
      previous.compact();
    }
    const handle = await open(next.path, "wx", 0o644);
    try {
      await syncDirectory(this.dir);
    } catch (error: unknown) {
      await handle.close();
      throw error;
    }
    this.active = next;
    this.activeHandle = handle;
  }

  private applyBatch(batch: Batch): void {
    const segment = batch.segment;
    this.spareBuffer(batch.buf);
    segment.size = batch.fileOffset + batch.length;
    this.pending -= batch.length;
    this.stats.appendedBytes += batch.length;
    this.stats.appendedRecords += batch.appendTimes.length;
    this.stats.diskBytes += batch.length;
    this.lastWrittenLsn = batch.lastLsn;
    for (const time of batch.appendTimes) segment.appendTimes.push(time);
    for (const recordStart of batch.recordStarts) segment.recordStarts.push(recordStart);
    for (let i = 0; i < batch.defAreas.length; i += 2) {
      segment.defOffsets.push(batch.defAreas[i] ?? 0);
      segment.defLengths.push(batch.defAreas[i + 1] ?? 0);
    }
    const { sectionSinks, sectionCount } = batch;
    const sections = batch.sections.data;
    for (let index = 0; index < sectionCount; index++) {
      const sink = sectionSinks[index];
      if (sink === undefined || sink.removed) continue;
      const firstSeq = sections[3 * index] ?? 0;
      const count = sections[3 * index + 1] ?? 0;
      sink.lastSegment(segment, firstSeq).add(firstSeq, count, sections[3 * index + 2] ?? 0);
      sink.endSeq = firstSeq + count;
    }
    if (this.syncIntervalMs === 0) {
      for (const waiter of batch.waiters) this.syncWaiters.push({ ...waiter, segment, end: segment.size });
      this.requestSync();
    } else {
      for (const waiter of batch.waiters) waiter.resolve();
    }
    // Each sink the batch wrote to is checked against its bound once (marked at its last section).
    const checked = ++this.encodeMark;
    for (let index = sectionCount - 1; index >= 0; index--) {
      const sink = sectionSinks[index];
      if (sink === undefined || sink.removed || sink.mark === checked) continue;
      sink.mark = checked;
      if (sink.endSeq - sink.lowWatermark() > this.sinkMaxSamples)
        this.trim(sink, sink.endSeq - this.sinkMaxSamples, "buffer_full");
    }
    if (this.spareBatches.length < SPARE_BATCHES) this.spareBatches.push(batch);
    this.enforceTotal();
    this.stats.segments = this.segments.length;
    this.resolveWritten(false);
  }

  /**
   * A failed write rejects every record not yet written, and rewinds the
   * numbering to the last written record, so nothing of them is counted. The
   * file is cut back to its written size and the next record starts a new
   * segment, so series ids defined by the lost records are never relied on.
   */
  private async failWrites(error: unknown): Promise<void> {
    // State first, with no await in between, so appends arriving meanwhile start from the rewound state.
    this.stats.writeErrors++;
    const failed = this.queue.splice(0);
    this.pending = 0;
    for (const sink of this.sinksByKey.values()) sink.assignedSeq = sink.endSeq;
    this.nextLsn = this.lastWrittenLsn + 1;
    this.encoding = undefined;
    this.rollNeeded = true;
    const unwritten: Segment[] = [];
    while (this.segments.length > 0) {
      const newest = this.segments[this.segments.length - 1];
      if (newest === undefined || newest.size > 0) break;
      this.segments.pop();
      unwritten.push(newest);
    }
    const active = this.active;
    const handle = this.activeHandle;
    if (active !== undefined && active.size === 0) {
      this.active = undefined;
      this.activeHandle = undefined;
    }
    this.logger.warn("durable log: write failed; its records are refused", { error: String(error) });
    for (const batch of failed) for (const waiter of batch.waiters) waiter.reject(error);
    this.resolveWritten(true);

    if (active !== undefined && handle !== undefined) {
      try {
        if (active.size === 0) await handle.close();
        else await handle.truncate(active.size);
      } catch (cutError: unknown) {
        this.broken = asError(cutError);
        this.logger.error("durable log: cannot cut a failed write back; refusing new records", {
          error: String(cutError),
        });
      }
    }
    for (const segment of unwritten) await rm(segment.path, { force: true }).catch(() => undefined);
  }

  // ---- syncing ---------------------------------------------------------------------------------

  private requestSync(): void {
    if (this.syncing !== undefined) return;
    this.syncing = this.syncLoop().finally(() => {
      this.syncing = undefined;
      if (this.syncWaiters.length > 0) this.requestSync();
    });
  }

  /**
   * One sync, then more only while commits wait for one (syncIntervalMs 0,
   * group commit: every record written during a sync rides the next one).
   * With an interval, the timer asks again; syncing back to back under a
   * steady write load would only cost the disk.
   */
  private async syncLoop(): Promise<void> {
    for (let first = true; first || this.syncWaiters.length > 0; first = false) {
      try {
        await this.syncOnce();
      } catch (error: unknown) {
        this.stats.syncErrors++;
        this.logger.error("durable log: sync failed", { error: String(error) });
        const waiters = this.syncWaiters.splice(0);
        for (const waiter of waiters) waiter.reject(error);
        return;
      }
    }
  }

  private needsSync(): boolean {
    const active = this.active;
    return (
      this.syncWaiters.length > 0 ||
      this.positionsUnsynced ||
      (active !== undefined && active.size > active.synced)
    );
  }

  private async syncOnce(): Promise<void> {
    const segment = this.active;
    const handle = this.activeHandle;
    if (segment !== undefined && handle !== undefined && segment.size > segment.synced) {
      const upTo = segment.size;
      await this.timedSync(handle);
      segment.synced = Math.max(segment.synced, upTo);
    }
    if (this.positionsUnsynced) {
      this.positionsUnsynced = false;
      await this.positionsHandle.datasync();
    }
    this.releaseSyncWaiters();
  }

  /** Resolves the sync waiters whose bytes are synced (older segments were synced when they were sealed). */
  private releaseSyncWaiters(): void {
    const active = this.active;
    const remaining: SyncWaiter[] = [];
    for (const waiter of this.syncWaiters) {
      if (waiter.segment !== active || waiter.end <= active.synced) waiter.resolve();
      else remaining.push(waiter);
    }
    this.syncWaiters = remaining;
  }

  private async timedSync(handle: FileHandle): Promise<void> {
    // A duration for the stats, not a time the log acts on: performance.now() rather than the clock.
    const started = performance.now();
    await handle.datasync();
    this.stats.syncs++;
    this.stats.syncSeconds += (performance.now() - started) / 1000;
  }

  private async syncNow(): Promise<void> {
    await this.syncing;
    if (this.needsSync()) {
      this.requestSync();
      await this.syncing;
    }
  }

  private startSyncTimer(): void {
    if (this.syncIntervalMs === 0) return;
    const tick = () => {
      if (this.closed) return;
      if (this.syncing === undefined && this.needsSync()) this.requestSync();
      this.syncTimer = this.clock.setTimer(this.syncIntervalMs, tick);
    };
    this.syncTimer = this.clock.setTimer(this.syncIntervalMs, tick);
  }

  private startDiskTimer(): void {
    const tick = () => {
      if (this.closed) return;
      this.checkDisk();
      this.diskTimer = this.clock.setTimer(DISK_CHECK_INTERVAL_MS, tick);
    };
    this.diskTimer = this.clock.setTimer(DISK_CHECK_INTERVAL_MS, tick);
  }

  /**
   * Measures the volume's free space and bounds the log to leave minFreeDisk of it: the log may hold
   * what it holds now plus what is free beyond the floor. One look at a time; a failed statfs keeps
   * the last bound (the log is no reason to stop ingest).
   */
  private checkDisk(): void {
    if (this.diskChecking !== undefined || this.closed) return;
    this.diskChecking = this.diskSpace(this.dir)
      .then(
        (space) => {
          const floor =
            "bytes" in this.minFreeDisk
              ? this.minFreeDisk.bytes
              : Math.ceil(space.totalBytes * this.minFreeDisk.fraction);
          const allowed = this.stats.diskBytes + space.freeBytes - floor;
          const wasShort = this.diskLimitBytes < this.totalMaxBytes;
          this.diskLimitBytes = allowed < this.totalMaxBytes ? Math.max(0, allowed) : Infinity;
          this.stats.diskFreeBytes = space.freeBytes;
          this.stats.limitBytes = Math.min(this.totalMaxBytes, this.diskLimitBytes);
          const short = this.diskLimitBytes < this.totalMaxBytes;
          if (short && !wasShort) {
            this.logger.warn("buffer volume short of free space: the oldest buffered data goes first", {
              freeBytes: space.freeBytes,
              minFreeBytes: floor,
              limitBytes: this.stats.limitBytes,
            });
          } else if (wasShort && !short) {
            this.logger.info("buffer volume has room again", { freeBytes: space.freeBytes });
          }
          if (!this.closed) this.enforceTotal();
        },
        (error: unknown) => {
          this.logger.warn("cannot measure the buffer volume's free space", {
            error: asError(error).message,
          });
        },
      )
      .finally(() => {
        this.diskChecking = undefined;
      });
  }

  private startSweepTimer(): void {
    const tick = () => {
      if (this.closed) return;
      this.sweep();
      this.sweepTimer = this.clock.setTimer(EXPIRY_SWEEP_INTERVAL_MS, tick);
    };
    this.sweepTimer = this.clock.setTimer(EXPIRY_SWEEP_INTERVAL_MS, tick);
  }

  // ---- positions and housekeeping ----------------------------------------------------------------

  /** SinkLog.commit(): persisted within a turn, synced with the log. */
  commitPositions(sink: SinkState, positions: ShardPositions): void {
    if (sink.removed) return;
    if (!Number.isInteger(positions.shards) || positions.shards < 1 || positions.shards > MAX_SHARDS)
      throw new RangeError(`shards must be 1..${MAX_SHARDS}, got ${positions.shards}`);
    if (positions.next.length !== positions.shards)
      throw new RangeError(`positions hold ${positions.next.length} shards, expected ${positions.shards}`);
    sink.committed = { shards: positions.shards, next: [...positions.next] };
    this.dirtySlots.add(sink);
    this.scheduleHousekeeping();
  }

  private scheduleHousekeeping(): void {
    if (this.housekeepingScheduled || this.closed) return;
    this.housekeepingScheduled = true;
    setImmediate(() => {
      this.housekeepingScheduled = false;
      if (this.closed) return;
      this.runRetention();
      void this.flushPositions();
      this.scheduleRegistryFlush();
    });
  }

  /**
   * Writes sinks.json in the background at most once a second. It is
   * rewritten whole (10,000 sinks: ~600 KB, JSON and two fsyncs), and a
   * burst of new policies rewrote it hundreds of times. Nothing waits on
   * this write: the first append of a new sink's samples flushes the
   * registry itself (writeLoop) before the samples reach the file.
   */
  private scheduleRegistryFlush(): void {
    if (this.registryTimer !== undefined || this.closed || !this.registry.dirty) return;
    const wait = Math.max(0, this.lastRegistryFlushMs + REGISTRY_FLUSH_INTERVAL_MS - this.clock.now());
    this.registryTimer = this.clock.setTimer(wait, () => {
      this.registryTimer = undefined;
      if (this.closed || !this.registry.dirty) return;
      this.lastRegistryFlushMs = this.clock.now();
      this.registry
        .persist()
        .catch((error: unknown) => {
          this.logger.error("durable log: cannot write the sink registry", { error: String(error) });
        })
        .finally(() => {
          this.scheduleRegistryFlush();
        });
    });
  }

  private async flushPositions(): Promise<void> {
    while (this.positionsWriting !== undefined) await this.positionsWriting;
    if (this.dirtySlots.size === 0) return;
    const sinks = [...this.dirtySlots];
    this.dirtySlots.clear();
    this.positionsWriting = (async () => {
      try {
        for (const sink of sinks) {
          if (sink.removed) continue;
          const generation = ++sink.slotGeneration;
          await writeSlot(this.positionsHandle, sink.index, {
            generation,
            startSeq: sink.startSeq,
            positions: sink.committed ?? sink.recovered,
          });
        }
        this.positionsUnsynced = true;
      } catch (error: unknown) {
        for (const sink of sinks) this.dirtySlots.add(sink);
        this.logger.error("durable log: cannot write positions", { error: String(error) });
      }
    })().finally(() => {
      this.positionsWriting = undefined;
    });
    await this.positionsWriting;
  }

  /**
   * Gives up [lowWatermark, newStart) of a sink: what is below its low
   * watermark was delivered already, so only the rest is reported.
   */
  private trim(sink: SinkState, newStart: number, reason: BacklogTrimReason): void {
    const from = sink.lowWatermark();
    const to = Math.min(newStart, sink.endSeq);
    if (to <= sink.startSeq) return;
    sink.startSeq = to;
    this.dirtySlots.add(sink);
    this.scheduleHousekeeping();
    if (to <= from) return;
    // Expiry goes by arrival: the Event names the arrival times it gave up.
    const arrived =
      reason === "expired"
        ? { oldestMs: this.appendTimeOf(sink, from), newestMs: this.appendTimeOf(sink, to - 1) }
        : undefined;
    sink.view?.onTrim?.(from, to, reason, arrived);
  }

  /** When the record holding the sink's sample `seq` was appended; NaN when the log no longer has it. */
  private appendTimeOf(sink: SinkState, seq: number): number {
    const located = locate(sink, seq);
    if (located === undefined) return NaN;
    return located.sinkSegment.appendTimeAt(located.section);
  }

  /** Deletes the oldest segments that no sink needs any more. */
  private runRetention(): void {
    for (;;) {
      const oldest = this.segments[0];
      if (oldest === undefined || oldest === this.active || oldest === this.encoding) break;
      let needed = false;
      for (const [sink, sinkSegment] of oldest.sinks) {
        if (sink.lowWatermark() < sinkSegment.endSeq) {
          needed = true;
          break;
        }
      }
      if (needed) break;
      this.deleteOldest();
    }
    this.stats.segments = this.segments.length;
  }

  /**
   * Over the total bound (or what the volume's free space allows, if less), the oldest segment goes
   * regardless: every sink inside it is trimmed past it.
   */
  private enforceTotal(): void {
    while (this.stats.diskBytes > this.stats.limitBytes) {
      const oldest = this.segments[0];
      if (oldest === undefined || oldest === this.active || oldest === this.encoding) return;
      for (const [sink, sinkSegment] of oldest.sinks) {
        if (sink.lowWatermark() < sinkSegment.endSeq) this.trim(sink, sinkSegment.endSeq, "buffer_full");
      }
      this.deleteOldest();
    }
  }

  private deleteOldest(): void {
    const segment = this.segments.shift();
    if (segment === undefined) return;
    for (const [sink, sinkSegment] of segment.sinks) {
      // Every piece of the sink in this segment (a gap found by recovery makes more than one).
      while (sink.segments[0]?.segment === segment) sink.segments.shift();
      sink.startSeq = Math.max(sink.startSeq, sinkSegment.endSeq);
    }
    segment.sinks.clear();
    segment.deleted = true;
    this.uncacheTable(segment);
    this.stats.diskBytes -= segment.size;
    this.stats.segments = this.segments.length;
    const unlink = (async () => {
      await rm(segment.path, { force: true });
      if (segment.readers === 0) await closeReadHandle(segment);
    })()
      .catch((error: unknown) => {
        this.logger.warn("durable log: cannot delete a segment", {
          path: segment.path,
          error: String(error),
        });
      })
      .finally(() => this.unlinks.delete(unlink));
    this.unlinks.add(unlink);
  }

  /** The first seq of the sink appended at or after `since` (endSeq when none). */
  private firstSeqAppendedSince(sink: SinkState, since: number): number {
    for (const sinkSegment of sink.segments) {
      let low = 0;
      let high = sinkSegment.sections;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (sinkSegment.appendTimeAt(mid) < since) low = mid + 1;
        else high = mid;
      }
      if (low < sinkSegment.sections) return sinkSegment.firstSeqAt(low);
    }
    return sink.endSeq;
  }

  /**
   * A reader reached seqs that recovery found lost (a damaged segment, or a
   * tail lost before a sync): they are reported as it steps over them, so
   * the pipeline moves its cursor past them exactly then.
   */
  private reportLost(sink: SinkState, from: number, to: number): void {
    while (sink.lostRanges.length > 0 && (sink.lostRanges[0]?.to ?? Infinity) <= to) sink.lostRanges.shift();
    sink.view?.onTrim?.(from, to, "corrupt");
  }

  // ---- reading ---------------------------------------------------------------------------------

  /**
   * SinkLog.read(): samples from `from` on, from disk, through bounded
   * windows. Sinks read one after another, at most READ_WINDOWS at once: a
   * thousand sinks catching up at once would otherwise each have a read
   * half done (a sink's sections are spread over many records, a pread each),
   * holding its batch while it waits for windows, and none would finish sooner.
   */
  async readSink(sink: SinkState, from: number, batch: SampleBatch<SeriesRef>): Promise<number> {
    const start = Math.max(from, sink.startSeq);
    if (batch.capacity - batch.length <= 0 || start >= sink.endSeq) return 0;
    this.stats.reads++;
    await this.takeReaderTurn(locate(sink, start)?.sinkSegment.segment);
    try {
      return await this.readSinkNow(sink, from, batch);
    } finally {
      this.endReaderTurn();
    }
  }

  /** Sinks waiting for their turn to read. */
  get readersWaiting(): number {
    return this.readerWaiters.length;
  }

  private takeReaderTurn(segment: Segment | undefined): Promise<void> {
    if (this.readersActive < READ_WINDOWS) {
      this.readersActive++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.readerWaiters.push({ segment, start: resolve, bypassed: 0 }));
  }

  /**
   * The next turn goes to the first waiting reader whose data starts in a
   * segment with its series table at hand. A thousand sinks catching up are
   * spread over many segments; taken in arrival order, nearly every read
   * loaded a table (of every series the segment defines) and evicted one
   * another reader was about to need: the backlog benchmark drained a 1 GiB
   * backlog at 7,000 samples/s, loading 15 tables a second.
   */
  private endReaderTurn(): void {
    const waiters = this.readerWaiters;
    const head = waiters[0];
    if (head === undefined) {
      this.readersActive--;
      return;
    }
    let pick = 0;
    if (head.bypassed < MAX_READER_BYPASSES) {
      const found = waiters.findIndex(({ segment }) => segment === undefined || this.hasTable(segment));
      if (found > 0) {
        pick = found;
        head.bypassed++;
      }
    }
    const [next] = waiters.splice(pick, 1);
    next?.start();
  }

  private hasTable(segment: Segment): boolean {
    return segment.writerTable !== undefined || this.tables.has(segment);
  }

  private async readSinkNow(sink: SinkState, from: number, batch: SampleBatch<SeriesRef>): Promise<number> {
    const room = batch.capacity - batch.length;
    let seq = Math.max(from, sink.startSeq);
    if (room <= 0 || seq >= sink.endSeq) return 0;
    // Room for the batch is made once there is data to put in it (readSections).
    const size = batch.length + Math.min(room, sink.endSeq - seq);
    // The tables this read has used: another reader loading one must not make this one load it again.
    const tables = new Map<Segment, SeriesRef[]>();
    let got = 0;
    while (got < room && seq < sink.endSeq) {
      const located = locate(sink, seq);
      const next =
        located === undefined ? sink.endSeq : Math.max(seq, located.sinkSegment.firstSeqAt(located.section));
      if (next > seq) {
        // Seqs with no data: a range recovery found lost. Never stepped over within one batch.
        if (got > 0) break;
        this.reportLost(sink, seq, next);
        seq = next;
      }
      if (located === undefined) break;
      const read = await this.readSections(
        located.sinkSegment,
        located.section,
        seq,
        room - got,
        batch,
        batch.length + got,
        size,
        tables,
      );
      if (read === 0) break;
      got += read;
      seq += read;
    }
    batch.length += got;
    return got;
  }

  /**
   * Reads consecutive sections of one segment, from `seq` on, with one pread
   * of at most a window: sections further apart than READ_GAP_BYTES (other
   * sinks' data) end the read. Returns how many samples went into the batch.
   */
  private async readSections(
    sinkSegment: SinkSegment,
    first: number,
    seq: number,
    limit: number,
    batch: SampleBatch<SeriesRef>,
    into: number,
    size: number,
    tables: Map<Segment, SeriesRef[]>,
  ): Promise<number> {
    const windowStart = sinkSegment.offsetAt(first) + (seq - sinkSegment.firstSeqAt(first)) * SAMPLE_BYTES;
    let windowEnd = windowStart;
    let planned = 0;
    let next = seq;
    for (let k = first; k < sinkSegment.sections && planned < limit; k++) {
      const sectionFirst = sinkSegment.firstSeqAt(k);
      const sectionEnd = sectionFirst + sinkSegment.countAt(k);
      // Other sinks' data worth skipping ends this read (sections of a sink segment are contiguous).
      const offset = sinkSegment.offsetAt(k) + (next - sectionFirst) * SAMPLE_BYTES;
      if (k > first && offset - windowEnd > READ_GAP_BYTES) break;
      const fits = Math.floor((windowStart + READ_WINDOW_BYTES - offset) / SAMPLE_BYTES);
      const take = Math.min(sectionEnd - next, limit - planned, fits);
      if (take <= 0) break;
      windowEnd = offset + take * SAMPLE_BYTES;
      planned += take;
      next += take;
      if (next < sectionEnd) break;
    }
    if (planned === 0) return 0;
    const segment = sinkSegment.segment;
    let table = tables.get(segment);
    if (table === undefined) {
      table = await this.seriesTable(segment);
      tables.set(segment, table);
    }
    // Counted as a reader first: retention must not close the file while this waits for a window.
    segment.readers++;
    try {
      const handle = await this.readHandle(segment);
      const window = await this.takeWindow();
      try {
        const buf = window.subarray(0, windowEnd - windowStart);
        const length = await readFully(handle, buf, buf.length, windowStart);
        if (length < buf.length) throw new Error(`segment ${segment.path} is shorter than its index`);
        batch.reserve(size);
        this.decodeSections(sinkSegment, first, seq, planned, buf, windowStart, table, batch, into);
      } finally {
        this.giveWindow(window);
      }
    } finally {
      segment.readers--;
      if (segment.deleted && segment.readers === 0) await closeReadHandle(segment);
    }
    return planned;
  }

  /**
   * A read buffer from the pool. A thousand sinks catching up at once share
   * READ_WINDOWS of them instead of each allocating its own (the backlog
   * benchmark drained with over 200 MiB of windows in flight before), and
   * the pool makes no garbage.
   */
  private takeWindow(): Promise<Buffer> {
    const free = this.freeWindows.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (this.windowsMade < READ_WINDOWS) {
      this.windowsMade++;
      return Promise.resolve(Buffer.allocUnsafeSlow(READ_WINDOW_BYTES));
    }
    return new Promise((resolve) => this.windowWaiters.push(resolve));
  }

  private giveWindow(window: Buffer): void {
    const waiter = this.windowWaiters.shift();
    if (waiter !== undefined) waiter(window);
    else this.freeWindows.push(window);
  }

  /** Copies the planned samples of the sections read into `buf` (file bytes from windowStart) into the batch. */
  private decodeSections(
    sinkSegment: SinkSegment,
    first: number,
    seq: number,
    planned: number,
    buf: Buffer,
    windowStart: number,
    table: readonly (SeriesRef | undefined)[],
    batch: SampleBatch<SeriesRef>,
    into: number,
  ): void {
    let filled = 0;
    let s = seq;
    for (let k = first; filled < planned; k++) {
      const sectionFirst = sinkSegment.firstSeqAt(k);
      const take = Math.min(sectionFirst + sinkSegment.countAt(k) - s, planned - filled);
      let at = sinkSegment.offsetAt(k) + (s - sectionFirst) * SAMPLE_BYTES - windowStart;
      for (let i = 0; i < take; i++) {
        const slot = into + filled + i;
        batch.series[slot] = table[buf.readUInt32LE(at)];
        batch.seqs[slot] = s + i;
        batch.timestamps[slot] = buf.readDoubleLE(at + 4);
        batch.values[slot] = buf.readDoubleLE(at + 12);
        at += SAMPLE_BYTES;
      }
      filled += take;
      s += take;
    }
  }

  private readHandle(segment: Segment): Promise<FileHandle> {
    segment.readHandle ??= open(segment.path, "r");
    return segment.readHandle;
  }

  /** The segment's id → series table: the writer's while it is the active one, else loaded and cached. */
  private seriesTable(segment: Segment): Promise<SeriesRef[]> {
    if (segment.writerTable !== undefined) return Promise.resolve(segment.writerTable);
    const cached = this.tables.get(segment);
    if (cached !== undefined) {
      this.tables.delete(segment);
      this.tables.set(segment, cached);
      return cached;
    }
    const loading = this.loadTable(segment);
    this.tables.set(segment, loading);
    loading.then(
      (table) => {
        // Evicted or deleted while it loaded: nothing to account for.
        if (this.tables.get(segment) !== loading) return;
        this.setTableBytes(segment, this.loadedTableBytes.get(table) ?? tableBytesOf(table));
        this.evictTables();
      },
      () => {
        this.uncacheTable(segment);
      },
    );
    return loading;
  }

  private setTableBytes(segment: Segment, bytes: number): void {
    this.cachedTableBytes += bytes - (this.tableBytes.get(segment) ?? 0);
    this.tableBytes.set(segment, bytes);
  }

  private uncacheTable(segment: Segment): void {
    this.tables.delete(segment);
    this.cachedTableBytes -= this.tableBytes.get(segment) ?? 0;
    this.tableBytes.delete(segment);
  }

  /** Least recently used first, down to the byte bound, keeping at least SERIES_TABLE_CACHE_MIN. */
  private evictTables(): void {
    for (const old of this.tables.keys()) {
      if (this.cachedTableBytes <= this.seriesTableCacheBytes || this.tables.size <= SERIES_TABLE_CACHE_MIN)
        break;
      this.uncacheTable(old);
    }
  }

  private async loadTable(segment: Segment): Promise<SeriesRef[]> {
    this.stats.tableLoads++;
    const table: SeriesRef[] = [];
    let owned = 0;
    const { defOffsets, defLengths } = segment;
    segment.readers++;
    try {
      const handle = await this.readHandle(segment);
      for (let i = 0; i < defOffsets.length;) {
        // Definition areas close together are read with one pread.
        const start = defOffsets[i] ?? 0;
        let end = start + (defLengths[i] ?? 0);
        let j = i + 1;
        while (j < defOffsets.length) {
          const nextEnd = (defOffsets[j] ?? 0) + (defLengths[j] ?? 0);
          if (nextEnd - start > READ_WINDOW_BYTES) break;
          end = nextEnd;
          j++;
        }
        // Read into a pooled window when it fits: tables are loaded while sinks drain, when garbage
        // outside the heap is what RSS is made of.
        const window = end - start <= READ_WINDOW_BYTES ? await this.takeWindow() : undefined;
        try {
          const buf = window?.subarray(0, end - start) ?? Buffer.allocUnsafe(end - start);
          await readFully(handle, buf, buf.length, start);
          owned += this.loadDefinitions(buf, start, i, j, segment, table);
        } finally {
          if (window !== undefined) this.giveWindow(window);
        }
        i = j;
      }
    } finally {
      segment.readers--;
      if (segment.deleted && segment.readers === 0) await closeReadHandle(segment);
    }
    this.loadedTableBytes.set(table, owned);
    return table;
  }

  /**
   * Fills `table` from the definition areas i..j-1 of the segment, read into
   * buf (file bytes from `start`); returns about what it holds of its own. A
   * series the router holds is shared (internSeries); the labels of the
   * others, and the items, are copied into one buffer, each a view of it: ten
   * thousand series were ten thousand small array buffers per table loaded,
   * memory outside the V8 heap that only a full collection gives back.
   */
  private loadDefinitions(
    buf: Buffer,
    start: number,
    i: number,
    j: number,
    segment: Segment,
    table: SeriesRef[],
  ): number {
    const { defOffsets, defLengths } = segment;
    const ids: number[] = [];
    const definitions: (Buffer | SeriesRef)[] = [];
    const bases: number[] = [];
    let total = 0;
    for (let k = i; k < j; k++) {
      const at = (defOffsets[k] ?? 0) - start;
      forEachDefinition(buf, at, defLengths[k] ?? 0, (id, bytes, baseId) => {
        const shared = baseId < 0 ? this.internSeries?.(bytes) : undefined;
        ids.push(id);
        definitions.push(shared ?? bytes);
        bases.push(baseId);
        if (shared === undefined) total += bytes.length;
      });
    }
    const packed = new Uint8Array(total);
    let offset = 0;
    let owned = 0;
    definitions.forEach((definition, n) => {
      const id = ids[n] ?? 0;
      if (!Buffer.isBuffer(definition)) {
        table[id] = definition;
        return;
      }
      packed.set(definition, offset);
      const view = packed.subarray(offset, offset + definition.length);
      const baseId = bases[n] ?? -1;
      const base = baseId < 0 ? undefined : table[baseId];
      if (baseId >= 0 && base === undefined)
        throw new RecordFormatError(`item definition ${id} refers to undefined series ${baseId}`);
      table[id] = base === undefined ? { labelBytes: view } : itemRef(base, view);
      offset += definition.length;
      owned += SERIES_TABLE_BYTES_PER_SERIES;
    });
    return owned + total + POINTER_BYTES * ids.length;
  }

  // ---- recovery --------------------------------------------------------------------------------

  /**
   * Rebuilds every sink's index and seq numbering from the segments, cuts a
   * torn tail off the last one, and starts a new segment for this run.
   */
  private async recover(): Promise<void> {
    const byIndex = new Map<number, SinkState>();
    for (const [key, index] of this.registry.sinks) {
      const sink = new SinkState(key, index);
      this.sinksByKey.set(key, sink);
      byIndex.set(index, sink);
    }
    const slots = await readWhole(this.positionsHandle);
    for (const sink of byIndex.values()) {
      const slot = recoverSlot(slots, sink.index);
      if (slot.fellBack) this.stats.positionRecoveries++;
      if (slot.content !== undefined) {
        sink.slotGeneration = slot.content.generation;
        sink.recovered = slot.content.positions;
      }
    }
    if (this.stats.positionRecoveries > 0)
      this.logger.warn(
        "durable log: damaged position slots; older positions used (some samples are resent)",
        {
          slots: this.stats.positionRecoveries,
        },
      );

    const names = (await readdir(this.dir))
      .map((name) => ({ name, firstLsn: parseSegmentFileName(name) }))
      .filter((entry): entry is { name: string; firstLsn: number } => entry.firstLsn !== undefined)
      .sort((a, b) => a.firstLsn - b.firstLsn);
    // Per sink: the seq numbering as far as the scan has got (undefined before its first sighting).
    const scanned = new Map<SinkState, number>();
    const noteLost = (sink: SinkState, from: number, to: number) => {
      if (to > from) sink.lostRanges.push({ from, to });
    };
    for (let n = 0; n < names.length; n++) {
      const entry = names[n];
      if (entry === undefined) continue;
      const last = n === names.length - 1;
      await this.scanOne(join(this.dir, entry.name), entry.firstLsn, last, byIndex, scanned, noteLost);
    }

    for (const sink of byIndex.values()) {
      const slot = recoverSlot(slots, sink.index).content;
      let end = scanned.get(sink) ?? 0;
      // Positions past the log's end: the tail they covered was lost (a power loss before a sync).
      // The numbering continues after them, so no seq is ever used twice.
      const positionsEnd = Math.max(end, ...(sink.recovered?.next ?? []), slot?.startSeq ?? 0);
      noteLost(sink, end, positionsEnd);
      end = positionsEnd;
      // Where the numbering stood at the sink's first sighting (the oldest checkpoint or its first section).
      const firstHeld = scanned.has(sink) ? sink.startSeq : end;
      sink.endSeq = end;
      sink.assignedSeq = end;
      sink.startSeq = Math.min(end, Math.max(firstHeld, slot?.startSeq ?? 0));
    }
    this.stats.segments = this.segments.length;
    this.rollEncoding();
    await this.writeIdle();
    if (this.broken !== undefined || this.active !== this.encoding)
      throw this.brokenOr("cannot start a segment");
    this.runRetention();
    this.enforceTotal();
    this.startSyncTimer();
    this.startSweepTimer();
    this.checkDisk();
    await this.diskChecking;
    this.startDiskTimer();
  }

  private brokenOr(message: string): Error {
    return this.broken ?? new Error(message);
  }

  private async scanOne(
    path: string,
    firstLsn: number,
    last: boolean,
    byIndex: Map<number, SinkState>,
    scanned: Map<SinkState, number>,
    noteLost: (sink: SinkState, from: number, to: number) => void,
  ): Promise<void> {
    const handle = await open(path, last ? "r+" : "r");
    try {
      const size = (await handle.stat()).size;
      const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const headerLength = await readFully(handle, header, SEGMENT_HEADER_BYTES, 0);
      const segment = new Segment(firstLsn, path);
      if (headerLength < SEGMENT_HEADER_BYTES || decodeSegmentHeader(header) === undefined) {
        if (last) {
          // Created but never completed (a crash during a roll): nothing in it was acknowledged.
          this.countTorn(path, size, size);
          await handle.close();
          await rm(path, { force: true });
          return;
        }
        this.countCorrupt(path, size);
        segment.size = size;
        this.addRecoveredSegment(segment);
        return;
      }
      const end = await scanSegment(handle, size, (buf, start, bodyLength, fileOffset) =>
        this.indexRecord(segment, buf, start, bodyLength, fileOffset, byIndex, scanned, noteLost),
      );
      segment.size = size;
      if (end.damaged) {
        if (last) {
          await handle.truncate(end.validEnd);
          await handle.datasync();
          this.countTorn(path, size - end.validEnd, end.validEnd);
          segment.size = end.validEnd;
        } else {
          this.countCorrupt(path, size - end.validEnd);
        }
      }
      segment.synced = segment.size;
      this.addRecoveredSegment(segment);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private addRecoveredSegment(segment: Segment): void {
    segment.encodedBytes = segment.size;
    segment.encodedRecords = segment.appendTimes.length;
    // Recovery starts a new segment for this run: recovered ones are sealed.
    segment.compact();
    this.segments.push(segment);
    this.stats.diskBytes += segment.size;
  }

  private countTorn(path: string, bytes: number, cutAt: number): void {
    this.stats.tornRecords++;
    this.stats.tornBytes += bytes;
    this.logger.warn("durable log: torn tail cut (never acknowledged)", { path, bytes, cutAt });
  }

  private countCorrupt(path: string, bytes: number): void {
    this.stats.corruptRecords++;
    this.stats.corruptBytes += bytes;
    this.logger.error("durable log: damaged record in a sealed segment; its rest is skipped and counted", {
      path,
      bytes,
    });
  }

  /** Adds one scanned record to the index; false when its parts do not add up (treated as damage). */
  private indexRecord(
    segment: Segment,
    buf: Buffer,
    start: number,
    bodyLength: number,
    fileOffset: number,
    byIndex: Map<number, SinkState>,
    scanned: Map<SinkState, number>,
    noteLost: (sink: SinkState, from: number, to: number) => void,
  ): boolean {
    const body = start + FRAME_BYTES;
    const type = recordType(buf, body);
    const lsn = buf.readDoubleLE(body + 8);
    const appendTime = buf.readDoubleLE(body + 16);
    try {
      if (type === RECORD_CHECKPOINT) {
        for (const { sinkIdx, endSeq } of checkpointEntries(buf, body, bodyLength)) {
          const sink = byIndex.get(sinkIdx);
          if (sink === undefined) continue;
          const seen = scanned.get(sink);
          if (seen !== undefined) noteLost(sink, seen, endSeq);
          else sink.startSeq = endSeq;
          if (seen === undefined || endSeq > seen) scanned.set(sink, endSeq);
        }
      } else if (type === RECORD_SAMPLES) {
        const layout = samplesLayout(buf, body, bodyLength);
        let sectionOffset = fileOffset + (layout.sectionsStart - start);
        for (let i = 0; i < layout.sectionCount; i++) {
          const entry = layout.tableStart + i * SECTION_ENTRY_BYTES;
          const sinkIdx = buf.readUInt32LE(entry);
          const count = buf.readUInt32LE(entry + 4);
          const firstSeq = buf.readDoubleLE(entry + 8);
          const sink = byIndex.get(sinkIdx);
          if (sink !== undefined) {
            const seen = scanned.get(sink);
            if (seen !== undefined) noteLost(sink, seen, firstSeq);
            else sink.startSeq = firstSeq;
            // endSeq is where lastSegment() starts a new sink segment.
            sink.endSeq = firstSeq;
            sink.lastSegment(segment, firstSeq).add(firstSeq, count, sectionOffset);
            scanned.set(sink, firstSeq + count);
          }
          sectionOffset += count * SAMPLE_BYTES;
        }
        if (layout.defCount > 0) {
          segment.defOffsets.push(fileOffset + (layout.defStart - start));
          segment.defLengths.push(layout.defBytes);
        }
      } else {
        return false;
      }
    } catch {
      return false;
    }
    segment.appendTimes.push(appendTime);
    segment.recordStarts.push(fileOffset);
    this.nextLsn = Math.max(this.nextLsn, lsn + 1);
    this.lastWrittenLsn = Math.max(this.lastWrittenLsn, lsn);
    this.lastAppendTime = Math.max(this.lastAppendTime, appendTime);
    return true;
  }
}

/** The sink segment and section holding seq, or the first one after it. */
function locate(sink: SinkState, seq: number): { sinkSegment: SinkSegment; section: number } | undefined {
  const segments = sink.segments;
  let low = 0;
  let high = segments.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((segments[mid]?.endSeq ?? Infinity) <= seq) low = mid + 1;
    else high = mid;
  }
  for (let i = low; i < segments.length; i++) {
    const sinkSegment = segments[i];
    if (sinkSegment === undefined) continue;
    const section = sinkSegment.sectionAfter(seq);
    if (section < sinkSegment.sections) return { sinkSegment, section };
  }
  return undefined;
}

async function closeReadHandle(segment: Segment): Promise<void> {
  const handle = segment.readHandle;
  segment.readHandle = undefined;
  if (handle !== undefined) await (await handle).close().catch(() => undefined);
}

async function readWhole(handle: FileHandle): Promise<Buffer> {
  const size = (await handle.stat()).size;
  const buf = Buffer.alloc(size);
  await readFully(handle, buf, size, 0);
  return buf;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** An upper bound of what a series table takes in memory: its label bytes and an object and view per series. */
function tableBytesOf(table: readonly (SeriesRef | undefined)[]): number {
  let bytes = 0;
  for (const ref of table)
    if (ref !== undefined) bytes += ref.labelBytes.length + SERIES_TABLE_BYTES_PER_SERIES;
  return bytes;
}
