// Bounds on the work one request can make the API do, each with its reason.
// Strangers share this process: a body that is deep, aliased or grows under a
// patch must be refused (400/413/422) before recursive or quadratic code sees
// it, never crash the process or hold the event loop.
import { ApiError, errors } from "./status.js";

/** etcd's default request limit (1.5 MiB), which caps every Kubernetes object; checked after every write path. */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

/**
 * Nesting of JSON/YAML containers. Our objects need fewer than 20 levels;
 * 100 leaves room for annotations-free clients and stays far below the depth
 * at which recursive code (structuredClone, deepEqual, validation, managed
 * fields) would overflow the stack.
 */
export const MAX_NESTING_DEPTH = 100;

/**
 * JSON values (fields, items, scalars) in one object, managedFields aside
 * (they count towards the size). Pruning, validation and managed fields cost
 * ~15 µs per value, so this keeps a write near 100 ms; a policy with 20
 * sources, 20 sinks and its status holds ~1,500.
 */
export const MAX_OBJECT_VALUES = 5000;

/**
 * JSON values in one request body, counted on the text before parsing: enough
 * for a JSON patch of 10,000 operations, and it bounds what decoding builds.
 */
export const MAX_BODY_VALUES = 60_000;

/** Kubernetes' limit on the operations of one JSON patch (since CVE-2019-1002100). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

/**
 * Bytes JSON patch `copy` operations may clone in one patch, summed, as
 * Kubernetes' AccumulatedCopySizeLimit: no object needs more than itself.
 */
export const MAX_JSON_PATCH_COPY_BYTES = MAX_OBJECT_BYTES;

/**
 * Array elements JSON patch may shift by inserting or removing in the middle
 * of arrays, summed over one patch: 10,000 inserts at the head of a
 * 700,000-element array would otherwise memmove for seconds.
 */
export const MAX_JSON_PATCH_SHIFTED_ELEMENTS = 10_000_000;

/**
 * YAML aliases one document may expand (the `yaml` package counts nested
 * expansions, so a billion-laughs document fails at its first levels).
 */
export const MAX_YAML_ALIASES = 100;

/**
 * Bytes of request bodies held at once, all requests together: a body is
 * buffered whole before it is decoded, so without this 1,000 slow 3 MiB
 * uploads would hold 3 GB. Past it a request gets 429 with Retry-After, as
 * kube-apiserver answers past --max-requests-inflight.
 */
export const MAX_BODY_BYTES_IN_FLIGHT = 64 * 1024 * 1024;

/**
 * Bytes queued to tenants' watch clients that do not read, all watches
 * together: each watch may queue up to 16 MiB before it is ended, and a
 * project may hold 50 watches, so without a shared bound a few tenants could
 * park gigabytes in socket buffers. The watch whose write passes it is ended
 * (its client resumes from its last resourceVersion, as after any cut).
 */
export const MAX_WATCH_BYTES_QUEUED = 64 * 1024 * 1024;

/**
 * Connections the API accepts at once: within the usual open-file limit with
 * room for the ingest listener and the sinks' connections. Watches hold one
 * each, and are themselves bounded per project.
 */
export const MAX_API_CONNECTIONS = 2048;

/** A client has this long to send its headers (slowloris), and this long for its whole request. */
export const API_HEADERS_TIMEOUT_MS = 10_000;
export const API_REQUEST_TIMEOUT_MS = 60_000;

/** A 400 naming the depth limit. */
export function tooDeep(what: string): ApiError {
  return errors.badRequest(
    `${what} is nested deeper than the limit of ${MAX_NESTING_DEPTH} levels (objects and arrays)`,
  );
}

/**
 * Refuses JSON text nested deeper than the limit or holding more than
 * MAX_BODY_VALUES values, by one pass over the text before JSON.parse (which
 * takes ~0.7 s for a million levels).
 */
export function checkJsonText(text: string, what: string): void {
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === DOUBLE_QUOTE) inString = false;
    } else if (c === DOUBLE_QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > MAX_NESTING_DEPTH) throw tooDeep(what);
      values++;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    } else if (c === COMMA && ++values > MAX_BODY_VALUES) {
      throw tooManyValues(what, MAX_BODY_VALUES);
    }
  }
}

