// Turns a range of a sample batch into a Remote Write request body: a
// WriteRequest built in a reused buffer from each series' cached label bytes,
// then snappy-compressed, on a compression thread when the body is worth it
// (compress-pool.ts). No object is allocated per sample.
import { WriteRequestBuilder, snappyCompress } from "../../remotewrite/index.js";
import type { Clock } from "../../util/index.js";
import type { SinkMetadata } from "../metadata.js";
import type { SeriesRef } from "../series.js";
import type { CompressPool } from "./compress-pool.js";
import type { BatchEncoder } from "./pipeline.js";
import type { SampleBatch } from "./queue.js";

/**
 * One builder for every sink: a body is built synchronously and compressed
 * from it (or copied for a thread) before encode() returns, so no two sinks
 * ever use it at once, and 10,000 sinks share one grown buffer instead of
 * holding one each.
 */
const sharedBuilder = new WriteRequestBuilder();

export class RemoteWriteEncoder implements BatchEncoder<SeriesRef> {
  /**
   * @param metadata the sink's metric metadata, added to a request when due.
   * @param compressor the process' compression threads; without it bodies are compressed inline.
   */
  constructor(
    private readonly metadata?: SinkMetadata,
    private readonly clock?: Clock,
    private readonly compressor?: CompressPool,
  ) {}

  encode(batch: SampleBatch<SeriesRef>, start: number, end: number): Uint8Array | Promise<Uint8Array> {
    const body = this.build(batch, start, end, true);
    if (this.compressor === undefined) return snappyCompress(body);
    const compressed = this.compressor.compress(body);
    if (compressed instanceof Uint8Array) return compressed;
    // A failed thread held the body: built again (its metadata was attached to the lost one) and compressed here.
    return compressed.catch(() => snappyCompress(this.build(batch, start, end, false)));
  }

  /** The uncompressed WriteRequest, in the shared builder's buffer (valid until the next build). */
  private build(
    batch: SampleBatch<SeriesRef>,
    start: number,
    end: number,
    withMetadata: boolean,
  ): Uint8Array {
    const builder = sharedBuilder;
    builder.reset();
    for (let i = start; i < end; i++) {
      const series = batch.series[i];
      if (series === undefined) continue;
      if (series.item === undefined)
        builder.addSample(series.labelBytes, batch.values[i] ?? NaN, batch.timestamps[i] ?? 0);
      else builder.addItem(series.labelBytes, series.item);
    }
    if (withMetadata && this.metadata !== undefined && this.clock !== undefined)
      this.metadata.attach(builder, this.clock.now());
    return builder.finish();
  }
}
