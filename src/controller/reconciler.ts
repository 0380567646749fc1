// reconcile(key): make the exporter run what the policy says and write back a
// status that tells the truth about delivery. Level-based: it reads the
// current state from the informers' caches, never from the event that woke
// it, so repeated or collapsed events give the same result.
import { isDeepStrictEqual } from "node:util";
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  segmentName,
  validateExportPolicy,
  type Condition,
  type ExportPolicy,
  type ExportPolicyStatus,
  type Secret,
  type SinkStatus,
} from "../api/index.js";
import type { Exporter } from "../exporter/exporter.js";
import type { RemoteWriteSink, SinkStats } from "../exporter/sink/index.js";
import type { PolicyPlan } from "../exporter/plan.js";
import type { Logger } from "../util/index.js";
import { compilePolicy, type SinkProblem } from "./compile.js";
import { findCondition, formatTime, setCondition } from "./conditions.js";
import { KubeApiError, type KubeClient } from "../kube/index.js";
import type { ControlPlaneLayout, ResourceRef } from "./layout.js";
import {
  newReadinessMemory,
  policyReadiness,
  roughCount,
  roughDuration,
  sinkReadiness,
  type DeliveryHealth,
  type Readiness,
  type ReadinessMemory,
} from "./sink-readiness.js";

export const FINALIZER = "exportpolicy.telemetry.miloapis.com/controller";
export const POLICIES: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };
export const SECRETS: ResourceRef = { group: "", version: "v1", plural: "secrets" };
const EVENTS: ResourceRef = { group: "", version: "v1", plural: "events" };
/** The field manager of the controller's writes: managedFields name it rather than `unknown`. */
export const FIELD_MANAGER = "telex-controller";
const WRITES = { fieldManager: FIELD_MANAGER };
const READY = "Ready";

/** The exporter as the controller sees it: a narrow interface. */
export type ExporterControl = Pick<Exporter, "apply" | "remove" | "health"> &
  Partial<Pick<Exporter, "forwardTo" | "forwards" | "pulls" | "onFirstDelivery">>;

export interface PolicyKey {
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
}

export function formatKey(key: PolicyKey): string {
  return `${key.project}/${key.namespace}/${key.name}`;
}

/** The fields every log line about a policy carries (a sink's add `sink`). */
export function policyFields(key: PolicyKey | string): {
  project: string;
  namespace: string;
  policy: string;
} {
  const parsed = typeof key === "string" ? parseKey(key) : key;
  return { project: parsed.project, namespace: parsed.namespace, policy: parsed.name };
}

export function parseKey(key: string): PolicyKey {
  const [project = "", namespace = "", name = ""] = key.split("/");
  return { project, namespace, name };
}

export interface ReconcilerDeps {
  readonly client: KubeClient;
  readonly layout: ControlPlaneLayout;
  readonly exporter: ExporterControl;
  readonly tenantLabel: string;
  readonly policy: (key: string) => ExportPolicy | undefined;
  readonly secret: (project: string, namespace: string, name: string) => Secret | undefined;
  readonly now: () => Date;
  readonly logger: Logger;
  /** In a fleet: whether this replica runs the policy of this uid. Absent: it runs every policy. */
  readonly owns?: (uid: string) => boolean;
}

interface Applied {
  readonly plan: PolicyPlan;
  /** The sinks in spec order and their configuration problems, for readiness between reconciles. */
  readonly sinks: readonly string[];
  readonly problems: readonly SinkProblem[];
  /** Per sink: `namespace/name` of the Secret its credentials come from; absent: none. */
  readonly secrets: ReadonlyMap<string, string>;
  /** The sinks' readiness as the last reconcile wrote it (see readinessKey). */
  written: string;
  /** Per sink: what readiness and the Events remember between refreshes. */
  readonly memory: Map<string, SinkMemory>;
}

/** What the controller remembers of one sink between refreshes. */
interface SinkMemory {
  readonly readiness: ReadinessMemory;
  /** What the last reconcile told in Events; a replaced sink (new stats) starts again from zero. */
  told: {
    readonly stats: SinkStats | undefined;
    readonly bufferFull: number;
    readonly expired: number;
    readonly expiredNewestMs: number | undefined;
    readonly down: boolean;
  };
}

/** One Event the reconciler records about a policy. */
interface PolicyEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

