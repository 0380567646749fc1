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
//
// In a fleet, series matching a policy another replica runs go to that
// replica instead (forwarded once per replica, however many of its policies
// match), and the request settles only when they are durable there too.
//
// Exemplars and native histogram samples are items of their series (see
// series.ts#itemRef): routed, logged, counted and forwarded like its float
// samples, in wire order. Metric metadata goes to the MetadataBook once the
// request is accepted, and along with the series forwarded to a replica.
import {
  WriteRequestBuilder,
  decodeWriteRequestRaw,
  scanWriteRequest,
  snappyCompress,
  UNSUPPORTED_KINDS,
  type ItemKind,
  type UnsupportedKind,
  type WriteRequestScanner,
} from "../../remotewrite/index.js";
import type { DurableLog, LogRecord } from "../buffer/index.js";
import type { MetadataBook } from "../metadata.js";
import { itemRef, type SeriesRef } from "../series.js";
import {
  LABEL_LIMIT_REASONS,
  countSample,
  type LabelLimitReason,
  type Route,
  type Router,
  type SampleTarget,
  type SeriesActivity,
  type Unrouted,
} from "../router/router.js";
import type { UntenantedWarnings } from "./untenanted.js";

export class IngestStats {
  /** Float samples, exemplars and native histogram samples: each is one sample of its series. */
  samplesReceived = 0;
  /** Of samplesReceived: exemplars and native histogram samples. */
  readonly itemsReceived: Record<ItemKind, number> = { exemplar: 0, histogram: 0 };
  /** Metric metadata entries kept for at least one project. */
  metadataKept = 0;
  /** Samples of series without the tenant label: ignored. */
  samplesWithoutTenant = 0;
  /** Samples no policy of their project selects. */
  samplesNotSelected = 0;
  /** Sample deliveries handed to sinks (one sample to two sinks counts two). */
  samplesRouted = 0;
  /** In a fleet: samples sent on to the replica running their policies (once per replica). */
  samplesForwarded = 0;
  /**
   * What accepted requests carried that Telex could not forward: metadata
   * entries of families no project of the request (or, without series, none
   * at all) has, or over the MetadataBook's bounds. Exemplars and histograms
   * are always forwarded; their counts stay for the exposition's sake.
   */
  readonly unsupported: Record<UnsupportedKind, number> = Object.fromEntries(
    UNSUPPORTED_KINDS.map((kind) => [kind, 0]),
  ) as Record<UnsupportedKind, number>;
  /** Samples of series over a label limit, by the limit: dropped, the rest of the request accepted. */
  readonly samplesDropped: Record<LabelLimitReason, number> = Object.fromEntries(
    LABEL_LIMIT_REASONS.map((r) => [r, 0]),
  ) as Record<LabelLimitReason, number>;
}

/** In a fleet: how the processor reaches the other replicas (src/fleet/forwarder.ts). */
export interface PeerSender {
  /** Sends a snappy-compressed WriteRequest to the replica; resolves once it is durable there. */
  send(peer: string, body: Uint8Array, samples: number): Promise<void>;
}

/**
 * A forwarded request holds series this replica would forward again: the
 * sender's view of who runs which policy is not this replica's (members are
 * changing). Nothing is applied; the sender tries again (HTTP 421).
 */
export class MisdirectedError extends Error {
  override readonly name = "MisdirectedError";
}

/** A well-formed request this endpoint does not take (HTTP 400), nothing of it applied. */
export class RefusedRequestError extends Error {
  override readonly name = "RefusedRequestError";
}

/** Series go to a policy no live replica is known to run, or forwarding failed: HTTP 503, retry. */
export class ForwardError extends Error {
  override readonly name = "ForwardError";
}

/** One request's samples for one other replica. */
interface PeerBatch {
  readonly builder: WriteRequestBuilder;
  /** Index of the last sample added: a sample matching several of the peer's policies is sent once. */
  last: number;
  samples: number;
}

const INITIAL_SCRATCH = 1024;
/**
 * Scratch arrays grown past this many samples (~1.6 MB) by one large request
 * are given back afterwards: a single 32 MiB body can hold ~2.5 M samples.
 */
const MAX_KEPT_SCRATCH = 65_536;
/** Targets lists kept for durable writes: about as many as requests are written at once. */
const SPARE_TARGET_LISTS = 16;

