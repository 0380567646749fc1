// Prometheus text exposition format (0.0.4), written by hand: our counters
// are plain numbers kept on the hot path, and rendering them is a loop.
//
// A replica running 10,000 policies exposes ~450,000 series (44 per sink),
// so rendering is built for that: each family writes its lines into a
// growing byte buffer of its own, and a label set's rendered form
// (`project="p",policy="x",sink="k"`) is kept per label object (a WeakMap)
// and copied, never formatted again; the families' buffers are reused from
// one scrape to the next. Callers that write a series every
// scrape keep their label objects (the exporter keeps one per policy, sink
// and source); a fresh object works too, and is formatted each time. This
// took the 10,000-policy scrape from 4.4 s to well under 200 ms
// (bench/metrics.ts, README "Benchmarks").

import type { ServerResponse } from "node:http";

export type MetricType = "counter" | "gauge" | "histogram";

export type LabelSet = Readonly<Record<string, string>>;

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatLabels(labels: LabelSet): string {
  const inner = labelPairs(labels);
  return inner === "" ? "" : `{${inner}}`;
}

function labelPairs(labels: LabelSet): string {
  let out = "";
  for (const name in labels) {
    const value = labels[name] ?? "";
    out += `${out === "" ? "" : ","}${name}="${escapeLabelValue(value)}"`;
  }
  return out;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

const EMPTY = new Uint8Array(0);
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const ZERO = 0x30;

/** Rendered label pairs (no braces) per label object: formatted once, copied on every scrape. */
const renderedLabels = new WeakMap<LabelSet, Uint8Array>();

/**
 * The label set's pairs as written in a line, cached per label object: a
 * caller writing many families for the same series renders once and passes
 * the bytes to FamilyLines.add.
 */
export function renderLabels(labels: LabelSet): Uint8Array {
  return labelBytes(labels);
}

function labelBytes(labels: LabelSet): Uint8Array {
  let bytes = renderedLabels.get(labels);
  if (bytes === undefined) {
    const pairs = labelPairs(labels);
    bytes = pairs === "" ? EMPTY : Buffer.from(pairs);
    renderedLabels.set(labels, bytes);
  }
  return bytes;
}

/** `le="0.005"` … per bucket bound list, rendered once. */
const renderedBounds = new WeakMap<readonly number[], Uint8Array[]>();
const INF_BOUND = Buffer.from('le="+Inf"');

function boundBytes(bounds: readonly number[]): Uint8Array[] {
  let bytes = renderedBounds.get(bounds);
  if (bytes === undefined) {
    bytes = bounds.map((bound) => Buffer.from(`le="${formatValue(bound)}"`));
    renderedBounds.set(bounds, bytes);
  }
  return bytes;
}

/**
 * Each family's buffer, given back once its scrape was sent, for the next
 * render of that family. Allocating ~50 MB of fresh buffers per scrape (at
 * 10,000 policies) made V8 run a full mark-compact per scrape for "external
 * memory pressure" (0.4–0.5 s each here); kept, they cost their size once.
 * A buffer in use (a scrape being sent) is not here: a concurrent render
 * allocates its own.
 */
const spareBuffers = new Map<string, Buffer>();

/** One family's lines, appended to a buffer that doubles when full. */
export class FamilyLines {
  private bytes: Buffer;
  length = 0;
  /** The family name, and its `_bucket`, `_sum` and `_count` series for a histogram. */
  readonly names: { readonly base: Uint8Array; bucket?: Uint8Array; sum?: Uint8Array; count?: Uint8Array };

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
  ) {
    this.names = { base: Buffer.from(name) };
    const spare = spareBuffers.get(name);
    spareBuffers.delete(name);
    this.bytes = spare ?? Buffer.allocUnsafe(256);
  }

  /** A series of this family: labels and extra as renderLabels() gives them. */
  add(labels: Uint8Array, value: number, extra: Uint8Array = EMPTY): void {
    this.line(this.names.base, labels, extra, value);
  }

  /** A histogram's series (this family must be of type histogram): see ExpositionWriter.histogram. */
  addHistogram(
    labels: Uint8Array,
    bounds: readonly number[],
    cumulativeCounts: ArrayLike<number>,
    sum: number,
    count: number,
  ): void {
    const names = this.names;
    names.bucket ??= Buffer.from(`${this.name}_bucket`);
    names.sum ??= Buffer.from(`${this.name}_sum`);
    names.count ??= Buffer.from(`${this.name}_count`);
    const les = boundBytes(bounds);
    for (let i = 0; i < les.length; i++) {
      this.line(names.bucket, labels, les[i] ?? EMPTY, cumulativeCounts[i] ?? 0);
    }
    this.line(names.bucket, labels, INF_BOUND, count);
    this.line(names.sum, labels, EMPTY, sum);
    this.line(names.count, labels, EMPTY, count);
  }

  /** `name{labels,extra} value\n`; extra is an already rendered pair such as `le="0.5"`. */
  private line(name: Uint8Array, labels: Uint8Array, extra: Uint8Array, value: number): void {
    // Names, labels and 24 bytes of punctuation and value (longer values are written as a string below).
    this.reserve(name.length + labels.length + extra.length + 32);
    const bytes = this.bytes;
    let at = this.length;
    bytes.set(name, at);
    at += name.length;
    if (labels.length > 0 || extra.length > 0) {
      bytes[at++] = OPEN;
      bytes.set(labels, at);
      at += labels.length;
      if (extra.length > 0) {
        if (labels.length > 0) bytes[at++] = COMMA;
        bytes.set(extra, at);
        at += extra.length;
      }
      bytes[at++] = CLOSE;
    }
    bytes[at++] = SPACE;
    at = writeNumber(bytes, at, value);
    bytes[at++] = NEWLINE;
    this.length = at;
  }

  contents(): Buffer {
    return this.bytes.subarray(0, this.length);
  }

  /** Gives the buffer back for the next render; nothing may read contents() after this. */
  release(): void {
    spareBuffers.set(this.name, this.bytes);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + extra));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }
}