export class Reconciler {
  /** What runs in the exporter, per policy key. */
  private readonly applied = new Map<string, Applied>();
  /** In a fleet: what the exporter forwards to other replicas, per policy key. */
  private readonly forwarded = new Map<string, PolicyPlan>();
  /** Which key runs (or forwards) each policy uid in the exporter, and removals not yet finished. */
  private readonly owners = new Map<string, string>();
  private readonly removals = new Map<string, Promise<void>>();
  status = { writes: 0, events: 0 };

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<void> {
    let policy = this.deps.policy(key);
    if (policy === undefined) {
      await this.stopExporting(key);
      return;
    }
    if (this.deps.owns !== undefined && !this.deps.owns(policy.metadata.uid ?? "")) {
      // Another replica runs it, finalizer and status included: this one lets go of it, and
      // forwards it the series its sources match (in pull mode only the delivery metrics).
      if (this.deps.exporter.forwards === true) await this.forwardElsewhere(key, policy);
      else await this.stopExporting(key, { handover: true });
      return;
    }
    const parsed = parseKey(key);
    if (parsed.project === "") {
      // In no project (a cluster namespace without the project label): nothing
      // is exported for it or written to it, but our finalizer never holds up
      // its deletion (it may have been in a project before).
      await this.stopExporting(key);
      if (policy.metadata.deletionTimestamp !== undefined && policy.metadata.finalizers?.includes(FINALIZER))
        await this.removeFinalizer(parsed, policy);
      return;
    }
    if (policy.metadata.deletionTimestamp !== undefined) {
      await this.stopExporting(key);
      if (policy.metadata.finalizers?.includes(FINALIZER) === true)
        await this.removeFinalizer(parsed, policy);
      return;
    }
    const previous = this.applied.get(key);
    // The same generation of a policy that names no Secret validates and compiles to what runs:
    // the API server bumps the generation at every change of the spec, and the reconciles that
    // first deliveries ask for (10,000 at once) need not do that work again.
    const unchanged =
      previous !== undefined &&
      previous.secrets.size === 0 &&
      previous.plan.uid === policy.metadata.uid &&
      policy.metadata.generation !== undefined &&
      previous.plan.generation === policy.metadata.generation &&
      previous.plan.project === parsed.project;
    // Runs before the finalizer is added: samples pushed right after a create reach the
    // policy one API round trip sooner (with the store's sync off the event loop that trip
    // let the first pushes through unrouted). A policy deleted before its finalizer is set
    // is stopped by the reconcile its deletion wakes.
    const applied = unchanged ? previous : await this.applyPolicy(key, parsed, policy, previous);
    // Recorded at once: should adding the finalizer fail, a deletion still finds what to stop.
    // So is the readiness about to be written: the health pass must not queue the policy again
    // while its finalizer and status are being written (at 10,000 policies each pass caught
    // dozens mid-write). A failed write is retried through the queue's backoff.
    let sinks: { name: string; readiness: Readiness }[] = [];
    if (typeof applied !== "string") {
      this.applied.set(key, applied);
      sinks = this.sinkReadiness(applied);
      applied.written = readinessKey(sinks);
    }
    if (policy.metadata.finalizers?.includes(FINALIZER) !== true) {
      // Goes on with the object the API answered: the finalizer's own update,
      // coming back through the watch, does not wake this key again (needsReconcile).
      policy = await this.addFinalizer(parsed, policy);
    }
    if (typeof applied === "string") {
      await this.writeStatus(
        parsed,
        policy,
        { status: "False", reason: "InvalidSpec", message: applied },
        [],
      );
      return;
    }
    await this.writeStatus(parsed, policy, policyReadiness(sinks), sinks);
    for (const event of this.deliveryEvents(applied)) await this.recordEvent(parsed, policy, event);
  }

