// Public face of the pull source: reads each (policy, sink)'s scoped
// selectors from VictoriaMetrics' `/api/v1/export` over consecutive windows.
//
//   const source = new PullSource({ url, intervalMs, lagMs, cursorStore, clock, logger });
//   source.setJobs([{ key: `${policyUid}/${sinkName}`, selector: [print(scoped), …], emit, target: sink }]);
//   source.start();
//   source.health(key);   // progress and failures of one job
//   await source.stop();  // idempotent; cursors saved
//
// Semantics:
// - Windows are half-open [start, end), consecutive, never overlapping: each
//   sample with a timestamp in a window is emitted once while Telex runs.
// - A window is read once now − lag has passed its end; a job without a stored
//   cursor starts one interval before now − lag (no backfill of history).
// - After downtime the backlog is read in windows of at most maxWindowMs.
// - Store errors are retried with capped exponential backoff and jitter; the
//   cursor only advances, and is only persisted, after the whole window was
//   emitted. A retry skips what a failed attempt of the window already emitted.
// - Samples ingested later than `lag` after their timestamp, into a window
//   already read, are not exported: choose lag above the agents' delivery delay.
// - With a target (the sink), the cursor advances only once the target
//   delivered the window (or refused it for good); a down target pauses the
//   job without holding a store connection, and it resumes from its cursor.
// - A cursor older than now − maxBacklogAge (default 24 h) jumps ahead; the
//   skipped time is counted in health.skippedSeconds.expired and logged.
// - A crash (not stop()) in the middle of a window re-reads that window on
//   restart: its already-emitted part is sent again (at least once).
// - mode "federate" reads `/federate` instead, for Prometheus-compatible
//   stores without `/api/v1/export`: only each series' newest sample at pull
//   time, so no exactly-once, gaps between pulls, and timestamps as stored.
export type { CursorStore } from "./cursor-store.js";
export { MemoryCursorStore } from "./cursor-store.js";
export { CursorFileError, FileCursorStore } from "./file-cursor-store.js";
export type { PullFailure, PullHealth } from "./health.js";
export type { EmitResult, PullJob, PullTarget } from "./job.js";
export type { PullFailureReason } from "./pull-error.js";
export type { PullMode, PullSourceOptions, SetJobsOptions } from "./pull-source.js";
export { PullSource } from "./pull-source.js";
