// A process-wide cap on requests in flight to all endpoints together. Each
// request takes a permit; waiters are served first come, first served, and a
// shard waits for one permit per request, so a sink running 16 shards cannot
// starve 10,000 sinks running one: it queues 16 times where they queue once.

import type { ExpositionWriter } from "../../metrics/exposition.js";

export const DEFAULT_MAX_INFLIGHT_REQUESTS = 512;

type Release = () => void;

interface Waiter {
  readonly grant: (release: Release) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class DeliveryBudget {
  private inUse = 0;
  private readonly waiters: Waiter[] = [];
  /** Sum of seconds requests waited for a permit: shows when the cap, not the endpoints, is the limit. */
  waitSeconds = 0;

  constructor(readonly capacity: number = DEFAULT_MAX_INFLIGHT_REQUESTS) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
  }

  get inflight(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  writeMetrics(writer: ExpositionWriter): void {
    writer.sample(
      "telex_delivery_inflight_requests",
      "Requests in flight to all endpoints (at most --max-inflight-requests).",
      "gauge",
      {},
      this.inUse,
    );
    writer.sample(
      "telex_delivery_permit_wait_seconds_total",
      "Time requests waited for a permit: the cap, not the endpoints, was the limit.",
      "counter",
      {},
      this.waitSeconds,
    );
  }

  /** Resolves with a release function once a permit is free; rejects when the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.inUse < this.capacity && this.waiters.length === 0) {
      this.inUse++;
      return Promise.resolve(this.releaser());
    }
    const started = performance.now();
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          this.waitSeconds += (performance.now() - started) / 1000;
          resolve(release);
        },
        signal,
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal?.reason as Error);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next === undefined) {
        this.inUse--;
        return;
      }
      next.signal?.removeEventListener("abort", next.onAbort);
      next.grant(this.releaser());
    };
  }
}