  /** Validates and compiles the policy, and runs it in the exporter when its plan changed; when invalid, why. */
  private async applyPolicy(
    key: string,
    parsed: PolicyKey,
    policy: ExportPolicy,
    previous: Applied | undefined,
  ): Promise<Applied | string> {
    const validation = validateExportPolicy(policy, { tenantLabel: this.deps.tenantLabel });
    if (!validation.valid) {
      await this.stopExporting(key);
      return validation.errors.map((e) => `${e.path.map(segmentName).join(".")}: ${e.detail}`).join("; ");
    }
    const compiled = compilePolicy(validation.object, {
      project: parsed.project,
      tenantLabel: this.deps.tenantLabel,
      secret: (name) => this.deps.secret(parsed.project, parsed.namespace, name),
    });
    if (previous === undefined || !isDeepStrictEqual(previous.plan, compiled.plan)) {
      if (previous !== undefined && previous.plan.uid !== compiled.plan.uid)
        await this.removeFromExporter(key, previous.plan.uid);
      // A policy whose project moved was stopped under its old key: that stop finishes first.
      await this.removals.get(compiled.plan.uid);
      this.deps.exporter.apply(compiled.plan);
      this.deps.logger.info(previous === undefined ? "exporting policy" : "policy changed", {
        ...policyFields(key),
        generation: compiled.plan.generation,
        sinks: compiled.plan.sinks.map((sink) => sink.name).join(","),
      });
      this.forwarded.delete(key);
      this.owners.set(compiled.plan.uid, key);
    }
    // Problems can change while the plan does not (a missing Secret turning
    // into an invalid one leaves the sink out either way).
    const names = validation.object.spec.sinks.map((sink) => sink.name);
    return {
      plan: compiled.plan,
      sinks: names,
      problems: compiled.problems,
      secrets: secretsOf(validation.object, parsed.namespace),
      written: previous?.written ?? "",
      memory: new Map(names.map((name) => [name, previous?.memory.get(name) ?? newSinkMemory()])),
    };
  }

  /** The key of the policy this replica runs under a uid, if it runs it. */
  runningKey(uid: string): string | undefined {
    const key = this.owners.get(uid);
    return key !== undefined && this.applied.has(key) ? key : undefined;
  }

  /**
   * The policies whose sinks' readiness moved since their last reconcile
   * (a first delivery, a failure, a recovery): the controller reconciles
   * just these, so that a periodic check of 10,000 healthy policies costs a
   * pass over in-memory counters, not 10,000 reconciles.
   */
  readinessChanged(): string[] {
    const changed: string[] = [];
    for (const [key, applied] of this.applied) if (this.moved(applied)) changed.push(key);
    return changed;
  }

  /** Whether the policy's readiness moved since its last reconcile (see readinessChanged). */
  readinessMoved(key: string): boolean {
    const applied = this.applied.get(key);
    return applied !== undefined && this.moved(applied);
  }

  private moved(applied: Applied): boolean {
    return readinessKey(this.sinkReadiness(applied)) !== applied.written || this.hasNews(applied);
  }

  private sinkReadiness(applied: Applied): { name: string; readiness: Readiness }[] {
    const health = this.deps.exporter.health(applied.plan.uid);
    const nowMs = this.deps.now().getTime();
    return applied.sinks.map((name) => {
      const sink = health?.sinks.get(name);
      return {
        name,
        readiness: sinkReadiness(
          applied.problems.find((p) => p.sink === name),
          sink === undefined ? undefined : deliveryHealth(sink, nowMs),
          memoryOf(applied, name).readiness,
          optionalSecret(applied.secrets.get(name)),
        ),
      };
    });
  }

  /** Whether a sink went down or came back, or dropped buffer_full/expired samples, since the last Events. */
  private hasNews(applied: Applied): boolean {
    const health = this.deps.exporter.health(applied.plan.uid);
    return applied.sinks.some((name) => {
      const sink = health?.sinks.get(name);
      if (sink === undefined) return false;
      const told = baseline(memoryOf(applied, name), sink.stats);
      return (
        sink.isDown !== told.down ||
        sink.stats.dropped.buffer_full > told.bufferFull ||
        sink.stats.dropped.expired > told.expired
      );
    });
  }

