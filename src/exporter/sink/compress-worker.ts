// A compression thread of CompressPool (compress-pool.ts): takes an
// uncompressed body (transferred, not copied) and answers its snappy block
// (transferred back). It also adds each body's size to a shared counter as
// soon as it is compressed, so the pool sees the thread's real backlog even
// while the event loop has not yet read the answers (see CompressPool).
// Nothing else runs here.
import { parentPort, workerData } from "node:worker_threads";
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

/** What the pool gives a thread at start. */
export interface CompressWorkerData {
  /** One Int32: bytes of bodies compressed so far, wrapping at 2³². */
  readonly done: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error("compress-worker runs as a worker thread of CompressPool");
const done = new Int32Array((workerData as CompressWorkerData).done);
port.on("message", (job: CompressJob) => {
  const compressed = snappyCompress(new Uint8Array(job.input));
  Atomics.add(done, 0, job.input.byteLength);
  // Copied into a buffer of its own to transfer: snappyCompress may hand out a slice of a pooled one.
  const output = new ArrayBuffer(compressed.length);
  new Uint8Array(output).set(compressed);
  const answer: CompressAnswer = { id: job.id, output, length: compressed.length };
  port.postMessage(answer, [output]);
});
