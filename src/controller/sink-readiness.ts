// What a sink's Ready condition says, from its configuration and its recent
// deliveries — the truth about delivery, not only about configuration.
//
// Reasons (stable, CamelCase):
//   Delivering          True     the last request succeeded and no backlog is waiting
//   CatchingUp          True     data flows, but a backlog waits: entered when the
//                                lag passes 60 s, left when it falls under 10 s;
//                                message "backlog 3m, 180,000 samples"
//   AwaitingData        Unknown  configured; nothing matched its sources yet, so
//                                nothing proves the endpoint works
//   SecretNotFound      False    the referenced Secret does not exist
//   SecretInvalid       False    wrong type, missing username/password key
//   EndpointUnreachable False    connection refused, DNS, TLS, or no answer in time
//   Unauthorized        False    401/403: the credentials are refused; the message
//                                names the Secret they came from (or says none is set)
//   Rejected            False    another 4xx: the endpoint refuses the data
//   EndpointError       False    5xx
//   Throttled           False    429 on the last attempt
//   EndpointForbidden   False    the egress policy refuses the endpoint's address
// While the sink is down (it outlasted retry.maxAttempts and now keeps its
// samples and probes the endpoint) a False message ends in
// "; keeping 180,000 samples, next probe in 2m".
//
// Messages carry status codes and error text, never credentials. A message
// that changes rewrites the policy's status (and, at 10,000 policies, does so
// for every policy on every refresh), so numbers in messages are rounded — two
// significant digits for counts; 10 s steps under a minute, whole minutes under
// an hour, 10-minute steps under a day — and a down sink's note is taken once
// per probe (see ReadinessMemory), not on every refresh.
import type { SinkProblem } from "./compile.js";
import type { ConditionStatus } from "./conditions.js";

export interface Readiness {
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** The parts of a sink's runtime health the condition is computed from. */
export interface DeliveryHealth {
  readonly lastSuccessMs: number | undefined;
  readonly lastError:
    { readonly reason: string; readonly message: string; readonly atMs: number } | undefined;
  /** Samples received and not yet delivered or dropped. */
  readonly buffered: number;
  /** Now − the newest delivered sample's timestamp while samples wait; 0 otherwise. */
  readonly lagSeconds: number;
  /** Set while the sink is down: it keeps its samples and probes the endpoint. */
  readonly down: DownHealth | undefined;
  readonly nowMs: number;
}

export interface DownHealth {
  readonly sinceMs: number;
  readonly nextProbeMs: number;
  readonly probes: number;
}

/**
 * What readiness remembers per sink between refreshes: whether it is
 * catching up (the hysteresis between 60 s and 10 s of lag), and the note of
 * a down sink, taken when a probe is scheduled and kept until the next one,
 * so that a countdown does not rewrite status on every refresh.
 */
export interface ReadinessMemory {
  catchingUp: boolean;
  downNote: { readonly probes: number; readonly nextProbeMs: number; readonly text: string } | undefined;
}

export function newReadinessMemory(): ReadinessMemory {
  return { catchingUp: false, downNote: undefined };
}

/** Lag above which a delivering sink with a backlog is CatchingUp. */
export const CATCHING_UP_ENTER_SECONDS = 60;
/** Lag under which it is Delivering again. */
export const CATCHING_UP_LEAVE_SECONDS = 10;

/** Two significant digits, with thousands separators: 183,412 → "180,000". */
export function roughCount(n: number): string {
  const whole = Math.max(0, Math.round(n));
  if (whole < 100) return whole.toLocaleString("en-US");
  const step = 10 ** (Math.floor(Math.log10(whole)) - 1);
  return (Math.round(whole / step) * step).toLocaleString("en-US");
}

/** 10 s steps under a minute, whole minutes under an hour, 10-minute steps under a day, then hours. */
export function roughDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 55) return `${Math.round(s / 10) * 10}s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes}m`;
  const tens = Math.round(s / 600);
  if (tens < 144) {
    const h = Math.floor(tens / 6);
    const m = (tens % 6) * 10;
    return m === 0 ? `${h}h` : `${h}h${m}m`;
  }
  return `${Math.round(s / 3600)}h`;
}

const FAILURE_REASONS: Readonly<Record<string, string>> = {
  Unreachable: "EndpointUnreachable",
  Timeout: "EndpointUnreachable",
  Unauthorized: "Unauthorized",
  Rejected: "Rejected",
  ServerError: "EndpointError",
  Throttled: "Throttled",
  Forbidden: "EndpointForbidden",
};