  /**
   * The Events of what happened to the sinks' data since the last reconcile:
   * a sink going down or coming back, samples dropped because the buffer was
   * full or too old. Remembers what it told, so each is told once.
   */
  private deliveryEvents(applied: Applied): PolicyEvent[] {
    const health = this.deps.exporter.health(applied.plan.uid);
    const events: PolicyEvent[] = [];
    for (const name of applied.sinks) {
      const sink = health?.sinks.get(name);
      if (sink === undefined) continue;
      const memory = memoryOf(applied, name);
      const told = baseline(memory, sink.stats);
      const { stats } = sink;
      const down = sink.down;
      if (down !== undefined && !told.down) {
        const error =
          stats.lastError === undefined ? "" : ` (${stats.lastError.reason}: ${stats.lastError.message})`;
        events.push({
          type: "Warning",
          reason: "SinkDown",
          message:
            `sink ${name} is down since ${formatTime(new Date(down.sinceMs))}${error}: ` +
            `keeping ${roughCount(sink.buffered)} samples and probing the endpoint`,
        });
      } else if (down === undefined && told.down) {
        events.push({
          type: "Normal",
          reason: "SinkRecovered",
          message: `sink ${name} delivers again; ${roughCount(sink.buffered)} samples waiting, lag ${roughDuration(sink.lagSeconds())}`,
        });
      }
      const bufferFull = stats.dropped.buffer_full - told.bufferFull;
      if (bufferFull > 0) {
        events.push({
          type: "Warning",
          reason: "SamplesDropped",
          message: `sink ${name}: the buffer was full; dropped the oldest ${bufferFull.toLocaleString("en-US")} samples (buffer_full)`,
        });
      }
      const expired = stats.dropped.expired - told.expired;
      if (expired > 0) {
        events.push({
          type: "Warning",
          reason: "SamplesExpired",
          message: `sink ${name}: dropped ${expired.toLocaleString("en-US")} samples older than the maximum backlog age${expiredRange(stats, told.expiredNewestMs)} (expired)`,
        });
      }
      memory.told = {
        stats,
        bufferFull: stats.dropped.buffer_full,
        expired: stats.dropped.expired,
        expiredNewestMs: stats.expiredNewestMs,
        down: down !== undefined,
      };
    }
    return events;
  }

  private async stopExporting(key: string, options: { readonly handover?: boolean } = {}): Promise<void> {
    const plan = this.applied.get(key)?.plan ?? this.forwarded.get(key);
    if (plan === undefined) return;
    this.applied.delete(key);
    this.forwarded.delete(key);
    this.deps.logger.info(options.handover === true ? "policy handed over" : "stopped exporting policy", {
      ...policyFields(key),
    });
    await this.removeFromExporter(key, plan.uid, options);
  }

  /**
   * A policy another replica runs, in a fleet: the exporter routes the
   * series its sources match to that replica (and in push mode delivers the
   * backlog it still holds for the policy's sinks; in pull mode only the
   * delivery metrics travel, as the platform's series come from the store).
   * Nothing is written to the API: the owner writes status and Events.
   */
  private async forwardElsewhere(key: string, policy: ExportPolicy): Promise<void> {
    const forwardTo = this.deps.exporter.forwardTo;
    const parsed = parseKey(key);
    const validation =
      parsed.project === "" || policy.metadata.deletionTimestamp !== undefined
        ? undefined
        : validateExportPolicy(policy, { tenantLabel: this.deps.tenantLabel });
    if (forwardTo === undefined || validation === undefined || !validation.valid) {
      // In no project, being deleted or invalid: the owner exports nothing either.
      await this.stopExporting(key);
      return;
    }
    const { plan } = compilePolicy(validation.object, {
      project: parsed.project,
      tenantLabel: this.deps.tenantLabel,
      secret: (name) => this.deps.secret(parsed.project, parsed.namespace, name),
    });
    if (isDeepStrictEqual(this.forwarded.get(key), plan)) return;
    // Pull mode has no backlog to drain from here: the policy stops as it did before forwarding
    // existed (its sinks drained, its pull positions kept for the new owner), then is forwarded.
    if (this.deps.exporter.pulls === true && this.applied.has(key))
      await this.stopExporting(key, { handover: true });
    const previous = this.applied.get(key)?.plan ?? this.forwarded.get(key);
    if (previous !== undefined && previous.uid !== plan.uid) await this.removeFromExporter(key, previous.uid);
    await this.removals.get(plan.uid);
    this.applied.delete(key);
    forwardTo.call(this.deps.exporter, plan);
    this.forwarded.set(key, plan);
    this.owners.set(plan.uid, key);
  }

  /**
   * Removes a policy from the exporter unless another key runs it now (its
   * project moved: a cluster namespace relabelled, the policy seen under its
   * new key first). A removal in progress is awaited by an apply of the uid.
   */
  private async removeFromExporter(
    key: string,
    uid: string,
    options: { readonly handover?: boolean } = {},
  ): Promise<void> {
    if (this.owners.get(uid) !== key) return;
    this.owners.delete(uid);
    const removal = this.deps.exporter.remove(uid, options);
    this.removals.set(uid, removal);
    try {
      await removal;
    } finally {
      if (this.removals.get(uid) === removal) this.removals.delete(uid);
    }
  }