/** A 413 naming the limit on JSON values. */
export function tooManyValues(what: string, limit: number): ApiError {
  return new ApiError(
    "RequestEntityTooLarge",
    `${what} holds more than the limit of ${limit} JSON values (fields, items and scalars)`,
  );
}

/**
 * YAML text (not JSON, which takes the fast path) is at most this large: the
 * `yaml` package parses about 1 MB/s of small nodes and 6 MB/s of one long
 * scalar (the fuzz test found a 230 KB body that took 320 ms), and a request
 * must not hold the event loop. Manifests are a few KiB; kubectl and telex
 * send JSON, even for server-side apply.
 */
export const MAX_YAML_BYTES = 64 * 1024;

/**
 * Nodes (lines, flow items) a YAML body may hold: the parser takes 25–45 µs
 * each. A policy with 20 sources and 20 sinks is ~600 lines of YAML.
 */
export const MAX_YAML_NODES = 2000;

/**
 * Refuses YAML text over MAX_YAML_BYTES or MAX_YAML_NODES, or that could nest
 * deeper than the limit, before the `yaml` parser (~20 µs per level) sees it.
 * Conservative: a line's nesting is at most its indentation plus its block
 * indicators (`- `, `? `, `: `) plus the open flow brackets, with quoted
 * scalars, comments and block scalars skipped. Twice the object limit, so deep
 * indentation of legitimate documents passes; the parsed value is then
 * checked exactly.
 */
export function checkYamlText(text: string, what: string): void {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES)
    throw errors.tooLarge(`${what} as YAML (send larger objects as JSON)`, MAX_YAML_BYTES);
  const limit = 2 * MAX_NESTING_DEPTH;
  let nodes = 0;
  let flowDepth = 0;
  let quote = 0;
  let blockScalarIndent = -1;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    let indent = 0;
    while (lineStart + indent < lineEnd && text.charCodeAt(lineStart + indent) === SPACE) indent++;
    const blank = lineStart + indent >= lineEnd;
    if (blockScalarIndent >= 0 && (blank || indent > blockScalarIndent)) {
      lineStart = lineEnd + 1;
      continue;
    }
    blockScalarIndent = -1;
    let indicators = 0;
    let lastToken = 0;
    for (let i = lineStart + indent; i < lineEnd; i++) {
      const c = text.charCodeAt(i);
      if (quote !== 0) {
        if (quote === DOUBLE_QUOTE && c === BACKSLASH) i++;
        else if (c === quote) {
          if (quote === SINGLE_QUOTE && text.charCodeAt(i + 1) === SINGLE_QUOTE) i++;
          else quote = 0;
        }
        continue;
      }
      const previous = i === lineStart + indent ? SPACE : text.charCodeAt(i - 1);
      const atTokenStart = previous === SPACE || previous === TAB || SEPARATORS.has(previous);
      // Anchors, aliases, tags and quoted scalars are nodes, and each a parser error when misplaced.
      if (atTokenStart && NODE_STARTS.has(c)) nodes++;
      if ((c === DOUBLE_QUOTE || c === SINGLE_QUOTE) && atTokenStart) quote = c;
      else if (c === HASH && (previous === SPACE || previous === TAB)) break;
      else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
        nodes++;
        if (++flowDepth + indent + indicators > limit) throw tooDeep(what);
      } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
        // Stray closers count too: the parser reports each as an error.
        nodes++;
        flowDepth = Math.max(0, flowDepth - 1);
      } else if (c === COMMA) nodes++;
      else if ((c === DASH || c === QUESTION || c === COLON) && isSpaceOrEnd(text, i + 1, lineEnd))
        indicators++;
      if (c !== SPACE && c !== TAB) lastToken = c;
    }
    if (flowDepth + indent + indicators > limit) throw tooDeep(what);
    nodes += 1 + indicators;
    if (nodes > MAX_YAML_NODES) throw tooManyYamlNodes(what);
    if (
      quote === 0 &&
      flowDepth === 0 &&
      (lastToken === PIPE || lastToken === GREATER || endsWithBlockHeader(text, lineEnd))
    )
      blockScalarIndent = indent;
    lineStart = lineEnd + 1;
  }
}

