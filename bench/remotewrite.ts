// Remote Write wire format: encoding (with and without snappy) and decoding
// of one-sample-per-series batches, against protobufjs with the official
// prompb types on the same workload. Figures are samples per second on one core.
import { measure, printResults } from "./harness.js";
import type { BenchResult } from "./harness.js";
import {
  WriteRequestBuilder,
  decodeWriteRequest,
  encodeLabels,
  snappyCompress,
  scanWriteRequest,
  snappyDecoder,
  snappyUncompress,
  uncompressBody,
} from "../src/remotewrite/index.js";
import type { Label, WriteRequestVisitor } from "../src/remotewrite/index.js";
import {
  referenceDecodeMessage,
  referenceEncode,
  referenceEncodeDirect,
} from "../test-support/remotewrite/reference-prompb.js";
import type { ReferenceTimeSeries } from "../test-support/remotewrite/reference-prompb.js";
import { generateLabelSets } from "../test-support/remotewrite/series.js";

const BATCH_SIZES = [500, 5000];
const BASE_TIMESTAMP_MS = 1_763_780_000_000;
const MAX_UNCOMPRESSED = 64 << 20;

interface Workload {
  readonly size: number;
  readonly labelBytes: Uint8Array[];
  readonly sortedLabels: Label[][];
  readonly values: Float64Array;
}

function workload(size: number): Workload {
  const sets = generateLabelSets(size, size);
  const labelBytes = sets.map((labels) => encodeLabels(labels));
  const sortedLabels = sets.map((labels) => [...labels].sort((a, b) => (a.name < b.name ? -1 : 1)));
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) values[i] = ((i * 7919) % 1000) / 7;
  return { size, labelBytes, sortedLabels, values };
}

function encodeBatch(builder: WriteRequestBuilder, w: Workload, round: number): Uint8Array {
  builder.reset();
  const timestamp = BASE_TIMESTAMP_MS + round * 15_000;
  for (let i = 0; i < w.size; i++) {
    builder.addSample(w.labelBytes[i] ?? new Uint8Array(0), w.values[i] ?? 0, timestamp);
  }
  return builder.finish();
}

function protobufjsRequest(w: Workload, round: number): { timeseries: ReferenceTimeSeries[] } {
  const timestamp = BASE_TIMESTAMP_MS + round * 15_000;
  const timeseries: ReferenceTimeSeries[] = [];
  for (let i = 0; i < w.size; i++) {
    timeseries.push({ labels: w.sortedLabels[i] ?? [], samples: [{ value: w.values[i] ?? 0, timestamp }] });
  }
  return { timeseries };
}

/** Ten samples per series, for the per-sample cost of decoding once labels are paid for. */
function tenSamplesPerSeries(w: Workload): Uint8Array {
  const builder = new WriteRequestBuilder();
  for (let i = 0; i < w.size; i++) {
    for (let k = 0; k < 10; k++) {
      builder.addSample(
        w.labelBytes[i] ?? new Uint8Array(0),
        w.values[i] ?? 0,
        BASE_TIMESTAMP_MS + k * 15_000,
      );
    }
  }
  return builder.finish();
}

function suiteResults(w: Workload): BenchResult[] {
  const options = { unitsPerCall: w.size, unit: "samples/s" };
  const builder = new WriteRequestBuilder();
  let round = 0;
  const payload = encodeBatch(builder, w, 0).slice();
  const compressed = snappyCompress(payload);
  const tenSamples = tenSamplesPerSeries(w).slice();
  let sink = 0;
  const visitor: WriteRequestVisitor = {
    onSeries(labels) {
      sink += labels.length;
    },
    onSample(value) {
      sink += value;
    },
  };
  const scanner = {
    series(_bytes: Uint8Array, start: number, end: number) {
      sink += end - start;
    },
    sample(value: number) {
      sink += value;
    },
  };
  const note = `${Math.round(payload.length / 1024)} KiB, ${Math.round(compressed.length / 1024)} KiB snappy`;
  const results = [
    measure(`encode ${w.size} × 1 sample`, () => encodeBatch(builder, w, round++), options),
    {
      ...measure(
        `encode + snappy ${w.size} × 1`,
        () => snappyCompress(encodeBatch(builder, w, round++)),
        options,
      ),
      note,
    },
    measure(
      `protobufjs encode ${w.size} × 1`,
      () => referenceEncodeDirect(protobufjsRequest(w, round++)),
      options,
    ),
    measure(
      `protobufjs encode + snappy ${w.size} × 1`,
      () => snappyCompress(referenceEncodeDirect(protobufjsRequest(w, round++))),
      options,
    ),
    measure(
      `protobufjs fromObject+encode+snappy ${w.size}`,
      () => snappyCompress(referenceEncode(protobufjsRequest(w, round++))),
      options,
    ),
    measure(`decode ${w.size} × 1`, () => decodeWriteRequest(payload, visitor), options),
    measure(
      `snappy + decode ${w.size} × 1`,
      () => decodeWriteRequest(snappyUncompress(compressed, MAX_UNCOMPRESSED), visitor),
      options,
    ),
    measure(`protobufjs decode ${w.size} × 1`, () => referenceDecodeMessage(payload), options),
    measure(`decode ${w.size} × 10 samples`, () => decodeWriteRequest(tenSamples, visitor), {
      ...options,
      unitsPerCall: w.size * 10,
    }),
    {
      ...measure(`snappy compress ${w.size}`, () => snappyCompress(payload), {
        unitsPerCall: payload.length / 1e6,
        unit: "MB/s",
      }),
    },
    measure(`snappy uncompress ${w.size}`, () => snappyUncompress(compressed, MAX_UNCOMPRESSED), {
      unitsPerCall: payload.length / 1e6,
      unit: "MB/s",
    }),
    measure(
      `snappy uncompress ${w.size}, ingest decoder (${snappyDecoder})`,
      () => uncompressBody(compressed, MAX_UNCOMPRESSED),
      { unitsPerCall: payload.length / 1e6, unit: "MB/s" },
    ),
    measure(`scan (ingest fast path) ${w.size} × 1`, () => scanWriteRequest(payload, scanner), options),
  ];
  if (sink === -1) console.log(sink);
  return results;
}

export const remoteWriteSuite = {
  title: "remotewrite: WriteRequest encode/decode, snappy (one core)",
  run(): void {
    const results: BenchResult[] = [];
    for (const size of BATCH_SIZES) results.push(...suiteResults(workload(size)));
    printResults(this.title, results);
  },
};

if (import.meta.url === `file://${process.argv[1] ?? ""}`) remoteWriteSuite.run();
