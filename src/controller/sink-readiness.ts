// What a sink's Ready condition says, from its configuration and its recent
// deliveries — the truth about delivery, not only about configuration.
//
// Reasons (stable, CamelCase):
//   Delivering          True     the last request succeeded
//   AwaitingData        Unknown  configured; nothing matched its sources yet, so
//                                nothing proves the endpoint works
//   SecretNotFound      False    the referenced Secret does not exist
//   SecretInvalid       False    wrong type, missing username/password key
//   EndpointUnreachable False    connection refused, DNS, TLS, or no answer in time
//   Unauthorized        False    401/403: the credentials are refused
//   Rejected            False    another 4xx: the endpoint refuses the data
//   EndpointError       False    5xx
//   Throttled           False    429 on the last attempt
//   EndpointForbidden   False    the egress policy refuses the endpoint's address
// Messages carry status codes and error text, never credentials.
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

export function sinkReadiness(
  problem: SinkProblem | undefined,
  health: DeliveryHealth | undefined,
): Readiness {
  if (problem !== undefined) return { status: "False", reason: problem.reason, message: problem.message };
  if (health === undefined) return { status: "Unknown", reason: "AwaitingData", message: "starting" };
  const { lastError, lastSuccessMs } = health;
  if (lastError !== undefined && (lastSuccessMs === undefined || lastError.atMs > lastSuccessMs)) {
    return {
      status: "False",
      reason: FAILURE_REASONS[lastError.reason] ?? "EndpointError",
      message: lastError.message,
    };
  }
  if (lastSuccessMs === undefined) {
    return {
      status: "Unknown",
      reason: "AwaitingData",
      message: "no samples have matched this sink's sources yet",
    };
  }
  // No counters or times in the message: a changing message would rewrite
  // the status of every healthy policy on every refresh.
  return { status: "True", reason: "Delivering", message: "the endpoint accepts samples" };
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
