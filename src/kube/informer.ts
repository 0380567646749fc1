// List, then watch from the list's resourceVersion, keeping a local cache and
// telling handlers what changed. A watch that ends is resumed from the last
// version seen (bookmarks keep it fresh); 410 Gone, or any failure to resume,
// relists — the cache is replaced and the difference reported, so a handler
// never misses a deletion. Failures back off exponentially; time is a Clock.
import { sleep, type Logger, type Clock } from "../util/index.js";
import { KubeApiError, type KubeClient } from "./client.js";

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
  readonly deletionTimestamp?: string;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

export interface InformerHandlers<T extends KubeObject> {
  onUpsert(key: string, object: T, previous: T | undefined): void;
  onDelete(key: string, object: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  readonly client: KubeClient;
  /** The collection to list and watch, e.g. `/apis/g/v/plural`. */
  readonly path: string;
  /** Identity of an object in the cache (e.g. project/namespace/name). */
  readonly keyOf: (object: T) => string;
  readonly handlers: InformerHandlers<T>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Server-side watch timeout; the watch is then resumed. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /**
   * Applied to every object before it is cached and handed to the handlers,
   * as client-go's SetTransform: e.g. dropping managedFields nobody reads.
   */
  readonly transform?: (object: T) => T;
  readonly maxBackoffMs?: number;
}

/** A list/watch that is failing: the last error, and since when (the informer's Clock). */
export interface InformerFailure {
  readonly error: string;
  readonly sinceMs: number;
}

interface ListResponse<T> {
  readonly items?: T[];
  readonly metadata?: { readonly resourceVersion?: string };
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly abort = new AbortController();
  private resourceVersion: string | undefined;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  private failing: InformerFailure | undefined;

  constructor(private readonly options: InformerOptions<T>) {}

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): IterableIterator<T> {
    return this.cache.values();
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * Set while the list/watch is failing (the API unreachable, or refusing):
   * from a failed attempt until a list succeeds or the server accepts a watch.
   */
  get failure(): InformerFailure | undefined {
    return this.failing;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Resolves after the first complete list. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /**
   * Computes every cached object's key again, for a keyOf that reads state
   * outside the object (a cluster namespace's project label): an object whose
   * key moved is reported deleted under its old key and added under its new.
   */
  rekey(): void {
    for (const [key, object] of [...this.cache]) {
      const next = this.options.keyOf(object);
      if (next === key) continue;
      this.cache.delete(key);
      this.options.handlers.onDelete(key, object);
      this.cache.set(next, object);
      this.options.handlers.onUpsert(next, object, undefined);
    }
  }

  private isStopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const { clock, logger } = this.options;
    let failures = 0;
    while (!this.isStopping()) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce();
        failures = 0;
      } catch (error) {
        if (this.isStopping()) return;
        if (error instanceof KubeApiError && error.statusCode === 410) {
          this.resourceVersion = undefined;
          continue;
        }
        failures++;
        this.failing = { error: String(error), sinceMs: this.failing?.sinceMs ?? clock.now() };
        const wait = Math.min(500 * 2 ** (failures - 1), this.options.maxBackoffMs ?? 30_000);
        logger.warn("list/watch failed, retrying", {
          path: this.options.path,
          error: String(error),
          retryInMs: wait,
        });
        // Resume from the last version if it still exists; the server says 410 if not.
        try {
          await sleep(clock, wait, this.abort.signal);
        } catch {
          return;
        }
      }
    }
  }

  private async relist(): Promise<void> {
    const response = await this.options.client.request<ListResponse<T>>("GET", this.options.path, {
      signal: this.abort.signal,
    });
    const seen = new Set<string>();
    for (const item of response.items ?? []) {
      const object = this.options.transform?.(item) ?? item;
      const key = this.options.keyOf(object);
      seen.add(key);
      this.upsert(key, object);
    }
    for (const [key, object] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.options.handlers.onDelete(key, object);
      }
    }
    this.resourceVersion = response.metadata?.resourceVersion;
    this.failing = undefined;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private async watchOnce(): Promise<void> {
    const events = this.options.client.watch<T | { code?: number; message?: string }>(this.options.path, {
      query: {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
      },
      signal: this.abort.signal,
      onOpen: () => {
        this.failing = undefined;
      },
    });
    for await (const event of events) {
      if (event.type === "ERROR") {
        const status = event.object as { code?: number; message?: string };
        throw new KubeApiError(status.code ?? 500, status, "WATCH", this.options.path);
      }
      const object = this.options.transform?.(event.object as T) ?? (event.object as T);
      const version = object.metadata.resourceVersion;
      if (version !== undefined) this.resourceVersion = version;
      if (event.type === "BOOKMARK") continue;
      const key = this.options.keyOf(object);
      if (event.type === "DELETED") {
        const previous = this.cache.get(key);
        this.cache.delete(key);
        this.options.handlers.onDelete(key, previous ?? object);
      } else {
        this.upsert(key, object);
      }
    }
  }

  private upsert(key: string, object: T): void {
    const previous = this.cache.get(key);
    if (previous?.metadata.resourceVersion === object.metadata.resourceVersion && previous !== undefined)
      return;
    this.cache.set(key, object);
    this.options.handlers.onUpsert(key, object, previous);
  }
}
