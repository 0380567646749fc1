// The ExportPolicy `delivery` subresource in a fleet, asked of `telex serve
// --api-only`: the counters live in the exporter of the one replica that
// runs the policy (rendezvous ownership), so the API server asks every live
// replica (FleetView: their Leases give the listener URLs, push and pull
// replicas alike) at DELIVERY_PATH with the ingest token they share, and
// serves the answer of the replica that runs it.
//
// Why all at once and not the computed owner first: the owner the API server
// computes from the Leases it sees may differ for a moment from the one the
// replicas agreed on, and during a handover the previous owner still runs the
// policy (draining its backlog) — asking everyone in parallel costs one round
// trip either way and tells both cases apart. Fleets are a handful of
// replicas, and the reads are bounded by MAX_DELIVERY_READS in the API.
//
// Bounded: each replica within FLEET_DELIVERY_DEFAULTS.timeoutMs and
// maxAnswerBytes; a dead replica whose Lease is still live costs at most the
// timeout. Two replicas running the policy (a handover): the one that owns it
// now (not draining) is served, and a note names the other. None runs it: no
// pipelines (as all in one) when every replica answered, else
// FleetDeliveryError (a 503 with who could not be asked), never a guess.
import type {
  DeliveryRateHistory,
  NoDelivery,
  PolicyDelivery,
  SinkDelivery,
  SourceDelivery,
} from "../apiserver/index.js";
import { DELIVERY_PATH } from "../exporter/ingest/server.js";
import { rendezvousOwner } from "./rendezvous.js";
import {
  ReplicaAnswerError,
  readCapped,
  replicaHeaders,
  replicaRefusal,
  unanswered,
} from "./replica-call.js";
import type { FleetView, LiveReplica } from "./view.js";

export const FLEET_DELIVERY_DEFAULTS = {
  /** Reading counters is in-memory work of microseconds: 2 s is only a slow network or a stuck replica. */
  timeoutMs: 2_000,
  /**
   * A report is ~1.5 KiB per sink with its 15-minute history (two arrays of
   * 60 rates) and a policy has at most 40 sinks (the API's quota): 1 MiB is
   * room, and the most one read holds per replica.
   */
  maxAnswerBytes: 2 ** 20,
} as const;

export interface FleetDeliveryOptions {
  readonly view: Pick<FleetView, "live">;
  /** The replicas' ingest token (their --ingest-token-file); none when their listeners are open (loopback). */
  readonly token?: string;
  readonly timeoutMs?: number;
  readonly maxAnswerBytes?: number;
}

/** No replica answered for the policy and some could not be asked: the reason, for a 503. */
export class FleetDeliveryError extends Error {
  override readonly name = "FleetDeliveryError";
}

type Asked =
  | { readonly kind: "running"; readonly draining: boolean; readonly delivery: PolicyDelivery }
  | { readonly kind: "not running" }
  | { readonly kind: "failed"; readonly problem: string };

const NOT_SERVED =
  "does not serve delivery reports (404): a replica of an older Telex, or one whose listener is open (no --ingest-token-file) on a non-loopback address, where it answers none";

async function ask(
  replica: LiveReplica & { readonly ingestUrl: string },
  uid: string,
  options: FleetDeliveryOptions,
): Promise<Asked> {
  const timeoutMs = options.timeoutMs ?? FLEET_DELIVERY_DEFAULTS.timeoutMs;
  const headers = replicaHeaders(options.token);
  const url = new URL(DELIVERY_PATH, replica.ingestUrl);
  url.searchParams.set("uid", uid);
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = await readCapped(response, options.maxAnswerBytes ?? FLEET_DELIVERY_DEFAULTS.maxAnswerBytes);
    if (response.status === 404) {
      // The endpoint's own "not running here" is JSON; any other 404 is a listener without it.
      const parsed = parseJson(text);
      if (isRecord(parsed) && parsed["running"] === false) return { kind: "not running" };
      return { kind: "failed", problem: replicaRefusal(404, text, NOT_SERVED) };
    }
    if (response.status !== 200)
      return { kind: "failed", problem: replicaRefusal(response.status, text, NOT_SERVED) };
    const answer = parseJson(text);
    if (!isRecord(answer)) throw new ReplicaAnswerError("not a JSON object");
    return {
      kind: "running",
      draining: answer["draining"] === true,
      // The replica is named by its Lease, as everywhere the API server speaks of replicas.
      delivery: { ...parsePolicyDelivery(answer["delivery"]), replica: replica.name },
    };
  } catch (error: unknown) {
    if (error instanceof ReplicaAnswerError)
      return { kind: "failed", problem: `answered no report: ${error.message}` };
    return { kind: "failed", problem: unanswered(error, timeoutMs) };
  }
}

/**
 * The delivery report of the policy with this uid from the replica running
 * it; NoDelivery when every live replica said it runs none; FleetDeliveryError
 * when none runs it and some could not be asked.
 */