/**
 * The value's exposition text at bytes[at]: integers (nearly every counter
 * and gauge) digit by digit, anything else through formatValue. Returns the
 * offset after it. The caller reserved 32 bytes; every number's text fits
 * (String(-Number.MIN_VALUE) is 9 characters, the longest doubles 24).
 */
function writeNumber(bytes: Buffer, at: number, value: number): number {
  if (Number.isSafeInteger(value)) {
    let rest = value;
    if (rest < 0) {
      bytes[at++] = MINUS;
      rest = -rest;
    }
    if (rest < 10) {
      bytes[at++] = ZERO + rest;
      return at;
    }
    let digits = 0;
    for (let probe = rest; probe > 0; probe = Math.floor(probe / 10)) digits++;
    for (let i = at + digits - 1; i >= at; i--) {
      bytes[i] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    return at + digits;
  }
  const text = formatValue(value);
  for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
  return at;
}

/** Collects metric families and renders them in one pass, each family's lines together. */
export class ExpositionWriter {
  private readonly families = new Map<string, FamilyLines>();

  /**
   * A family to add many series to without looking it up each time (the
   * per-sink families at thousands of policies). Lines of one family may
   * come from several callers: they are rendered together.
   */
  family(name: string, help: string, type: MetricType): FamilyLines {
    let family = this.families.get(name);
    if (family === undefined) {
      family = new FamilyLines(name, help, type);
      this.families.set(name, family);
    }
    return family;
  }

  /**
   * One series. `extra` holds labels that vary within a family (reason,
   * outcome): kept apart from `labels` so that both stay cached objects.
   */
  sample(
    name: string,
    help: string,
    type: "counter" | "gauge",
    labels: LabelSet,
    value: number,
    extra?: LabelSet,
  ): void {
    this.family(name, help, type).add(
      labelBytes(labels),
      value,
      extra === undefined ? EMPTY : labelBytes(extra),
    );
  }

  /** A histogram from cumulative bucket counts (the last one +Inf), their upper bounds, sum and count. */
  histogram(
    name: string,
    help: string,
    labels: LabelSet,
    bounds: readonly number[],
    cumulativeCounts: ArrayLike<number>,
    sum: number,
    count: number,
  ): void {
    this.family(name, help, "histogram").addHistogram(
      labelBytes(labels),
      bounds,
      cumulativeCounts,
      sum,
      count,
    );
  }

  /**
   * The exposition as UTF-8 parts, in order: each family's header and lines.
   * An HTTP answer writes them one after another (sendExposition) rather than
   * copying tens of MB into one buffer first, then releases them.
   */
  renderParts(): RenderedExposition {
    const parts: Buffer[] = [];
    for (const [name, family] of this.families) {
      parts.push(Buffer.from(`# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`));
      parts.push(family.contents());
    }
    const families = [...this.families.values()];
    return {
      parts,
      release: () => {
        for (const family of families) family.release();
      },
    };
  }

  render(): string {
    const rendered = this.renderParts();
    const text = Buffer.concat(rendered.parts).toString("utf8");
    rendered.release();
    return text;
  }
}

/** Rendered parts; release() once they have been sent (or copied), to reuse their buffers. */
export interface RenderedExposition {
  readonly parts: readonly Uint8Array[];
  release(): void;
}

/** What a /metrics handler renders. */
export type Exposition = string | RenderedExposition;

/** Answers a scrape (GET, or HEAD without the body) with the exposition. */
export function sendExposition(response: ServerResponse, body: Exposition, head = false): void {
  const length =
    typeof body === "string"
      ? Buffer.byteLength(body)
      : body.parts.reduce((sum, part) => sum + part.length, 0);
  response.writeHead(200, { "Content-Type": EXPOSITION_CONTENT_TYPE, "Content-Length": length });
  if (typeof body === "string") {
    response.end(head ? undefined : body);
    return;
  }
  if (head) {
    body.release();
    response.end();
    return;
  }
  // Once written to the socket, the buffers are free again. An answer cut short ('close' without
  // 'finish') may still have writes pending: its buffers are left to the garbage collector.
  response.once("finish", () => {
    body.release();
  });
  // Corked: the parts leave in as few packets as the socket takes.
  response.cork();
  for (const part of body.parts) response.write(part);
  response.end();
  response.uncork();
}
