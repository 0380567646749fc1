// One retry policy for every sink: a retryable outcome is tried again after a
// backoff (or the server's Retry-After) until maxAttempts, which counts every
// attempt, the first included. Waits are abortable and add no concurrency:
// a shard has at most one request in flight, retries included.
import { sleep, type Clock } from "../../util/index.js";
import { backoffDelayMs } from "./backoff.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly backoffMs: number;
  /** [0, 1) jitter source; injectable for tests. */
  readonly random?: () => number;
}

export interface RetryContext {
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** The shard sending: it has a connection of its own (see Sender). */
  readonly lane?: number;
  /** Called after every attempt with its outcome and duration. */
  readonly onAttempt: (outcome: DeliveryOutcome, seconds: number) => void;
}

/**
 * Sends until success, a fatal outcome, or the last attempt. Returns the last
 * outcome. Rejects only when the signal aborts (shutdown).
 */
export async function sendWithRetry(
  sender: Sender,
  body: Uint8Array,
  policy: RetryPolicy,
  context: RetryContext,
): Promise<DeliveryOutcome> {
  const { clock, signal } = context;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    const started = clock.now();
    const outcome = await sender.send(body, signal, context.lane);
    context.onAttempt(outcome, (clock.now() - started) / 1000);
    if (outcome.kind !== "retryable" || attempt >= policy.maxAttempts) return outcome;
    const wait =
      outcome.retryAfterMs ??
      backoffDelayMs(attempt + 1, {
        backoffMs: policy.backoffMs,
        ...(policy.random ? { random: policy.random } : {}),
      });
    await sleep(clock, wait, signal);
  }
}
