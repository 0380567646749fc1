// Applies one Remote Write request to the router, all or nothing: the first
// pass decodes the whole request and resolves every series' route into
// reused scratch arrays; only when nothing in it was malformed does the
// second pass push the samples. The first pass takes the fast scanner
// (scan.ts) and falls back to the general decoder for any other layout.
// Pushing never blocks: a full sink queue drops its oldest samples and
// counts them, and the request still succeeds.
//
// With a durable log the second pass writes one record holding the
// request's samples for every sink, and apply() returns a promise that
// settles when it is written: the caller acknowledges only then. Sinks get
// the samples after the write, in the log's order, so nothing is sent that a
// crash could lose (and the agent would resend).
import {
  decodeWriteRequestRaw,
  scanWriteRequest,
  type WriteRequestScanner,
} from "../../remotewrite/index.js";
import type { DurableLog } from "../buffer/index.js";
import type { SeriesRef } from "../series.js";
import {
  LABEL_LIMIT_REASONS,
  type LabelLimitReason,
  type Route,
  type Router,
  type SampleTarget,
  type Unrouted,
} from "../router/router.js";
import type { UntenantedWarnings } from "./untenanted.js";

export class IngestStats {
  samplesReceived = 0;
  /** Samples of series without the tenant label: ignored. */
  samplesWithoutTenant = 0;
  /** Samples no policy of their project selects. */
  samplesNotSelected = 0;
  /** Sample deliveries handed to sinks (one sample to two sinks counts two). */
  samplesRouted = 0;
  /** Samples of series over a label limit, by the limit: dropped, the rest of the request accepted. */
  readonly samplesDropped: Record<LabelLimitReason, number> = Object.fromEntries(
    LABEL_LIMIT_REASONS.map((r) => [r, 0]),
  ) as Record<LabelLimitReason, number>;
}

const INITIAL_SCRATCH = 1024;
/**
 * Scratch arrays grown past this many samples (~1.6 MB) by one large request
 * are given back afterwards: a single 32 MiB body can hold ~2.5 M samples.
 */
const MAX_KEPT_SCRATCH = 65_536;

export class IngestProcessor implements WriteRequestScanner {
  readonly stats = new IngestStats();
  private routes: (Route | Unrouted | undefined)[] = new Array<Route | Unrouted | undefined>(INITIAL_SCRATCH);
  private values = new Float64Array(INITIAL_SCRATCH);
  private timestamps = new Float64Array(INITIAL_SCRATCH);
  private count = 0;
  private current: Route | Unrouted = "not-selected";

  /** The general decoder's visitor, for requests the scanner leaves to it. */
  private readonly visitor = {
    onSeries: (labelBytes: Uint8Array): void => {
      this.series(labelBytes, 0, labelBytes.length);
    },
    onSample: (value: number, timestampMs: number): void => {
      this.sample(value, timestampMs);
    },
  };

  /**
   * @param log with it, samples are written to the durable log before sinks see them.
   * @param untenanted told of series without the tenant label, to name one in a warning.
   */
  constructor(
    private readonly router: Router,
    private readonly log?: DurableLog,
    private readonly untenanted?: UntenantedWarnings,
  ) {}

  /** The durable log is writing behind: the caller should refuse new requests for now (429). */
  get overloaded(): boolean {
    return this.log?.overloaded ?? false;
  }

  /**
   * Decodes an uncompressed WriteRequest and routes its samples. Throws
   * WriteRequestDecodeError or InvalidLabelsError, having applied nothing.
   * The request's bytes are not kept: the caller may reuse them as soon as
   * this returns. With a durable log it returns a promise that settles once
   * the samples are written (and rejects when they could not be: the caller
   * answers 503, and no sink counted them).
   */
  apply(request: Uint8Array): Promise<void> | undefined {
    this.count = 0;
    try {
      if (!scanWriteRequest(request, this)) {
        this.routes.fill(undefined, 0, this.count);
        this.count = 0;
        decodeWriteRequestRaw(request, this.visitor);
      }
      if (this.log !== undefined) return this.write(this.log);
      this.push();
      return undefined;
    } finally {
      this.routes.fill(undefined, 0, this.count);
      this.count = 0;
      if (this.values.length > MAX_KEPT_SCRATCH) this.shrink();
    }
  }

