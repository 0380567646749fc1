// Applies one Remote Write request to the router, all or nothing: the first
// pass decodes the whole request and resolves every series' route into
// reused scratch arrays; only when nothing in it was malformed does the
// second pass push the samples. Pushing never blocks: a full sink queue drops
// its oldest samples and counts them, and the request still succeeds.
import { decodeWriteRequestRaw } from "../../remotewrite/index.js";
import type { Route, Router, Unrouted } from "../router/router.js";

export class IngestStats {
  samplesReceived = 0;
  /** Samples of series without the tenant label: ignored. */
  samplesWithoutTenant = 0;
  /** Samples no policy of their project selects. */
  samplesNotSelected = 0;
  /** Sample deliveries handed to sinks (one sample to two sinks counts two). */
  samplesRouted = 0;
}

const INITIAL_SCRATCH = 1024;

export class IngestProcessor {
  readonly stats = new IngestStats();
  private routes: (Route | Unrouted | undefined)[] = new Array<Route | Unrouted | undefined>(INITIAL_SCRATCH);
  private values = new Float64Array(INITIAL_SCRATCH);
  private timestamps = new Float64Array(INITIAL_SCRATCH);
  private count = 0;
  private current: Route | Unrouted = "not-selected";

  private readonly visitor = {
    onSeries: (labelBytes: Uint8Array): void => {
      this.current = this.router.resolve(labelBytes);
    },
    onSample: (value: number, timestampMs: number): void => {
      if (this.count === this.values.length) this.grow();
      this.routes[this.count] = this.current;
      this.values[this.count] = value;
      this.timestamps[this.count] = timestampMs;
      this.count++;
    },
  };

  constructor(private readonly router: Router) {}

  /**
   * Decodes an uncompressed WriteRequest and routes its samples. Throws
   * WriteRequestDecodeError or InvalidLabelsError, having applied nothing.
   */
  apply(request: Uint8Array): void {
    this.count = 0;
    try {
      decodeWriteRequestRaw(request, this.visitor);
      this.push();
    } finally {
      this.routes.fill(undefined, 0, this.count);
      this.count = 0;
    }
  }

  private push(): void {
    const stats = this.stats;
    const count = this.count;
    stats.samplesReceived += count;
    for (let i = 0; i < count; i++) {
      const route = this.routes[i];
      if (route === undefined || route === "not-selected") {
        stats.samplesNotSelected++;
        continue;
      }
      if (route === "no-tenant") {
        stats.samplesWithoutTenant++;
        continue;
      }
      const value = this.values[i] ?? NaN;
      const timestamp = this.timestamps[i] ?? 0;
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) target.push(route.series, value, timestamp);
      stats.samplesRouted += route.targets.length;
    }
  }

  private grow(): void {
    const size = this.values.length * 2;
    const values = new Float64Array(size);
    values.set(this.values);
    const timestamps = new Float64Array(size);
    timestamps.set(this.timestamps);
    this.values = values;
    this.timestamps = timestamps;
    this.routes.length = size;
  }
}
