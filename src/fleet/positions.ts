// Pull positions kept in the API, so that when a policy moves to another
// replica (its owner stopped or was killed) the new owner continues from
// where the old one stopped: no gap, and at most the windows delivered since
// the last flush sent again (identical samples: the same range of the store).
//
// Writes are batched: a replica keeps its positions in a few ConfigMaps of
// its own (`telex-pull-positions-<replica>-<bucket>`, bucket = hash of the
// job key), and flushes the changed ones at most once per flush interval
// (5 s) with a JSON merge patch. With 10,000 policies reading every 30 s that
// is a few writes per second for the fleet, not one per window per policy.
// A position is read from every replica's ConfigMaps (an informer's cache)
// and the furthest one wins: positions only move forward, and the previous
// owner's entry stays readable after it died.
//
// A replica that left the fleet (its Lease gone or expired) leaves its
// ConfigMaps behind; the first live member in name order deletes each of
// them once it is redundant: every entry in it is matched or passed by the
// same job's entry in a live replica's ConfigMaps (load() gets as far
// without it), or is older than the max backlog age (a live replica running that
// job skips past such a position and saves its own, so it is normally one of
// a job no replica runs any more, e.g. a policy deleted while its owner was
// gone).
import { createHash } from "node:crypto";
import { Informer, KubeApiError, type ConfigMap, type KubeClient } from "../kube/index.js";
import type { CursorStore } from "../exporter/pull/cursor-store.js";
import { DEFAULT_MAX_BACKLOG_AGE_MS } from "../exporter/pull/defaults.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import { silentLogger, systemClock, type Clock, type Logger, type TimerHandle } from "../util/index.js";

/** ConfigMaps holding pull positions carry this label. */
export const POSITIONS_LABEL = "telex.miloapis.com/pull-positions";

export const POSITIONS_DEFAULTS = {
  /**
   * Five seconds: a pull job moves once per --pull-interval (30 s), so a killed owner's successor
   * re-sends at most the job's last window (identical samples), while a replica writes at most
   * `buckets` objects per flush, and only changed ones: with 10,000 policies on 3 replicas, at most
   * about 5 writes a second for the fleet, whatever the number of policies.
   */
  flushIntervalMs: 5_000,
  /** 8 objects per replica: 10,000 jobs are about 80 KB each, far below an object's 1 MiB limit. */
  buckets: 8,
  /**
   * How often the first live member looks for ConfigMaps of departed replicas to delete. Leftovers
   * cost only list and watch traffic, so a minute is plenty; the first look is one interval after
   * start, when the policies this replica took over have loaded the positions they continue from.
   */
  cleanupIntervalMs: 60_000,
  /** As the pull's --max-backlog-age: a departed replica's position older than this is dropped. */
  maxBacklogAgeMs: DEFAULT_MAX_BACKLOG_AGE_MS,
} as const;

const CONFIG_MAP_PREFIX = "telex-pull-positions-";
/** `telex-pull-positions-<replica>-<bucket>`: the replica is all but the last `-N`. */
const CONFIG_MAP_NAME = new RegExp(`^${CONFIG_MAP_PREFIX}(.+)-(\\d+)$`);

export interface ApiCursorStoreOptions {
  readonly client: KubeClient;
  /** The ConfigMap collection, e.g. /api/v1/namespaces/telex-system/configmaps. */
  readonly configMapsPath: string;
  /** This replica's name (its Lease's): names its ConfigMaps. */
  readonly identity: string;
  readonly flushIntervalMs?: number;
  readonly buckets?: number;
  /**
   * The live replicas (this one among them while its Lease is fresh), e.g. Membership's members.
   * Without it, ConfigMaps of departed replicas are never deleted.
   */
  readonly liveMembers?: () => readonly string[];
  /** A departed replica's position older than now − this counts as redundant (--max-backlog-age). */
  readonly maxBacklogAgeMs?: number;
  readonly cleanupIntervalMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** ConfigMap data keys allow [-._a-zA-Z0-9]: job keys are stored base64url-encoded. */
function dataKey(jobKey: string): string {
  return Buffer.from(jobKey, "utf8").toString("base64url");
}

export class ApiCursorStore implements CursorStore {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly flushIntervalMs: number;
  private readonly buckets: number;
  private readonly maxBacklogAgeMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly configMaps: Informer<ConfigMap>;
  /** This replica's positions: what it saved, ahead of what the API has seen. */
  private readonly own = new Map<string, number>();
  /** Per bucket: job keys changed (a number) or deleted (null) since the last flush. */
  private readonly dirty = new Map<number, Map<string, number | null>>();
  private generation = 0;
  private flushedGeneration = 0;
  private waiters: Waiter[] = [];
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> | undefined;
  private cleanupTimer: TimerHandle | undefined;
  private cleaning: Promise<unknown> | undefined;
  private closed = false;
  /** API writes made, for the fleet benchmark and /metrics. */
  writes = 0;
  /** ConfigMaps of departed replicas deleted, for /metrics. */
  removedConfigMaps = 0;

