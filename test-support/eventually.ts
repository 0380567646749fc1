// Waiting for a condition in tests that talk to real processes, where time
// cannot be faked: poll until it holds, fail with what was awaited otherwise.
import assert from "node:assert/strict";

export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/** Polls check until it returns true; fails the test after timeoutMs (default 10 s). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  options: EventuallyOptions = {},
): Promise<void> {
  await eventuallyValue(check, (ok) => ok, what, options);
}

/** Polls read until ok(value) holds and returns that value; the failure shows the last one. */
export async function eventuallyValue<T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  options: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  // JSON.stringify gives undefined for undefined, whatever its type says.
  const shown = JSON.stringify(last) as string | undefined;
  assert.fail(`timed out waiting for ${what}; last: ${(shown ?? "nothing").slice(0, 2000)}`);
}
