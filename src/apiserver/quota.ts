// Per-project quotas: every object a tenant can make Telex keep (and the
// controller cache, and the exporter run) is counted, and a write that would
// take a project past a limit is refused with 403, like Kubernetes'
// ResourceQuota. Usage is counted once per project from the store, then kept
// up to date from its commits, so a check costs no scan. The platform plane is
// counted the same way under its own key (paths.ts PLATFORM): only strangers'
// tokens are kept out of it, but its Leases and ConfigMaps are bounded all the same.
import type { JsonObject, ObjectStore, StoreEvent } from "../store/index.js";
import { PLATFORM } from "./paths.js";
import {
  configMaps,
  exportPolicies,
  events,
  leases,
  namespaces,
  secrets,
  type ResourceType,
} from "./resources.js";
import { ApiError, errors, qualifiedResource } from "./status.js";
import type { WriteTarget } from "./target.js";

export interface ProjectQuotas {
  readonly maxPoliciesPerProject: number;
  /** Sinks summed over all of a project's ExportPolicies. */
  readonly maxSinksPerProject: number;
  /** Sources summed over all of a project's ExportPolicies. */
  readonly maxSourcesPerProject: number;
  readonly maxSecretsPerProject: number;
  /** Bytes of all of a project's Secrets as stored (what the controller's cache holds of them). */
  readonly maxSecretBytesPerProject: number;
  /** The `default` namespace included. */
  readonly maxNamespacesPerProject: number;
  readonly maxEventsPerProject: number;
  /** Watches open at once (the cross-project view, the controller's, is not counted); past it, 429. */
  readonly maxWatchesPerProject: number;
  /** Leases in the platform plane, all namespaces together (not a per-project quota: projects hold none). */
  readonly maxLeases: number;
  /** ConfigMaps in the platform plane, all namespaces together (projects hold none either). */
  readonly maxConfigMaps: number;
}

/**
 * Defaults, each with its reason. A policy may hold 20 sources and 20 sinks
 * (src/api); the project totals are what one tenant may make every replica
 * run and the controller reconcile.
 */
export const DEFAULT_PROJECT_QUOTAS: ProjectQuotas = {
  // Ten times what a team with one policy per environment and signal needs; 10,000 policies in all is benchmarked.
  maxPoliciesPerProject: 100,
  // Each sink is a queue, a sender pool and a delivery position: the expensive part of a policy.
  maxSinksPerProject: 200,
  // Each source is a compiled selector run against every ingested series of the project.
  maxSourcesPerProject: 200,
  // The controller caches every Secret in memory; 100 × 1.5 MiB is the worst a project can hold there.
  maxSecretsPerProject: 100,
  // Without a byte bound 100 Secrets of 1.5 MiB would put 150 MB of one project in the controller's
  // cache; a basic-auth Secret takes under 1 KB (2 KB with kubectl's last-applied annotation).
  maxSecretBytesPerProject: 4 * 1024 * 1024,
  // Namespaces are cheap, but each is a watch scope and a row; 20 is plenty for grouping policies.
  maxNamespacesPerProject: 20,
  // Events expire after an hour; the controller writes a few per policy, so 1,000 leaves room for all of them.
  maxEventsPerProject: 1000,
  // Each open watch holds a connection and up to 16 MiB of unread events; informers need one per resource.
  maxWatchesPerProject: 50,
  // A fleet holds one Lease per replica (and a few for whatever elects a leader); 1,000 is more replicas
  // than one API would serve, and bounds the rows and the events every replica's Lease watch receives.
  maxLeases: 1000,
  // A replica keeps its pull positions in 8 ConfigMaps named after it (src/fleet POSITIONS_DEFAULTS.buckets),
  // and a replica that is gone leaves its own behind (its positions stay readable): 1,000 holds 125
  // replicas' worth, departed ones included. Each may hold 1 MiB of data and every replica's informer
  // caches them all, so the count also bounds what a replica may have to hold (platform principals write).
  maxConfigMaps: 1000,
};

