// Snappy compression of request bodies on worker threads (issue 16: one
// `telex serve` uses every core). Compressing is the largest single cost of
// sending (15 % of a relaying run's CPU, all on the event loop); it is a pure
// function of bytes, so it moves to threads without touching order or
// accounting: a sink's shard awaits its body as it awaits the send, one
// request at a time, so per-series order is what it was.
//
// Measured here (2 cores): a 500-sample body (167 KB) costs the event loop
// 250–410 µs to compress and about 60 µs to hand to a thread and take back
// (copy, transfer, promise). Bodies under MIN_OFFLOAD_BYTES are compressed
// inline, where the hand-over would cost more than the work. When every
// thread already has maxQueuedBytesPerThread of bodies waiting (4 MiB, about
// 7 ms of work at 600 MB/s), the event loop compresses the body itself: it
// works instead of queueing, and the bodies held for threads stay bounded.
// (A bound of two bodies left the thread 99 % idle: a thousand sinks' batches
// fall due in the same turn, before any answer comes back.) What a thread
// has waiting is read from a counter it updates itself (shared memory), not
// from the answers the event loop has read: in that same long turn answers
// cannot be read, and counting by them left the thread 95 % idle while the
// loop compressed three bodies in four itself.
//
// Threads start on the first body worth sending them, so a process whose
// sinks send small batches (tests, a quiet demo) never starts one. A thread
// that fails takes the pool down to inline compression for good (logged);
// what it held is compressed again inline by the caller.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { ExpositionWriter } from "../../metrics/exposition.js";
import { errorField, silentLogger, type Logger } from "../../util/index.js";
import type { CompressAnswer, CompressJob, CompressWorkerData } from "./compress-worker.js";
import { snappyCompress } from "../../remotewrite/index.js";

export const COMPRESS_DEFAULTS = {
  /** 32 KiB: about 100 samples of platform-like series, where the hand-over costs as much as compressing. */
  minOffloadBytes: 32 * 1024,
  maxQueuedBytesPerThread: 4 * 2 ** 20,
} as const;

/**
 * One thread per core beyond two, up to 4: the event loop needs a core, and
 * the kernel's network stack and the agents beside it need another. On two
 * cores a thread measured no faster (0.25–0.29 M samples/s either way, 1,000
 * policies) and 2–11 % more CPU per sample, 25 MiB more RSS: handing a body
 * over costs about a fifth of compressing it.
 */
export function defaultCompressThreads(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 2));
}

/** A thread failed: the caller compresses the body again itself. */
export class CompressThreadError extends Error {
  override readonly name = "CompressThreadError";
}

interface Waiting {
  readonly resolve: (body: Buffer) => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly worker: Worker;
  readonly waiting: Map<number, Waiting>;
  /** Bytes of bodies handed to the thread, wrapping at 2³² as the thread's counter does. */
  posted: number;
  /** Bytes the thread has compressed (its own counter, shared). */
  readonly done: Int32Array;
}

/** Bytes a thread has been given and not compressed yet (exact while fewer than 2³¹ wait). */
function backlogOf(thread: Thread): number {
  return (thread.posted - Atomics.load(thread.done, 0)) | 0;
}

export interface CompressPoolOptions {
  /** Threads at most; 0 compresses everything on the event loop. */
  readonly threads: number;
  readonly minOffloadBytes?: number;
  /** Bytes of uncompressed bodies waiting for one thread, beyond which the event loop compresses. */
  readonly maxQueuedBytesPerThread?: number;
  readonly logger?: Logger;
}

export class CompressPool {
  private readonly threads: Thread[] = [];
  private readonly minOffloadBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly logger: Logger;
  private nextId = 0;
  private broken = false;
  private closed = false;
  /** Bodies compressed by threads, and on the event loop (small, or every thread busy). */
  readonly counts = { threads: 0, inline: 0, busy: 0 };

