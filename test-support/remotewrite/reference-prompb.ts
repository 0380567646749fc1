// Test and benchmark helper: protobufjs (a devDependency) with the official
// prompb message definitions, as the reference our encoder and decoder are
// checked against. The .proto text is prometheus/prompb's types.proto and
// remote.proto (messages Remote Write uses), minus the gogoproto options.
import protobuf from "protobufjs";
import type { MetricType } from "../../src/remotewrite/encoder.js";
import type { Label } from "../../src/remotewrite/labels.js";

export const PROMPB_PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated prometheus.TimeSeries timeseries = 1;
  reserved 2;
  repeated prometheus.MetricMetadata metadata = 3;
}

message MetricMetadata {
  enum MetricType {
    UNKNOWN        = 0;
    COUNTER        = 1;
    GAUGE          = 2;
    HISTOGRAM      = 3;
    GAUGEHISTOGRAM = 4;
    SUMMARY        = 5;
    INFO           = 6;
    STATESET       = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}

message Sample {
  double value    = 1;
  int64 timestamp = 2;
}

message Exemplar {
  repeated Label labels = 1;
  double value = 2;
  int64 timestamp = 3;
}

message Histogram {
  enum ResetHint {
    UNKNOWN = 0;
    YES     = 1;
    NO      = 2;
    GAUGE   = 3;
  }
  oneof count {
    uint64 count_int   = 1;
    double count_float = 2;
  }
  double sum = 3;
  sint32 schema             = 4;
  double zero_threshold     = 5;
  oneof zero_count {
    uint64 zero_count_int     = 6;
    double zero_count_float   = 7;
  }
  repeated BucketSpan negative_spans =  8;
  repeated sint64 negative_deltas    =  9;
  repeated double negative_counts    = 10;
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas    = 12;
  repeated double positive_counts    = 13;
  ResetHint reset_hint               = 14;
  int64 timestamp = 15;
  repeated double custom_values = 16;
}

message BucketSpan {
  sint32 offset = 1;
  uint32 length = 2;
}

message TimeSeries {
  repeated Label labels         = 1;
  repeated Sample samples       = 2;
  repeated Exemplar exemplars   = 3;
  repeated Histogram histograms = 4;
}

message Label {
  string name  = 1;
  string value = 2;
}
`;

const root = protobuf.parse(PROMPB_PROTO).root;
const writeRequestType = root.lookupType("prometheus.WriteRequest");

export interface ReferenceSample {
  readonly value?: number;
  readonly timestamp?: number;
}

export interface ReferenceExemplar {
  readonly labels?: readonly Label[];
  readonly value?: number;
  readonly timestamp?: number;
}

export interface ReferenceHistogram {
  readonly countInt?: number;
  readonly sum?: number;
  readonly schema?: number;
  readonly positiveSpans?: readonly { readonly offset?: number; readonly length?: number }[];
  readonly positiveDeltas?: readonly number[];
  readonly timestamp?: number;
}

export interface ReferenceTimeSeries {
  readonly labels?: readonly Label[];
  readonly samples?: readonly ReferenceSample[];
  readonly exemplars?: readonly ReferenceExemplar[];
  readonly histograms?: readonly ReferenceHistogram[];
}

export interface ReferenceMetadata {
  readonly type?: Uppercase<MetricType>;
  readonly metricFamilyName?: string;
  readonly help?: string;
  readonly unit?: string;
}

export interface ReferenceWriteRequest {
  readonly timeseries?: readonly ReferenceTimeSeries[];
  readonly metadata?: readonly ReferenceMetadata[];
}

/**
 * Encodes with protobufjs. Like proto3 everywhere, it leaves out fields
 * holding their default; pass plain numbers for int64 fields.
 */
export function referenceEncode(request: ReferenceWriteRequest): Uint8Array {
  return writeRequestType.encode(writeRequestType.fromObject(request)).finish();
}

/** Encodes a plain object graph directly (no fromObject), the fast protobufjs path. */
export function referenceEncodeDirect(request: ReferenceWriteRequest): Uint8Array {
  return writeRequestType.encode(request).finish();
}

/** Decodes with protobufjs into its message objects (int64 as Long), the fast protobufjs path. */
export function referenceDecodeMessage(bytes: Uint8Array): unknown {
  return writeRequestType.decode(bytes);
}

/** Decodes with protobufjs: int64 as numbers, enums as names, defaults filled in. */
export function referenceDecode(bytes: Uint8Array): ReferenceWriteRequest {
  const decoded: unknown = writeRequestType.toObject(writeRequestType.decode(bytes), {
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
  });
  return decoded as ReferenceWriteRequest;
}