export class IngestProcessor implements WriteRequestScanner {
  readonly stats = new IngestStats();
  private routes: (Route | Unrouted | undefined)[] = new Array<Route | Unrouted | undefined>(INITIAL_SCRATCH);
  /** Each sample's series activity, counted once the request is accepted (for `telex preview`). */
  private activities: (SeriesActivity | undefined)[] = new Array<SeriesActivity | undefined>(INITIAL_SCRATCH);
  private currentActivity: SeriesActivity | undefined;
  /** The exemplar or histogram field of each sample that is one (copied), else undefined. */
  private items: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(INITIAL_SCRATCH);
  private itemCount = 0;
  private values = new Float64Array(INITIAL_SCRATCH);
  private readonly spareTargets: (SampleTarget | undefined)[][] = [];
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
    onItem: (kind: ItemKind, field: Uint8Array, timestampMs: number): void => {
      this.sample(0, timestampMs);
      this.items[this.count - 1] = field.slice();
      this.itemCount++;
      this.itemsSeen[kind]++;
    },
    onMetadata: (family: string, field: Uint8Array): void => {
      this.metadataSeen.push({ family, field });
    },
  };
  /** The current request's exemplars and histograms, counted once it is accepted. */
  private readonly itemsSeen: Record<ItemKind, number> = { exemplar: 0, histogram: 0 };
  /** The current request's metadata entries (views into it). */
  private metadataSeen: { family: string; field: Uint8Array }[] = [];
  /** Series the current request carried, routed or not. */
  private seriesSeen = 0;

  /**
   * The current request was forwarded by another replica: its samples are not
   * counted in the series' activity (`telex preview`), which the replica that
   * took them from the agent already did — so summed over a fleet, each
   * sample counts once (src/exporter/preview/merge.ts).
   */
  private forwardedRequest = false;
  /** The current request's samples per replica they are forwarded to (fleet only). */
  private peerBatches = new Map<string, PeerBatch>();
  /** The current request has samples for a policy no live replica is known to run. */
  private ownerless = false;
  /** The current request's metadata, forwarded with its series to every replica they go to. */
  private pendingMetadata: Uint8Array[] = [];

  /**
   * @param log with it, samples are written to the durable log before sinks see them.
   * @param untenanted told of series without the tenant label, to name one in a warning.
   * @param peers in a fleet, how samples of other replicas' policies reach them.
   */
  constructor(
    private readonly router: Router,
    private readonly log?: DurableLog,
    private readonly untenanted?: UntenantedWarnings,
    private readonly peers?: PeerSender,
    private readonly metadata?: MetadataBook,
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
   * answers 503, and no sink counted them). With samples forwarded to other
   * replicas the promise settles once they are durable there as well.
   *
   * @param forwarded the request was forwarded by another replica: it must
   * not be forwarded again (MisdirectedError, before anything is applied).
   */
  apply(request: Uint8Array, forwarded = false): Promise<void> | undefined {
    this.count = 0;
    this.forwardedRequest = forwarded;
    try {
      if (!scanWriteRequest(request, this)) {
        this.routes.fill(undefined, 0, this.count);
        this.activities.fill(undefined, 0, this.count);
        this.count = 0;
        this.seriesSeen = 0;
        decodeWriteRequestRaw(request, this.visitor);
      }
      if (forwarded) this.checkNotForwarding();
      this.stats.itemsReceived.exemplar += this.itemsSeen.exemplar;
      this.stats.itemsReceived.histogram += this.itemsSeen.histogram;
      if (this.metadataSeen.length > 0) this.keepMetadata(forwarded);
      let written: Promise<void> | undefined;
      if (this.log === undefined) this.push();
      else written = this.write(this.log);
      const forwards = this.sendForwards();
      if (forwards === undefined) return written;
      return written === undefined ? forwards : Promise.all([written, forwards]).then(() => undefined);
    } finally {
      this.itemsSeen.exemplar = 0;
      this.itemsSeen.histogram = 0;
      if (this.metadataSeen.length > 0) this.metadataSeen = [];
      this.seriesSeen = 0;
      this.routes.fill(undefined, 0, this.count);
      this.activities.fill(undefined, 0, this.count);
      this.currentActivity = undefined;
      this.forwardedRequest = false;
      if (this.itemCount > 0) {
        this.items.fill(undefined, 0, this.count);
        this.itemCount = 0;
      }
      this.count = 0;
      // Left over only when applying threw midway: nothing of the request is forwarded then.
      if (this.peerBatches.size > 0) this.peerBatches = new Map();
      this.ownerless = false;
      if (this.pendingMetadata.length > 0) this.pendingMetadata = [];
      if (this.values.length > MAX_KEPT_SCRATCH) this.shrink();
    }
  }

  /** WriteRequestScanner: resolves the series' route. */
  series(bytes: Uint8Array, start: number, end: number): void {
    this.seriesSeen++;
    this.current = this.router.resolve(bytes, start, end);
    this.currentActivity = this.forwardedRequest ? undefined : this.router.resolvedActivity;
    if (this.current === "no-tenant") this.untenanted?.noteSeries(bytes, start, end);
  }

  /** WriteRequestScanner: records the sample with the route of its series. */
  sample(value: number, timestampMs: number): void {
    if (this.count === this.values.length) this.grow();
    this.routes[this.count] = this.current;
    this.activities[this.count] = this.currentActivity;
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

  /**
   * A forwarded request must be applied here in full: the sender forwards a
   * series only when it matches a policy it believes this replica runs. A
   * series that matches none here, or would go on to a third replica, means
   * the two views differ (a policy created or moved, not yet seen or applied
   * here): refused whole, and retried, rather than acknowledged and lost.
   */
  private checkNotForwarding(): void {
    for (let i = 0; i < this.count; i++) {
      const route = this.routes[i];
      if (route === undefined || route === "not-selected")
        throw new MisdirectedError(
          "a forwarded series matches no policy this replica runs (not applied here yet); retry",
        );
      if (typeof route === "string") continue;
      for (const target of route.targets) {
        if (target.forwardTo !== undefined)
          throw new MisdirectedError(
            "this replica does not run every policy the forwarded series match (the replicas' views of the fleet differ); retry",
          );
      }
    }
  }

  /** Adds sample i to the batch of the replica running the target's policy. */
  private forward(forwardTo: () => string | undefined, series: SeriesRef, i: number): void {
    const peer = forwardTo();
    if (peer === undefined) {
      this.ownerless = true;
      return;
    }
    const batch = this.peerBatch(peer);
    if (batch.last === i) return;
    batch.last = i;
    batch.samples++;
    const item = this.items[i];
    if (item === undefined)
      batch.builder.addSample(series.labelBytes, this.values[i] ?? NaN, this.timestamps[i] ?? 0);
    else batch.builder.addItem(series.labelBytes, item);
  }

  /**
   * Gives the request's metadata to the book: for the projects of its routed
   * series, or, in a request without series, for every project with the
   * family (see metadata.ts). What no project takes is counted unsupported.
   * In a fleet, metadata rides with the series forwarded to each replica; a
   * metadata-only request goes to the replicas whose policies take the family.
   */
  private keepMetadata(forwarded: boolean): void {
    let projects: Set<string> | undefined;
    if (this.seriesSeen > 0) {
      projects = new Set();
      for (let i = 0; i < this.count; i++) {
        const route = this.routes[i];
        if (route !== undefined && typeof route !== "string") projects.add(route.project);
      }
    }
    for (const { family, field } of this.metadataSeen) {
      if (this.metadata?.offer(family, field, projects) === true) this.stats.metadataKept++;
      else this.stats.unsupported.metadata++;
    }
    if (forwarded || this.peers === undefined) return;
    if (this.seriesSeen > 0) {
      this.pendingMetadata = this.metadataSeen.map((entry) => entry.field.slice());
      return;
    }
    const book = this.metadata;
    if (book === undefined) return;
    for (const { family, field } of this.metadataSeen) {
      for (const peer of book.peersFor(family)) this.peerBatch(peer).builder.addMetadataField(field.slice());
    }
  }

  private peerBatch(peer: string): PeerBatch {
    let batch = this.peerBatches.get(peer);
    if (batch === undefined) {
      batch = { builder: new WriteRequestBuilder({ initialCapacity: 4096 }), last: -1, samples: 0 };
      for (const field of this.pendingMetadata) batch.builder.addMetadataField(field);
      this.peerBatches.set(peer, batch);
    }
    return batch;
  }

  /** Sends the request's per-replica batches; undefined when there are none. */
  private sendForwards(): Promise<void> | undefined {
    const batches = this.peerBatches;
    const ownerless = this.ownerless;
    if (batches.size === 0 && !ownerless) return undefined;
    this.peerBatches = new Map();
    this.ownerless = false;
    const peers = this.peers;
    if (ownerless || peers === undefined)
      return Promise.reject(new ForwardError("no live replica runs a policy these series match; retry"));
    const sends: Promise<void>[] = [];
    for (const [peer, batch] of batches) {
      this.stats.samplesForwarded += batch.samples;
      sends.push(peers.send(peer, snappyCompress(batch.builder.finish()), batch.samples));
    }
    return Promise.all(sends).then(() => undefined);
  }

  private push(): void {
    const stats = this.stats;
    const count = this.count;
    stats.samplesReceived += count;
    const minute = this.router.currentMinute();
    for (let i = 0; i < count; i++) {
      const activity = this.activities[i];
      if (activity !== undefined) countSample(activity, minute);
      const route = this.routes[i];
      if (route === undefined || typeof route === "string") {
        this.countUnrouted(route);
        continue;
      }
      const value = this.values[i] ?? NaN;
      const timestamp = this.timestamps[i] ?? 0;
      const item = this.itemCount === 0 ? undefined : this.items[i];
      const series = item === undefined ? route.series : itemRef(route.series, item);
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) {
        if (target.forwardTo !== undefined) {
          this.forward(target.forwardTo, route.series, i);
          continue;
        }
        target.push(series, value, timestamp);
        stats.samplesRouted++;
      }
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
    const minute = this.router.currentMinute();
    const record = log.record(count);
    const targets = this.spareTargets.pop() ?? [];
    let targetCount = 0;
    // Targets without a log (none in telex serve) get their samples after the write, too.
    let memoryOnly: MemoryPushes | undefined;
    for (let i = 0; i < count; i++) {
      const activity = this.activities[i];
      if (activity !== undefined) countSample(activity, minute);
      const route = this.routes[i];
      if (route === undefined || typeof route === "string") {
        this.countUnrouted(route);
        continue;
      }
      const value = this.values[i] ?? NaN;
      const timestamp = this.timestamps[i] ?? 0;
      const item = this.itemCount === 0 ? undefined : this.items[i];
      const series = item === undefined ? route.series : itemRef(route.series, item);
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) {
        if (target.forwardTo !== undefined) {
          this.forward(target.forwardTo, route.series, i);
          continue;
        }
        stats.samplesRouted++;
        if (target.durable !== undefined) {
          record.add(target.durable, series, value, timestamp);
          targets[targetCount++] = target;
        } else {
          (memoryOnly ??= new MemoryPushes()).add(target, series, value, timestamp);
        }
      }
    }
    if (targetCount === 0 && memoryOnly === undefined) {
      this.recycle(record, targets, targetCount);
      return Promise.resolve();
    }
    return record
      .commit()
      .then(() => {
        const firsts = record.firstEntries;
        let nextFirst = 0;
        for (let i = 0; i < targetCount; i++) {
          const target = targets[i] as SampleTarget;
          if (firsts[nextFirst] === i) {
            target.expectSeq?.(firsts[nextFirst + 1] ?? 0);
            nextFirst += 2;
          }
          target.push(record.seriesAt(i), record.valueAt(i), record.timestampAt(i));
        }
        memoryOnly?.flush();
      })
      .finally(() => {
        this.recycle(record, targets, targetCount);
      });
  }

  /** Gives the record back to the log and keeps the targets list for the next durable write. */
  private recycle(record: LogRecord, targets: (SampleTarget | undefined)[], count: number): void {
    record.release();
    targets.fill(undefined, 0, count);
    if (targets.length <= MAX_KEPT_SCRATCH && this.spareTargets.length < SPARE_TARGET_LISTS)
      this.spareTargets.push(targets);
  }

  private shrink(): void {
    this.items = new Array<Uint8Array | undefined>(INITIAL_SCRATCH);
    this.values = new Float64Array(INITIAL_SCRATCH);
    this.timestamps = new Float64Array(INITIAL_SCRATCH);
    this.routes = new Array<Route | Unrouted | undefined>(INITIAL_SCRATCH);
    this.activities = new Array<SeriesActivity | undefined>(INITIAL_SCRATCH);
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
    this.activities.length = size;
    this.items.length = size;
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
