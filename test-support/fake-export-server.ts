// A stand-in for VictoriaMetrics' `/api/v1/export` on 127.0.0.1, for the
// failures a real store cannot be made to produce on demand: a connection
// reset half-way through a body, garbage after good lines, a stalled body.
// It follows v1.79's observed semantics: `start`/`end` are Unix seconds read
// as int64(float × 1000) and both inclusive, `max_rows_per_line` splits a
// series into consecutive lines, NaN prints as null and infinities bare. The
// order of series varies between requests, as it does in VictoriaMetrics.
import { createServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Labels } from "../src/metricsql/ast.js";
import { compileSelector, parse } from "../src/metricsql/index.js";
import { Random } from "./random.js";

export interface FakeSample {
  readonly timestampMs: number;
  readonly value: number;
}

export type ExportFault = { readonly status: number; readonly body?: string } | BodyFault;

/** Faults of a 200 answer's body. */
export type BodyFault =
  /** Sends this many lines, then destroys the connection. */
  | { readonly resetAfterLines: number }
  /** Sends this many lines, then `text`, then ends normally. */
  | { readonly garbageAfterLines: number; readonly text: string }
  /** Sends this many lines, then nothing more while keeping the connection open. */
  | { readonly stallAfterLines: number }
  /** Sends this many lines, waits pauseMs (real time), then sends the rest. */
  | { readonly pauseAfterLines: number; readonly pauseMs: number };

export interface ExportRequestRecord {
  readonly selector: string;
  readonly startMs: number;
  readonly endMs: number;
}

export interface FakeExportServer {
  readonly url: string;
  readonly requests: ExportRequestRecord[];
  /** Adds samples to a series (labels sorted by name). */
  add(labels: Labels, samples: readonly FakeSample[]): void;
  /** Faults for the next requests, one each, in order. */
  injectFaults(...faults: ExportFault[]): void;
  close(): Promise<void>;
}

interface StoredSeries {
  readonly labels: Labels;
  readonly samples: FakeSample[];
}

export interface FakeExportServerOptions {
  /** Seeds the order of series in answers. */
  readonly seed?: number;
  /** Splits series into lines of at most this many samples, whatever the request asks. */
  readonly maxRowsPerLine?: number;
}

export async function startFakeExportServer(
  options: FakeExportServerOptions = {},
): Promise<FakeExportServer> {
  const series = new Map<string, StoredSeries>();
  const faults: ExportFault[] = [];
  const requests: ExportRequestRecord[] = [];
  const sockets = new Set<Socket>();
  const random = new Random(options.seed ?? 1);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      for (const [key, value] of url.searchParams) form.append(key, value);
      if (url.pathname !== "/api/v1/export") {
        res.writeHead(404).end("not found");
        return;
      }
      const selector = form.get("match[]") ?? "";
      const startMs = Math.trunc(Number.parseFloat(form.get("start") ?? "0") * 1000);
      const endMs = Math.trunc(Number.parseFloat(form.get("end") ?? "0") * 1000);
      requests.push({ selector, startMs, endMs });
      const fault = faults.shift();
      if (fault !== undefined && "status" in fault) {
        res.writeHead(fault.status, { "content-type": "text/plain" }).end(fault.body ?? "");
        return;
      }
      let matchers;
      try {
        // Several match[]: their union, each series once (as VictoriaMetrics).
        matchers = form.getAll("match[]").map((one) => compileSelector(parse(one)));
      } catch (error: unknown) {
        res.writeHead(400).end(`cannot parse match[]: ${String(error)}`);
        return;
      }
      const maxRows = options.maxRowsPerLine ?? Number(form.get("max_rows_per_line") ?? "0");
      const lines: string[] = [];
      const matching = [...series.values()].filter((s) => matchers.some((m) => m.matches(s.labels)));
      for (const stored of random.sample(matching, matching.length)) {
        const inRange = stored.samples.filter((s) => s.timestampMs >= startMs && s.timestampMs <= endMs);
        const perLine = maxRows > 0 ? maxRows : inRange.length;
        for (let i = 0; i < inRange.length; i += perLine)
          lines.push(exportLine(stored.labels, inRange.slice(i, i + perLine)));
      }
      respond(res, lines, fault);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error("fake export server has no TCP address");

  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    add(labels, samples) {
      const key = JSON.stringify(labels);
      const stored = series.get(key) ?? { labels, samples: [] };
      stored.samples.push(...samples);
      stored.samples.sort((a, b) => a.timestampMs - b.timestampMs);
      series.set(key, stored);
    },
    injectFaults(...next) {
      faults.push(...next);
    },
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

function respond(res: ServerResponse, lines: readonly string[], fault: BodyFault | undefined): void {
  res.writeHead(200, { "content-type": "application/stream+json" });
  if (fault === undefined) {
    res.end(lines.map((line) => `${line}\n`).join(""));
    return;
  }
  const sent =
    "resetAfterLines" in fault
      ? fault.resetAfterLines
      : "garbageAfterLines" in fault
        ? fault.garbageAfterLines
        : "stallAfterLines" in fault
          ? fault.stallAfterLines
          : fault.pauseAfterLines;
  res.write(
    lines
      .slice(0, sent)
      .map((line) => `${line}\n`)
      .join(""),
  );
  if ("resetAfterLines" in fault) {
    // Let the lines leave before the connection drops.
    setTimeout(() => res.socket?.destroy(), 20);
  } else if ("garbageAfterLines" in fault) {
    res.end(fault.text);
  } else if ("pauseAfterLines" in fault) {
    setTimeout(() => {
      res.end(
        lines
          .slice(sent)
          .map((line) => `${line}\n`)
          .join(""),
      );
    }, fault.pauseMs);
  }
}

function exportLine(labels: Labels, samples: readonly FakeSample[]): string {
  const metric = JSON.stringify(Object.fromEntries(labels.map((l) => [l.name, l.value])));
  const values = samples.map((s) => formatValue(s.value)).join(",");
  const timestamps = samples.map((s) => String(s.timestampMs)).join(",");
  return `{"metric":${metric},"values":[${values}],"timestamps":[${timestamps}]}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "null";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