  /** WriteRequestScanner: resolves the series' route. */
  series(bytes: Uint8Array, start: number, end: number): void {
    this.current = this.router.resolve(bytes, start, end);
    if (this.current === "no-tenant") this.untenanted?.noteSeries(bytes, start, end);
  }

  /** WriteRequestScanner: records the sample with the route of its series. */
  sample(value: number, timestampMs: number): void {
    if (this.count === this.values.length) this.grow();
    this.routes[this.count] = this.current;
    this.values[this.count] = value;
    this.timestamps[this.count] = timestampMs;
    this.count++;
  }

  /** Counts a sample that goes to no sink, by why. */
  private countUnrouted(route: Unrouted | undefined): void {
    const stats = this.stats;
    if (route === undefined || route === "not-selected") stats.samplesNotSelected++;
    else if (route === "no-tenant") stats.samplesWithoutTenant++;
    else stats.samplesDropped[route]++;
  }

  private push(): void {
    const stats = this.stats;
    const count = this.count;
    stats.samplesReceived += count;
    for (let i = 0; i < count; i++) {
      const route = this.routes[i];
      if (route === undefined || typeof route === "string") {
        this.countUnrouted(route);
        continue;
      }
      const value = this.values[i] ?? NaN;
      const timestamp = this.timestamps[i] ?? 0;
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) target.push(route.series, value, timestamp);
      stats.samplesRouted += route.targets.length;
    }
  }

  /**
   * The durable second pass: one record for the request, then the sinks, in
   * the record's order. The record keeps the samples; beside it only the
   * target of each is kept, so a sample-target costs one array slot here.
   */
  private write(log: DurableLog): Promise<void> {
    const stats = this.stats;
    const count = this.count;
    stats.samplesReceived += count;
    const record = log.record(count);
    const targets: SampleTarget[] = [];
    // Targets without a log (none in telex serve) get their samples after the write, too.
    let memoryOnly: MemoryPushes | undefined;
    for (let i = 0; i < count; i++) {
      const route = this.routes[i];
      if (route === undefined || typeof route === "string") {
        this.countUnrouted(route);
        continue;
      }
      const value = this.values[i] ?? NaN;
      const timestamp = this.timestamps[i] ?? 0;
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) {
        if (target.durable !== undefined) {
          record.add(target.durable, route.series, value, timestamp);
          targets.push(target);
        } else {
          (memoryOnly ??= new MemoryPushes()).add(target, route.series, value, timestamp);
        }
      }
      stats.samplesRouted += route.targets.length;
    }
    if (targets.length === 0 && memoryOnly === undefined) return Promise.resolve();
    return record.commit().then(() => {
      const firsts = record.firstEntries;
      let nextFirst = 0;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i] as SampleTarget;
        if (firsts[nextFirst] === i) {
          target.expectSeq?.(firsts[nextFirst + 1] ?? 0);
          nextFirst += 2;
        }
        target.push(record.seriesAt(i), record.valueAt(i), record.timestampAt(i));
      }
      memoryOnly?.flush();
    });
  }

  private shrink(): void {
    this.values = new Float64Array(INITIAL_SCRATCH);
    this.timestamps = new Float64Array(INITIAL_SCRATCH);
    this.routes = new Array<Route | Unrouted | undefined>(INITIAL_SCRATCH);
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

/** Samples for targets without a durable log, held until the request's record is written. */
class MemoryPushes {
  private readonly targets: SampleTarget[] = [];
  private readonly series: SeriesRef[] = [];
  private readonly values: number[] = [];
  private readonly timestamps: number[] = [];

  add(target: SampleTarget, series: SeriesRef, value: number, timestamp: number): void {
    this.targets.push(target);
    this.series.push(series);
    this.values.push(value);
    this.timestamps.push(timestamp);
  }

  flush(): void {
    for (let i = 0; i < this.targets.length; i++) {
      (this.targets[i] as SampleTarget).push(
        this.series[i] as SeriesRef,
        this.values[i] ?? NaN,
        this.timestamps[i] ?? 0,
      );
    }
  }
}