/** The `telex serve` flag of each quota, named in every 403 so an operator knows what to raise. */
export const QUOTA_FLAGS: Readonly<Record<keyof ProjectQuotas, string>> = {
  maxPoliciesPerProject: "--max-policies-per-project",
  maxSinksPerProject: "--max-sinks-per-project",
  maxSourcesPerProject: "--max-sources-per-project",
  maxSecretsPerProject: "--max-secrets-per-project",
  maxSecretBytesPerProject: "--max-secret-bytes-per-project",
  maxNamespacesPerProject: "--max-namespaces-per-project",
  maxEventsPerProject: "--max-events-per-project",
  maxWatchesPerProject: "--max-watches-per-project",
  maxLeases: "--max-leases",
  maxConfigMaps: "--max-config-maps",
};

function qualifiedResourceOf(resource: ResourceType): string {
  return qualifiedResource({ resource: resource.plural, group: resource.group });
}

/** What an object adds to its project's usage, per quota. */
type Usage = Record<keyof ProjectQuotas, number>;

const QUOTA_NAMES = Object.keys(DEFAULT_PROJECT_QUOTAS) as (keyof ProjectQuotas)[];

/** How each quota's usage is named in messages, Kubernetes style (`count/secrets`). */
const USAGE_NAMES: Readonly<Record<keyof ProjectQuotas, string>> = {
  maxPoliciesPerProject: `count/${qualifiedResourceOf(exportPolicies)}`,
  maxSinksPerProject: "exportpolicies.spec.sinks",
  maxSourcesPerProject: "exportpolicies.spec.sources",
  maxSecretsPerProject: `count/${qualifiedResourceOf(secrets)}`,
  maxSecretBytesPerProject: "secrets.bytes",
  maxNamespacesPerProject: `count/${qualifiedResourceOf(namespaces)}`,
  maxEventsPerProject: `count/${qualifiedResourceOf(events)}`,
  maxWatchesPerProject: "watches",
  maxLeases: `count/${qualifiedResourceOf(leases)}`,
  maxConfigMaps: `count/${qualifiedResourceOf(configMaps)}`,
};

function emptyUsage(): Usage {
  return {
    maxPoliciesPerProject: 0,
    maxSinksPerProject: 0,
    maxSourcesPerProject: 0,
    maxSecretsPerProject: 0,
    maxSecretBytesPerProject: 0,
    maxNamespacesPerProject: 0,
    maxEventsPerProject: 0,
    maxWatchesPerProject: 0,
    maxLeases: 0,
    maxConfigMaps: 0,
  };
}

function listLength(object: JsonObject | undefined, field: string): number {
  const spec = object?.["spec"];
  const list =
    typeof spec === "object" && spec !== null ? (spec as Record<string, unknown>)[field] : undefined;
  return Array.isArray(list) ? list.length : 0;
}

/** What one object of a resource counts for (zeros for `undefined`). */
function usageOf(resource: string, object: JsonObject | undefined): Usage {
  const usage = emptyUsage();
  if (object === undefined) return usage;
  if (resource === exportPolicies.plural) {
    usage.maxPoliciesPerProject = 1;
    usage.maxSinksPerProject = listLength(object, "sinks");
    usage.maxSourcesPerProject = listLength(object, "sources");
  } else if (resource === secrets.plural) {
    usage.maxSecretsPerProject = 1;
    usage.maxSecretBytesPerProject = Buffer.byteLength(JSON.stringify(object));
  } else if (resource === namespaces.plural) usage.maxNamespacesPerProject = 1;
  else if (resource === events.plural) usage.maxEventsPerProject = 1;
  else if (resource === leases.plural) usage.maxLeases = 1;
  else if (resource === configMaps.plural) usage.maxConfigMaps = 1;
  return usage;
}

export class QuotaExceeded {
  constructor(
    readonly quota: keyof ProjectQuotas,
    readonly requested: number,
    readonly used: number,
    readonly limit: number,
  ) {}

