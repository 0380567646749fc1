// Prometheus Remote Write 1.0 wire format: snappy block compression, the
// prometheus.WriteRequest protobuf encoder and decoder, request headers and
// response classification. Pure encoding: no HTTP, no storage.
export { InvalidLabelsError, SnappyError, WriteRequestDecodeError } from "./errors.js";
export type { SnappyErrorCode } from "./errors.js";
export { maxCompressedLength, snappyCompress, snappyUncompress, snappyUncompressedLength } from "./snappy.js";
export { snappyDecoder, uncompressBody } from "./snappy-native.js";
export { STALE_NAN, STALE_NAN_BITS, isStaleMarker } from "./stale-marker.js";
export { compareBytes, encodeLabels, validateLabelBytes } from "./labels.js";
export type { Label } from "./labels.js";
export { METRIC_TYPES, WriteRequestBuilder, encodeWriteRequest } from "./encoder.js";
export type { MetricMetadata, MetricType, TimeSeriesInput, WriteRequestBuilderOptions } from "./encoder.js";
export {
  ITEM_KINDS,
  UNSUPPORTED_KINDS,
  decodeLabelBytes,
  decodeToObjects,
  decodeWriteRequest,
  decodeWriteRequestRaw,
  type ItemKind,
  type UnsupportedKind,
} from "./decoder.js";
export { scanWriteRequest, type WriteRequestScanner } from "./scan.js";
export type {
  DecodeSummary,
  DecodedSample,
  DecodedTimeSeries,
  RawWriteRequestVisitor,
  WriteRequestVisitor,
} from "./decoder.js";
export {
  LOOP_MARKER_HEADER,
  LOOP_MARKER_VALUE,
  REMOTE_WRITE_HEADERS,
  REMOTE_WRITE_VERSION,
  USER_AGENT,
  classifyResponse,
} from "./protocol.js";
export type { ResponseClass, ResponseHeaders } from "./protocol.js";
export { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter } from "./retry-after.js";
