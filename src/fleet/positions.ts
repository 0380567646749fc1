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
import { createHash } from "node:crypto";
import { Informer, KubeApiError, type ConfigMap, type KubeClient } from "../kube/index.js";
import type { CursorStore } from "../exporter/pull/cursor-store.js";
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
} as const;

export interface ApiCursorStoreOptions {
  readonly client: KubeClient;
  /** The ConfigMap collection, e.g. /api/v1/namespaces/telex-system/configmaps. */
  readonly configMapsPath: string;
  /** This replica's name (its Lease's): names its ConfigMaps. */
  readonly identity: string;
  readonly flushIntervalMs?: number;
  readonly buckets?: number;
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
  private closed = false;
  /** API writes made, for the fleet benchmark and /metrics. */
  writes = 0;

  constructor(private readonly options: ApiCursorStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.flushIntervalMs = options.flushIntervalMs ?? POSITIONS_DEFAULTS.flushIntervalMs;
    this.buckets = options.buckets ?? POSITIONS_DEFAULTS.buckets;
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
  }

  private bucketOf(key: string): number {
    return createHash("sha256").update(key).digest().readUInt16BE(0) % this.buckets;
  }

  private configMapName(bucket: number): string {
    return `telex-pull-positions-${this.options.identity}-${bucket}`;
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
