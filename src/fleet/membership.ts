// Membership of a fleet of replicas through coordination.k8s.io/v1 Leases,
// with no coordination service of Telex's own: each replica holds one Lease
// named after itself and renews it; the live members are the holders whose
// Lease was renewed within its duration. As in client-go's leader election,
// "renewed" is judged by when THIS replica saw the Lease change, on its own
// clock, never by the renewTime another replica wrote: clocks may disagree.
//
// A replica counts itself a member only while its own last successful renewal
// (timed from when the request was sent) is within the lease duration, so a
// replica cut off from the API stops owning policies about when the others
// see its Lease expire. A graceful stop deletes the Lease: the others take
// over at once instead of after the lease duration.
import { Informer, KubeApiError, microTime, type KubeClient, type Lease } from "../kube/index.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import { silentLogger, systemClock, type Clock, type Logger, type TimerHandle } from "../util/index.js";

/** Leases of Telex replicas carry this label; other Leases in the namespace are not members. */
export const REPLICA_LABEL = "telex.miloapis.com/replica";

/** Where a replica takes forwarded series (its ingest listener's URL, --advertise-url), on its Lease. */
export const INGEST_URL_ANNOTATION = "telex.miloapis.com/ingest-url";

export const MEMBERSHIP_DEFAULTS = {
  /** client-go's leader-election lease: a killed replica's policies move after at most this. */
  leaseDurationMs: 15_000,
  /** A third of the lease: two renewals may fail before the Lease expires. */
  renewIntervalMs: 5_000,
} as const;