export async function fleetDelivery(
  uid: string,
  options: FleetDeliveryOptions,
): Promise<PolicyDelivery | NoDelivery> {
  const live = options.view.live();
  if (live.length === 0)
    throw new FleetDeliveryError(
      "no replica of the fleet is live (no replica Lease was renewed within its duration): no replica runs the policy",
    );
  const reachable = live.filter((r): r is LiveReplica & { ingestUrl: string } => r.ingestUrl !== undefined);
  const asked = await Promise.all(reachable.map((replica) => ask(replica, uid, options)));
  const problems = live
    .filter((r) => r.ingestUrl === undefined)
    .map((r) => `replica ${r.name} publishes no listener URL on its Lease`);
  const running: { name: string; draining: boolean; delivery: PolicyDelivery }[] = [];
  asked.forEach((outcome, i) => {
    const name = reachable[i]?.name ?? "?";
    if (outcome.kind === "failed") problems.push(`replica ${name} ${outcome.problem}`);
    if (outcome.kind === "running")
      running.push({ name, draining: outcome.draining, delivery: outcome.delivery });
  });
  if (running.length === 0) {
    if (problems.length > 0)
      throw new FleetDeliveryError(
        `no replica that answered runs the policy, and the others could not tell: ${problems.join("; ")}`,
      );
    return {
      none: true,
      notes: [`none of the ${live.length} live replicas (${live.map((r) => r.name).join(", ")}) runs it now`],
    };
  }
  // The owner now: not draining; should two say so (their views of the members differ for a
  // moment), the one the rendezvous over the live Leases names, as the replicas will agree.
  const owner = rendezvousOwner(
    uid,
    live.map((r) => r.name),
  );
  const ranked = [...running].sort(
    (a, b) => Number(a.draining) - Number(b.draining) || Number(b.name === owner) - Number(a.name === owner),
  );
  const chosen = ranked[0];
  if (chosen === undefined) throw new FleetDeliveryError("no report");
  const notes: string[] = [];
  for (const other of ranked.slice(1)) {
    const buffered = other.delivery.sinks.reduce((sum, s) => sum + s.samplesBuffered, 0);
    notes.push(
      `the policy is being handed over: replica ${other.name} also runs it${other.draining ? " (draining)" : ""} and holds ${buffered} buffered samples of it; the counters shown are replica ${chosen.name}'s${chosen.draining ? "" : ", which owns it now"}`,
    );
  }
  if (chosen.draining)
    notes.push(
      `replica ${chosen.name} is handing the policy over (draining) and no other replica runs it yet`,
    );
  for (const problem of problems) notes.push(`warning: ${problem}`);
  return notes.length === 0 ? chosen.delivery : { ...chosen.delivery, notes };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ReplicaAnswerError("not JSON");
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function num(object: Record<string, unknown>, key: string): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new ReplicaAnswerError(`${key} is not a number`);
  return value;
}

function str(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== "string") throw new ReplicaAnswerError(`${key} is not a string`);
  return value;
}

function rec(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = object[key];
  if (!isRecord(value)) throw new ReplicaAnswerError(`${key} is not an object`);
  return value;
}

function counts(object: Record<string, unknown>, key: string): Record<string, number> {
  const value = rec(object, key);
  return Object.fromEntries(Object.keys(value).map((k) => [k, num(value, k)]));
}

function numbers(object: Record<string, unknown>, key: string): number[] {
  const value = object[key];
  if (!Array.isArray(value)) throw new ReplicaAnswerError(`${key} is not a list`);
  return value.map((v: unknown) => {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new ReplicaAnswerError(`${key} holds a non-number`);
    return v;
  });
}

function list(object: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const value = object[key];
  if (!Array.isArray(value)) throw new ReplicaAnswerError(`${key} is not a list`);
  return value.map((v: unknown) => {
    if (!isRecord(v)) throw new ReplicaAnswerError(`${key} holds a non-object`);
    return v;
  });
}

function parseSink(sink: Record<string, unknown>): SinkDelivery {
  const latency = rec(sink, "latency");
  const down = sink["down"] === undefined ? undefined : rec(sink, "down");
  const lastError = sink["lastError"] === undefined ? undefined : rec(sink, "lastError");
  const history = sink["history"] === undefined ? undefined : rec(sink, "history");
  const rates: DeliveryRateHistory | undefined =
    history === undefined
      ? undefined
      : {
          intervalSeconds: num(history, "intervalSeconds"),
          endMs: num(history, "endMs"),
          samplesSentPerSecond: numbers(history, "samplesSentPerSecond"),
          samplesDroppedPerSecond: numbers(history, "samplesDroppedPerSecond"),
        };
  return {
    name: str(sink, "name"),
    samplesReceived: num(sink, "samplesReceived"),
    samplesSent: num(sink, "samplesSent"),
    samplesDropped: counts(sink, "samplesDropped"),
    samplesBuffered: num(sink, "samplesBuffered"),
    bufferedBytes: num(sink, "bufferedBytes"),
    lagSeconds: num(sink, "lagSeconds"),
    shards: num(sink, "shards"),
    samplesRetried: num(sink, "samplesRetried"),
    ...(down === undefined
      ? {}
      : {
          down: {
            sinceMs: num(down, "sinceMs"),
            nextProbeMs: num(down, "nextProbeMs"),
            probes: num(down, "probes"),
          },
        }),
    requests: counts(sink, "requests"),
    bytesSent: num(sink, "bytesSent"),
    consecutiveFailures: num(sink, "consecutiveFailures"),
    ...(sink["lastSuccessMs"] === undefined ? {} : { lastSuccessMs: num(sink, "lastSuccessMs") }),
    ...(lastError === undefined
      ? {}
      : {
          lastError: {
            reason: str(lastError, "reason"),
            message: str(lastError, "message"),
            atMs: num(lastError, "atMs"),
          },
        }),
    latency: { count: num(latency, "count"), sumSeconds: num(latency, "sumSeconds") },
    ...(rates === undefined ? {} : { history: rates }),
  };
}

/** A replica's report as served (src/serve/delivery-report.ts), checked field by field. */
export function parsePolicyDelivery(value: unknown): PolicyDelivery {
  if (!isRecord(value)) throw new ReplicaAnswerError("delivery is not an object");
  const sources: SourceDelivery[] = list(value, "sources").map((s) => ({
    name: str(s, "name"),
    samplesMatched: num(s, "samplesMatched"),
  }));
  return {
    generation: num(value, "generation"),
    sinks: list(value, "sinks").map(parseSink),
    sources,
  };
}
