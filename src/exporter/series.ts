// A series as the exporter carries it: its labels already encoded as the
// `labels` fields of a Remote Write TimeSeries, computed once per series and
// shared by every sample and every sink that carries it.
//
// The optional fields are memos filled in by their single owner the first
// time it meets the series, so the hot paths pay no Map lookup:
// - shardHash: the sink's shard choice (sink/shards.ts), a hash of labelBytes
//   that is stable across processes, because shard positions are persisted;
// - logSegment/logId: the durable log's per-segment series id (buffer/).
//
// An exemplar or a native histogram sample travels as an item of its own
// SeriesRef (an "item ref"): the labelBytes of its series, and `item`, its
// encoded TimeSeries field. Queues, batches, shards and the log carry it like
// any float sample (its value slot unused), so per-series order, seqs and the
// accounting need nothing new; the encoder writes `item` instead of a sample.
export interface SeriesRef {
  readonly labelBytes: Uint8Array;
  /** An item ref's encoded TimeSeries field: one exemplar (3) or one native histogram (4), tag included. */
  readonly item?: Uint8Array;
  /** An item ref's series: the durable log defines it first and stores the item by reference to it. */
  readonly base?: SeriesRef;
  shardHash?: number;
  logSegment?: number;
  logId?: number;
}

/** The ref of one exemplar or histogram sample of `series`; `item` must not change afterwards (copy it). */
export function itemRef(series: SeriesRef, item: Uint8Array): SeriesRef {
  return { labelBytes: series.labelBytes, item, base: series };
}
