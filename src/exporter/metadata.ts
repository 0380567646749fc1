// Metric metadata (type, help, unit per metric family) of push ingest, kept
// per project and sent to the sinks that carry series of the family.
//
// Remote Write 1.0 metadata has no labels, so no tenant label: a request's
// metadata is attributed through series. Each route the router builds notes
// its project, metric name and sinks here (a FamilyRecord per project and
// candidate family name). An entry of family F then goes to:
// - in a request with series: the projects of its routed series that have F;
// - in a request without series (how Prometheus' metadata_config and vmagent
//   send it, once a minute): every project that has F.
// A sink only ever gets the metadata of families it was routed series of, in
// its own project: never another project's family names. The second rule
// trusts whoever writes to ingest (the platform's agents) with help texts of
// families several projects share, as it trusts them with the tenant label.
//
// Sinks send the entries of their families with their next request every
// METADATA_DEFAULTS.sendIntervalMs, and sooner when an entry changed, the way
// Prometheus resends all metadata every minute: an entry lost with a failed
// request comes again a minute later. Metadata is not counted as samples.
//
// Bounds (a writer chooses family names and help texts): families known in
// all projects, bytes of entries kept, families per sink. What is over them
// is not kept, and counted with what could not be attributed
// (telex_ingest_unsupported_total{kind="metadata"}).
import type { WriteRequestBuilder } from "../remotewrite/index.js";

export const METADATA_DEFAULTS = {
  /** Prometheus' metadata_config.send_interval. */
  sendIntervalMs: 60_000,
  /** Families (project, name) known; a platform project exposes a few hundred. */
  maxFamilies: 100_000,
  /** Bytes of entries kept: 32 MiB holds 100,000 entries of 330 bytes (a long help text). */
  maxEntryBytes: 32 * 2 ** 20,
  /** Families one sink sends metadata of. */
  maxFamiliesPerSink: 10_000,
  /** Replicas a family is forwarded to in a fleet, per family. */
  maxPeersPerFamily: 16,
} as const;

/** Histogram, summary and counter series carry the family name with one of these suffixes. */
const FAMILY_SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info", "_gsum", "_gcount"];

/** One metric family of one project: its latest metadata entry, if any came. */
export class FamilyRecord {
  /** The encoded MetricMetadata field (tag included), as received. */
  entry: Uint8Array | undefined;
  /** In a fleet: how to find the replicas running the project's policies that take the family. */
  readonly forwardTo = new Set<() => string | undefined>();

  constructor(
    readonly project: string,
    readonly family: string,
  ) {}
}

/** Where a routed series goes, as the book sees it (router SampleTarget). */
export interface FamilyTarget {
  noteFamily?(record: FamilyRecord): void;
  readonly forwardTo?: (() => string | undefined) | undefined;
}

export class MetadataBook {
  private readonly byProject = new Map<string, Map<string, FamilyRecord>>();
  private readonly byFamily = new Map<string, FamilyRecord[]>();
  private families = 0;
  private entryBytes = 0;
  /** Grows whenever an entry is added or changes: sinks compare it to resend early. */
  version = 0;

  constructor(private readonly limits: Partial<typeof METADATA_DEFAULTS> = {}) {}

  get familyCount(): number {
    return this.families;
  }

  /** The router built a route: series `metricName` of `project` goes to `targets`. */
  noteSeries(project: string, metricName: string, targets: readonly FamilyTarget[]): void {
    const maxPeers = this.limits.maxPeersPerFamily ?? METADATA_DEFAULTS.maxPeersPerFamily;
    for (const family of candidateFamilies(metricName)) {
      const record = this.record(project, family);
      if (record === undefined) continue;
      for (const target of targets) {
        if (target.forwardTo !== undefined) {
          if (record.forwardTo.size < maxPeers) record.forwardTo.add(target.forwardTo);
        } else {
          target.noteFamily?.(record);
        }
      }
    }
  }

