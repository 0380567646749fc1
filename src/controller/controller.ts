// The control plane: informers on ExportPolicies and Secrets feed a work
// queue; workers reconcile one policy key at a time. A Secret change wakes
// every policy that references it; a periodic resync wakes them all.
import type { ExportPolicy, Secret } from "../api/index.js";
import {
  errorField,
  systemClock,
  silentLogger,
  type Clock,
  type TimerHandle,
  type Logger,
} from "../util/index.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import { Histogram } from "../metrics/histogram.js";
import {
  Informer,
  StringInterner,
  stripManagedFields,
  type KubeClient,
  type KubeObject,
} from "../kube/index.js";
import type { ControlPlaneLayout } from "./layout.js";
import {
  FINALIZER,
  POLICIES,
  Reconciler,
  SECRETS,
  formatKey,
  policyFields,
  type ExporterControl,
} from "./reconciler.js";
import { WorkQueue } from "./workqueue.js";

export interface ControllerOptions {
  readonly client: KubeClient;
  readonly layout: ControlPlaneLayout;
  readonly exporter: ExporterControl;
  readonly tenantLabel: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * Reconciles running at once (each key still one at a time). Default 16:
   * a reconcile mostly waits on the API's durable commits, and concurrent
   * writes share one commit (the store's group commit), so more workers make
   * a burst of 10,000 new or newly Ready policies go faster; the work itself is small.
   */
  readonly workers?: number;
  /** Every policy is reconciled again this often regardless of events. Default 10 min. */
  readonly resyncMs?: number;
  /** Delivery health is checked this often; policies whose readiness moved are reconciled. Default 10 s. */
  readonly statusRefreshMs?: number;
  /** In a fleet: which policies this replica runs (src/fleet). Absent: all of them. */
  readonly ownership?: PolicyOwnership;
}

/** The controller's view of fleet ownership. */
export interface PolicyOwnership {
  owns(uid: string): boolean;
  /** Called when the owners may have changed (members joined or left). */
  onChange(listener: () => void): void;
}

/** A reconcile writes at most a status and a few Events: milliseconds, seconds when the API is slow. */
const RECONCILE_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How long the reconcile a sink's first delivery asks for waits for its policy's other sinks. */
const FIRST_DELIVERY_DELAY_MS = 250;

type SecretObject = Secret & KubeObject;
type PolicyObject = ExportPolicy & KubeObject;

export class Controller {
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  private readonly policies: Informer<PolicyObject>;
  private readonly secrets: Informer<SecretObject>;
  /** Secret key (project/namespace/name) → keys of the policies that reference it. */
  private readonly secretUsers = new Map<string, Set<string>>();
  /** Policy key → the Secret keys it references (the reverse of secretUsers). */
  private readonly secretsUsed = new Map<string, string[]>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private resyncTimer: TimerHandle | undefined;
  private statusTimer: TimerHandle | undefined;
  private workers: Promise<void>[] = [];
  /** Keys of the policies this replica owns (all of them without a fleet). */
  private readonly owned = new Set<string>();
  /** Policies whose sinks' first deliveries will be looked at shortly (see the constructor). */
  private readonly firstDeliveries = new Set<string>();
  reconciles = 0;
  /** Reconciles that threw (retried with backoff). */
  reconcileErrors = 0;
  /** How long reconciles take, failed ones included. */
  readonly reconcileSeconds = new Histogram(RECONCILE_BUCKETS_S);

  constructor(private readonly options: ControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.queue = new WorkQueue({ clock: this.clock });
    const keyOf = (object: KubeObject): string => this.keyOf(object);
    const strings = new StringInterner();
    this.policies = new Informer<PolicyObject>({
      client: options.client,
      path: options.layout.collectionPath(POLICIES),
      keyOf,
      // The controller writes with merge patches: the cache needs neither managers' field trees
      // nor the last-applied manifest (at 10,000 policies, most of what it held); what it keeps
      // shares its strings (intern.ts).
      transform: (policy) => strings.internObject(stripManagedFields(policy)),
      clock: this.clock,
      logger: this.logger,
      handlers: {
        onUpsert: (key, policy, previous) => {
          this.indexSecrets(key, policy);
          const moved = this.noteOwner(key, policy);
          if (moved || needsReconcile(policy, previous)) this.queue.add(key);
        },
        onDelete: (key) => {
          this.indexSecrets(key, undefined);
          this.owned.delete(key);
          this.queue.add(key);
        },
      },
    });
    this.secrets = new Informer<SecretObject>({
      client: options.client,
      path: options.layout.collectionPath(SECRETS),
      keyOf,
      clock: this.clock,
      logger: this.logger,
      // Nor a Secret's last-applied manifest: its credentials once more, in plain text.
      transform: stripManagedFields,
      handlers: {
        onUpsert: (key) => {
          this.wakeUsersOf(key);
        },
        onDelete: (key) => {
          this.wakeUsersOf(key);
        },
      },
    });
    this.reconciler = new Reconciler({
      client: options.client,
      layout: options.layout,
      exporter: options.exporter,
      tenantLabel: options.tenantLabel,
      policy: (key) => this.policies.get(key),
      secret: (project, namespace, name) => this.secrets.get(formatKey({ project, namespace, name })),
      now: () => new Date(this.clock.now()),
      logger: this.logger,
      ...(options.ownership === undefined
        ? {}
        : { owns: (uid: string) => options.ownership?.owns(uid) ?? true }),
    });
    // A sink's first delivery makes its policy Ready now rather than at the next health
    // pass (up to --status-interval later). After a short delay, so that the first
    // deliveries of a policy's sinks share one reconcile, and only if its readiness still
    // moved then (a health pass may have got there first); through the queue, so that
    // 10,000 sinks going Ready at once cost one reconcile each, at the workers' pace.
    options.exporter.onFirstDelivery?.((uid) => {
      const key = this.reconciler.runningKey(uid);
      if (key === undefined || this.firstDeliveries.has(key)) return;
      this.firstDeliveries.add(key);
      this.clock.setTimer(FIRST_DELIVERY_DELAY_MS, () => {
        this.firstDeliveries.delete(key);
        if (this.reconciler.readinessMoved(key)) this.queue.add(key);
      });
    });
    options.ownership?.onChange(() => {
      this.ownersChanged();
    });
  }

