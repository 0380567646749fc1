// `telex serve` flags of delivery: the durable buffer of push ingest and the
// sinks' parallelism. Defaults live with the code they configure
// (src/exporter/buffer/defaults.ts, src/exporter/sink/config.ts) and are
// printed from there.
import {
  DEFAULT_MAX_BACKLOG_AGE_MS,
  DEFAULT_MIN_FREE_DISK,
  DEFAULT_SINK_MAX_BYTES,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TOTAL_MAX_BYTES,
} from "../exporter/buffer/defaults.js";
import type { DiskFloor } from "../exporter/buffer/defaults.js";
import { MAX_SHARDS } from "../exporter/buffer/index.js";
import {
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_INFLIGHT_REQUESTS,
  DEFAULT_SINK_MEMORY_BYTES,
  SINK_RUNTIME_DEFAULTS,
  defaultCompressThreads,
} from "../exporter/sink/index.js";
import type { DeliveryOptions } from "../serve/index.js";
import { DEFAULT_WARM_UP_SAMPLES } from "../serve/warm-up.js";
import { bytesFlag, durationFlag, durationOrZeroFlag, integerFlag } from "./flag-values.js";
import { UsageError } from "./io.js";

export const DELIVERY_FLAG_OPTIONS = {
  buffer: { type: "string" },
  "buffer-sync-interval": { type: "string" },
  "max-backlog-age": { type: "string" },
  "sink-buffer-max-bytes": { type: "string" },
  "buffer-max-bytes": { type: "string" },
  "buffer-min-free-disk": { type: "string" },
  "sink-max-shards": { type: "string" },
  "max-inflight-requests": { type: "string" },
  "max-inflight-bytes": { type: "string" },
  "buffer-memory": { type: "string" },
  "compress-threads": { type: "string" },
  "warm-up-samples": { type: "string" },
} as const;

const GIB = 2 ** 30;

export const DELIVERY_FLAGS_HELP = `  --buffer disk|memory    push mode: disk (default) acknowledges a push only once its samples are
                          written under DATA-DIR/buffer, where sinks keep what they cannot send yet;
                          memory keeps a few batches per sink and drops the oldest past them
  --buffer-sync-interval DURATION  how often the buffer is synced to the device, the most a power
                          loss can take (default ${DEFAULT_SYNC_INTERVAL_MS / 1000}s); 0 syncs before every acknowledgement
  --max-backlog-age DURATION  samples kept for a down endpoint longer than this are dropped as
                          expired (default ${DEFAULT_MAX_BACKLOG_AGE_MS / 3_600_000}h)
  --sink-buffer-max-bytes SIZE  one sink's backlog on disk; past it the oldest goes, counted as
                          buffer_full (default ${DEFAULT_SINK_MAX_BYTES / GIB}GiB)
  --buffer-max-bytes SIZE  all sinks' backlogs together (default ${DEFAULT_TOTAL_MAX_BYTES / GIB}GiB)
  --buffer-min-free-disk SIZE|N%  free space the buffer leaves on its volume; below it the oldest
                          goes first, as buffer_full (default ${formatDiskFloor(DEFAULT_MIN_FREE_DISK)}, kubelet's eviction threshold)
  --sink-max-shards N     requests one sink may have in flight at once, as its backlog and its
                          endpoint's latency call for (default ${SINK_RUNTIME_DEFAULTS.maxShards})
  --max-inflight-requests N  requests in flight to all endpoints together (default ${DEFAULT_MAX_INFLIGHT_REQUESTS})
  --max-inflight-bytes SIZE  bytes of encoded request bodies held for sending to all endpoints
                          together, retries included; a request waits for room (default ${DEFAULT_MAX_INFLIGHT_BYTES / 2 ** 20}MiB)
  --buffer-memory SIZE    samples all sinks hold in memory together, beyond two batches each; past
                          it a sink reads back from the disk buffer, or without one drops its
                          oldest (default ${DEFAULT_SINK_MEMORY_BYTES / 2 ** 20}MiB)
  --compress-threads N    threads that snappy-compress request bodies of 32 KiB or more, beside the
                          event loop; 0 compresses on the event loop (default: cores − 2, at most 4;
                          ${defaultCompressThreads()} here)
  --warm-up-samples N     push mode: synthetic samples relayed through a throwaway pipeline to a null
                          receiver on loopback before ingest opens, so that V8 has compiled the hot
                          path when the first request comes (default ${DEFAULT_WARM_UP_SAMPLES}, a few tenths of a
                          second; 0: none)
  Node 20 sizes its heap from the machine, not the container: in one, set
  NODE_OPTIONS=--max-old-space-size to half its memory limit in MiB (serve warns when it does not fit)
`;

