// The `delivery` subresource of ExportPolicies: each sink's live delivery
// counters (samples received, sent, dropped by reason, buffered; requests by
// outcome; latency; last success and last error; the last minutes' rates), its backlog (bytes, lag,
// shards, whether it is down and when it probes next) and each source's
// matched samples, read on request from the exporter running in the same process.
//
// Why not `status`: these counters change with every request a sink sends.
// The controller writes status only when something a person acts on changed
// (a condition flips); putting counters there would rewrite every policy on
// every refresh — at 10,000 policies a constant storm of fsynced writes,
// resourceVersion bumps and watch events that carry no decision. Live data is
// served on read instead, as pods/log and metrics.k8s.io do: nothing is
// stored, nothing is watched, and a server without an exporter (the API
// alone, or a Kubernetes cluster) simply does not serve it.
//
// The API server knows nothing of the exporter: whoever runs it passes a
// DeliveryProvider that reads the counters by the policy's uid — in the
// same process (all in one), or, for `--api-only` in a fleet, by asking the
// replica running the policy (src/fleet/delivery.ts). A provider that cannot
// tell throws DeliveryUnavailableError: a 503 with its reason. Asking a fleet
// holds a request to each replica for up to seconds, so reads are bounded:
// MAX_DELIVERY_READS at once in all, MAX_DELIVERY_READS_PER_PROJECT per
// project (the status page reads every open policy every 5 s), 429 beyond.
import type { JsonObject } from "../store/index.js";
import { timestamp } from "./clock.js";
import type { RequestContext } from "./context.js";
import type { ServerContext } from "./context.js";
import { sendJson } from "./http-io.js";
import { metadataOf } from "./metadata.js";
import { apiVersionOf, exportPolicies, type ResourceType } from "./resources.js";
import { ApiError } from "./status.js";
import type { WriteTarget } from "./target.js";

export const DELIVERY_SUBRESOURCE = "delivery";
export const DELIVERY_KIND = "ExportPolicyDelivery";

