// The pull source: keeps one JobRunner per job, shares one HTTP pool and one
// concurrency limit between them, and answers health by job key.
import type { Logger, Clock } from "../../util/index.js";
import { ConcurrencyLimit } from "./concurrency-limit.js";
import type { CursorStore } from "./cursor-store.js";
import {
  DEFAULT_MAX_BACKLOG_AGE_MS,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_MAX_RETRY_BACKOFF_MS,
  DEFAULT_MAX_WINDOW_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_BACKOFF_MS,
  DEFAULT_STOP_GRACE_MS,
} from "./defaults.js";
import { ExportClient } from "./export-client.js";
import { ExportJobRunner } from "./export-runner.js";
import { FederateClient } from "./federate-client.js";
import { FederateJobRunner } from "./federate-runner.js";
import type { PullHealth } from "./health.js";
import type { PullJob } from "./job.js";
import type { JobRunner, RunnerDeps } from "./runner.js";
import { validatePlannerOptions } from "./window-planner.js";

/**
 * `export` (VictoriaMetrics' `/api/v1/export`): consecutive windows, every
 * sample exactly once, a persisted cursor. `federate` (`/federate`, any
 * Prometheus-compatible store): the latest sample per series each interval;
 * samples between pulls are missed, lagMs and the cursor store are unused,
 * and a restart re-emits each series' current sample once.
 */
export type PullMode = "export" | "federate";

export interface PullSourceOptions {
  /** Default "export". */
  readonly mode?: PullMode;
  /**
   * VictoriaMetrics: a single node's root (`http://vm:8428`) or vmselect with
   * its tenant prefix (`http://vmselect:8481/select/0/prometheus`).
   */
  readonly url: string;
  /** How often each job reads a window, and the window's length in steady state. */
  readonly intervalMs: number;
  /** Only samples older than now − lagMs are read: time for agents and the store to make them searchable. */
  readonly lagMs: number;
  /** Sent with every request, e.g. Authorization; never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cursorStore: CursorStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest window while catching up; default max(intervalMs, 5 min). */
  readonly maxWindowMs?: number;
  /** Header and body idle timeout of a request; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Requests in flight at once over all jobs; default 4. */
  readonly maxConcurrentRequests?: number;
  /** First retry wait (doubling, +≤20 % jitter); default 1 s. */
  readonly retryBackoffMs?: number;
  /** Longest retry wait; default 60 s. */
  readonly maxRetryBackoffMs?: number;
  /** How long stop() lets a window that is already emitting finish; default 5 s. */
  readonly stopGraceMs?: number;
  /**
   * A job whose cursor is older than now − this (its sink down, or Telex
   * stopped, that long) skips ahead and counts the skipped time in
   * health.skippedSeconds.expired; default 24 h (--max-backlog-age).
   */
  readonly maxBacklogAgeMs?: number;
  /** In [0, 1), for the retry jitter; injectable for tests. */
  readonly random?: () => number;
}

export interface SetJobsOptions {
  /**
   * Also delete the persisted cursors of the jobs this call removes. Off by
   * default: a job that comes back (a policy re-applied, or moved back to
   * this replica) then resumes where it stopped instead of skipping ahead.
   * Turn it on when the policy itself was deleted.
   */
  readonly forgetRemoved?: boolean;
}

export class PullSource {
  private readonly newRunner: (job: PullJob) => JobRunner;
  private readonly close: () => Promise<void>;
  private readonly cursorStore: CursorStore;
  private readonly logger: Logger;
  private readonly runners = new Map<string, JobRunner>();
  /** Runners being stopped after removal, by key: a job re-added meanwhile starts after them. */
  private readonly stopping = new Map<string, Promise<void>>();
  private state: "new" | "started" | "stopped" = "new";
  private stopped: Promise<void> | undefined;

  constructor(options: PullSourceOptions) {
    const planner = {
      intervalMs: options.intervalMs,
      lagMs: options.lagMs,
      maxWindowMs: options.maxWindowMs ?? Math.max(options.intervalMs, DEFAULT_MAX_WINDOW_MS),
    };
    validatePlannerOptions(planner);
    const maxBacklogAgeMs = options.maxBacklogAgeMs ?? DEFAULT_MAX_BACKLOG_AGE_MS;
    if (!Number.isSafeInteger(maxBacklogAgeMs) || maxBacklogAgeMs < planner.maxWindowMs + planner.lagMs) {
      throw new RangeError(
        `pull maxBacklogAgeMs must be an integer of at least maxWindowMs + lagMs (${planner.maxWindowMs + planner.lagMs}), got ${maxBacklogAgeMs}`,
      );
    }
    const maxConnections = options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS;
    const client = {
      url: options.url,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxConnections,
    };
    const shared: RunnerDeps = {
      clock: options.clock,
      logger: options.logger,
      limit: new ConcurrencyLimit(maxConnections),
      backoff: {
        baseMs: options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
        maxMs: options.maxRetryBackoffMs ?? DEFAULT_MAX_RETRY_BACKOFF_MS,
        random: options.random ?? Math.random,
      },
    };
    this.cursorStore = options.cursorStore;
    this.logger = options.logger;
    if (options.mode === "federate") {
      const federate = new FederateClient(client);
      const deps = { ...shared, client: federate, intervalMs: options.intervalMs };
      this.newRunner = (job) => new FederateJobRunner(job, deps);
      this.close = () => federate.close();
    } else {
      const exporter = new ExportClient(client);
      const deps = {
        ...shared,
        client: exporter,
        planner,
        cursorStore: options.cursorStore,
        stopGraceMs: options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
        maxBacklogAgeMs,
      };
      this.newRunner = (job) => new ExportJobRunner(job, deps);
      this.close = () => exporter.close();
    }
  }

