// At most `limit` holders at once; the rest wait in arrival order. Waiting is
// abortable, so stopping a job never hangs behind other jobs' requests.

interface Waiting {
  readonly grant: () => void;
}

export class ConcurrencyLimit {
  private active = 0;
  private readonly queue: Waiting[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`concurrency limit must be ≥ 1, got ${limit}`);
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason when aborted first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiting: Waiting = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = (): void => {
        const index = this.queue.indexOf(waiting);
        if (index !== -1) this.queue.splice(index, 1);
        reject(signal.reason as Error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiting);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next === undefined) this.active--;
      else next.grant();
    };
  }
}
