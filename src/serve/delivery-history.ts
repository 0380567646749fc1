// The last 15 minutes of each sink's delivery rate, for the status page's
// chart (served in the ExportPolicy `delivery` subresource as `history`).
//
// Why server-side: a page computing rates from counters it polls would show
// an empty chart whenever it is opened, and a person opens the page when
// something is wrong, wanting to see what led to it. So a timer reads every
// running sink's counters every `intervalMs` (15 s, vmagent's and
// Prometheus' default scrape interval) and keeps the last `points` deltas
// per sink (60: 15 minutes) in fixed-size rings. Memory is bounded by the
// sinks that run, not by time or by readers: one Float32Array of 2 × 60 per
// sink that has moved samples, ~700 bytes with its key and map entry; a sink
// that never has holds no array (its past is all zeros), ~200 bytes (measured
// at 10,000 idle sinks: 10 MB before, when every sink had its arrays); at the
// API's default quota of 200 sinks per project that is ≤ ~140 KiB per
// project. Float32 keeps counts exact up to 16 million per interval and
// within 0.00001 % beyond: plenty for a chart. A sink that stops running is
// forgotten at the next tick; a counter that goes down (the sink was rebuilt
// with a new endpoint) counts as a reset, as Prometheus' rate() does.

export const DELIVERY_HISTORY_DEFAULTS = {
  intervalMs: 15_000,
  points: 60,
} as const;

/** What the history reads of a sink at each tick; both counters only grow while the sink lives. */
export interface SinkCounters {
  readonly samplesSent: number;
  readonly samplesDropped: number;
}

/** A sink's rates, oldest first; each point covers `intervalSeconds` and the last one ends at `endMs`. */
export interface SinkRateHistory {
  readonly intervalSeconds: number;
  readonly endMs: number;
  readonly samplesSentPerSecond: readonly number[];
  readonly samplesDroppedPerSecond: readonly number[];
}

interface Ring {
  /** Sent in [0, points), dropped in [points, 2 × points); undefined while every point is 0. */
  values: Float32Array | undefined;
  /** Points written so far (capped at the ring's size); the next write goes to `next`. */
  filled: number;
  next: number;
  lastSent: number;
  lastDropped: number;
  /** The tick that last saw the sink: one that did not see it forgets it. */
  seenAt: number;
}

export class DeliveryHistory {
  readonly #rings = new Map<string, Ring>();
  readonly #intervalMs: number;
  readonly #points: number;
  #tick = 0;
  #lastTickMs: number | undefined;

  constructor(options: { readonly intervalMs?: number; readonly points?: number } = {}) {
    this.#intervalMs = options.intervalMs ?? DELIVERY_HISTORY_DEFAULTS.intervalMs;
    this.#points = options.points ?? DELIVERY_HISTORY_DEFAULTS.points;
    if (!(this.#intervalMs > 0) || !Number.isSafeInteger(this.#points) || this.#points < 1)
      throw new RangeError("delivery history needs a positive interval and at least one point");
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Sinks with a ring now. */
  get size(): number {
    return this.#rings.size;
  }

  /** Sinks whose ring holds an array: those that have moved samples in the last ticks. */
  get arrays(): number {
    let count = 0;
    for (const ring of this.#rings.values()) if (ring.values !== undefined) count++;
    return count;
  }

  /**
   * One tick: the counters of every running sink by key (policy uid/sink
   * name). A sink seen for the first time starts with no points (its counters
   * so far span an unknown time); the next tick gives its first rate.
   */
  record(nowMs: number, sinks: Iterable<readonly [string, SinkCounters]>): void {
    const tick = ++this.#tick;
    for (const [key, counters] of sinks) {
      const ring = this.#rings.get(key);
      if (ring === undefined) {
        this.#rings.set(key, {
          values: undefined,
          filled: 0,
          next: 0,
          lastSent: counters.samplesSent,
          lastDropped: counters.samplesDropped,
          seenAt: tick,
        });
        continue;
      }
      const sent = increase(ring.lastSent, counters.samplesSent);
      const dropped = increase(ring.lastDropped, counters.samplesDropped);
      if (ring.values === undefined && (sent !== 0 || dropped !== 0))
        ring.values = new Float32Array(2 * this.#points);
      if (ring.values !== undefined) {
        ring.values[ring.next] = sent;
        ring.values[this.#points + ring.next] = dropped;
      }
      ring.next = (ring.next + 1) % this.#points;
      ring.filled = Math.min(ring.filled + 1, this.#points);
      ring.lastSent = counters.samplesSent;
      ring.lastDropped = counters.samplesDropped;
      ring.seenAt = tick;
    }
    for (const [key, ring] of this.#rings) if (ring.seenAt !== tick) this.#rings.delete(key);
    this.#lastTickMs = nowMs;
  }

  /** The sink's rates so far; undefined before its first tick. */
  rates(key: string): SinkRateHistory | undefined {
    const ring = this.#rings.get(key);
    if (ring === undefined || this.#lastTickMs === undefined) return undefined;
    const seconds = this.#intervalMs / 1000;
    const oldestFirst = (offset: number): number[] => {
      const out: number[] = [];
      for (let i = ring.filled; i > 0; i--) {
        const value = ring.values?.[offset + ((ring.next - i + this.#points) % this.#points)] ?? 0;
        out.push(Math.round((value / seconds) * 1000) / 1000);
      }
      return out;
    };
    return {
      intervalSeconds: seconds,
      endMs: this.#lastTickMs,
      samplesSentPerSecond: oldestFirst(0),
      samplesDroppedPerSecond: oldestFirst(this.#points),
    };
  }
}

/** A counter's increase between two reads; a lower value means it restarted from zero. */
function increase(before: number, now: number): number {
  return now >= before ? now - before : now;
}

/** The history's key of a sink. */
export function sinkHistoryKey(uid: string, sink: string): string {
  return `${uid}/${sink}`;
}