/** The policy whose counters are asked for; the uid tells a recreated policy from its predecessor. */
export interface DeliveryPolicyRef {
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface SinkDelivery {
  readonly name: string;
  readonly samplesReceived: number;
  readonly samplesSent: number;
  /** By drop reason (buffer_full, expired, rejected, …); received = sent + Σ dropped + buffered. */
  readonly samplesDropped: Readonly<Record<string, number>>;
  /**
   * Received and neither delivered nor dropped yet: in memory, in a request,
   * or on disk. Served also as `samplesPending`, its former name, so that
   * older clients keep reading it (deprecated; v1alpha1 may drop it).
   */
  readonly samplesBuffered: number;
  /** What the buffered samples take: on disk with the durable buffer, else an estimate of memory. */
  readonly bufferedBytes: number;
  /** Now − the newest delivered sample's timestamp while samples wait; 0 when none wait. */
  readonly lagSeconds: number;
  /** Requests the sink sends in parallel. */
  readonly shards: number;
  /** Samples sent again after a failed attempt (retries and probes), once per attempt. */
  readonly samplesRetried: number;
  /** Set while the sink is down: it keeps its samples and probes the endpoint. */
  readonly down?: { readonly sinceMs: number; readonly nextProbeMs: number; readonly probes: number };
  /** Delivery attempts by outcome (success, unreachable, server_error, …), retries included. */
  readonly requests: Readonly<Record<string, number>>;
  readonly bytesSent: number;
  readonly consecutiveFailures: number;
  readonly lastSuccessMs?: number;
  /** The message never carries credentials (the exporter guarantees it). */
  readonly lastError?: { readonly reason: string; readonly message: string; readonly atMs: number };
  /** Every timed attempt, failed ones included. */
  readonly latency: { readonly count: number; readonly sumSeconds: number };
  /** Rates over the last minutes, oldest first (the status page's chart); absent before the first point. */
  readonly history?: DeliveryRateHistory;
}

export interface DeliveryRateHistory {
  /** What each point covers; the last one ends at endMs. */
  readonly intervalSeconds: number;
  readonly endMs: number;
  readonly samplesSentPerSecond: readonly number[];
  readonly samplesDroppedPerSecond: readonly number[];
}

export interface SourceDelivery {
  readonly name: string;
  readonly samplesMatched: number;
}

export interface PolicyDelivery {
  /** The policy generation the running pipelines were built from. */
  readonly generation: number;
  readonly sinks: readonly SinkDelivery[];
  readonly sources: readonly SourceDelivery[];
  /** In a fleet: the replica that runs the policy and reported the counters. */
  readonly replica?: string;
  /** What a reader should know about the figures (a handover in progress), served as `message`. */
  readonly notes?: readonly string[];
}

/** No report and why, e.g. a fleet where no replica runs the policy (notes served in `message`). */
export interface NoDelivery {
  readonly none: true;
  readonly notes: readonly string[];
}

/**
 * Reads a policy's live counters; undefined (or NoDelivery) when no pipelines
 * run for it. Throws DeliveryUnavailableError when it cannot tell.
 */
export type DeliveryProvider = (
  policy: DeliveryPolicyRef,
) => PolicyDelivery | NoDelivery | undefined | Promise<PolicyDelivery | NoDelivery | undefined>;

/** The counters cannot be read now (no replica of the fleet answers for the policy): a 503 with the reason. */
export class DeliveryUnavailableError extends Error {
  override readonly name = "DeliveryUnavailableError";
}

/** Delivery reads answered at once in all and per project (429 beyond; see the top of this file). */
export const MAX_DELIVERY_READS = 32;
export const MAX_DELIVERY_READS_PER_PROJECT = 16;
const reading = new WeakMap<ServerContext, { total: number; perProject: Map<string, number> }>();

function takeRead(server: ServerContext, project: string): () => void {
  let counts = reading.get(server);
  if (counts === undefined) {
    counts = { total: 0, perProject: new Map() };
    reading.set(server, counts);
  }
  const held = counts;
  const mine = held.perProject.get(project) ?? 0;
  if (mine >= MAX_DELIVERY_READS_PER_PROJECT || held.total >= MAX_DELIVERY_READS)
    throw new ApiError(
      "TooManyRequests",
      `too many delivery reads are running${mine >= MAX_DELIVERY_READS_PER_PROJECT ? " in this project" : ""}; try again in a few seconds`,
      { retryAfterSeconds: 2 },
    );
  held.total++;
  held.perProject.set(project, mine + 1);
  return () => {
    held.total--;
    const left = (held.perProject.get(project) ?? 1) - 1;
    if (left <= 0) held.perProject.delete(project);
    else held.perProject.set(project, left);
  };
}

export const NO_PIPELINES_MESSAGE =
  "no delivery pipelines run for this policy: it is not reconciled yet, or its spec is invalid (see its conditions)";

/** The resources that have the subresource. */
export function hasDelivery(resource: ResourceType): boolean {
  return resource === exportPolicies;
}

/** Without a provider the subresource does not exist here, as on a Kubernetes cluster: 404. */
export function deliveryNotServed(): ApiError {
  return new ApiError(
    "NotFound",
    `${exportPolicies.plural}/${DELIVERY_SUBRESOURCE} is not served by this API server: no exporter runs with it, so it has no delivery counters`,
  );
}

function sinkJson(sink: SinkDelivery): JsonObject {
  return {
    name: sink.name,
    samplesReceived: sink.samplesReceived,
    samplesSent: sink.samplesSent,
    samplesDropped: { ...sink.samplesDropped },
    samplesBuffered: sink.samplesBuffered,
    // Deprecated alias of samplesBuffered, for clients that predate it.
    samplesPending: sink.samplesBuffered,
    bufferedBytes: sink.bufferedBytes,
    lagSeconds: sink.lagSeconds,
    shards: sink.shards,
    samplesRetried: sink.samplesRetried,
    ...(sink.down === undefined
      ? {}
      : {
          down: {
            since: timestamp(new Date(sink.down.sinceMs)),
            // 0 while the first probe is being scheduled.
            ...(sink.down.nextProbeMs === 0
              ? {}
              : { nextProbeTime: timestamp(new Date(sink.down.nextProbeMs)) }),
            probes: sink.down.probes,
          },
        }),
    requests: { ...sink.requests },
    bytesSent: sink.bytesSent,
    consecutiveFailures: sink.consecutiveFailures,
    ...(sink.lastSuccessMs === undefined ? {} : { lastSuccessTime: timestamp(new Date(sink.lastSuccessMs)) }),
    ...(sink.lastError === undefined
      ? {}
      : {
          lastError: {
            reason: sink.lastError.reason,
            message: sink.lastError.message,
            time: timestamp(new Date(sink.lastError.atMs)),
          },
        }),
    latency: { count: sink.latency.count, sumSeconds: sink.latency.sumSeconds },
    ...(sink.history === undefined
      ? {}
      : {
          history: {
            intervalSeconds: sink.history.intervalSeconds,
            endTime: timestamp(new Date(sink.history.endMs)),
            samplesSentPerSecond: [...sink.history.samplesSentPerSecond],
            samplesDroppedPerSecond: [...sink.history.samplesDroppedPerSecond],
          },
        }),
  };
}

/** GET `…/exportpolicies/{name}/delivery`: 404 when the policy does not exist, else the counters. */
export async function handleDelivery(
  ctx: RequestContext,
  provider: DeliveryProvider,
  target: WriteTarget,
  name: string,
): Promise<void> {
  const found = ctx.server.registry.get(target, name);
  const meta = metadataOf(found.object);
  const namespace = target.namespace ?? "";
  const uid = meta.uid ?? "";
  const release = takeRead(ctx.server, target.project);
  let report: PolicyDelivery | NoDelivery | undefined;
  try {
    report = await provider({ project: target.project, namespace, name, uid });
  } catch (error: unknown) {
    if (error instanceof DeliveryUnavailableError)
      throw new ApiError("ServiceUnavailable", `cannot read the delivery counters: ${error.message}`, {
        retryAfterSeconds: 5,
      });
    throw error;
  } finally {
    release();
  }
  const notes = report?.notes ?? [];
  const message = (first: string | undefined) => {
    const text = [...(first === undefined ? [] : [first]), ...notes].join("; ");
    return text === "" ? {} : { message: text };
  };
  const body: JsonObject = {
    kind: DELIVERY_KIND,
    apiVersion: apiVersionOf(target.resource),
    metadata: { name, namespace, uid },
    // When the counters were read, so clients compute ages against the server's clock.
    timestamp: timestamp(ctx.server.clock()),
    ...(report === undefined || "none" in report
      ? { sinks: [], sources: [], ...message(NO_PIPELINES_MESSAGE) }
      : {
          observedGeneration: report.generation,
          ...(report.replica === undefined ? {} : { replica: report.replica }),
          ...message(undefined),
          sinks: report.sinks.map(sinkJson),
          sources: report.sources.map((s) => ({ name: s.name, samplesMatched: s.samplesMatched })),
        }),
  };
  sendJson(ctx.response, 200, body, [], ctx.format === "yaml" ? "yaml" : "json");
}
