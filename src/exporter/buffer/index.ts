// The durable log of push ingest (issue 12): one append-only log shared by
// every sink, a position per sink. See log.ts and docs/delivery-design.md.
export { DurableLog, DurableLogClosedError, SinkLog } from "./log.js";
export type { DurableLogOptions, LogRecord, LogStats } from "./log.js";
export { RecordFormatError } from "./record.js";
export { RegistryFileError } from "./registry.js";
export { MAX_SHARDS } from "./positions.js";
export { BufferLockedError } from "./lock.js";
export { writeBufferMetrics } from "./metrics.js";
