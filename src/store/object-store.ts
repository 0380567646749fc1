// The durable object store: current objects plus a bounded log of committed
// changes, both in one SQLite file. Every write stamps the next
// resourceVersion on the object and records the change in the log.
//
// Group commit (as etcd batches its raft entries): the writes of one turn of
// the event loop share one SQLite transaction, committed at the end of the
// turn. The fsync that makes it durable runs off the event loop: SQLite
// commits with synchronous=NORMAL (WAL pages written, not synced) and the
// store fdatasyncs the WAL in libuv's thread pool, while the loop goes on
// taking the next writes; those share the next fsync. better-sqlite3 is
// synchronous, so a FULL commit blocked the whole process for each fsync
// (at 10,000 ExportPolicies a fifth of the control plane's time). Nothing
// leaves the process before its fsync: API responses wait for settled(),
// reads flush() first (committing and syncing at once), and durable
// subscribers (watches) hear a change only after the sync holding it.
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { ResourceExpiredError } from "./errors.js";
import { openDatabase, type SqliteDatabase, type Synchronous } from "./sqlite.js";
import type { ChangeType, JsonObject, ObjectKey, Scope, StoreEvent, StoredObject } from "./types.js";

export interface ObjectStoreOptions {
  /** The SQLite file; `:memory:` for tests that do not need durability. */
  readonly path: string;
  /**
   * How many changes the log keeps for watches that resume from a
   * resourceVersion. 20 000 covers minutes of heavy churn for a single
   * server while keeping the file small; older versions get 410 Gone.
   */
  readonly eventWindow?: number;
  readonly synchronous?: Synchronous;
}

/** Where a paged list resumes: the last key of the previous page. */
export interface ListCursor {
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
}

/** Hears a change; `previous` is the object before it (undefined for ADDED or when unknown). */
export type StoreListener = (event: StoreEvent, previous: JsonObject | undefined) => void;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** A committed batch waiting for the WAL sync that makes it durable. */
interface Unsynced {
  readonly seq: number;
  readonly waiters: Waiter[];
  readonly announced: [StoreEvent, JsonObject | undefined][];
}

/** A commit of the batch failed: the store takes no more writes (as etcd stops on a failed fsync); restart recovers from disk. */
export class StoreFailedError extends Error {
  override readonly name = "StoreFailedError";
}

interface ObjectRow {
  resource: string;
  project: string;
  namespace: string;
  name: string;
  rv: number;
  body: string;
}

interface EventRow extends ObjectRow {
  type: ChangeType;
}

const DEFAULT_EVENT_WINDOW = 20_000;
/** The log may outgrow its window by this fraction before it is trimmed back, so trims are rare. */
const COMPACT_SLACK = 0.25;

export class ObjectStore {
  readonly #db: SqliteDatabase;
  readonly #eventWindow: number;
  readonly #listeners = new Set<StoreListener>();
  readonly #durableListeners = new Set<StoreListener>();
  /** Changes of the open batch, told to durable listeners once it commits. */
  #unannounced: [StoreEvent, JsonObject | undefined][] = [];
  #waiters: Waiter[] = [];
  #batchOpen = false;
  #failure: StoreFailedError | undefined;
  #resourceVersion: number;
  #compactedThrough: number;

  /** The WAL the store syncs itself (FULL on a file); undefined: SQLite's own setting is all (NORMAL, `:memory:`). */
  readonly #walPath: string | undefined;
  #walFd: number | undefined;
  /** Committed batches not yet synced, oldest first; #committed numbers them. */
  #unsynced: Unsynced[] = [];
  #committed = 0;
  #syncing = false;
  #closed = false;