  constructor(private readonly options: CompressPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 0)
      throw new RangeError(`threads must be an integer ≥ 0, got ${options.threads}`);
    this.minOffloadBytes = options.minOffloadBytes ?? COMPRESS_DEFAULTS.minOffloadBytes;
    this.maxQueuedBytes = options.maxQueuedBytesPerThread ?? COMPRESS_DEFAULTS.maxQueuedBytesPerThread;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * The snappy block of body: at once (a Buffer) when compressed here, or a
   * promise of it from a thread. body may be reused as soon as this returns.
   * A promise rejects only with CompressThreadError (compress again inline).
   */
  compress(body: Uint8Array): Buffer | Promise<Buffer> {
    if (body.length < this.minOffloadBytes || this.broken || this.closed || this.options.threads === 0) {
      this.counts.inline++;
      return snappyCompress(body);
    }
    const thread = this.leastBusy(body.length);
    if (thread === undefined) {
      this.counts.busy++;
      return snappyCompress(body);
    }
    this.counts.threads++;
    const id = this.nextId++;
    const input = body.slice().buffer;
    thread.posted = (thread.posted + body.length) | 0;
    return new Promise<Buffer>((resolve, reject) => {
      thread.waiting.set(id, { resolve, reject });
      const job: CompressJob = { id, input };
      thread.worker.postMessage(job, [input]);
    });
  }

  /** Stops the threads; bodies they held are rejected (compressed again inline by their callers). */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0);
    for (const thread of threads) this.fail(thread, new CompressThreadError("the compression pool closed"));
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  writeMetrics(writer: ExpositionWriter): void {
    const where = [
      ["thread", this.counts.threads],
      ["inline", this.counts.inline],
      ["inline_threads_busy", this.counts.busy],
    ] as const;
    for (const [place, count] of where)
      writer.sample(
        "telex_delivery_compressed_bodies_total",
        "Request bodies snappy-compressed, by where: on a thread (--compress-threads), inline (small, or threads off or failed), inline because every thread was busy.",
        "counter",
        { where: place },
        count,
      );
    writer.sample(
      "telex_delivery_compress_threads",
      "Compression threads running (started on the first large body).",
      "gauge",
      {},
      this.threads.length,
    );
  }

  /**
   * The thread with the fewest bytes waiting, starting one while under the limit; undefined when
   * the body would take it past maxQueuedBytes (an idle thread takes any body).
   */
  private leastBusy(bytes: number): Thread | undefined {
    let best: Thread | undefined;
    let bestBacklog = 0;
    for (const thread of this.threads) {
      const backlog = backlogOf(thread);
      if (best === undefined || backlog < bestBacklog) {
        best = thread;
        bestBacklog = backlog;
      }
    }
    if ((best === undefined || bestBacklog > 0) && this.threads.length < this.options.threads)
      return this.start();
    if (best === undefined) return undefined;
    return bestBacklog === 0 || bestBacklog + bytes <= this.maxQueuedBytes ? best : undefined;
  }

  private start(): Thread {
    const shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const workerData: CompressWorkerData = { done: shared };
    const worker = new Worker(new URL("./compress-worker.js", import.meta.url), { workerData });
    // Never what keeps the process alive: close() stops them on shutdown.
    worker.unref();
    const thread: Thread = { worker, waiting: new Map(), posted: 0, done: new Int32Array(shared) };
    worker.on("message", (answer: CompressAnswer) => {
      const waiting = thread.waiting.get(answer.id);
      if (waiting === undefined) return;
      thread.waiting.delete(answer.id);
      waiting.resolve(Buffer.from(answer.output, 0, answer.length));
    });
    const failed = (error: Error) => {
      if (this.closed) return;
      // A failing thread reports an error and then its exit: logged once, its bodies rejected either way.
      if (!this.broken)
        this.logger.error("a compression thread failed: compressing on the event loop from now on", {
          error: errorField(error),
        });
      this.broken = true;
      this.fail(thread, new CompressThreadError(`a compression thread failed: ${error.message}`));
    };
    worker.on("error", failed);
    worker.on("exit", (code) => {
      failed(new Error(`exited with code ${code}`));
    });
    this.threads.push(thread);
    return thread;
  }

  private fail(thread: Thread, error: CompressThreadError): void {
    const waiting = [...thread.waiting.values()];
    thread.waiting.clear();
    // A failed thread takes nothing more (the pool is broken): its counters no longer matter.
    for (const { reject } of waiting) reject(error);
  }
}
