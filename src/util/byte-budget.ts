// A process-wide budget of bytes that requests take before holding a body in
// memory and give back when done. Taking never waits: a request that does not
// fit now is refused (429), so memory never queues up behind the budget.

export class ByteBudget {
  private used = 0;

  constructor(readonly capacity: number) {}

  /** Bytes taken and not yet given back. */
  get inUse(): number {
    return this.used;
  }

  /** Takes bytes if they fit now; false (taking nothing) if not. */
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}
