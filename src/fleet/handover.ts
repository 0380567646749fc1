// Per-series order across a push-mode handover. When a policy moves from one
// replica to another (a replica joins, or stops gracefully), the old owner
// still holds the policy's backlog in its durable buffer and delivers it
// (Exporter.forwardTo: draining sinks), while the new owner already receives
// the policy's new samples. If both sent at once, a series' newer samples
// could reach the endpoint before its older ones.
//
// So the replicas tell each other on their Leases:
// - `telex.miloapis.com/members-view`: a hash of the live members as this
//   replica sees them, published once it has acted on them (the policies it
//   no longer owns are marked draining before the Lease is written; at
//   start, only once its controller has reconciled every policy);
// - `telex.miloapis.com/draining`: the uids of the policies it still
//   delivers a backlog of for another replica (or `*` past MAX_LISTED).
// A replica that starts running a policy buffers its samples and sends none
// until every other live member shows the same members-view and does not
// list the policy as draining. A member that is gone (its Lease expired or
// deleted) is not waited for: after a kill -9 its backlog is delivered when
// it returns, possibly after newer samples (the README's fleet section).
// Views that do not converge within maxViewWaitMs (a member stuck on an old
// API connection) stop being waited for, so a sink never waits on a peer's
// view forever; a peer's draining list is always honoured.
import { createHash } from "node:crypto";
import type { HandoverGate } from "../exporter/exporter.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import { systemClock, type Clock, type TimerHandle } from "../util/index.js";
import type { Membership } from "./membership.js";

export const MEMBERS_VIEW_ANNOTATION = "telex.miloapis.com/members-view";
export const DRAINING_ANNOTATION = "telex.miloapis.com/draining";

/** Past this many uids (36 characters each) a replica publishes `*`: Lease annotations are capped at 256 KiB. */
export const MAX_LISTED = 4_000;
const ALL = "*";

export interface HandoverOptions {
  readonly membership: Membership;
  /** How long a member's differing view is waited for (default: two lease durations, 30 s). */
  readonly maxViewWaitMs?: number;
  readonly clock?: Clock;
}

interface Waiter {
  readonly uid: string;
  readonly resolve: () => void;
  readonly sinceMs: number;
}

export function membersView(members: readonly string[]): string {
  return createHash("sha256").update(members.join("\n")).digest("hex").slice(0, 16);
}

export class Handover implements HandoverGate {
  private readonly clock: Clock;
  private readonly maxViewWaitMs: number;
  private readonly draining = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  /** When this replica's view last changed: a differing view is waited for from then on. */
  private viewSinceMs: number;
  private view: string;
  private retryTimer: TimerHandle | undefined;
  private publishQueued = false;
  /** Until start(): this replica has not acted on any members yet (its view is published as ""). */
  private started = false;
  /** Each member's draining list as last parsed, by the annotation's text. */
  private readonly parsed = new Map<string, { readonly text: string; readonly uids: ReadonlySet<string> }>();

  constructor(private readonly options: HandoverOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxViewWaitMs = options.maxViewWaitMs ?? 30_000;
    this.view = membersView(options.membership.members);
    this.viewSinceMs = this.clock.now();
    options.membership.publish(() => ({
      [MEMBERS_VIEW_ANNOTATION]: this.started ? membersView(options.membership.members) : "",
      [DRAINING_ANNOTATION]: this.draining.size > MAX_LISTED ? ALL : [...this.draining].sort().join(","),
    }));
    options.membership.onLeasesChange(() => {
      const view = membersView(options.membership.members);
      if (view !== this.view) {
        this.view = view;
        this.viewSinceMs = this.clock.now();
      }
      this.check();
    });
  }

  /**
   * This replica has acted on the members it sees (its controller reconciled every policy, so a
   * backlog it found at start is listed as draining): from now on its Lease says so.
   */
  start(): void {
    this.started = true;
    this.options.membership.republish();
  }

  markDraining(uid: string): void {
    if (this.draining.has(uid)) return;
    this.draining.add(uid);
    this.publishSoon();
  }

  doneDraining(uid: string): void {
    if (!this.draining.delete(uid)) return;
    this.publishSoon();
  }

  /** Whether this replica delivers a backlog of the policy for another one. */
  isDraining(uid: string): boolean {
    return this.draining.has(uid);
  }

  whenSettled(uid: string, signal: AbortSignal): Promise<void> {
    if (this.settled(uid)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        uid,
        sinceMs: this.clock.now(),
        resolve: () => {
          this.waiters.delete(waiter);
          signal.removeEventListener("abort", waiter.resolve);
          resolve();
        },
      };
      this.waiters.add(waiter);
      signal.addEventListener("abort", waiter.resolve, { once: true });
      this.armRetry();
    });
  }

  /** Sinks that wait for another replica to deliver its backlog first. */
  get waiting(): number {
    return this.waiters.size;
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_fleet_handover_waiting_sinks",
      "Sinks that hold their samples until another replica has delivered the policy's older backlog.",
      "gauge",
      {},
      this.waiters.size,
    );
    writer.sample(
      "telex_fleet_draining_policies",
      "Policies this replica delivers a backlog of for the replica that runs them now.",
      "gauge",
      {},
      this.draining.size,
    );
  }

  /** Whether no other live member may still send older samples of the policy. */
  private settled(uid: string): boolean {
    const { membership } = this.options;
    const self = membership.identity;
    const viewWaitOver = this.clock.now() - this.viewSinceMs >= this.maxViewWaitMs;
    for (const member of membership.members) {
      if (member === self) continue;
      const annotations = membership.annotationsOf(member);
      const draining = annotations?.[DRAINING_ANNOTATION] ?? "";
      if (draining === ALL || (draining !== "" && this.drainingOf(member, draining).has(uid))) return false;
      if (!viewWaitOver && annotations?.[MEMBERS_VIEW_ANNOTATION] !== this.view) return false;
    }
    return true;
  }

  private drainingOf(member: string, text: string): ReadonlySet<string> {
    const cached = this.parsed.get(member);
    if (cached?.text === text) return cached.uids;
    const uids = new Set(text.split(","));
    this.parsed.set(member, { text, uids });
    return uids;
  }

  private check(): void {
    for (const waiter of [...this.waiters]) if (this.settled(waiter.uid)) waiter.resolve();
    this.armRetry();
  }

  /** A differing view stops being waited for after maxViewWaitMs: look again then. */
  private armRetry(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    if (this.waiters.size === 0) return;
    const due = this.viewSinceMs + this.maxViewWaitMs - this.clock.now();
    if (due <= 0) return;
    this.retryTimer = this.clock.setTimer(due, () => {
      this.retryTimer = undefined;
      this.check();
    });
  }

  /** One Lease write for a burst of marks (a membership change marks many policies at once). */
  private publishSoon(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    queueMicrotask(() => {
      this.publishQueued = false;
      this.options.membership.republish();
    });
  }
}