interface DeliveryFlagValues {
  readonly buffer?: string | undefined;
  readonly "buffer-sync-interval"?: string | undefined;
  readonly "max-backlog-age"?: string | undefined;
  readonly "sink-buffer-max-bytes"?: string | undefined;
  readonly "buffer-max-bytes"?: string | undefined;
  readonly "buffer-min-free-disk"?: string | undefined;
  readonly "sink-max-shards"?: string | undefined;
  readonly "max-inflight-requests"?: string | undefined;
  readonly "max-inflight-bytes"?: string | undefined;
  readonly "buffer-memory"?: string | undefined;
  readonly "compress-threads"?: string | undefined;
  readonly "warm-up-samples"?: string | undefined;
}

export function deliveryOptions(values: DeliveryFlagValues): DeliveryOptions {
  const mode = values.buffer ?? "disk";
  if (mode !== "disk" && mode !== "memory") {
    throw new UsageError(`--buffer: ${JSON.stringify(mode)} is neither disk nor memory`);
  }
  const syncIntervalMs = durationOrZeroFlag("buffer-sync-interval", values["buffer-sync-interval"]);
  const maxBacklogAgeMs = durationFlag("max-backlog-age", values["max-backlog-age"]);
  const sinkMaxBytes = bytesFlag("sink-buffer-max-bytes", values["sink-buffer-max-bytes"]);
  const totalMaxBytes = bytesFlag("buffer-max-bytes", values["buffer-max-bytes"]);
  const minFreeDisk = diskFloorFlag("buffer-min-free-disk", values["buffer-min-free-disk"]);
  const maxShards = integerFlag("sink-max-shards", values["sink-max-shards"], 1, MAX_SHARDS);
  const memoryBytes = bytesFlag("buffer-memory", values["buffer-memory"]);
  const compressThreads = integerFlag("compress-threads", values["compress-threads"], 0, 64);
  const warmUpSamples = integerFlag("warm-up-samples", values["warm-up-samples"], 0, 10_000_000);
  const maxInflightBytes = bytesFlag("max-inflight-bytes", values["max-inflight-bytes"]);
  const maxInflightRequests = integerFlag(
    "max-inflight-requests",
    values["max-inflight-requests"],
    1,
    1_000_000,
  );
  return {
    buffer: mode,
    ...(syncIntervalMs === undefined ? {} : { syncIntervalMs }),
    ...(maxBacklogAgeMs === undefined ? {} : { maxBacklogAgeMs }),
    ...(sinkMaxBytes === undefined ? {} : { sinkMaxBytes }),
    ...(totalMaxBytes === undefined ? {} : { totalMaxBytes }),
    ...(minFreeDisk === undefined ? {} : { minFreeDisk }),
    ...(maxShards === undefined ? {} : { maxShards }),
    ...(maxInflightRequests === undefined ? {} : { maxInflightRequests }),
    ...(maxInflightBytes === undefined ? {} : { maxInflightBytes }),
    ...(memoryBytes === undefined ? {} : { memoryBytes }),
    ...(compressThreads === undefined ? {} : { compressThreads }),
    ...(warmUpSamples === undefined ? {} : { warmUpSamples }),
  };
}

/** A size (64MiB) or a share of the volume (10%, 0% allowed: no floor). */
function diskFloorFlag(name: string, text: string | undefined): DiskFloor | undefined {
  if (text === undefined) return undefined;
  const percent = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(text);
  if (percent !== null) {
    const fraction = Number(percent[1]) / 100;
    if (!(fraction < 1)) throw new UsageError(`--${name}: ${JSON.stringify(text)} must be below 100%`);
    return { fraction };
  }
  if (/^0+$/.test(text)) return { bytes: 0 };
  const bytes = bytesFlag(name, text);
  return bytes === undefined ? undefined : { bytes };
}

function formatDiskFloor(floor: DiskFloor): string {
  return "fraction" in floor ? `${floor.fraction * 100}%` : `${floor.bytes}`;
}
