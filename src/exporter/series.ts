// A series as the exporter carries it: its labels already encoded as the
// `labels` fields of a Remote Write TimeSeries, computed once per series and
// shared by every sample and every sink that carries it.
export interface SeriesRef {
  readonly labelBytes: Uint8Array;
}