export interface MembershipOptions {
  readonly client: KubeClient;
  /** The Lease collection, e.g. /apis/coordination.k8s.io/v1/namespaces/telex-system/leases. */
  readonly leasesPath: string;
  /** This replica's name, and its Lease's (a DNS subdomain, e.g. the pod name). */
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewIntervalMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const IDENTITY = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class Membership {
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** After this long without a renewal a member is gone. */
  readonly leaseDurationMs: number;
  private readonly renewIntervalMs: number;
  private readonly leases: Informer<Lease>;
  /** Per member: when this replica last saw its Lease renewed (local clock). */
  private readonly observed = new Map<string, { readonly renewTime: string; readonly atMs: number }>();
  private readonly listeners: ((members: readonly string[]) => void)[] = [];
  private readonly leaseListeners: (() => void)[] = [];
  /** Annotations others publish on this replica's Lease besides the ingest URL (see publish). */
  private published: () => Readonly<Record<string, string>> = () => ({});
  /** A renewal is due once the one in flight ends: what it carries changed meanwhile. */
  private republishing = false;
  private own: Lease | undefined;
  private renewedAtMs: number | undefined;
  private current: readonly string[] = [];
  private renewTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;
  /** Push mode: where the others forward series to this replica (see advertise). */
  private ingestUrl: string | undefined;
  /** Successful renewals and failed ones, for /metrics. */
  readonly stats = { renewals: 0, renewalFailures: 0 };

  constructor(private readonly options: MembershipOptions) {
    if (!IDENTITY.test(options.identity))
      throw new RangeError(`replica name ${JSON.stringify(options.identity)} is not a DNS subdomain`);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.leaseDurationMs = options.leaseDurationMs ?? MEMBERSHIP_DEFAULTS.leaseDurationMs;
    this.renewIntervalMs = options.renewIntervalMs ?? MEMBERSHIP_DEFAULTS.renewIntervalMs;
    this.leases = new Informer<Lease>({
      client: options.client,
      path: options.leasesPath,
      keyOf: (lease) => lease.metadata.name,
      clock: this.clock,
      logger: this.logger,
      handlers: {
        onUpsert: (name, lease) => {
          this.observe(name, lease);
          this.recompute();
          this.leasesChanged(name);
        },
        onDelete: (name) => {
          this.observed.delete(name);
          this.recompute();
          this.leasesChanged(name);
        },
      },
    });
  }

  get identity(): string {
    return this.options.identity;
  }

  /** The live members, sorted; this replica among them only while its own Lease is fresh. */
  get members(): readonly string[] {
    return this.current;
  }

  get isMember(): boolean {
    return this.current.includes(this.options.identity);
  }

  /** The ingest URL a replica publishes on its Lease (undefined when it publishes none). */
  ingestUrlOf(member: string): string | undefined {
    if (member === this.options.identity) return this.ingestUrl;
    return this.leases.get(member)?.metadata.annotations?.[INGEST_URL_ANNOTATION];
  }

  /** The annotations another live member's Lease carries (undefined for this replica and strangers). */
  annotationsOf(member: string): Readonly<Record<string, string>> | undefined {
    if (member === this.options.identity) return undefined;
    return this.leases.get(member)?.metadata.annotations;
  }

  /** Called whenever another replica's Lease changes, and after the members change. */
  onLeasesChange(listener: () => void): void {
    this.leaseListeners.push(listener);
  }

  /**
   * What this replica says on its Lease besides its ingest URL (src/fleet/handover.ts): read at
   * each renewal. republish() sends it at once; a change of members always does.
   */
  publish(annotations: () => Readonly<Record<string, string>>): void {
    this.published = annotations;
  }

  /** Renews now (or right after the renewal in flight) so the Lease carries what publish() gives. */
  republish(): void {
    if (this.stopped || this.renewedAtMs === undefined) return;
    if (this.renewing !== undefined) {
      this.republishing = true;
      return;
    }
    void this.renew();
  }

  /** Called with the new member list whenever it changes. */
  onChange(listener: (members: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Publishes this replica's ingest URL on its Lease (push mode), once its
   * ingest listener is open: until then the others' forwards to it wait.
   */
  async advertise(ingestUrl: string): Promise<void> {
    this.ingestUrl = ingestUrl;
    await this.renewing;
    await this.renew();
  }

  /** Takes this replica's Lease and watches the others'; resolves once both are done. */
  async start(): Promise<void> {
    this.leases.start();
    await this.leases.waitForSync();
    await this.renew();
    this.scheduleRenew();
  }

  /** Stops renewing and deletes the Lease, so the others take this replica's share at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.renewTimer?.cancel();
    this.expiryTimer?.cancel();
    await this.renewing;
    const own = this.own;
    if (own !== undefined) {
      try {
        await this.options.client.request("DELETE", this.leasePath(), {
          body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid: own.metadata.uid } },
        });
      } catch (error: unknown) {
        // Not fatal: the Lease expires by itself.
        this.logger.warn("could not release the replica Lease", { error: String(error) });
      }
    }
    await this.leases.stop();
    this.renewedAtMs = undefined;
    this.current = [];
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_replica_members",
      "Live replicas of the fleet as this replica sees them (itself included while its Lease is fresh).",
      "gauge",
      {},
      this.current.length,
    );
    for (const [outcome, count] of [
      ["success", this.stats.renewals],
      ["failure", this.stats.renewalFailures],
    ] as const) {
      writer.sample(
        "telex_replica_lease_renewals_total",
        "Renewals of this replica's Lease, by outcome.",
        "counter",
        { outcome },
        count,
      );
    }
  }

  private leasePath(): string {
    return `${this.options.leasesPath}/${encodeURIComponent(this.options.identity)}`;
  }

  private scheduleRenew(): void {
    if (this.stopped) return;
    this.renewTimer = this.clock.setTimer(this.renewIntervalMs, () => {
      this.renewTimer = undefined;
      void this.renew().finally(() => {
        this.scheduleRenew();
      });
    });
  }

  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
      if (this.republishing) {
        this.republishing = false;
        void this.renew();
      }
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const sentAt = this.clock.now();
    const now = microTime(new Date(sentAt));
    const { client, identity } = this.options;
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: now,
    };
    try {
      let own = this.own ?? (await this.fetchOwn());
      if (own === undefined) {
        own = await client.request<Lease>("POST", this.options.leasesPath, {
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: identity, labels: { [REPLICA_LABEL]: "true" }, ...this.annotations() },
            spec: { ...spec, acquireTime: now, leaseTransitions: 0 },
          },
        });
      } else {
        const taken = own.spec?.holderIdentity !== identity;
        own = await client.request<Lease>("PUT", this.leasePath(), {
          body: {
            ...own,
            metadata: {
              ...own.metadata,
              labels: { ...own.metadata.labels, [REPLICA_LABEL]: "true" },
              annotations: { ...own.metadata.annotations, ...this.annotations().annotations },
            },
            spec: {
              ...own.spec,
              ...spec,
              ...(taken ? { acquireTime: now, leaseTransitions: (own.spec?.leaseTransitions ?? 0) + 1 } : {}),
            },
          },
        });
      }
      this.own = own;
      this.renewedAtMs = sentAt;
      this.stats.renewals++;
    } catch (error: unknown) {
      this.stats.renewalFailures++;
      // A conflict means someone else wrote the Lease: read it again next time.
      if (error instanceof KubeApiError && (error.statusCode === 409 || error.statusCode === 404)) {
        this.own = undefined;
        if (error.statusCode === 409)
          this.logger.warn(
            "the replica Lease was written by someone else: is another replica using this name?",
            {
              replica: identity,
            },
          );
      } else {
        this.logger.warn("could not renew the replica Lease", { replica: identity, error: String(error) });
      }
    }
    this.recompute();
  }

  private annotations(): { annotations?: Record<string, string> } {
    const url = this.ingestUrl;
    const annotations = {
      ...this.published(),
      ...(url === undefined ? {} : { [INGEST_URL_ANNOTATION]: url }),
    };
    return Object.keys(annotations).length === 0 ? {} : { annotations };
  }

  private leasesChanged(name: string): void {
    if (name === this.options.identity) return;
    for (const listener of this.leaseListeners) listener();
  }

  private async fetchOwn(): Promise<Lease | undefined> {
    try {
      return await this.options.client.request<Lease>("GET", this.leasePath());
    } catch (error: unknown) {
      if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  private observe(name: string, lease: Lease): void {
    const renewTime = lease.spec?.renewTime ?? "";
    const previous = this.observed.get(name);
    if (previous?.renewTime === renewTime) return;
    this.observed.set(name, { renewTime, atMs: this.clock.now() });
  }

  /** Recomputes the live members; tells listeners when they changed and arms the next expiry check. */
  private recompute(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const live: string[] = [];
    let nextExpiry = Infinity;
    const own = this.options.identity;
    if (this.renewedAtMs !== undefined && now - this.renewedAtMs < this.leaseDurationMs) {
      live.push(own);
      nextExpiry = Math.min(nextExpiry, this.renewedAtMs + this.leaseDurationMs);
    }
    for (const lease of this.leases.list()) {
      const name = lease.metadata.name;
      if (name === own || lease.metadata.labels?.[REPLICA_LABEL] !== "true") continue;
      const holder = lease.spec?.holderIdentity;
      if (holder === undefined || holder === "") continue;
      const seen = this.observed.get(name);
      if (seen === undefined) continue;
      const expiresAt = seen.atMs + (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
      if (expiresAt <= now) continue;
      live.push(name);
      nextExpiry = Math.min(nextExpiry, expiresAt);
    }
    live.sort();
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    if (Number.isFinite(nextExpiry))
      this.expiryTimer = this.clock.setTimer(Math.max(1, nextExpiry - now), () => {
        this.recompute();
      });
    if (live.length === this.current.length && live.every((name, i) => name === this.current[i])) return;
    const before = this.current;
    this.current = live;
    this.logger.info("replica members changed", {
      replica: own,
      members: live.join(","),
      joined: live.filter((name) => !before.includes(name)).join(","),
      left: before.filter((name) => !live.includes(name)).join(","),
    });
    for (const listener of this.listeners) listener(live);
    for (const listener of this.leaseListeners) listener();
    // The others wait to see that this replica acted on the same members (handover.ts).
    this.republish();
  }
}
