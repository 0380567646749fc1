// The ingest endpoint: a Prometheus Remote Write 1.0 receiver
// (POST /api/v1/write, snappy-compressed protobuf) for the platform's agents.
// Bad requests get a 4xx with a one-line reason and are counted; nothing of a
// rejected request is applied; a full sink never slows the answer.
//
// Memory is bounded whatever a client sends: one budget (ByteBudget) covers
// the compressed bytes being read and the decompressed bytes in use, taken
// before either is held; a request that does not fit now gets 429 with
// Retry-After, one that never could gets 413. Requests a Telex sink sent
// (the loop marker header) are refused before their body is read, so no
// chain of policies can route a sample twice.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { errorField, silentLogger, ByteBudget, type Logger } from "../../util/index.js";
import {
  InvalidLabelsError,
  LOOP_MARKER_HEADER,
  SnappyError,
  WriteRequestDecodeError,
  snappyDecoder,
  snappyUncompressedLength,
  uncompressBody,
} from "../../remotewrite/index.js";
import { sendExposition, type Exposition, type ExpositionWriter } from "../../metrics/exposition.js";
import { HealthEndpoints } from "../../metrics/health.js";
import { ForwardError, MisdirectedError, RefusedRequestError, type IngestProcessor } from "./processor.js";

export const INGEST_PATH = "/api/v1/write";
/**
 * Where the replicas of a fleet send each other series of the policies the
 * receiver runs (src/fleet/forwarder.ts): Remote Write, the same token, but
 * never forwarded again.
 */
export const FORWARD_PATH = "/internal/v1/forward";

/**
 * Where the API server of a fleet (`telex serve --api-only`) asks a replica
 * what a policy's selectors match among the series ingested through it
 * (`telex preview`, src/fleet/preview.ts): JSON `{project, policy}` in, the
 * replica's PushPreviewParts out; the same token as ingest.
 */
export const PREVIEW_PATH = "/internal/v1/preview";

/**
 * Where the API server of a fleet asks a replica for a policy's delivery
 * report (the ExportPolicy `delivery` subresource, src/fleet/delivery.ts):
 * `GET DELIVERY_PATH?uid=UID` with the ingest token; 200 with the report
 * when the replica runs the policy, 404 with `{"running": false}` when it
 * does not. Served on the push ingest listener and on a pull-mode replica's
 * forward-only listener alike: both run policies.
 */
export const DELIVERY_PATH = "/internal/v1/delivery";

/** A policy's uid as the API makes them (a UUID); anything longer is no uid. */
const MAX_UID_LENGTH = 128;

/** Thrown by the preview handler for a request it cannot answer: 400 with the message. */
export class PreviewRequestError extends Error {
  override readonly name = "PreviewRequestError";
}

export const INGEST_DEFAULTS = {
  // The largest requests agents send by default: vmagent's blocks are at most
  // 8 MiB before compression (-remoteWrite.maxBlockSize), the OpenTelemetry
  // collector's 3 MB, Prometheus' 2,000 samples well under 1 MiB. 8 MiB
  // compressed and 32 MiB decompressed leave 4× room over the largest.
  maxCompressedBytes: 8 * 2 ** 20,
  maxUncompressedBytes: 32 * 2 ** 20,
  // Process-wide, compressed bytes being read plus decompressed bytes in use:
  // room for one largest request (40 MiB) beside ordinary ones, and with
  // decompression's transient copy ~100 MB of RSS at most, so the whole
  // process stays under 500 MB whatever clients send.
  maxInflightBytes: 64 * 2 ** 20,
  // Each connection holds a socket and its buffers; agents keep a few each.
  // 1,024 stays within the usual open-file limit.
  maxConnections: 1024,
  // Slowloris: headers must arrive within 10 s and the whole request within
  // 60 s (a largest body at 1.2 Mbit/s); checked every second.
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  // Longer than the idle timeout of agents' connection pools (Go: 90 s is the
  // client's; 65 s here outlives load balancers' usual 60 s).
  keepAliveTimeoutMs: 65_000,
  // A refused body up to this size is read and discarded, keeping the
  // connection (and the answer reliably reaching the client); a larger or
  // unsized one closes the connection instead of being read.
  maxDrainBytes: 2 ** 20,
  // How long a throttled agent waits (Retry-After) before sending again.
  retryAfterSeconds: 1,
} as const;

