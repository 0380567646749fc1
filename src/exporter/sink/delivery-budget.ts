// A process-wide cap on requests in flight to all endpoints together, in
// count and in bytes of request bodies. Each request takes a permit;
// waiters are served first come, first served, and a shard waits for one
// permit per request, so a sink running 16 shards cannot starve 10,000 sinks
// running one: it queues 16 times where they queue once.
//
// The bytes are those of encoded (compressed) bodies held for sending,
// retries and their backoff included. A body's size is known only once it is
// encoded, and encoding before the permit would hold the body while waiting,
// which is what the cap is for: a permit is taken for an estimate (the
// sink's recent bytes per sample), then resized to the body's actual size.
// What an estimate fell short by is taken at once, so the bytes in flight may
// pass the cap by that much; a request larger than the whole cap still goes,
// alone.

import type { ExpositionWriter } from "../../metrics/exposition.js";

export const DEFAULT_MAX_INFLIGHT_REQUESTS = 512;
/**
 * 64 MiB of request bodies: at the 30 bytes or so a sample takes compressed,
 * 2 M samples in flight, far more than a few hundred 100 ms endpoints need to
 * keep their pipes full; 512 bodies of a 5,000-sample batch would otherwise
 * be up to 512 × 0.2–1 MB.
 */
export const DEFAULT_MAX_INFLIGHT_BYTES = 64 * 2 ** 20;

/** Gives the permit back (counted once, however often called). */
export interface Release {
  (): void;
  /** Sets the bytes the permit holds (the body's actual size); taken at once even past the cap. */
  resize(bytes: number): void;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: (release: Release) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class DeliveryBudget {
  private inUse = 0;
  private bytesInUse = 0;
  private readonly waiters: Waiter[] = [];
  /** Sum of seconds requests waited for a permit: shows when the cap, not the endpoints, is the limit. */
  waitSeconds = 0;

  constructor(
    readonly capacity: number = DEFAULT_MAX_INFLIGHT_REQUESTS,
    readonly byteCapacity: number = DEFAULT_MAX_INFLIGHT_BYTES,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    if (!Number.isSafeInteger(byteCapacity) || byteCapacity < 1)
      throw new RangeError(`byteCapacity must be ≥ 1, got ${byteCapacity}`);
  }

  get inflight(): number {
    return this.inUse;
  }

  /** Bytes of request bodies held by permits (estimates until the bodies are encoded). */
  get inflightBytes(): number {
    return this.bytesInUse;
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
      "telex_delivery_inflight_bytes",
      "Bytes of request bodies in flight to all endpoints, retries included (about --max-inflight-bytes at most).",
      "gauge",
      {},
      this.bytesInUse,
    );
    writer.sample(
      "telex_delivery_permit_wait_seconds_total",
      "Time requests waited for a permit: the cap, not the endpoints, was the limit.",
      "counter",
      {},
      this.waitSeconds,
    );
  }

  /**
   * Resolves with a release function once a permit for a request of about
   * `bytes` is free; rejects when the signal aborts first.
   */
  acquire(signal?: AbortSignal, bytes = 0): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    // A request larger than the whole cap waits for everything else to finish, then goes alone.
    const wanted = Math.min(Math.max(0, Math.ceil(bytes)), this.byteCapacity);
    if (this.waiters.length === 0 && this.fits(wanted)) return Promise.resolve(this.take(wanted));
    const started = performance.now();
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        bytes: wanted,
        grant: (release) => {
          this.waitSeconds += (performance.now() - started) / 1000;
          resolve(release);
        },
        signal,
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal?.reason as Error);
          // The first waiter may have been all that held the others back.
          this.serve();
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private fits(bytes: number): boolean {
    return (
      this.inUse < this.capacity && (this.bytesInUse === 0 || this.bytesInUse + bytes <= this.byteCapacity)
    );
  }

  private take(bytes: number): Release {
    this.inUse++;
    this.bytesInUse += bytes;
    let held = bytes;
    let released = false;
    const release = (() => {
      if (released) return;
      released = true;
      this.inUse--;
      this.bytesInUse -= held;
      held = 0;
      this.serve();
    }) as Release;
    release.resize = (size: number) => {
      if (released) return;
      const next = Math.max(0, Math.ceil(size));
      this.bytesInUse += next - held;
      const shrunk = next < held;
      held = next;
      if (shrunk) this.serve();
    };
    return release;
  }

  /** Grants waiters in order while the first one fits. */
  private serve(): void {
    for (;;) {
      const next = this.waiters[0];
      if (next === undefined || !this.fits(next.bytes)) return;
      this.waiters.shift();
      next.signal?.removeEventListener("abort", next.onAbort);
      next.grant(this.take(next.bytes));
    }
  }
}
