// The fleet as the API server sees it (`telex serve --api-only`, for
// `telex preview`): the live replicas and where each takes ingest, read from
// their Leases with the rule Membership applies — a Lease is live while it
// was seen renewed (on this process's clock, never by the renewTime another
// clock wrote) within its duration. Holds no Lease of its own.
import { Informer, type KubeClient, type Lease } from "../kube/index.js";
import { silentLogger, systemClock, type Clock, type Logger } from "../util/index.js";
import { INGEST_URL_ANNOTATION, MEMBERSHIP_DEFAULTS, REPLICA_LABEL } from "./membership.js";

export interface FleetViewOptions {
  readonly client: KubeClient;
  /** The Lease collection the replicas hold theirs in. */
  readonly leasesPath: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface LiveReplica {
  readonly name: string;
  /** Its ingest listener (--advertise-url); a pull-mode replica's takes only its peers' delivery metrics and answers previews 409. */
  readonly ingestUrl: string | undefined;
}

export class FleetView {
  private readonly clock: Clock;
  private readonly leases: Informer<Lease>;
  /** Per Lease: the renewTime last seen, and when (this clock). */
  private readonly observed = new Map<string, { readonly renewTime: string; readonly atMs: number }>();

  constructor(options: FleetViewOptions) {
    this.clock = options.clock ?? systemClock;
    this.leases = new Informer<Lease>({
      client: options.client,
      path: options.leasesPath,
      keyOf: (lease) => lease.metadata.name,
      clock: this.clock,
      logger: options.logger ?? silentLogger,
      handlers: {
        onUpsert: (name, lease) => {
          const renewTime = lease.spec?.renewTime ?? "";
          if (this.observed.get(name)?.renewTime !== renewTime)
            this.observed.set(name, { renewTime, atMs: this.clock.now() });
        },
        onDelete: (name) => {
          this.observed.delete(name);
        },
      },
    });
  }

  /** Starts watching; resolves after the first list. */
  async start(): Promise<void> {
    this.leases.start();
    await this.leases.waitForSync();
  }

  stop(): Promise<void> {
    return this.leases.stop();
  }

  /** The replicas whose Lease is live now, by name. */
  live(): LiveReplica[] {
    const now = this.clock.now();
    const live: LiveReplica[] = [];
    for (const lease of this.leases.list()) {
      const name = lease.metadata.name;
      if (lease.metadata.labels?.[REPLICA_LABEL] !== "true") continue;
      if ((lease.spec?.holderIdentity ?? "") === "") continue;
      const seen = this.observed.get(name);
      const durationMs =
        (lease.spec?.leaseDurationSeconds ?? MEMBERSHIP_DEFAULTS.leaseDurationMs / 1000) * 1000;
      if (seen === undefined || seen.atMs + durationMs <= now) continue;
      live.push({ name, ingestUrl: lease.metadata.annotations?.[INGEST_URL_ANNOTATION] });
    }
    return live.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