  /** The work queue's key of an object: project/namespace/name. */
  private keyOf(object: KubeObject): string {
    return formatKey({
      project: this.options.layout.projectOf(object) ?? "",
      namespace: object.metadata.namespace ?? "default",
      name: object.metadata.name,
    });
  }

  /** Policies this replica runs now. */
  get ownedPolicies(): number {
    return this.owned.size;
  }

  /** Records whether this replica owns the policy; true when that just changed. */
  private noteOwner(key: string, policy: PolicyObject): boolean {
    const owns = this.options.ownership?.owns(policy.metadata.uid ?? "") ?? true;
    const had = this.owned.has(key);
    if (owns) this.owned.add(key);
    else this.owned.delete(key);
    return owns !== had;
  }

  /**
   * Members joined or left: only the policies whose owner flipped for this
   * replica are reconciled (gained: start; lost: let go), about 1/n of them
   * by rendezvous hashing: no reconcile storm.
   */
  private ownersChanged(): void {
    for (const policy of this.policies.list()) {
      const key = this.keyOf(policy);
      if (this.noteOwner(key, policy)) this.queue.add(key);
    }
  }

  /**
   * Why the API looks unusable, or undefined: the list/watch of an informer
   * is failing (unreachable, or refusing), with how long and the last error.
   */
  get apiFailure(): string | undefined {
    for (const [resource, informer] of this.informers()) {
      const failure = informer.failure;
      if (failure === undefined) continue;
      const seconds = Math.round((this.clock.now() - failure.sinceMs) / 1000);
      return `list/watch of ${resource} failing for ${seconds}s: ${failure.error}`;
    }
    return undefined;
  }

  /** The resources whose informers have not completed their first list yet. */
  get unsyncedResources(): string[] {
    return this.informers()
      .filter(([, informer]) => !informer.hasSynced)
      .map(([resource]) => resource);
  }

  private informers(): [string, Pick<Informer<KubeObject>, "failure" | "hasSynced">][] {
    return [
      [POLICIES.plural, this.policies],
      [SECRETS.plural, this.secrets],
    ];
  }

  /**
   * Resolves once every policy known at start has been reconciled (the queue
   * went idle), or after timeoutMs: push ingest opens only then, so that a
   * sample acknowledged at start-up goes to the policies that already exist
   * rather than being counted as selected by none (issue 13: a replica owned
   * a policy whose sink was not running yet).
   */
  async caughtUp(timeoutMs = 60_000): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    while (!this.queue.idle) {
      if (this.clock.now() >= deadline) {
        this.logger.warn("start-up reconciles not finished; opening ingest anyway", {
          queued: this.queue.length,
          timeoutMs,
        });
        return false;
      }
      await new Promise<void>((resolve) => this.clock.setTimer(20, resolve));
    }
    return true;
  }

  /** Every policy in the API by uid, with its sinks' names (Exporter.pruneBacklogs). */
  policySinks(): Map<string, string[]> {
    const sinks = new Map<string, string[]>();
    for (const policy of this.policies.list()) {
      const uid = policy.metadata.uid;
      if (uid === undefined) continue;
      sinks.set(
        uid,
        policy.spec.sinks.map((sink) => sink.name),
      );
    }
    return sinks;
  }

  /** Starts watching; resolves once both caches are filled and workers run. */
  async start(): Promise<void> {
    // A layout that learns projects from the API (a cluster's namespace labels) knows them first.
    await this.options.layout.projects?.start(() => {
      this.policies.rekey();
      this.secrets.rekey();
    });
    this.secrets.start();
    this.policies.start();
    await Promise.all([this.secrets.waitForSync(), this.policies.waitForSync()]);
    const workers = this.options.workers ?? 16;
    this.workers = Array.from({ length: workers }, () => this.work());
    this.scheduleResync();
    this.scheduleStatusCheck();
  }