/** The one-line reason a looping Telex sink sees in its status. */
export const LOOP_MESSAGE =
  "this request was sent by a Telex sink; Telex does not route samples it exported again (loop)";

/** The largest decompressed body kept for reuse; larger ones are allocated each time. */
const MAX_SCRATCH_BYTES = 16 * 2 ** 20;

export const INGEST_OUTCOMES = [
  "ok",
  "bad_request",
  "loop",
  "too_large",
  "throttled",
  "unavailable",
  "misdirected",
  "unauthorized",
  "unsupported_media_type",
  "not_found",
  "method_not_allowed",
  "aborted",
] as const;
export type IngestOutcome = (typeof INGEST_OUTCOMES)[number];

/** What applies a request's body: the ingest processor, or a pull-mode replica's self-metrics intake. */
export type RequestProcessor = Pick<IngestProcessor, "overloaded" | "apply">;

export interface IngestServerOptions {
  readonly host: string;
  readonly port: number;
  readonly processor: RequestProcessor;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly maxCompressedBytes?: number;
  readonly maxUncompressedBytes?: number;
  /** Bytes of request bodies held at once, compressed and decompressed together. */
  readonly maxInflightBytes?: number;
  readonly maxConnections?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** When set, GET /metrics answers with this Prometheus exposition (no token needed). */
  readonly metrics?: () => Exposition;
  /** In a fleet: other replicas forward series to FORWARD_PATH. */
  readonly acceptForwarded?: boolean;
  /**
   * Only FORWARD_PATH is served (implies acceptForwarded): a pull-mode
   * replica of a fleet, which takes no pushes but its peers' delivery
   * metrics (Exporter.selfMetricsIntake).
   */
  readonly forwardOnly?: boolean;
  /** In a fleet: the API server's preview requests to PREVIEW_PATH (JSON in, JSON out). */
  readonly preview?: (request: unknown) => Promise<unknown>;
  /**
   * In a fleet: the API server's delivery requests to DELIVERY_PATH: the
   * report of the policy with this uid, undefined when it does not run here.
   */
  readonly delivery?: (uid: string) => { readonly found: boolean; readonly answer: unknown };
  /** /livez, /healthz and /readyz (no token needed); without it /readyz has no checks. */
  readonly health?: HealthEndpoints;
  /**
   * Measure each request's blocking CPU time (maxBlockingCpuMs): for tests.
   * Off in telex serve: process.cpuUsage() is a getrusage() system call,
   * 4 µs each on the benchmark machine and two per request — 6–7 % of a
   * replica's CPU profile under push load, for a figure nothing read.
   */
  readonly measureBlockingCpu?: boolean;
}

export interface IngestServer {
  readonly url: string;
  readonly requests: Readonly<Record<IngestOutcome, number>>;
  /** Bytes of request bodies held now (see maxInflightBytes). */
  readonly inflightBytes: number;
  /**
   * With measureBlockingCpu: the longest a request has blocked the event
   * loop decompressing and applying its body, in CPU milliseconds (CPU
   * rather than wall time, so a busy machine does not inflate it); else 0.
   */
  readonly maxBlockingCpuMs: number;
  /** Requests by outcome and the bytes held, as Prometheus metrics. */
  writeMetrics(writer: ExpositionWriter): void;
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

function checkLoop(request: IncomingMessage): void {
  if (request.headers[LOOP_MARKER_HEADER] !== undefined) {
    throw new RequestError(400, "loop", LOOP_MESSAGE);
  }
}

function throttled(what: string): RequestError {
  return new RequestError(429, "throttled", `ingest is busy (${what}); retry later`, {
    "Retry-After": String(INGEST_DEFAULTS.retryAfterSeconds),
  });
}

/** The client went away, or Node's request timeout closed the connection, before the body arrived. */
class AbortedError extends Error {}

/**
 * Calls onChunk for each chunk of the body until it returns a RequestError,
 * which rejects (the rest is left unread). Not `for await`: leaving that loop
 * early destroys the socket, and the answer with it.
 */
function readChunks(
  request: IncomingMessage,
  onChunk: (chunk: Buffer) => RequestError | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onAbort);
      request.off("close", onAbort);
    };
    const onData = (chunk: Buffer): void => {
      const problem = onChunk(chunk);
      if (problem === undefined) return;
      done();
      request.pause();
      reject(problem);
    };
    const onEnd = (): void => {
      done();
      resolve();
    };
    const onAbort = (): void => {
      done();
      reject(new AbortedError("request aborted before its body arrived"));
    };
    request.on("data", onData);
    request.once("end", onEnd);
    request.once("error", onAbort);
    request.once("close", onAbort);
  });
}