/** Where a sink's credentials come from, for the message of an Unauthorized sink. */
export interface SinkCredentialsSource {
  /** `namespace/name` of the basic-auth Secret; absent: the sink sends no credentials. */
  readonly secret?: string;
}

/** What an Unauthorized message adds: whose credentials were refused, or that none were sent. */
function credentialsNote(source: SinkCredentialsSource): string {
  return source.secret === undefined
    ? "; no credentials were sent: the sink has no authentication.basicAuth.secretRef"
    : `; the endpoint refused the credentials of Secret ${source.secret}`;
}

/**
 * The sink's Ready condition. `memory` carries the little state readiness
 * needs between refreshes (see ReadinessMemory); it is updated in place.
 * `credentials`, when given, lets an Unauthorized message name the Secret.
 */
export function sinkReadiness(
  problem: SinkProblem | undefined,
  health: DeliveryHealth | undefined,
  memory: ReadinessMemory = newReadinessMemory(),
  credentials?: SinkCredentialsSource,
): Readiness {
  if (problem !== undefined || health === undefined) {
    memory.catchingUp = false;
    memory.downNote = undefined;
  }
  if (problem !== undefined) return { status: "False", reason: problem.reason, message: problem.message };
  if (health === undefined) return { status: "Unknown", reason: "AwaitingData", message: "starting" };
  const { lastError, lastSuccessMs } = health;
  if (health.down === undefined) memory.downNote = undefined;
  if (lastError !== undefined && (lastSuccessMs === undefined || lastError.atMs > lastSuccessMs)) {
    memory.catchingUp = false;
    const note = health.down === undefined ? "" : `; ${downNote(health, health.down, memory)}`;
    const reason = FAILURE_REASONS[lastError.reason] ?? "EndpointError";
    const whose = reason === "Unauthorized" && credentials !== undefined ? credentialsNote(credentials) : "";
    return { status: "False", reason, message: `${lastError.message}${whose}${note}` };
  }
  if (lastSuccessMs === undefined) {
    memory.catchingUp = false;
    return {
      status: "Unknown",
      reason: "AwaitingData",
      message: "no samples have matched this sink's sources yet",
    };
  }
  const threshold = memory.catchingUp ? CATCHING_UP_LEAVE_SECONDS : CATCHING_UP_ENTER_SECONDS;
  memory.catchingUp =
    health.buffered > 0 &&
    (memory.catchingUp ? health.lagSeconds >= threshold : health.lagSeconds > threshold);
  if (memory.catchingUp) {
    return {
      status: "True",
      reason: "CatchingUp",
      message: `backlog ${roughDuration(health.lagSeconds)}, ${roughCount(health.buffered)} samples`,
    };
  }
  // No counters or times in the message: a changing message would rewrite
  // the status of every healthy policy on every refresh.
  return { status: "True", reason: "Delivering", message: "the endpoint accepts samples" };
}

/** "keeping N samples, next probe in T", taken once per scheduled probe. */
function downNote(health: DeliveryHealth, down: DownHealth, memory: ReadinessMemory): string {
  const kept = memory.downNote;
  if (kept !== undefined && kept.probes === down.probes && kept.nextProbeMs === down.nextProbeMs) {
    return kept.text;
  }
  const wait = (down.nextProbeMs - health.nowMs) / 1000;
  const probe =
    down.nextProbeMs === 0 || wait < 5 ? "next probe due" : `next probe in ${roughDuration(wait)}`;
  const text = `keeping ${roughCount(health.buffered)} samples, ${probe}`;
  memory.downNote = { probes: down.probes, nextProbeMs: down.nextProbeMs, text };
  return text;
}

/** The policy's Ready: a summary of its sinks ("2/3 sinks ready"). */
export function policyReadiness(
  sinks: readonly { readonly name: string; readonly readiness: Readiness }[],
): Readiness {
  const ready = sinks.filter((s) => s.readiness.status === "True").length;
  const failing = sinks.filter((s) => s.readiness.status === "False");
  const summary = `${ready}/${sinks.length} sinks ready`;
  if (failing.length > 0) {
    const detail = failing.map((s) => `${s.name}: ${s.readiness.reason}`).join(", ");
    return { status: "False", reason: "SinksNotReady", message: `${summary} (${detail})` };
  }
  if (ready < sinks.length) return { status: "Unknown", reason: "AwaitingData", message: summary };
  return { status: "True", reason: "AllSinksReady", message: summary };
}