  constructor(private readonly options: ApiCursorStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.flushIntervalMs = options.flushIntervalMs ?? POSITIONS_DEFAULTS.flushIntervalMs;
    this.buckets = options.buckets ?? POSITIONS_DEFAULTS.buckets;
    this.maxBacklogAgeMs = options.maxBacklogAgeMs ?? POSITIONS_DEFAULTS.maxBacklogAgeMs;
    this.cleanupIntervalMs = options.cleanupIntervalMs ?? POSITIONS_DEFAULTS.cleanupIntervalMs;
    this.configMaps = new Informer<ConfigMap>({
      client: options.client,
      path: options.configMapsPath,
      keyOf: (object) => object.metadata.name,
      clock: this.clock,
      logger: this.logger,
      handlers: { onUpsert: () => undefined, onDelete: () => undefined },
    });
  }

  /** Fills the cache of every replica's positions; call before the first load(). */
  async start(): Promise<void> {
    this.configMaps.start();
    await this.configMaps.waitForSync();
    if (this.options.liveMembers !== undefined) this.scheduleCleanup();
  }

  load(key: string): number | undefined {
    let best = this.own.get(key);
    const field = dataKey(key);
    for (const configMap of this.configMaps.list()) {
      if (configMap.metadata.labels?.[POSITIONS_LABEL] !== "true") continue;
      const raw = configMap.data?.[field];
      if (raw === undefined) continue;
      const value = Number(raw);
      if (Number.isFinite(value) && (best === undefined || value > best)) best = value;
    }
    return best;
  }

  save(key: string, cursorMs: number): Promise<void> {
    this.own.set(key, cursorMs);
    return this.change(key, cursorMs);
  }

  delete(key: string): Promise<void> {
    this.own.delete(key);
    return this.change(key, null);
  }

  /** Flushes what is pending and stops watching. */
  async close(): Promise<void> {
    this.cancelTimer();
    // A flush already running does not carry what was saved during it: flush until nothing waits,
    // at most a few rounds (a failing API is not waited out; the next owner then re-sends a little).
    for (let round = 0; round < 3; round++) {
      await this.flush();
      if (this.dirty.size === 0) break;
    }
    // A failed flush re-arms its retry: not after close.
    this.cancelTimer();
    this.closed = true;
    this.cleanupTimer?.cancel();
    this.cleanupTimer = undefined;
    await this.cleaning;
    await this.configMaps.stop();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_pull_position_writes_total",
      "Writes of pull positions to the API (batched: merge patches of this replica's ConfigMaps).",
      "counter",
      {},
      this.writes,
    );
    writer.sample(
      "telex_pull_position_configmaps_removed_total",
      "Pull-position ConfigMaps of replicas that left the fleet, deleted once no position in them was needed.",
      "counter",
      {},
      this.removedConfigMaps,
    );
  }

  /**
   * Deletes the ConfigMaps of departed replicas that hold no position still
   * needed, if this replica is the first live member (one cleaner, no races
   * between replicas); returns their names. Run every cleanup interval.
   */
  async removeDepartedPositions(): Promise<string[]> {
    const live = [...(this.options.liveMembers?.() ?? [])].sort();
    if (this.closed || live[0] !== this.options.identity) return [];
    const liveNames = new Set(live);
    const departed: ConfigMap[] = [];
    // The API's view only: what this replica holds but has not flushed yet would be lost with it.
    const livePositions = new Map<string, number>();
    for (const configMap of this.configMaps.list()) {
      const replica = replicaOf(configMap);
      if (replica === undefined) continue;
      if (!liveNames.has(replica)) {
        departed.push(configMap);
        continue;
      }
      for (const [field, raw] of Object.entries(configMap.data ?? {})) {
        const value = Number(raw);
        if (Number.isFinite(value))
          livePositions.set(field, Math.max(value, livePositions.get(field) ?? value));
      }
    }
    const oldest = this.clock.now() - this.maxBacklogAgeMs;
    const redundant = departed.filter((configMap) =>
      Object.entries(configMap.data ?? {}).every(([field, raw]) => {
        const value = Number(raw);
        return !Number.isFinite(value) || value < oldest || value <= (livePositions.get(field) ?? -Infinity);
      }),
    );
    const removed: string[] = [];
    for (const configMap of redundant) {
      const name = configMap.metadata.name;
      try {
        // Only the version judged: a replica of that name back meanwhile may have written new positions.
        await this.options.client.request(
          "DELETE",
          `${this.options.configMapsPath}/${encodeURIComponent(name)}`,
          {
            body: {
              kind: "DeleteOptions",
              apiVersion: "v1",
              preconditions: { resourceVersion: configMap.metadata.resourceVersion },
            },
          },
        );
        removed.push(name);
        this.removedConfigMaps++;
      } catch (error: unknown) {
        if (error instanceof KubeApiError && (error.statusCode === 404 || error.statusCode === 409)) continue;
        this.logger.warn("could not delete a departed replica's pull positions; retrying later", {
          configMap: name,
          error: String(error),
        });
      }
    }
    if (removed.length > 0)
      this.logger.info("deleted pull positions of departed replicas", { configMaps: removed.join(",") });
    return removed;
  }

