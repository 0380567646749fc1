// A series as the exporter carries it: its labels already encoded as the
// `labels` fields of a Remote Write TimeSeries, computed once per series and
// shared by every sample and every sink that carries it.
//
// The optional fields are memos filled in by their single owner the first
// time it meets the series, so the hot paths pay no Map lookup:
// - shardHash: the sink's shard choice (sink/shards.ts), a hash of labelBytes
//   that is stable across processes, because shard positions are persisted;
// - logSegment/logId: the durable log's per-segment series id (buffer/).
export interface SeriesRef {
  readonly labelBytes: Uint8Array;
  shardHash?: number;
  logSegment?: number;
  logId?: number;
}