/**
 * Reads the body into one buffer, taking its bytes from the budget first: all
 * of a declared Content-Length at once (nothing is read if it does not fit),
 * else chunk by chunk. The caller gives back `taken.bytes` when done.
 */
async function readBody(
  request: IncomingMessage,
  limit: number,
  budget: ByteBudget,
  taken: { bytes: number },
): Promise<Buffer> {
  const header = request.headers["content-length"];
  if (header !== undefined) {
    const declared = Number(header);
    if (declared > limit)
      throw new RequestError(413, "too_large", `body of ${declared} bytes exceeds ${limit}`);
    if (!budget.tryTake(declared)) throw throttled("request bodies in flight at their limit");
    taken.bytes = declared;
    // Node's parser delivers exactly Content-Length bytes: one buffer, no concatenation.
    const body = Buffer.allocUnsafe(declared);
    let size = 0;
    await readChunks(request, (chunk) => {
      size += chunk.copy(body, size);
      return undefined;
    });
    return body;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await readChunks(request, (chunk) => {
    size += chunk.length;
    if (size > limit) return new RequestError(413, "too_large", `body exceeds ${limit} bytes`);
    if (!budget.tryTake(chunk.length)) return throttled("request bodies in flight at their limit");
    taken.bytes += chunk.length;
    chunks.push(chunk);
    return undefined;
  });
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
}

/** A policy as the API stores it is at most 1.5 MiB: room for it and the project. */
const MAX_PREVIEW_REQUEST_BYTES = 2 * 2 ** 20;
/** Previews answered at once (429 beyond): as many as one API server runs at once in all. */
const MAX_RUNNING_PREVIEWS = 16;

/** POST PREVIEW_PATH: the token, a JSON body of bounded size, the handler's answer. */
async function answerPreview(
  request: IncomingMessage,
  preview: (request: unknown) => Promise<unknown>,
  token: Buffer | undefined,
  budget: ByteBudget,
): Promise<unknown> {
  if (request.method !== "POST")
    throw new RequestError(405, "method_not_allowed", "use POST", { Allow: "POST" });
  checkToken(request, token);
  const taken = { bytes: 0 };
  let body: Buffer;
  try {
    body = await readBody(request, MAX_PREVIEW_REQUEST_BYTES, budget, taken);
  } finally {
    budget.give(taken.bytes);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RequestError(400, "bad_request", "the preview request is not JSON");
  }
  try {
    return await preview(parsed);
  } catch (error: unknown) {
    if (error instanceof PreviewRequestError) throw new RequestError(400, "bad_request", error.message);
    throw error;
  }
}

/** GET DELIVERY_PATH?uid=…: the token, then the handler's answer (synchronous: counters read in memory). */
function answerDelivery(
  request: IncomingMessage,
  delivery: NonNullable<IngestServerOptions["delivery"]>,
  token: Buffer | undefined,
): { readonly status: number; readonly body: string } {
  if (request.method !== "GET")
    throw new RequestError(405, "method_not_allowed", "use GET", { Allow: "GET" });
  checkToken(request, token);
  const uid = new URL(request.url ?? "/", "http://replica").searchParams.get("uid") ?? "";
  if (uid === "" || uid.length > MAX_UID_LENGTH)
    throw new RequestError(400, "bad_request", `give the policy's uid: ${DELIVERY_PATH}?uid=UID`);
  const { found, answer } = delivery(uid);
  return { status: found ? 200 : 404, body: JSON.stringify(answer) };
}

function drainable(request: IncomingMessage): boolean {
  const length = Number(request.headers["content-length"] ?? NaN);
  return length <= INGEST_DEFAULTS.maxDrainBytes;
}

function classify(error: unknown): RequestError {
  if (error instanceof RequestError) return error;
  if (error instanceof SnappyError) {
    // SnappyError messages start "snappy: "; said once here.
    const reason = error.message.replace(/^snappy: /, "");
    return error.code === "TooLarge"
      ? new RequestError(413, "too_large", `decompressed body too large: ${reason}`)
      : new RequestError(400, "bad_request", `bad snappy: ${reason}`);
  }
  if (error instanceof WriteRequestDecodeError || error instanceof InvalidLabelsError) {
    return new RequestError(400, "bad_request", error.message);
  }
  if (error instanceof MisdirectedError) return new RequestError(421, "misdirected", error.message);
  if (error instanceof RefusedRequestError) return new RequestError(400, "bad_request", error.message);
  throw error;
}

export async function startIngestServer(options: IngestServerOptions): Promise<IngestServer> {
  const logger = options.logger ?? silentLogger;
  const maxCompressed = options.maxCompressedBytes ?? INGEST_DEFAULTS.maxCompressedBytes;
  const maxUncompressed = options.maxUncompressedBytes ?? INGEST_DEFAULTS.maxUncompressedBytes;
  const budget = new ByteBudget(options.maxInflightBytes ?? INGEST_DEFAULTS.maxInflightBytes);
  // A request too large for the whole budget could never be accepted: 413, not 429.
  const compressedLimit = Math.min(maxCompressed, budget.capacity);
  const token = options.token === undefined ? undefined : Buffer.from(options.token);
  const health = options.health ?? new HealthEndpoints({ readiness: [] });
  const requests: Record<IngestOutcome, number> = Object.fromEntries(
    INGEST_OUTCOMES.map((o) => [o, 0]),
  ) as Record<IngestOutcome, number>;

  // Bodies are decompressed into one reused buffer: nothing awaits between
  // decompressing and applying a body (apply is synchronous and keeps no
  // reference to it), so two requests never share it.
  let scratch: Buffer = Buffer.alloc(0);
  let maxBlockingCpuMs = 0;
  let runningPreviews = 0;
  const measureCpu = options.measureBlockingCpu === true;
  const handle = async (request: IncomingMessage): Promise<void> => {
    const path = (request.url ?? "").split("?")[0];
    const forwardOnly = options.forwardOnly === true;
    const forwarded = path === FORWARD_PATH && (options.acceptForwarded === true || forwardOnly);
    if (forwardOnly && path === PREVIEW_PATH)
      throw new RequestError(
        409,
        // Counted with requests sent to a replica that cannot take them.
        "misdirected",
        "this replica reads a metrics store (pull mode): previews come from the store, through telex serve --api-only --source-url",
      );
    if (forwardOnly && !forwarded)
      throw new RequestError(
        404,
        "not_found",
        `no such endpoint; this replica reads the store (pull mode) and takes only its peers' ${FORWARD_PATH}`,
      );
    if (path !== INGEST_PATH && !forwarded)
      throw new RequestError(404, "not_found", `no such endpoint; agents write to ${INGEST_PATH}`);
    if (request.method !== "POST") {
      throw new RequestError(405, "method_not_allowed", "use POST", { Allow: "POST" });
    }
    checkLoop(request);
    checkToken(request, token);
    checkContentHeaders(request);
    const taken = { bytes: 0 };
    try {
      const body = await readBody(request, compressedLimit, budget, taken);
      const length = snappyUncompressedLength(body, maxUncompressed);
      if (taken.bytes + length > budget.capacity) {
        throw new RequestError(
          413,
          "too_large",
          `${body.length} bytes decompressing to ${length} exceed the ${budget.capacity} bytes of the ingest budget`,
        );
      }
      if (!budget.tryTake(length)) throw throttled("request bodies in flight at their limit");
      taken.bytes += length;
      // Decompressing and decoding are synchronous: the decompressed bytes are
      // garbage (or the reused scratch) once apply returns, even when it
      // returns a promise for the durable write.
      const cpu = measureCpu ? process.cpuUsage() : undefined;
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
      if (options.processor.overloaded) throw throttled("the durable buffer is writing behind");
      let written: Promise<void> | undefined;
      try {
        written = options.processor.apply(uncompressed, forwarded);
      } finally {
        if (cpu !== undefined) {
          const used = process.cpuUsage(cpu);
          maxBlockingCpuMs = Math.max(maxBlockingCpuMs, (used.user + used.system) / 1000);
        }
      }
      // With a durable buffer the answer waits until the samples are on disk; a failed write is a 503.
      if (written !== undefined) {
        try {
          await written;
        } catch (error: unknown) {
          if (error instanceof ForwardError) {
            throw new RequestError(503, "unavailable", error.message, {
              "Retry-After": String(INGEST_DEFAULTS.retryAfterSeconds),
            });
          }
          logger.error("ingest could not write to the durable buffer", { error: String(error) });
          throw new RequestError(503, "unavailable", "the durable buffer cannot take data now; retry later", {
            "Retry-After": String(INGEST_DEFAULTS.retryAfterSeconds),
          });
        }
      }
    } finally {
      budget.give(taken.bytes);
    }
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

  const server: Server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? INGEST_DEFAULTS.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? INGEST_DEFAULTS.requestTimeoutMs,
      keepAliveTimeout: INGEST_DEFAULTS.keepAliveTimeoutMs,
      // Node checks both timeouts every 30 s by default: a 10 s limit would be up to 40 s.
      connectionsCheckingInterval: 1000,
    },
    (request, response) => {
      const path = (request.url ?? "").split("?")[0];
      if (options.metrics !== undefined && path === "/metrics" && request.method === "GET") {
        sendExposition(response, options.metrics());
        return;
      }
      if (request.method === "GET" || request.method === "HEAD") {
        const answer = health.answer(request.url ?? "/");
        if (answer !== undefined) {
          response.writeHead(answer.status, { "Content-Type": "text/plain; charset=utf-8" }).end(answer.body);
          return;
        }
      }
      if (path === DELIVERY_PATH && options.delivery !== undefined) {
        // Nothing to read: a body (GET has none) is discarded or the connection closed.
        if (!request.complete) {
          if (drainable(request)) request.resume();
          else response.setHeader("Connection", "close");
        }
        try {
          const { status, body } = answerDelivery(request, options.delivery, token);
          response.writeHead(status, { "Content-Type": "application/json" }).end(body);
        } catch (error: unknown) {
          if (error instanceof RequestError) {
            respond(response, error.status, error.message, error.headers);
            return;
          }
          logger.error("delivery request failed", { error: errorField(error) });
          respond(response, 500, "internal error");
        }
        return;
      }
      if (path === PREVIEW_PATH && options.preview !== undefined) {
        if (runningPreviews >= MAX_RUNNING_PREVIEWS) {
          respond(response, 429, "too many previews at once; retry", {
            "Retry-After": String(INGEST_DEFAULTS.retryAfterSeconds),
            Connection: "close",
          });
          return;
        }
        runningPreviews++;
        answerPreview(request, options.preview, token, budget)
          .finally(() => {
            runningPreviews--;
          })
          .then(
            (answer) => {
              response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(answer));
            },
            (error: unknown) => {
              if (error instanceof AbortedError) return;
              if (!request.complete) response.setHeader("Connection", "close");
              if (error instanceof RequestError) {
                respond(response, error.status, error.message, error.headers);
                return;
              }
              logger.error("preview request failed", { error: errorField(error) });
              respond(response, 500, "internal error");
            },
          );
        return;
      }
      handle(request).then(
        () => {
          requests.ok++;
          response.writeHead(204).end();
        },
        (error: unknown) => {
          if (error instanceof AbortedError) {
            requests.aborted++;
            return;
          }
          let failure: RequestError;
          try {
            failure = classify(error);
          } catch (unexpected) {
            logger.error("ingest request failed", { error: errorField(unexpected) });
            respond(response, 500, "internal error");
            return;
          }
          requests[failure.outcome]++;
          // The rest of a refused body: Node reads and discards it after the answer
          // when the connection stays open; a large or unsized one closes it instead.
          if (!request.complete) {
            if (drainable(request)) request.resume();
            else response.setHeader("Connection", "close");
          }
          respond(response, failure.status, failure.message, failure.headers);
        },
      );
    },
  );
  server.maxConnections = options.maxConnections ?? INGEST_DEFAULTS.maxConnections;
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
    get inflightBytes() {
      return budget.inUse;
    },
    get maxBlockingCpuMs() {
      return maxBlockingCpuMs;
    },
    writeMetrics: (writer) => {
      for (const outcome of INGEST_OUTCOMES) {
        writer.sample(
          "telex_ingest_requests_total",
          "Remote Write requests to the ingest endpoint, by outcome.",
          "counter",
          { outcome },
          requests[outcome],
        );
      }
      writer.sample(
        "telex_ingest_inflight_bytes",
        "Bytes of Remote Write bodies held by the ingest endpoint, compressed and decompressed.",
        "gauge",
        {},
        budget.inUse,
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