function tooManyYamlNodes(what: string): ApiError {
  return new ApiError(
    "RequestEntityTooLarge",
    `${what} holds more than the limit of ${MAX_YAML_NODES} YAML nodes (lines and flow items); send larger objects as JSON`,
  );
}

/** `key: |-`, `- >2` and the like: the lines after are a block scalar's text. */
function endsWithBlockHeader(text: string, lineEnd: number): boolean {
  let i = lineEnd - 1;
  while (i >= 0 && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === 13)) i--;
  let j = i;
  while (j >= 0 && /[-+0-9]/.test(text.charAt(j))) j--;
  if (j === i || j < 0) return false;
  const c = text.charCodeAt(j);
  return (c === PIPE || c === GREATER) && (j === 0 || text.charCodeAt(j - 1) === SPACE);
}

function isSpaceOrEnd(text: string, at: number, lineEnd: number): boolean {
  if (at >= lineEnd) return true;
  const c = text.charCodeAt(at);
  return c === SPACE || c === TAB || c === 13;
}

export interface JsonMeasure {
  /** About the length of the value's JSON text (strings by UTF-16 units). */
  readonly bytes: number;
  /** JSON values visited: objects, arrays and scalars. */
  readonly values: number;
  /** Levels of objects and arrays: 0 for a scalar. */
  readonly depth: number;
}

/**
 * Size and depth of a decoded value, walked without recursion (so any depth is
 * safe to measure); the walk stops once past `stopAfterBytes` or past the
 * depth limit, so shared subtrees (YAML aliases) cannot make it long.
 */
export function measureJson(
  value: unknown,
  stopAfterBytes = Infinity,
  stopAfterValues = Infinity,
): JsonMeasure {
  let bytes = 0;
  let maxDepth = 0;
  let visited = 0;
  // Two parallel stacks: no allocation per visited value.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    if (bytes > stopAfterBytes || maxDepth > MAX_NESTING_DEPTH || visited > stopAfterValues) break;
    visited++;
    const current = values.pop();
    const depth = (depths.pop() ?? 0) + 1;
    if (typeof current === "string") bytes += current.length + 2;
    else if (typeof current === "number") bytes += String(current).length;
    else if (typeof current === "boolean") bytes += current ? 4 : 5;
    else if (Array.isArray(current)) {
      if (depth > maxDepth) maxDepth = depth;
      bytes += 2 + current.length;
      for (const child of current as unknown[]) {
        values.push(child);
        depths.push(depth);
      }
    } else if (typeof current === "object" && current !== null) {
      if (depth > maxDepth) maxDepth = depth;
      bytes += 2;
      for (const key of Object.keys(current)) {
        bytes += key.length + 4;
        values.push((current as Record<string, unknown>)[key]);
        depths.push(depth);
      }
    } else bytes += 4;
  }
  return { bytes, values: visited, depth: maxDepth };
}

/**
 * What a decoded body may expand to (YAML aliases repeat their anchor's
 * value): twice the 3 MiB request limit, as numbers print longer than they
 * may be written (`1e9`); later stages then walk no more than this.
 */
export const MAX_DECODED_BYTES = 2 * 3 * 1024 * 1024;

/** Refuses a decoded value deeper than the limit (400) or expanding past MAX_DECODED_BYTES (413). */
export function checkDecodedValue(value: unknown, what: string): void {
  const { bytes, depth } = measureJson(value, MAX_DECODED_BYTES);
  if (depth > MAX_NESTING_DEPTH) throw tooDeep(what);
  if (bytes > MAX_DECODED_BYTES) throw errors.tooLarge(`${what} (decoded)`, MAX_DECODED_BYTES);
}

const SPACE = 32;
const TAB = 9;
const DOUBLE_QUOTE = 34;
const SINGLE_QUOTE = 39;
const BACKSLASH = 92;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const HASH = 35;
const DASH = 45;
const QUESTION = 63;
const COLON = 58;
const PIPE = 124;
const GREATER = 62;
const COMMA = 44;
const SEPARATORS = new Set([OPEN_BRACKET, OPEN_BRACE, COMMA, COLON]);
const NODE_STARTS = new Set([DOUBLE_QUOTE, SINGLE_QUOTE, 38 /* & */, 42 /* * */, 33 /* ! */, 37 /* % */]);
