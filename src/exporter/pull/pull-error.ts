// Why reading a window failed, classified once where the failure happens so
// health and logs speak one vocabulary. Every kind is retried: a window is
// never skipped, because skipping it would lose its samples for good.

export type PullFailureReason =
  /** No connection (refused, reset, DNS). */
  | "Unreachable"
  /** No answer, or the body stalled, within the request timeout. */
  | "Timeout"
  /** 401 or 403: the credentials in the headers are wrong. */
  | "Unauthorized"
  /** Another 4xx: the store rejects the request, e.g. a selector it cannot parse. */
  | "Rejected"
  /** 5xx or 429. */
  | "ServerError"
  /** A 2xx whose body is not the export format. */
  | "BadResponse";

export class PullError extends Error {
  override readonly name = "PullError";
  constructor(
    readonly reason: PullFailureReason,
    /** What happened, without the reason. */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

export function reasonForStatus(status: number): PullFailureReason {
  if (status === 401 || status === 403) return "Unauthorized";
  if (status === 429 || status >= 500) return "ServerError";
  return "Rejected";
}
