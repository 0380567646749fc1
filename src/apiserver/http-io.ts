// Reading requests and writing responses: body size limit, media types,
// JSON/YAML decoding, Status errors and Warning headers.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseAllDocuments } from "yaml";
import { MAX_YAML_ALIASES, checkDecodedValue, checkJsonText, checkYamlText } from "./limits.js";
import { PROTOBUF_MEDIA_TYPE, decodeProtobuf } from "./protobuf.js";
import { serialise } from "./render.js";
import { ApiError, errors } from "./status.js";
import type { ByteBudget } from "../util/index.js";

/** Kubernetes' own limit for a request body (3 MiB); objects are further capped by admission. */
export const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

export type BodyFormat = "json" | "yaml" | "protobuf";
export type ResponseFormat = "json" | "yaml" | "table" | "partial";

export const PATCH_MEDIA_TYPES = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
} as const;

export function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** The format of a request body from its Content-Type (JSON when absent); 415 otherwise. */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const media = mediaType(contentType);
  if (media === "" || media === "application/json") return "json";
  if (media === "application/yaml") return "yaml";
  if (media === PROTOBUF_MEDIA_TYPE) return "protobuf";
  throw errors.unsupportedMediaType(media, ["application/json", "application/yaml", PROTOBUF_MEDIA_TYPE]);
}

/**
 * Reads the body up to the limit; a larger body is a 413 and is not buffered.
 * Its bytes are taken from the process-wide budget as they arrive (the
 * declared length at once) and given back when the response ends; a body
 * that does not fit now is a 429.
 */
export async function readBody(
  request: IncomingMessage,
  response: ServerResponse,
  budget: ByteBudget,
  limit = MAX_REQUEST_BYTES,
): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? "0");
  if (declared > limit) throw errors.tooLarge("the request body", limit);
  let taken = 0;
  response.once("close", () => {
    budget.give(taken);
    taken = 0;
  });
  const take = (bytes: number): void => {
    if (!budget.tryTake(bytes)) throw bodiesInFlight(budget);
    taken += bytes;
  };
  if (declared > 0) take(declared);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw errors.tooLarge("the request body", limit);
    if (size > taken) take(size - taken);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function bodiesInFlight(budget: ByteBudget): ApiError {
  return new ApiError(
    "TooManyRequests",
    `request bodies being received are at their limit of ${budget.capacity / 2 ** 20} MiB for the whole server; retry shortly`,
    { retryAfterSeconds: 1 },
  );
}

/**
 * Decodes a JSON or YAML document (one document, an object unless arrays are
 * allowed). Nesting is checked on the text before parsing and on the value
 * after, YAML aliases are bounded, and every failure is a 400 or 413.
 */
export function decodeBody(
  body: Buffer,
  format: BodyFormat,
  options: { allowArray?: boolean } = {},
): unknown {
  if (format === "protobuf") return decodeProtobuf(body);
  const text = body.toString("utf8");
  if (text.trim() === "") throw errors.badRequest("the request body is empty");
  const value = format === "json" ? decodeJson(text) : decodeYaml(text);
  checkDecodedValue(value, "the request body");
  const isArray = Array.isArray(value);
  if (
    (isArray && options.allowArray !== true) ||
    (!isArray && (typeof value !== "object" || value === null))
  ) {
    throw errors.badRequest(
      `the body must be a JSON ${options.allowArray === true ? "array or object" : "object"}`,
    );
  }
  return value;
}

function decodeJson(text: string): unknown {
  checkJsonText(text, "the request body");
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    throw errors.badRequest(`couldn't decode the body as JSON: ${(error as Error).message}`);
  }
}

