// Defaults of the durable log, each with its reason (design section 14).

/**
 * A timer syncs the active segment this often: the bound on what a
 * power loss may take. 0 makes every commit wait for a sync (group commit).
 */
export const DEFAULT_SYNC_INTERVAL_MS = 1000;

/**
 * Segments of 64 MiB: retention frees disk in steps of this size, a torn tail
 * can only be in the newest one, and a segment's series table stays small.
 */
export const DEFAULT_SEGMENT_BYTES = 64 * 2 ** 20;

/** Per sink: ~50 M platform samples of 20 bytes, hours of a busy sink's backlog. */
export const DEFAULT_SINK_MAX_BYTES = 2 ** 30;

/** In total: leaves room on a small volume for everything else Telex keeps. */
export const DEFAULT_TOTAL_MAX_BYTES = 8 * 2 ** 30;

/**
 * Free space the log leaves on its volume: past it the log's total bound shrinks to what is there, and the
 * oldest data goes first as buffer_full. 10 % is kubelet's default eviction threshold (nodefs.available): a
 * buffer on an emptyDir that filled the node's disk past it would get the pod evicted, and the API's own
 * store under the same data directory needs room to write.
 */
export const DEFAULT_MIN_FREE_DISK: DiskFloor = { fraction: 0.1 };

/** Free space is looked at this often, and at every new segment. statfs(2) is one cheap call. */
export const DISK_CHECK_INTERVAL_MS = 5_000;

/** The free space to leave: a size, or a fraction of the volume. */
export type DiskFloor = { readonly bytes: number } | { readonly fraction: number };

/** A day of outage is recoverable; older data is rarely accepted by receivers. */
export const DEFAULT_MAX_BACKLOG_AGE_MS = 24 * 3600_000;

/** Expired data is looked for once a minute: trims are cheap, but nobody needs them sooner. */
export const EXPIRY_SWEEP_INTERVAL_MS = 60_000;

/**
 * Encoded records not yet written; above it ingest answers 429 (the log only
 * reports it through `pendingBytes`). 16 MiB is a few hundred ms of a slow disk.
 */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 2 ** 20;

/**
 * Reads and the recovery scan go through buffers of at most this size, so memory does not follow the
 * backlog. 256 KiB rather than 1 MiB: a thousand sinks catching up at once each hold one (the backlog
 * benchmark drained with 300 MB of such buffers at 1 MiB).
 */
export const READ_WINDOW_BYTES = 256 * 2 ** 10;

/**
 * Read windows in the pool all sinks share: reads run on libuv's four threads, so more in flight buys
 * nothing, and 8 × 256 KiB is all the memory reading a backlog ever takes.
 */
export const READ_WINDOWS = 8;

/** Two sections of one sink further apart than this are read with two reads rather than one. */
export const READ_GAP_BYTES = 64 * 2 ** 10;

/**
 * Memory for series tables of sealed segments kept for readers (the active
 * segment's is always there), and at least this many tables whatever their
 * size. A count alone (it was 4) thrashed: a thousand sinks draining a 1 GiB
 * backlog read from all 16 of its segments, loaded 469 tables of about 3 MB
 * in 3 minutes for 8 segments, and that garbage, outside the V8 heap until a
 * full collection, was most of the drain's peak RSS.
 */
export const SERIES_TABLE_CACHE_BYTES = 64 * 2 ** 20;
export const SERIES_TABLE_CACHE_MIN = 2;
/** What a table's entry costs beyond its label bytes: the reference object and its Uint8Array view. */
export const SERIES_TABLE_BYTES_PER_SERIES = 128;
/** A table's slot for a series it shares with the router. */
export const POINTER_BYTES = 8;

/** A record longer than this cannot be one the writer made: the scan treats its length as damage. */
export const MAX_RECORD_BYTES = 2 ** 30;

/**
 * A segment may pass its size by one record (of at most MAX_RECORD_BYTES), and the section index keeps
 * file offsets in 32 bits: 2 GiB segments keep every offset below 4 GiB.
 */
export const MAX_SEGMENT_BYTES = 2 ** 31;