  /**
   * Makes the running set equal `jobs`: new keys start, removed keys stop,
   * and a key present before and now keeps its runner and cursor and takes
   * the new selector and emit target.
   */
  setJobs(jobs: readonly PullJob[], options: SetJobsOptions = {}): void {
    if (this.state === "stopped") throw new Error("PullSource.setJobs after stop()");
    const wanted = new Map<string, PullJob>();
    for (const job of jobs) {
      if (wanted.has(job.key)) throw new Error(`two pull jobs with the key ${JSON.stringify(job.key)}`);
      wanted.set(job.key, job);
    }
    for (const [key, runner] of this.runners) {
      if (wanted.has(key)) continue;
      this.runners.delete(key);
      this.retire(key, runner, options.forgetRemoved === true);
    }
    this.migrateCursors(wanted);
    for (const [key, job] of wanted) {
      const existing = this.runners.get(key);
      if (existing !== undefined) {
        existing.replace(job);
        continue;
      }
      const runner = this.newRunner(job);
      this.runners.set(key, runner);
      if (this.state === "started") runner.start(this.stopping.get(key));
    }
  }

  start(): void {
    if (this.state !== "new") throw new Error(`PullSource.start() when ${this.state}`);
    this.state = "started";
    for (const [key, runner] of this.runners) runner.start(this.stopping.get(key));
  }

  /** Idempotent. Resolves when every job has stopped and its last cursor is saved. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  /**
   * Why the store cannot be read, when every running job's last attempt failed (its `source`
   * readiness check): one job failing is that job's trouble (its status says so), all of them
   * is the store's. Undefined while a job reads, or none runs.
   */
  storeFailure(): string | undefined {
    let last: PullHealth["lastError"];
    for (const runner of this.runners.values()) {
      const health = runner.snapshot();
      if (health.consecutiveFailures === 0) return undefined;
      if (last === undefined || (health.lastError !== undefined && health.lastError.atMs > last.atMs))
        last = health.lastError;
    }
    if (last === undefined) return undefined;
    return `every pull job (${this.runners.size}) fails to read the store: ${last.reason}: ${last.message}`;
  }

  /** The job's health, or undefined for a key that is not running. */
  health(key: string): PullHealth | undefined {
    return this.runners.get(key)?.snapshot();
  }

  private async stopAll(): Promise<void> {
    this.state = "stopped";
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all([...runners.map((runner) => runner.stop()), ...this.stopping.values()]);
    await this.close();
  }

  /**
   * A job without a cursor of its own, or with stored legacy keys (the
   * per-source keys of an older Telex), starts at the minimum of those
   * cursors: no source's unread data is skipped. The legacy keys are then
   * deleted, unless they are a running job's own key.
   */
  private migrateCursors(wanted: ReadonlyMap<string, PullJob>): void {
    const store = this.cursorStore;
    const used = new Set<string>();
    for (const [key, job] of wanted) {
      if (this.runners.has(key)) continue;
      const legacy = (job.legacyKeys ?? []).filter(
        (old) => !wanted.has(old) && !this.runners.has(old) && store.load(old) !== undefined,
      );
      if (legacy.length === 0) continue;
      const own = store.load(key);
      const cursors = legacy.map((old) => store.load(old) ?? Infinity);
      const start = Math.min(own ?? Infinity, ...cursors);
      for (const old of legacy) used.add(old);
      this.logger.info("pull cursor taken over from per-source cursors", {
        job: key,
        from: legacy.join(","),
        cursorMs: start,
      });
      this.persist(key, store.save(key, start));
    }
    for (const old of used) this.persist(old, store.delete(old));
  }

  private persist(key: string, saving: Promise<void>): void {
    saving.catch((error: unknown) => {
      this.logger.warn("could not persist the pull cursor", {
        job: key,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  private retire(key: string, runner: JobRunner, forget: boolean): void {
    const previous = this.stopping.get(key) ?? Promise.resolve();
    const done = Promise.all([previous, runner.stop()])
      .then(() => (forget ? this.cursorStore.delete(key) : undefined))
      .catch((error: unknown) => {
        this.logger.warn("stopping a removed pull job failed", {
          job: key,
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        if (this.stopping.get(key) === done) this.stopping.delete(key);
      });
    this.stopping.set(key, done);
  }
}
