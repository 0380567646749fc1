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
  validateExportPolicy,
  type Condition,
  type ExportPolicy,
  type ExportPolicyStatus,
  type Secret,
  type SinkStatus,
} from "../api/index.js";
import type { Exporter } from "../exporter/exporter.js";
import type { PolicyPlan } from "../exporter/plan.js";
import type { Logger } from "../log.js";
import { compilePolicy, type SinkProblem } from "./compile.js";
import { findCondition, formatTime, setCondition } from "./conditions.js";
import type { KubeClient } from "./kube/client.js";
import { KubeApiError } from "./kube/client.js";
import type { ControlPlaneLayout, ResourceRef } from "./kube/layout.js";
import { policyReadiness, sinkReadiness, type Readiness } from "./sink-readiness.js";

export const FINALIZER = "exportpolicy.telemetry.miloapis.com/controller";
export const POLICIES: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };
export const SECRETS: ResourceRef = { group: "", version: "v1", plural: "secrets" };
const EVENTS: ResourceRef = { group: "", version: "v1", plural: "events" };
const READY = "Ready";

/** The exporter as the controller sees it: a narrow interface. */
export type ExporterControl = Pick<Exporter, "apply" | "remove" | "health">;

export interface PolicyKey {
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
}

export function formatKey(key: PolicyKey): string {
  return `${key.project}/${key.namespace}/${key.name}`;
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
}

interface Applied {
  readonly plan: PolicyPlan;
  /** The sinks in spec order and their configuration problems, for readiness between reconciles. */
  readonly sinks: readonly string[];
  readonly problems: readonly SinkProblem[];
  /** The sinks' readiness as the last reconcile wrote it (see readinessKey). */
  written: string;
}

export class Reconciler {
  /** What runs in the exporter, per policy key. */
  private readonly applied = new Map<string, Applied>();
  status = { writes: 0, events: 0 };

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<void> {
    const policy = this.deps.policy(key);
    if (policy === undefined) {
      await this.stopExporting(key);
      return;
    }
    const parsed = parseKey(key);
    if (policy.metadata.deletionTimestamp !== undefined) {
      await this.stopExporting(key);
      if (policy.metadata.finalizers?.includes(FINALIZER) === true)
        await this.removeFinalizer(parsed, policy);
      return;
    }
    if (policy.metadata.finalizers?.includes(FINALIZER) !== true) {
      await this.addFinalizer(parsed, policy);
      // The update comes back through the watch and wakes this key again.
      return;
    }
    const validation = validateExportPolicy(policy, { tenantLabel: this.deps.tenantLabel });
    if (!validation.valid) {
      await this.stopExporting(key);
      const message = validation.errors.map((e) => `${e.path.join(".")}: ${e.detail}`).join("; ");
      await this.writeStatus(parsed, policy, { status: "False", reason: "InvalidSpec", message }, []);
      return;
    }
    const compiled = compilePolicy(validation.object, {
      project: parsed.project,
      tenantLabel: this.deps.tenantLabel,
      secret: (name) => this.deps.secret(parsed.project, parsed.namespace, name),
    });
    const previous = this.applied.get(key);
    if (previous === undefined || !isDeepStrictEqual(previous.plan, compiled.plan)) {
      if (previous !== undefined && previous.plan.uid !== compiled.plan.uid)
        await this.deps.exporter.remove(previous.plan.uid);
      this.deps.exporter.apply(compiled.plan);
    }
    // Problems can change while the plan does not (a missing Secret turning
    // into an invalid one leaves the sink out either way).
    const applied: Applied = {
      plan: compiled.plan,
      sinks: validation.object.spec.sinks.map((sink) => sink.name),
      problems: compiled.problems,
      written: previous?.written ?? "",
    };
    this.applied.set(key, applied);
    const sinks = this.sinkReadiness(applied);
    await this.writeStatus(parsed, policy, policyReadiness(sinks), sinks);
    applied.written = readinessKey(sinks);
  }

