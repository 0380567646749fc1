// What one delivery attempt came to, classified once at the boundary.
// A sender never rejects for an HTTP or network result: it returns one of these.
import type { FailureReason } from "./stats.js";

export type DeliveryOutcome =
  | { readonly kind: "ok" }
  | {
      readonly kind: "retryable";
      readonly reason: Extract<FailureReason, "ServerError" | "Throttled" | "Unreachable" | "Timeout">;
      readonly message: string;
      /** The server's Retry-After, already capped. */
      readonly retryAfterMs?: number;
    }
  | {
      readonly kind: "fatal";
      readonly reason: Extract<FailureReason, "Unauthorized" | "Rejected" | "Forbidden"> | "TooLarge";
      readonly message: string;
    };

/** The result of sending one body, with the time it took. */
export interface AttemptResult {
  readonly outcome: DeliveryOutcome;
  readonly seconds: number;
}

/**
 * Sends one encoded request body. Implementations never reject for delivery
 * failures. `lane` is the sending shard: requests of one lane are never
 * concurrent, so a sender may give each lane a connection of its own.
 */
export interface Sender {
  send(body: Uint8Array, signal: AbortSignal, lane?: number): Promise<DeliveryOutcome>;
}
