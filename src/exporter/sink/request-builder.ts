// Turns a range of a sample batch into a Remote Write request body: a
// WriteRequest built in a reused buffer from each series' cached label bytes,
// then snappy-compressed. No object is allocated per sample.
import { WriteRequestBuilder, snappyCompress } from "../../remotewrite/index.js";
import type { SeriesRef } from "../series.js";
import type { BatchEncoder } from "./pipeline.js";
import type { SampleBatch } from "./queue.js";

/**
 * One builder for every sink: encode() runs to completion synchronously and
 * snappyCompress() returns a new buffer, so no two sinks ever use it at once,
 * and 10,000 sinks share one grown buffer instead of holding one each.
 */
const sharedBuilder = new WriteRequestBuilder();

export class RemoteWriteEncoder implements BatchEncoder<SeriesRef> {
  encode(batch: SampleBatch<SeriesRef>, start: number, end: number): Uint8Array {
    const builder = sharedBuilder;
    builder.reset();
    for (let i = start; i < end; i++) {
      const series = batch.series[i];
      if (series === undefined) continue;
      builder.addSample(series.labelBytes, batch.values[i] ?? NaN, batch.timestamps[i] ?? 0);
    }
    return snappyCompress(builder.finish());
  }
}