  /**
   * Keeps the entry (a MetricMetadata field, copied here) of `family` for
   * `projects`, or for every project that has the family when undefined.
   * Returns whether it was kept for at least one.
   */
  offer(family: string, field: Uint8Array, projects: ReadonlySet<string> | undefined): boolean {
    const records = this.byFamily.get(family);
    if (records === undefined) return false;
    const maxBytes = this.limits.maxEntryBytes ?? METADATA_DEFAULTS.maxEntryBytes;
    let kept = false;
    let copy: Uint8Array | undefined;
    for (const record of records) {
      if (projects !== undefined && !projects.has(record.project)) continue;
      const old = record.entry;
      if (old !== undefined && Buffer.compare(old, field) === 0) {
        kept = true;
        continue;
      }
      const grows = field.length - (old?.length ?? 0);
      if (this.entryBytes + grows > maxBytes) continue;
      copy ??= field.slice();
      record.entry = copy;
      this.entryBytes += grows;
      this.version++;
      kept = true;
    }
    return kept;
  }

  /** The replicas whose policies take series of the family (a fleet's metadata-only requests go there). */
  peersFor(family: string): Set<string> {
    const peers = new Set<string>();
    for (const record of this.byFamily.get(family) ?? []) {
      for (const forwardTo of record.forwardTo) {
        const peer = forwardTo();
        if (peer !== undefined) peers.add(peer);
      }
    }
    return peers;
  }

  private record(project: string, family: string): FamilyRecord | undefined {
    let families = this.byProject.get(project);
    const existing = families?.get(family);
    if (existing !== undefined) return existing;
    if (this.families >= (this.limits.maxFamilies ?? METADATA_DEFAULTS.maxFamilies)) return undefined;
    if (families === undefined) {
      families = new Map();
      this.byProject.set(project, families);
    }
    const record = new FamilyRecord(project, family);
    families.set(family, record);
    const shared = this.byFamily.get(family);
    if (shared === undefined) this.byFamily.set(family, [record]);
    else shared.push(record);
    this.families++;
    return record;
  }
}

/** The family names a series name may belong to: itself, and itself without a known suffix. */
export function candidateFamilies(metricName: string): string[] {
  const families = [metricName];
  for (const suffix of FAMILY_SUFFIXES) {
    if (metricName.length > suffix.length && metricName.endsWith(suffix))
      families.push(metricName.slice(0, -suffix.length));
  }
  return families;
}

/** A changed entry goes out early, but a sink sends its metadata at most this often. */
const MIN_RESEND_MS = 1000;

/** One sink's families, and when their metadata goes out next. */
export class SinkMetadata {
  private readonly families = new Set<FamilyRecord>();
  private nextSendAtMs = 0;
  private lastSendAtMs = -Infinity;
  private sentVersion = -1;

  constructor(
    private readonly book: MetadataBook | undefined,
    private readonly maxFamilies: number = METADATA_DEFAULTS.maxFamiliesPerSink,
    private readonly sendIntervalMs: number = METADATA_DEFAULTS.sendIntervalMs,
  ) {}

  get size(): number {
    return this.families.size;
  }

  add(record: FamilyRecord): void {
    if (this.families.size >= this.maxFamilies || this.families.has(record)) return;
    this.families.add(record);
    // A family new to the sink may have its entry already: send it with the next request.
    if (record.entry !== undefined) this.sentVersion = -1;
  }

  /** Adds the sink's metadata entries to the request when they are due (every interval, or changed). */
  attach(builder: WriteRequestBuilder, nowMs: number): void {
    const book = this.book;
    if (book === undefined || this.families.size === 0) return;
    if (
      nowMs < this.nextSendAtMs &&
      (book.version === this.sentVersion || nowMs - this.lastSendAtMs < MIN_RESEND_MS)
    )
      return;
    let added = 0;
    for (const record of this.families) {
      if (record.entry === undefined) continue;
      builder.addMetadataField(record.entry);
      added++;
    }
    this.sentVersion = book.version;
    if (added > 0) {
      this.nextSendAtMs = nowMs + this.sendIntervalMs;
      this.lastSendAtMs = nowMs;
    }
  }
}
