// A compression thread of CompressPool (compress-pool.ts): takes an
// uncompressed body (transferred, not copied) and answers its snappy block
// (transferred back). Nothing else runs here.
import { parentPort } from "node:worker_threads";
import { snappyCompress } from "../../remotewrite/snappy.js";

export interface CompressJob {
  readonly id: number;
  readonly input: ArrayBuffer;
}

export interface CompressAnswer {
  readonly id: number;
  readonly output: ArrayBuffer;
  readonly length: number;
}

const port = parentPort;
if (port === null) throw new Error("compress-worker runs as a worker thread of CompressPool");
port.on("message", (job: CompressJob) => {
  const compressed = snappyCompress(new Uint8Array(job.input));
  // Copied into a buffer of its own to transfer: snappyCompress may hand out a slice of a pooled one.
  const output = new ArrayBuffer(compressed.length);
  new Uint8Array(output).set(compressed);
  const answer: CompressAnswer = { id: job.id, output, length: compressed.length };
  port.postMessage(answer, [output]);
});
