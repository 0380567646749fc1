// The ingest endpoint: a Prometheus Remote Write 1.0 receiver
// (POST /api/v1/write, snappy-compressed protobuf) for the platform's agents.
// Bad requests get a 4xx with a one-line reason and are counted; nothing of a
// rejected request is applied; a full sink never slows the answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { silentLogger, type Logger } from "../../log.js";
import {
  InvalidLabelsError,
  SnappyError,
  WriteRequestDecodeError,
  snappyDecoder,
  uncompressBody,
} from "../../remotewrite/index.js";
import { EXPOSITION_CONTENT_TYPE } from "../../metrics/exposition.js";
import type { IngestProcessor } from "./processor.js";

export const INGEST_PATH = "/api/v1/write";

export const INGEST_DEFAULTS = {
  // Prometheus sends at most a few MB per request; 32 MiB leaves room for
  // large batches from vmagent while bounding what one request can cost.
  maxCompressedBytes: 32 * 2 ** 20,
  maxUncompressedBytes: 128 * 2 ** 20,
} as const;

/** The largest decompressed body kept for reuse; larger ones are allocated each time. */
const MAX_SCRATCH_BYTES = 16 * 2 ** 20;

export const INGEST_OUTCOMES = [
  "ok",
  "bad_request",
  "too_large",
  "unauthorized",
  "unsupported_media_type",
  "not_found",
  "method_not_allowed",
] as const;
export type IngestOutcome = (typeof INGEST_OUTCOMES)[number];

export interface IngestServerOptions {
  readonly host: string;
  readonly port: number;
  readonly processor: IngestProcessor;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly maxCompressedBytes?: number;
  readonly maxUncompressedBytes?: number;
  readonly logger?: Logger;
  /** When set, GET /metrics answers with this Prometheus exposition (no token needed). */
  readonly metrics?: () => string;
}

export interface IngestServer {
  readonly url: string;
  readonly requests: Readonly<Record<IngestOutcome, number>>;
  close(): Promise<void>;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: IngestOutcome,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

function checkToken(request: IncomingMessage, expected: Buffer | undefined): void {
  if (expected === undefined) return;
  const header = request.headers.authorization ?? "";
  const given = Buffer.from(header.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new RequestError(401, "unauthorized", "missing or wrong bearer token", {
      "WWW-Authenticate": 'Bearer realm="telex ingest"',
    });
  }
}

function checkContentHeaders(request: IncomingMessage): void {
  const encoding = request.headers["content-encoding"];
  if (encoding !== "snappy") {
    throw new RequestError(
      415,
      "unsupported_media_type",
      `Content-Encoding must be snappy, got ${encoding === undefined ? "none" : JSON.stringify(encoding)}`,
    );
  }
  const type = request.headers["content-type"];
  if (type === undefined) return;
  const [mediaType = "", ...params] = type.split(";").map((part) => part.trim());
  if (mediaType.toLowerCase() !== "application/x-protobuf") {
    throw new RequestError(
      415,
      "unsupported_media_type",
      `Content-Type must be application/x-protobuf, got ${JSON.stringify(type)}`,
    );
  }
  const proto = params.find((p) => p.startsWith("proto="))?.slice("proto=".length);
  if (proto !== undefined && proto !== "prometheus.WriteRequest") {
    throw new RequestError(
      415,
      "unsupported_media_type",
      `only Remote Write 1.0 (prometheus.WriteRequest) is accepted, got proto=${proto}`,
    );
  }
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? NaN);
  if (declared > limit)
    throw new RequestError(413, "too_large", `body of ${declared} bytes exceeds ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new RequestError(413, "too_large", `body exceeds ${limit} bytes`);
    chunks.push(buffer);
  }
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
}

function classify(error: unknown): RequestError {
  if (error instanceof RequestError) return error;
  if (error instanceof SnappyError) {
    return error.code === "TooLarge"
      ? new RequestError(413, "too_large", `decompressed body too large: ${error.message}`)
      : new RequestError(400, "bad_request", `bad snappy: ${error.message}`);
  }
  if (error instanceof WriteRequestDecodeError || error instanceof InvalidLabelsError) {
    return new RequestError(400, "bad_request", error.message);
  }
  throw error;
}

export async function startIngestServer(options: IngestServerOptions): Promise<IngestServer> {
  const logger = options.logger ?? silentLogger;
  const maxCompressed = options.maxCompressedBytes ?? INGEST_DEFAULTS.maxCompressedBytes;
  const maxUncompressed = options.maxUncompressedBytes ?? INGEST_DEFAULTS.maxUncompressedBytes;
  const token = options.token === undefined ? undefined : Buffer.from(options.token);
  const requests: Record<IngestOutcome, number> = Object.fromEntries(
    INGEST_OUTCOMES.map((o) => [o, 0]),
  ) as Record<IngestOutcome, number>;

  // Bodies are decompressed into one reused buffer: nothing awaits between
  // decompressing and applying a body (apply is synchronous and keeps no
  // reference to it), so two requests never share it.
  let scratch: Buffer = Buffer.alloc(0);
  const handle = async (request: IncomingMessage): Promise<void> => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== INGEST_PATH)
      throw new RequestError(404, "not_found", `no such endpoint; agents write to ${INGEST_PATH}`);
    if (request.method !== "POST") {
      throw new RequestError(405, "method_not_allowed", "use POST", { Allow: "POST" });
    }
    checkToken(request, token);
    checkContentHeaders(request);
    const body = await readBody(request, maxCompressed);
    const uncompressed = uncompressBody(body, maxUncompressed, scratch);
    // A body that did not fit was decoded into a fresh buffer: keep that one for the next
    // (the native decoder allocates its own, so then there is nothing to keep).
    if (
      snappyDecoder === "javascript" &&
      uncompressed.length > scratch.length &&
      uncompressed.length <= MAX_SCRATCH_BYTES
    ) {
      scratch = uncompressed;
    }
    options.processor.apply(uncompressed);
  };

  const respond = (
    response: ServerResponse,
    status: number,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) => {
    response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
    response.end(message === "" ? "" : `${message}\n`);
  };

  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (options.metrics !== undefined && path === "/metrics" && request.method === "GET") {
      response.writeHead(200, { "Content-Type": EXPOSITION_CONTENT_TYPE }).end(options.metrics());
      return;
    }
    if (path === "/healthz" && request.method === "GET") {
      respond(response, 200, "ok");
      return;
    }
    handle(request).then(
      () => {
        requests.ok++;
        response.writeHead(204).end();
      },
      (error: unknown) => {
        let failure: RequestError;
        try {
          failure = classify(error);
        } catch (unexpected) {
          logger.error("ingest request failed", { error: String(unexpected) });
          respond(response, 500, "internal error");
          return;
        }
        requests[failure.outcome]++;
        // The rest of a rejected body is not read; close instead of draining it.
        if (!request.complete) response.setHeader("Connection", "close");
        respond(response, failure.status, failure.message, failure.headers);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
