// The durable buffer's own health as Prometheus metrics: what it holds and
// what it had to repair.
import type { ExpositionWriter } from "../../metrics/exposition.js";
import type { DurableLog } from "./log.js";

export function writeBufferMetrics(writer: ExpositionWriter, log: DurableLog): void {
  const { stats } = log;
  const gauge = (name: string, help: string, value: number) => {
    writer.sample(name, help, "gauge", {}, value);
  };
  const counter = (name: string, help: string, value: number) => {
    writer.sample(name, help, "counter", {}, value);
  };
  gauge("telex_buffer_disk_bytes", "Bytes of the durable buffer's segment files.", stats.diskBytes);
  gauge("telex_buffer_segments", "Segment files of the durable buffer.", stats.segments);
  gauge(
    "telex_buffer_limit_bytes",
    "What the durable buffer may hold now: --buffer-max-bytes, or less while its volume is short of free space.",
    stats.limitBytes,
  );
  if (stats.diskFreeBytes >= 0)
    gauge(
      "telex_buffer_volume_free_bytes",
      "Free bytes on the durable buffer's volume.",
      stats.diskFreeBytes,
    );
  gauge(
    "telex_buffer_pending_bytes",
    "Encoded records not yet written (ingest answers 429 past the cap).",
    log.pendingBytes,
  );
  counter("telex_buffer_appended_bytes_total", "Bytes written to the durable buffer.", stats.appendedBytes);
  counter("telex_buffer_syncs_total", "fdatasync calls on the durable buffer.", stats.syncs);
  counter("telex_buffer_sync_seconds_total", "Time spent in those syncs.", stats.syncSeconds);
  counter("telex_buffer_write_errors_total", "Writes that failed (the requests got 503).", stats.writeErrors);
  counter(
    "telex_buffer_torn_records_total",
    "Records cut from a torn tail at start (never acknowledged).",
    stats.tornRecords,
  );
  counter("telex_buffer_torn_bytes_total", "Bytes cut from a torn tail at start.", stats.tornBytes);
  counter(
    "telex_buffer_abandoned_samples_total",
    "Buffered samples given up with their sink, because its policy or the sink was deleted.",
    stats.abandonedSamples,
  );
  counter("telex_buffer_reads_total", "Reads of a sink's samples from the durable buffer.", stats.reads);
  gauge("telex_buffer_readers_waiting", "Sinks waiting for their turn to read.", log.readersWaiting);
  counter(
    "telex_buffer_series_table_loads_total",
    "Series tables of sealed segments loaded from disk for readers (a few are cached).",
    stats.tableLoads,
  );
  counter(
    "telex_buffer_corrupt_records_total",
    "Damaged records found in older segments (their samples are counted dropped as corrupt).",
    stats.corruptRecords,
  );
}
