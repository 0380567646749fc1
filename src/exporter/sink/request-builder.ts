// Turns a range of a sample batch into a Remote Write request body: a
// WriteRequest built in a reused buffer from each series' cached label bytes,
// then snappy-compressed. No object is allocated per sample.
import { WriteRequestBuilder, snappyCompress } from "../../remotewrite/index.js";
import type { Clock } from "../../util/index.js";
import type { SinkMetadata } from "../metadata.js";
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
  /** @param metadata the sink's metric metadata, added to a request when due. */
  constructor(
    private readonly metadata?: SinkMetadata,
    private readonly clock?: Clock,
  ) {}

  encode(batch: SampleBatch<SeriesRef>, start: number, end: number): Uint8Array {
    const builder = sharedBuilder;
    builder.reset();
    for (let i = start; i < end; i++) {
      const series = batch.series[i];
      if (series === undefined) continue;
      if (series.item === undefined)
        builder.addSample(series.labelBytes, batch.values[i] ?? NaN, batch.timestamps[i] ?? 0);
      else builder.addItem(series.labelBytes, series.item);
    }
    if (this.metadata !== undefined && this.clock !== undefined)
      this.metadata.attach(builder, this.clock.now());
    return snappyCompress(builder.finish());
  }
}