  toError(target: WriteTarget, name: string): ApiError {
    const what = USAGE_NAMES[this.quota];
    const where = target.project === PLATFORM ? "the platform plane" : `project "${target.project}"`;
    return errors.forbidden(
      `${qualifiedResourceOf(target.resource)} "${name}" is forbidden: exceeded quota: ${where}, requested: ${what}=${this.requested}, used: ${what}=${this.used}, limited: ${what}=${this.limit} (telex serve ${QUOTA_FLAGS[this.quota]})`,
    );
  }
}

export class QuotaLedger {
  readonly #usage = new Map<string, Usage>();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    readonly quotas: ProjectQuotas,
  ) {
    this.#unsubscribe = store.subscribe((event, previous) => {
      this.record(event, previous);
    });
  }

  /**
   * The first quota that replacing `current` by `next` would take past its
   * limit (only quotas the write grows are checked), or undefined.
   */
  exceeded(
    target: WriteTarget,
    current: JsonObject | undefined,
    next: JsonObject,
  ): QuotaExceeded | undefined {
    const resource = target.resource.plural;
    const before = usageOf(resource, current);
    const after = usageOf(resource, next);
    let used: Usage | undefined;
    for (const quota of QUOTA_NAMES) {
      const requested = after[quota] - before[quota];
      if (requested <= 0) continue;
      used ??= this.usage(target.project);
      if (used[quota] + requested > this.quotas[quota])
        return new QuotaExceeded(quota, requested, used[quota], this.quotas[quota]);
    }
    return undefined;
  }

  close(): void {
    this.#unsubscribe();
  }

  private usage(project: string): Usage {
    const known = this.#usage.get(project);
    if (known !== undefined) return known;
    const store = this.store;
    const usage: Usage = {
      maxPoliciesPerProject: store.countInProject(exportPolicies.plural, project),
      maxSinksPerProject: store.sumArrayLengths(exportPolicies.plural, project, "$.spec.sinks"),
      maxSourcesPerProject: store.sumArrayLengths(exportPolicies.plural, project, "$.spec.sources"),
      maxSecretsPerProject: store.countInProject(secrets.plural, project),
      maxSecretBytesPerProject: store.sumBytes(secrets.plural, project),
      maxNamespacesPerProject: store.countInProject(namespaces.plural, project),
      maxEventsPerProject: store.countInProject(events.plural, project),
      // Open watches are counted by WatchQuota, not stored.
      maxWatchesPerProject: 0,
      maxLeases: store.countInProject(leases.plural, project),
      maxConfigMaps: store.countInProject(configMaps.plural, project),
    };
    this.#usage.set(project, usage);
    return usage;
  }

  /** Keeps a counted project's usage in step with a commit (or forgets it when the change is not known). */
  private record(event: StoreEvent, previous: JsonObject | undefined): void {
    const usage = this.#usage.get(event.key.project);
    if (usage === undefined) return;
    if (event.type === "MODIFIED" && previous === undefined) {
      this.#usage.delete(event.key.project);
      return;
    }
    const added = event.type === "DELETED" ? emptyUsage() : usageOf(event.key.resource, event.object);
    const removed =
      event.type === "ADDED"
        ? emptyUsage()
        : usageOf(event.key.resource, event.type === "DELETED" ? event.object : previous);
    for (const quota of QUOTA_NAMES) usage[quota] += added[quota] - removed[quota];
  }
}

/** Open watches per project, against maxWatchesPerProject. */
export class WatchQuota {
  readonly #open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts a new watch of the project, or throws 429 when it has as many open as it may. */
  acquire(project: string): () => void {
    const open = this.#open.get(project) ?? 0;
    if (open >= this.limit) {
      throw new ApiError(
        "TooManyRequests",
        `too many open watches in project "${project}": ${open} of at most ${this.limit} (telex serve ${QUOTA_FLAGS.maxWatchesPerProject})`,
        { retryAfterSeconds: 1 },
      );
    }
    this.#open.set(project, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(project) ?? 1) - 1;
      if (left <= 0) this.#open.delete(project);
      else this.#open.set(project, left);
    };
  }
}