  async stop(): Promise<void> {
    this.resyncTimer?.cancel();
    this.statusTimer?.cancel();
    this.queue.shutDown();
    await Promise.all(this.workers);
    await Promise.all([this.policies.stop(), this.secrets.stop()]);
    await this.options.layout.projects?.stop();
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_replica_policies",
      "Policies this replica runs: its share of the fleet by rendezvous hashing (all of them without a fleet).",
      "gauge",
      {},
      this.owned.size,
    );
    writer.sample(
      "telex_controller_reconciles_total",
      "Reconciles finished.",
      "counter",
      {},
      this.reconciles,
    );
    writer.sample(
      "telex_controller_reconcile_errors_total",
      "Reconciles that failed and were queued again with backoff.",
      "counter",
      {},
      this.reconcileErrors,
    );
    const duration = this.reconcileSeconds;
    writer.histogram(
      "telex_controller_reconcile_duration_seconds",
      "Duration of reconciles (one policy each), failed ones included.",
      {},
      duration.bounds,
      duration.counts,
      duration.sumSeconds,
      duration.count,
    );
    writer.sample(
      "telex_controller_events_total",
      "Events the controller created (one per Ready transition of a policy or sink, drops, expiry).",
      "counter",
      {},
      this.reconciler.status.events,
    );
    writer.sample(
      "telex_controller_status_writes_total",
      "Status updates written to the API.",
      "counter",
      {},
      this.reconciler.status.writes,
    );
    writer.sample(
      "telex_controller_queue_length",
      "Policies waiting to be reconciled.",
      "gauge",
      {},
      this.queue.length,
    );
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const startedMs = this.clock.now();
      try {
        await this.reconciler.reconcile(key);
        this.reconciles++;
        this.queue.forget(key);
      } catch (error) {
        this.reconcileErrors++;
        this.logger.warn("reconcile failed, will retry", {
          ...policyFields(key),
          attempt: this.queue.failureCount(key) + 1,
          error: errorField(error),
        });
        this.queue.addRateLimited(key);
      } finally {
        this.reconcileSeconds.observe((this.clock.now() - startedMs) / 1000);
        this.queue.done(key);
      }
    }
  }

  /** Reconciles the policies whose delivery health changed their readiness (see Reconciler.readinessChanged). */
  private scheduleStatusCheck(): void {
    this.statusTimer = this.clock.setTimer(this.options.statusRefreshMs ?? 10_000, () => {
      for (const key of this.reconciler.readinessChanged()) this.queue.add(key);
      this.scheduleStatusCheck();
    });
  }

  private scheduleResync(): void {
    this.resyncTimer = this.clock.setTimer(this.options.resyncMs ?? 10 * 60_000, () => {
      for (const policy of this.policies.list()) {
        this.queue.add(this.keyOf(policy));
      }
      this.scheduleResync();
    });
  }

  private indexSecrets(policyKey: string, policy: ExportPolicy | undefined): void {
    for (const secretKey of this.secretsUsed.get(policyKey) ?? []) {
      const users = this.secretUsers.get(secretKey);
      users?.delete(policyKey);
      if (users?.size === 0) this.secretUsers.delete(secretKey);
    }
    this.secretsUsed.delete(policyKey);
    if (policy === undefined) return;
    const [project = "", namespace = ""] = policyKey.split("/");
    const used: string[] = [];
    // Objects come from the API: a real cluster may hold ones our schema rejects.
    const sinks = (policy.spec as ExportPolicy["spec"] | undefined)?.sinks ?? [];
    for (const sink of sinks) {
      const secret = sink.target.prometheusRemoteWrite?.authentication?.basicAuth?.secretRef.name;
      if (secret === undefined) continue;
      const secretKey = formatKey({ project, namespace, name: secret });
      used.push(secretKey);
      let users = this.secretUsers.get(secretKey);
      if (users === undefined) {
        users = new Set();
        this.secretUsers.set(secretKey, users);
      }
      users.add(policyKey);
    }
    this.secretsUsed.set(policyKey, used);
  }

  private wakeUsersOf(secretKey: string): void {
    for (const policyKey of this.secretUsers.get(secretKey) ?? []) this.queue.add(policyKey);
  }
}

/**
 * Whether an update can change what reconcile does: a new object, a new
 * generation (spec), deletion or finalizers (but not the controller adding its own). Status-only updates — above all
 * the controller's own status writes, coming back through the watch — are
 * skipped: reconciling them would double the work for nothing.
 */
export function needsReconcile(policy: PolicyObject, previous: PolicyObject | undefined): boolean {
  if (previous === undefined) return true;
  const now = policy.metadata;
  const before = previous.metadata;
  const ours = now.finalizers?.includes(FINALIZER) === true;
  const finalizersMoved = (now.finalizers ?? []).join("\n") !== (before.finalizers ?? []).join("\n");
  return (
    now.generation !== before.generation ||
    now.deletionTimestamp !== before.deletionTimestamp ||
    // Our finalizer gone (or never set) needs a reconcile; our own adding of it does
    // not: the reconcile that added it goes on with the patched object.
    (finalizersMoved && (!ours || before.finalizers?.includes(FINALIZER) === true)) ||
    now.uid !== before.uid
  );
}