  /**
   * The policies whose sinks' readiness moved since their last reconcile
   * (a first delivery, a failure, a recovery): the controller reconciles
   * just these, so that a periodic check of 10,000 healthy policies costs a
   * pass over in-memory counters, not 10,000 reconciles.
   */
  readinessChanged(): string[] {
    const changed: string[] = [];
    for (const [key, applied] of this.applied) {
      if (readinessKey(this.sinkReadiness(applied)) !== applied.written) changed.push(key);
    }
    return changed;
  }

  private sinkReadiness(applied: Applied): { name: string; readiness: Readiness }[] {
    const health = this.deps.exporter.health(applied.plan.uid);
    return applied.sinks.map((name) => {
      const stats = health?.sinks.get(name)?.stats;
      return {
        name,
        readiness: sinkReadiness(
          applied.problems.find((p) => p.sink === name),
          stats === undefined
            ? undefined
            : { lastSuccessMs: stats.lastSuccessMs, lastError: stats.lastError },
        ),
      };
    });
  }

  private async stopExporting(key: string): Promise<void> {
    const applied = this.applied.get(key);
    if (applied === undefined) return;
    this.applied.delete(key);
    await this.deps.exporter.remove(applied.plan.uid);
  }

  private policyPath(key: PolicyKey, subresource?: string): string {
    return this.deps.layout.objectPath(key.project, POLICIES, key.namespace, key.name, subresource);
  }

  private async addFinalizer(key: PolicyKey, policy: ExportPolicy): Promise<void> {
    await this.deps.client.request("PATCH", this.policyPath(key), {
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
    const transitions: string[] = [];
    const conditionsFor = (
      existing: readonly Condition[] | undefined,
      readiness: Readiness,
      what: string,
    ) => {
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
        transitions.push(
          `${what} Ready ${before?.status ?? "unset"} → ${readiness.status} (${readiness.reason}): ${readiness.message}`,
        );
      }
      return result.conditions;
    };
    const next: ExportPolicyStatus = {
      conditions: conditionsFor(current.conditions, overall, "policy"),
      sinks: sinks.map((sink): SinkStatus => ({
        name: sink.name,
        conditions: conditionsFor(
          current.sinks?.find((s) => s.name === sink.name)?.conditions,
          sink.readiness,
          `sink ${sink.name}`,
        ),
      })),
    };
    if ((current.sinks?.length ?? 0) !== sinks.length) changed = true;
    if (!changed) return;
    await this.deps.client.request("PATCH", this.policyPath(key, "status"), {
      contentType: "application/merge-patch+json",
      body: { status: next },
    });
    this.status.writes++;
    for (const transition of transitions) {
      // Operators read the same news in the log; messages carry no credentials (the sender redacts them).
      this.deps.logger.info("readiness changed", { policy: formatKey(key), transition });
      await this.recordEvent(key, policy, transition.includes("→ False") ? "Warning" : "Normal", transition);
    }
  }

  private async recordEvent(
    key: PolicyKey,
    policy: ExportPolicy,
    type: "Normal" | "Warning",
    message: string,
  ): Promise<void> {
    const now = formatTime(this.deps.now());
    const reason = type === "Warning" ? "NotReady" : message.includes("→ True") ? "Ready" : "Pending";
    try {
      await this.deps.client.request(
        "POST",
        this.deps.layout.objectPath(key.project, EVENTS, key.namespace),
        {
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
      this.deps.logger.warn("could not record an event", { policy: formatKey(key), error: String(error) });
    }
  }
}

/** The sinks' readiness as comparable text. */
function readinessKey(sinks: readonly { name: string; readiness: Readiness }[]): string {
  return sinks
    .map(({ name, readiness }) => `${name}\t${readiness.status}\t${readiness.reason}\t${readiness.message}`)
    .join("\n");
}