  private policyPath(key: PolicyKey, subresource?: string): string {
    return this.deps.layout.objectPath(key.project, POLICIES, key.namespace, key.name, subresource);
  }

  private async addFinalizer<P extends ExportPolicy>(key: PolicyKey, policy: P): Promise<P> {
    return await this.deps.client.request<P>("PATCH", this.policyPath(key), {
      query: WRITES,
      contentType: "application/merge-patch+json",
      body: {
        metadata: {
          finalizers: [...(policy.metadata.finalizers ?? []), FINALIZER],
          resourceVersion: policy.metadata.resourceVersion,
        },
      },
    });
  }

  private async removeFinalizer(key: PolicyKey, policy: ExportPolicy): Promise<void> {
    try {
      await this.deps.client.request("PATCH", this.policyPath(key), {
        query: WRITES,
        contentType: "application/merge-patch+json",
        body: {
          metadata: {
            finalizers: (policy.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
            resourceVersion: policy.metadata.resourceVersion,
          },
        },
      });
    } catch (error) {
      // Already gone: nothing left to finalize.
      if (error instanceof KubeApiError && error.statusCode === 404) return;
      throw error;
    }
  }

  /** Writes the status only when it differs; records an Event for each Ready transition. */
  private async writeStatus(
    key: PolicyKey,
    policy: ExportPolicy,
    overall: Readiness,
    sinks: readonly { name: string; readiness: Readiness }[],
  ): Promise<void> {
    const now = this.deps.now();
    const generation = policy.metadata.generation ?? 0;
    const current = policy.status ?? {};
    let changed = false;
    const transitions: { readonly text: string; readonly sink: string | undefined }[] = [];
    const conditionsFor = (
      existing: readonly Condition[] | undefined,
      readiness: Readiness,
      sink: string | undefined,
    ) => {
      const what = sink === undefined ? "policy" : `sink ${sink}`;
      const before = findCondition(existing, READY);
      const result = setCondition(
        existing ?? [],
        { type: READY, ...readiness, observedGeneration: generation },
        now,
      );
      changed ||= result.changed;
      // A new policy's first Unknown is not news; every later flip is.
      const first = before === undefined && readiness.status === "Unknown";
      if (before?.status !== readiness.status && !first) {
        transitions.push({
          text: `${what} Ready ${before?.status ?? "unset"} → ${readiness.status} (${readiness.reason}): ${readiness.message}`,
          sink,
        });
      }
      return result.conditions;
    };
    const next: ExportPolicyStatus = {
      conditions: conditionsFor(current.conditions, overall, undefined),
      sinks: sinks.map((sink): SinkStatus => ({
        name: sink.name,
        conditions: conditionsFor(
          current.sinks?.find((s) => s.name === sink.name)?.conditions,
          sink.readiness,
          sink.name,
        ),
      })),
    };
    if ((current.sinks?.length ?? 0) !== sinks.length) changed = true;
    if (!changed) return;
    await this.deps.client.request("PATCH", this.policyPath(key, "status"), {
      query: WRITES,
      contentType: "application/merge-patch+json",
      body: { status: next },
    });
    this.status.writes++;
    if (transitions.length === 0) return;
    for (const { text, sink } of transitions) {
      // Operators read the same news in the log, once per transition; messages carry no
      // credentials (the sender redacts them).
      const fields = { ...policyFields(key), sink, transition: text };
      if (text.includes("→ False")) this.deps.logger.warn("readiness changed", fields);
      else this.deps.logger.info("readiness changed", fields);
    }
    // One Event per status write, as kube controllers emit one per transition of an
    // object: the sinks' flips first (what happened), then the policy's (the summary).
    // Two Events for one first delivery doubled the API writes of 10,000 policies going Ready.
    const ordered = [
      ...transitions.filter((t) => t.sink !== undefined),
      ...transitions.filter((t) => t.sink === undefined),
    ];
    const texts = ordered.map((t) => t.text);
    const warning = texts.some((text) => text.includes("→ False"));
    await this.recordEvent(key, policy, {
      type: warning ? "Warning" : "Normal",
      reason: warning ? "NotReady" : texts.some((text) => text.includes("→ True")) ? "Ready" : "Pending",
      message: eventMessage(texts),
    });
  }

  private async recordEvent(key: PolicyKey, policy: ExportPolicy, event: PolicyEvent): Promise<void> {
    const now = formatTime(this.deps.now());
    const { type, reason, message } = event;
    try {
      await this.deps.client.request(
        "POST",
        this.deps.layout.objectPath(key.project, EVENTS, key.namespace),
        {
          query: WRITES,
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: { generateName: `${key.name}.`, namespace: key.namespace },
            involvedObject: {
              apiVersion: API_VERSION,
              kind: KIND,
              name: key.name,
              namespace: key.namespace,
              ...(policy.metadata.uid === undefined ? {} : { uid: policy.metadata.uid }),
            },
            reason,
            message,
            type,
            source: { component: "telex-controller" },
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        },
      );
      this.status.events++;
    } catch (error) {
      // Events are best effort: a failure must not block the status.
      this.deps.logger.warn("could not record an event", { ...policyFields(key), error: String(error) });
    }
  }
}

/** What most policies name: kept once, not as an empty Map per policy. */
const NO_SECRETS: ReadonlyMap<string, string> = new Map();

function secretsOf(policy: ExportPolicy, namespace: string): ReadonlyMap<string, string> {
  const named = policy.spec.sinks.flatMap((sink) => {
    const secret = sink.target.prometheusRemoteWrite?.authentication?.basicAuth?.secretRef.name;
    return secret === undefined ? [] : [[sink.name, `${namespace}/${secret}`] as const];
  });
  return named.length === 0 ? NO_SECRETS : new Map(named);
}

function newSinkMemory(): SinkMemory {
  return {
    readiness: newReadinessMemory(),
    told: { stats: undefined, bufferFull: 0, expired: 0, expiredNewestMs: undefined, down: false },
  };
}

function memoryOf(applied: Applied, name: string): SinkMemory {
  let memory = applied.memory.get(name);
  if (memory === undefined) {
    memory = newSinkMemory();
    applied.memory.set(name, memory);
  }
  return memory;
}

/** What was told about this sink; a new sink (its stats replaced) counts from zero, and was not down. */
function baseline(memory: SinkMemory, stats: SinkStats): SinkMemory["told"] {
  if (memory.told.stats === stats) return memory.told;
  return { stats, bufferFull: 0, expired: 0, expiredNewestMs: undefined, down: false };
}

function deliveryHealth(sink: RemoteWriteSink, nowMs: number): DeliveryHealth {
  const { stats, down } = sink;
  return {
    lastSuccessMs: stats.lastSuccessMs,
    lastError: stats.lastError,
    buffered: sink.buffered,
    lagSeconds: sink.lagSeconds(),
    down:
      down === undefined
        ? undefined
        : { sinceMs: down.sinceMs, nextProbeMs: down.nextProbeMs, probes: down.probes },
    nowMs,
  };
}

/** " (samples from T1 to T2)" when the pipeline recorded the expired samples' times. */
function expiredRange(stats: SinkStats, toldNewestMs: number | undefined): string {
  const newest = stats.expiredNewestMs;
  if (newest === undefined) return "";
  const oldest = toldNewestMs ?? stats.expiredOldestMs ?? newest;
  return ` (written ${formatTime(new Date(oldest))} to ${formatTime(new Date(newest))})`;
}

/** The sinks' readiness as comparable text. */
function readinessKey(sinks: readonly { name: string; readiness: Readiness }[]): string {
  // Joined, not a template: kept per policy, a template's rope of pieces costs several objects each.
  return sinks
    .map(({ name, readiness }) => [name, readiness.status, readiness.reason, readiness.message].join("\t"))
    .join("\n");
}

function optionalSecret(secret: string | undefined): { secret?: string } {
  return secret === undefined ? {} : { secret };
}

/** kube-apiserver's (events.k8s.io) bound on an Event's note: a policy with many sinks flipping at once stays within it. */
const EVENT_MESSAGE_LIMIT = 1024;

function eventMessage(texts: readonly string[]): string {
  const whole = texts.join("; ");
  if (whole.length <= EVENT_MESSAGE_LIMIT) return whole;
  return `${whole.slice(0, EVENT_MESSAGE_LIMIT - 1)}…`;
}