  readonly #statements;
  /**
   * One change's rows. Within the batch's transaction this is a savepoint: a failing write
   * leaves no half of itself. Made once: better-sqlite3's transaction() builds a new wrapper
   * per call, 3 % of a write.
   */
  readonly #write: (
    type: ChangeType,
    key: ObjectKey,
    rv: number,
    body: string,
    compactTo: number | undefined,
  ) => void;

  private constructor(db: SqliteDatabase, eventWindow: number, walPath: string | undefined) {
    this.#db = db;
    this.#eventWindow = eventWindow;
    this.#walPath = walPath;
    this.#statements = {
      get: db.prepare<[string, string, string, string], ObjectRow>(
        "SELECT * FROM objects WHERE resource = ? AND project = ? AND namespace = ? AND name = ?",
      ),
      listNamespace: db.prepare<[string, string, string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE resource = ? AND project = ? AND namespace = ? AND name > ?
         ORDER BY name LIMIT ?`,
      ),
      listProject: db.prepare<[string, string, string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE resource = ? AND project = ? AND (namespace, name) > (?, ?)
         ORDER BY namespace, name LIMIT ?`,
      ),
      listAll: db.prepare<[string, string, string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE resource = ? AND (project, namespace, name) > (?, ?, ?)
         ORDER BY project, namespace, name LIMIT ?`,
      ),
      countNamespace: db.prepare<[string, string], { n: number }>(
        "SELECT count(*) AS n FROM objects WHERE project = ? AND namespace = ?",
      ),
      countProject: db.prepare<[string, string], { n: number }>(
        "SELECT count(*) AS n FROM objects WHERE resource = ? AND project = ?",
      ),
      sumArrayLengths: db.prepare<[string, string, string], { n: number }>(
        "SELECT coalesce(sum(json_array_length(body, ?)), 0) AS n FROM objects WHERE resource = ? AND project = ?",
      ),
      sumBytes: db.prepare<[string, string], { n: number }>(
        "SELECT coalesce(sum(length(CAST(body AS BLOB))), 0) AS n FROM objects WHERE resource = ? AND project = ?",
      ),
      upsert: db.prepare<[string, string, string, string, number, string]>(
        `INSERT INTO objects (resource, project, namespace, name, rv, body) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (resource, project, namespace, name) DO UPDATE SET rv = excluded.rv, body = excluded.body`,
      ),
      remove: db.prepare<[string, string, string, string]>(
        "DELETE FROM objects WHERE resource = ? AND project = ? AND namespace = ? AND name = ?",
      ),
      appendEvent: db.prepare<[number, ChangeType, string, string, string, string, string]>(
        "INSERT INTO events (rv, type, resource, project, namespace, name, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      eventsSince: db.prepare<[number, string], EventRow>(
        "SELECT * FROM events WHERE rv > ? AND resource = ? ORDER BY rv",
      ),
      compact: db.prepare<[number]>("DELETE FROM events WHERE rv <= ?"),
      readMeta: db.prepare<[string], { value: number }>("SELECT value FROM meta WHERE key = ?"),
      writeMeta: db.prepare<[number, string]>("UPDATE meta SET value = ? WHERE key = ?"),
    };
    const s = this.#statements;
    this.#write = db.transaction(
      (type: ChangeType, key: ObjectKey, rv: number, body: string, compactTo: number | undefined) => {
        s.appendEvent.run(rv, type, key.resource, key.project, key.namespace, key.name, body);
        if (type === "DELETED") s.remove.run(key.resource, key.project, key.namespace, key.name);
        else s.upsert.run(key.resource, key.project, key.namespace, key.name, rv, body);
        s.writeMeta.run(rv, "resourceVersion");
        if (compactTo !== undefined) {
          s.compact.run(compactTo);
          s.writeMeta.run(compactTo, "compactedThrough");
        }
      },
    );
    this.#resourceVersion = this.#statements.readMeta.get("resourceVersion")?.value ?? 0;
    this.#compactedThrough = this.#statements.readMeta.get("compactedThrough")?.value ?? 0;
  }

  static open(options: ObjectStoreOptions): ObjectStore {
    const synchronous = options.synchronous ?? "FULL";
    const onDisk = options.path !== ":memory:";
    // FULL: SQLite writes the WAL without syncing and the store syncs it (see the top).
    const db = openDatabase(options.path, onDisk ? "NORMAL" : synchronous);
    const store = new ObjectStore(
      db,
      options.eventWindow ?? DEFAULT_EVENT_WINDOW,
      onDisk && synchronous === "FULL" ? `${options.path}-wal` : undefined,
    );
    return store;
  }

  /** Why the store cannot serve now (a read of its database fails), or undefined: /readyz's `store`. */
  check(): string | undefined {
    if (this.#failure !== undefined) return this.#failure.message;
    try {
      this.#statements.readMeta.get("resourceVersion");
      return undefined;
    } catch (error: unknown) {
      return `the store's database cannot be read: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /** The resourceVersion of the last committed write (0 for an empty store). */
  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  /** Watches may resume from this version or later; older ones are gone. */
  get oldestResumableVersion(): number {
    return this.#compactedThrough;
  }

  get(key: ObjectKey): StoredObject | undefined {
    const row = this.#statements.get.get(key.resource, key.project, key.namespace, key.name);
    return row === undefined ? undefined : toStored(row);
  }

  /** Objects in scope after the cursor, ordered by project, namespace, name. */
  list(scope: Scope, options: { after?: ListCursor; limit?: number } = {}): StoredObject[] {
    if (scope.name !== undefined) {
      if (scope.project === undefined || scope.namespace === undefined) {
        return this.list({ ...scope, name: undefined }, options).filter((o) => o.key.name === scope.name);
      }
      const one = this.get({
        ...scope,
        project: scope.project,
        namespace: scope.namespace,
        name: scope.name,
      });
      return one === undefined || (options.after !== undefined && !after(one.key, options.after))
        ? []
        : [one];
    }
    const limit = options.limit ?? -1;
    const cursor = options.after ?? { project: "", namespace: "", name: "" };
    let rows: ObjectRow[];
    if (scope.project === undefined) {
      rows = this.#statements.listAll.all(
        scope.resource,
        cursor.project,
        cursor.namespace,
        cursor.name,
        limit,
      );
      if (scope.namespace !== undefined) rows = rows.filter((r) => r.namespace === scope.namespace);
    } else if (scope.namespace === undefined) {
      const start = cursor.project === scope.project ? cursor : { namespace: "", name: "" };
      rows = this.#statements.listProject.all(
        scope.resource,
        scope.project,
        start.namespace,
        start.name,
        limit,
      );
    } else {
      const start =
        cursor.project === scope.project && cursor.namespace === scope.namespace ? cursor.name : "";
      rows = this.#statements.listNamespace.all(scope.resource, scope.project, scope.namespace, start, limit);
    }
    return rows.map(toStored);
  }

  /** How many objects of any resource live in a namespace. */
  countInNamespace(project: string, namespace: string): number {
    return this.#statements.countNamespace.get(project, namespace)?.n ?? 0;
  }

  /** How many objects of a resource a project holds. */
  countInProject(resource: string, project: string): number {
    return this.#statements.countProject.get(resource, project)?.n ?? 0;
  }

  /** The lengths of the arrays at a JSON path (`$.spec.sinks`) summed over a project's objects of a resource. */
  sumArrayLengths(resource: string, project: string, jsonPath: string): number {
    return this.#statements.sumArrayLengths.get(jsonPath, resource, project)?.n ?? 0;
  }

  /** The bytes of a project's objects of a resource, as stored (their JSON). */
  sumBytes(resource: string, project: string): number {
    return this.#statements.sumBytes.get(resource, project)?.n ?? 0;
  }

  /**
   * Commits one change durably and returns it with its new resourceVersion,
   * which is also written into the object's metadata. Subscribers hear of it
   * after the commit, with `previous` (the object before the change) when
   * the caller knows it, for watches whose selectors the change crosses.
   */
  commit(type: ChangeType, key: ObjectKey, object: JsonObject, previous?: JsonObject): StoreEvent {
    if (this.#failure !== undefined) throw this.#failure;
    const rv = this.#resourceVersion + 1;
    const stamped = stampResourceVersion(object, rv);
    const body = JSON.stringify(stamped);
    const due = rv - this.#compactedThrough > this.#eventWindow * (1 + COMPACT_SLACK);
    const compactTo = due ? rv - this.#eventWindow : undefined;
    this.#openBatch();
    this.#write(type, key, rv, body, compactTo);
    this.#resourceVersion = rv;
    if (compactTo !== undefined) this.#compactedThrough = compactTo;
    const event: StoreEvent = { type, key, resourceVersion: rv, object: stamped };
    for (const listener of this.#listeners) listener(event, previous);
    if (this.#durableListeners.size > 0) this.#unannounced.push([event, previous]);
    return event;
  }

  #openBatch(): void {
    if (this.#batchOpen) return;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#batchOpen = true;
    setImmediate(() => {
      try {
        this.#commitBatch();
      } catch {
        // Recorded in #failure: check() (/readyz) reports it, waiters were rejected.
      }
    });
  }

  /**
   * Commits the open batch now and syncs everything committed (one fsync on
   * the event loop), telling durable listeners its changes. Reads call it
   * first, so what they return is on disk.
   */
  flush(): void {
    this.#commitBatch();
    if (this.#unsynced.length === 0) return;
    try {
      fdatasyncSync(this.#wal());
    } catch (error: unknown) {
      this.#fail("a sync of the store's write-ahead log failed", error);
    }
    this.#release(this.#committed);
  }

  /** Commits the open batch (no fsync with a WAL the store syncs itself) and starts its sync. */
  #commitBatch(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#batchOpen) return;
    const batch: Unsynced = { seq: ++this.#committed, waiters: this.#waiters, announced: this.#unannounced };
    this.#waiters = [];
    this.#unannounced = [];
    this.#batchOpen = false;
    try {
      this.#db.exec("COMMIT");
    } catch (error: unknown) {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
      for (const waiter of batch.waiters)
        waiter.reject(this.#failed("a commit to the store's database failed", error));
      this.#fail("a commit to the store's database failed", error);
    }
    this.#unsynced.push(batch);
    if (this.#walPath === undefined) this.#release(batch.seq);
    else this.#startSync();
  }

  /** One fdatasync of the WAL in the thread pool at a time; it covers every batch committed before it started. */
  #startSync(): void {
    if (this.#syncing || this.#unsynced.length === 0) return;
    let fd: number;
    try {
      fd = this.#wal();
    } catch (error: unknown) {
      this.#fail("the store's write-ahead log cannot be opened", error);
    }
    const through = this.#committed;
    this.#syncing = true;
    fdatasync(fd, (error) => {
      this.#syncing = false;
      if (this.#closed) {
        closeSync(fd);
        return;
      }
      if (error !== null) {
        try {
          this.#fail("a sync of the store's write-ahead log failed", error);
        } catch {
          // Recorded in #failure: check() (/readyz) reports it, waiters were rejected.
        }
        return;
      }
      this.#release(through);
      this.#startSync();
    });
  }

  /** The WAL's descriptor, opened at the first sync (the file exists once a commit wrote it). */
  #wal(): number {
    if (this.#walFd !== undefined) return this.#walFd;
    const path = this.#walPath;
    if (path === undefined) throw new Error("no write-ahead log to sync");
    this.#walFd = openSync(path, "r");
    // Its directory entry too, once (as SQLite does at the first sync of a new WAL).
    const dir = openSync(dirname(path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return this.#walFd;
  }

  /** Batches up to seq are durable: durable listeners hear their changes, in order, then their writers. */
  #release(seq: number): void {
    while (this.#unsynced.length > 0 && (this.#unsynced[0]?.seq ?? Infinity) <= seq) {
      const batch = this.#unsynced.shift();
      if (batch === undefined) break;
      for (const [event, previous] of batch.announced)
        for (const listener of this.#durableListeners) listener(event, previous);
      for (const waiter of batch.waiters) waiter.resolve();
    }
  }

  #failed(what: string, error: unknown): StoreFailedError {
    this.#failure ??= new StoreFailedError(
      `${what}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return this.#failure;
  }

  /** The store takes no more writes; every writer still waiting hears why. */
  #fail(what: string, error: unknown): never {
    const failure = this.#failed(what, error);
    for (const batch of this.#unsynced.splice(0)) for (const waiter of batch.waiters) waiter.reject(failure);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    throw failure;
  }

  /** Resolves once every write made so far is durable (at once when none waits); rejects when its commit or sync fails. */
  settled(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#batchOpen) return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    const last = this.#unsynced[this.#unsynced.length - 1];
    if (last === undefined) return Promise.resolve();
    return new Promise((resolve, reject) => last.waiters.push({ resolve, reject }));
  }

  /**
   * Committed changes in scope after a resourceVersion, oldest first. Throws
   * ResourceExpiredError when the log no longer reaches back that far.
   */
  eventsSince(resourceVersion: number, scope: Scope): StoreEvent[] {
    if (resourceVersion < this.#compactedThrough) {
      throw new ResourceExpiredError(resourceVersion, this.#compactedThrough);
    }
    const out: StoreEvent[] = [];
    for (const row of this.#statements.eventsSince.iterate(resourceVersion, scope.resource)) {
      if (scope.project !== undefined && row.project !== scope.project) continue;
      if (scope.namespace !== undefined && row.namespace !== scope.namespace) continue;
      if (scope.name !== undefined && row.name !== scope.name) continue;
      out.push({ type: row.type, key: keyOf(row), resourceVersion: row.rv, object: parseBody(row.body) });
    }
    return out;
  }

  /**
   * Hears every change synchronously as it is written, before its batch
   * commits: for state that later writes of the same batch must see (quota
   * usage). Returns the unsubscription.
   */
  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Hears every change once the batch holding it is committed: for whatever tells the outside (watches). */
  subscribeDurable(listener: StoreListener): () => void {
    this.#durableListeners.add(listener);
    return () => this.#durableListeners.delete(listener);
  }

  close(): void {
    try {
      if (this.#db.open && this.#failure === undefined) this.flush();
    } finally {
      this.#closed = true;
      // A sync still running in the pool closes the descriptor when it returns.
      if (this.#walFd !== undefined && !this.#syncing) closeSync(this.#walFd);
      this.#listeners.clear();
      this.#durableListeners.clear();
      if (this.#db.open) this.#db.close();
    }
  }
}

function after(key: ObjectKey, cursor: ListCursor): boolean {
  const a = [key.project, key.namespace, key.name];
  const b = [cursor.project, cursor.namespace, cursor.name];
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    if (x !== y) return x > y;
  }
  return false;
}

function keyOf(row: ObjectRow): ObjectKey {
  return { resource: row.resource, project: row.project, namespace: row.namespace, name: row.name };
}

function toStored(row: ObjectRow): StoredObject {
  return { key: keyOf(row), resourceVersion: row.rv, object: parseBody(row.body) };
}

function parseBody(body: string): JsonObject {
  return JSON.parse(body) as JsonObject;
}

function stampResourceVersion(object: JsonObject, rv: number): JsonObject {
  const metadata = object["metadata"];
  const base = typeof metadata === "object" && metadata !== null ? (metadata as JsonObject) : {};
  return { ...object, metadata: { ...base, resourceVersion: String(rv) } };
}
