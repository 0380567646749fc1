// A Remote Write receiver on 127.0.0.1 that accepts everything and counts
// the samples it was sent (decoding each body, keeping none): a fast endpoint
// whose "delivered" figure does not depend on a store's ingestion.
import { createServer } from "node:http";
import type { Socket } from "node:net";
import {
  decodeWriteRequestRaw,
  scanWriteRequest,
  uncompressBody,
  type WriteRequestScanner,
} from "../src/remotewrite/index.js";

export interface CountingReceiver {
  /** Where to send: http://127.0.0.1:PORT/api/v1/write (any path is accepted). */
  readonly writeUrl: string;
  readonly url: string;
  readonly requests: number;
  readonly samples: number;
  /** Compressed body bytes received. */
  readonly bytes: number;
  /** Bodies that did not decode (answered 400). */
  readonly badRequests: number;
  /** Family names of the metadata entries received. */
  readonly metadataFamilies: ReadonlySet<string>;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 2 ** 20;

/** Samples in a compressed WriteRequest; the fast scanner first, the full decoder when it gives up. */
export function countSamples(compressed: Uint8Array, onMetadata?: (family: string) => void): number {
  const bytes = uncompressBody(compressed, MAX_BODY);
  let samples = 0;
  const scanner: WriteRequestScanner = {
    series() {
      // Only samples are counted.
    },
    sample() {
      samples++;
    },
  };
  if (scanWriteRequest(bytes, scanner)) return samples;
  return decodeWriteRequestRaw(bytes, {
    onSeries() {
      // Only samples are counted.
    },
    onSample() {
      // The summary counts them.
    },
    onMetadata(family) {
      onMetadata?.(family);
    },
  }).samples;
}

/** @param port 0 picks a free one; a fixed port lets a benchmark bring a known endpoint up late. */
export async function startCountingReceiver(port = 0): Promise<CountingReceiver> {
  let requests = 0;
  let samples = 0;
  let bytes = 0;
  let badRequests = 0;
  const metadataFamilies = new Set<string>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests++;
      try {
        const body = Buffer.concat(chunks);
        bytes += body.length;
        samples += countSamples(body, (family) => metadataFamilies.add(family));
        res.writeHead(204).end();
      } catch (error: unknown) {
        badRequests++;
        res.writeHead(400).end(error instanceof Error ? error.message : String(error));
      }
    });
  });
  server.keepAliveTimeout = 120_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("receiver has no TCP address");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    get requests() {
      return requests;
    },
    get samples() {
      return samples;
    },
    get bytes() {
      return bytes;
    },
    get badRequests() {
      return badRequests;
    },
    metadataFamilies,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