function decodeYaml(text: string): unknown {
  // JSON is YAML, and what kubectl sends (server-side apply included): the fast, unbounded-size path.
  const first = text.trimStart().charAt(0);
  if (first === "{" || first === "[") {
    checkJsonText(text, "the request body");
    try {
      return JSON.parse(text);
    } catch {
      // Flow-style YAML that is not JSON: parsed as YAML below.
    }
  }
  checkYamlText(text, "the request body");
  // prettyErrors would quote the text around every error: quadratic in a body of stray brackets.
  const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(documents) || documents.length !== 1) {
    throw errors.badRequest("the body must hold exactly one YAML document");
  }
  const [document] = documents;
  if (document === undefined || document.errors.length > 0) {
    const first = document?.errors[0];
    throw errors.badRequest(
      first === undefined
        ? "couldn't decode the body as YAML: empty document"
        : `couldn't decode the body as YAML: ${first.message} (at character ${first.pos[0]})`,
    );
  }
  try {
    return document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error: unknown) {
    // The yaml package throws a ReferenceError for too many aliases and for an alias to a missing anchor.
    const message = (error as Error).message;
    throw errors.badRequest(
      /alias count/i.test(message)
        ? `couldn't decode the body as YAML: its aliases expand more than the limit of ${MAX_YAML_ALIASES} (maxAliasCount)`
        : `couldn't decode the body as YAML: ${message}`,
    );
  }
}

export interface Negotiated {
  readonly format: ResponseFormat;
}

/**
 * Picks the response format from Accept, in the client's order:
 * `application/json;as=Table;g=meta.k8s.io` → a Table, `as=PartialObjectMetadata(List)` → metadata only,
 * plain JSON or YAML otherwise. Protobuf-only clients get 406.
 */
export function negotiate(accept: string | undefined): Negotiated {
  if (accept === undefined || accept.trim() === "") return { format: "json" };
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim());
    const options = new Map(
      params.map((p) => {
        const [k = "", v = ""] = p.split("=");
        return [k.trim().toLowerCase(), v.trim()];
      }),
    );
    const media = type.toLowerCase();
    if (media === "application/json" || media === "*/*" || media === "application/*") {
      const as = options.get("as");
      if (as === undefined) return { format: "json" };
      if (as === "Table" && options.get("g") === "meta.k8s.io") return { format: "table" };
      if (
        (as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") &&
        options.get("g") === "meta.k8s.io"
      ) {
        return { format: "partial" };
      }
      continue;
    }
    if (media === "application/yaml") return { format: "yaml" };
  }
  throw errors.notAcceptable(accept);
}

export function sendJson(
  response: ServerResponse,
  code: number,
  body: unknown,
  warnings: readonly string[] = [],
  format: ResponseFormat = "json",
): void {
  const { text: payload, contentType } = serialise(body, format);
  if (warnings.length > 0) response.setHeader("Warning", warningHeaders(warnings));
  response.writeHead(code, {
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(payload),
    "Cache-Control": "no-cache, private",
  });
  response.end(payload);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const retryAfter = error.details?.retryAfterSeconds;
  if (retryAfter !== undefined) response.setHeader("Retry-After", String(retryAfter));
  sendJson(response, error.code, error.toStatus());
}

/** Kubernetes' bounds on Warning headers: each text at most 256 characters, all of them at most 4 KiB. */
const MAX_WARNING_CHARS = 256;
const MAX_WARNINGS_BYTES = 4096;

/**
 * RFC 7234 warnings as Kubernetes sends them (`299 - "text"`), within its
 * bounds, and ASCII only: texts quote client input, which a header must not
 * carry raw.
 */
function warningHeaders(warnings: readonly string[]): string[] {
  const headers: string[] = [];
  let bytes = 0;
  for (const [i, text] of warnings.entries()) {
    const short = text.length > MAX_WARNING_CHARS ? `${text.slice(0, MAX_WARNING_CHARS)}…` : text;
    const header = `299 - ${JSON.stringify(short).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}`;
    if (bytes + header.length > MAX_WARNINGS_BYTES) {
      headers.push(`299 - "${warnings.length - i} more warnings not shown"`);
      break;
    }
    bytes += header.length;
    headers.push(header);
  }
  return headers;
}

export type Query = URLSearchParams;

export function queryString(query: Query, name: string): string | undefined {
  const value = query.get(name);
  return value === null ? undefined : value;
}

export function queryBool(query: Query, name: string): boolean {
  const value = query.get(name);
  return value === "true" || value === "1";
}

export function queryInt(query: Query, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  // Past 2^53 a number is no longer exact, and SQLite refuses it as a bound.
  if (!/^-?[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw errors.badRequest(`${name} must be an integer, got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}