  private scheduleCleanup(): void {
    if (this.closed) return;
    this.cleanupTimer = this.clock.setTimer(this.cleanupIntervalMs, () => {
      this.cleanupTimer = undefined;
      const cleaning = this.removeDepartedPositions()
        .catch((error: unknown) => {
          this.logger.warn("could not clean up departed replicas' pull positions", { error: String(error) });
        })
        .finally(() => {
          this.cleaning = undefined;
          this.scheduleCleanup();
        });
      this.cleaning = cleaning;
    });
  }

  private bucketOf(key: string): number {
    return createHash("sha256").update(key).digest().readUInt16BE(0) % this.buckets;
  }

  private configMapName(bucket: number): string {
    return `${CONFIG_MAP_PREFIX}${this.options.identity}-${bucket}`;
  }

  private change(key: string, value: number | null): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the position store is closed"));
    const bucket = this.bucketOf(key);
    let changes = this.dirty.get(bucket);
    if (changes === undefined) {
      changes = new Map();
      this.dirty.set(bucket, changes);
    }
    changes.set(key, value);
    const generation = ++this.generation;
    this.timer ??= this.clock.setTimer(this.flushIntervalMs, () => {
      this.timer = undefined;
      void this.flush();
    });
    return new Promise((resolve, reject) => this.waiters.push({ generation, resolve, reject }));
  }

  private flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const generation = this.generation;
    const batches = [...this.dirty];
    this.dirty.clear();
    let failure: Error | undefined;
    for (const [bucket, changes] of batches) {
      try {
        await this.writeBucket(bucket, changes);
      } catch (error: unknown) {
        failure = error instanceof Error ? error : new Error(String(error));
        // Kept for the next flush, under anything newer that arrived meanwhile.
        const pending = this.dirty.get(bucket) ?? new Map<string, number | null>();
        for (const [key, value] of changes) if (!pending.has(key)) pending.set(key, value);
        this.dirty.set(bucket, pending);
      }
    }
    if (failure !== undefined) {
      this.logger.warn("could not write pull positions to the API; retrying", { error: failure.message });
      const waiting = this.waiters.filter((w) => w.generation <= generation);
      this.waiters = this.waiters.filter((w) => w.generation > generation);
      for (const waiter of waiting) waiter.reject(failure);
      this.timer ??= this.clock.setTimer(this.flushIntervalMs, () => {
        this.timer = undefined;
        void this.flush();
      });
      return;
    }
    this.flushedGeneration = generation;
    const done = this.waiters.filter((w) => w.generation <= this.flushedGeneration);
    this.waiters = this.waiters.filter((w) => w.generation > this.flushedGeneration);
    for (const waiter of done) waiter.resolve();
  }

  private async writeBucket(bucket: number, changes: ReadonlyMap<string, number | null>): Promise<void> {
    const data: Record<string, string | null> = {};
    for (const [key, value] of changes) data[dataKey(key)] = value === null ? null : String(value);
    const name = this.configMapName(bucket);
    const path = `${this.options.configMapsPath}/${name}`;
    this.writes++;
    try {
      await this.options.client.request("PATCH", path, {
        contentType: "application/merge-patch+json",
        body: { data },
      });
      return;
    } catch (error: unknown) {
      if (!(error instanceof KubeApiError && error.statusCode === 404)) throw error;
    }
    const created: Record<string, string> = {};
    for (const [field, value] of Object.entries(data)) if (value !== null) created[field] = value;
    this.writes++;
    await this.options.client.request("POST", this.options.configMapsPath, {
      body: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, labels: { [POSITIONS_LABEL]: "true" } },
        data: created,
      },
    });
  }
}

/** The replica whose pull positions a ConfigMap holds; undefined for any other ConfigMap. */
function replicaOf(configMap: ConfigMap): string | undefined {
  if (configMap.metadata.labels?.[POSITIONS_LABEL] !== "true") return undefined;
  return CONFIG_MAP_NAME.exec(configMap.metadata.name)?.[1];
}
