// Runs a throwaway single-node VictoriaMetrics (Debian's `victoria-metrics`
// package) on 127.0.0.1 for tests: a free port, a fresh temp storage dir,
// ready once /health answers; stop() kills it by PID and removes the dir.
//
// Debian ships v1.79 (2022). Compared with current VictoriaMetrics it lacks:
// `or` inside braces (`m{a="1" or b="2"}`, a 422 parse error), Go ≥ 1.22
// regex syntax such as `(?<name>…)` named groups, and it reports an empty
// vm_app_version. Two matching quirks: its `.*`/`.+`/`prefix.*`/`.*suffix`
// regex shortcuts match values containing `\n`, which RE2 (and its own regex
// path, e.g. `line.break`) does not; and `a!~".*"` selects the series without
// `a` (as `a=""` would) instead of none. It accepts the unbalanced `a)|(b`
// and matches nothing with it; it rejects `{}` (422). `/health` answers
// without httpAuth.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { basicAuthHeader, launchPeer, onFreePort, peerAvailability } from "./peers.js";
import type { PeerAvailability } from "./peers.js";

export const VICTORIA_METRICS_BINARY = "victoria-metrics";

export function victoriaMetricsAvailability(env: NodeJS.ProcessEnv = process.env): PeerAvailability {
  return peerAvailability(VICTORIA_METRICS_BINARY, "apt-get install victoria-metrics", env);
}

export interface VictoriaMetricsOptions {
  /** Turns on HTTP Basic Auth for every endpoint. */
  readonly httpAuth?: { readonly username: string; readonly password: string };
  /**
   * Use this storage dir instead of a fresh temp one, and keep it on stop():
   * restarting on the same dir (and port) brings the same data back.
   */
  readonly storageDataPath?: string;
  /** Listen on this port instead of a free one, e.g. to restart where clients already point. */
  readonly port?: number;
}

export interface RunningVictoriaMetrics {
  /** e.g. http://127.0.0.1:40123, no trailing slash. */
  readonly url: string;
  /** Headers every request needs: Authorization when httpAuth is set, else none. */
  readonly headers: Readonly<Record<string, string>>;
  /** The -storageDataPath; stop() removes it unless it was given in the options. */
  readonly storageDataPath: string;
  readonly port: number;
  /** Idempotent: SIGTERM, SIGKILL after 10 s, then removes the storage dir (unless given). */
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(
  options: VictoriaMetricsOptions = {},
): Promise<RunningVictoriaMetrics> {
  const binary = victoriaMetricsAvailability().requirePath();
  const launch = async (port: number): Promise<RunningVictoriaMetrics> => {
    const ownsStorage = options.storageDataPath === undefined;
    const storageDir = options.storageDataPath ?? (await mkdtemp(join(tmpdir(), "telex-vm-")));
    const args = [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${storageDir}`,
      "-retentionPeriod=100y",
      "-loggerLevel=ERROR",
      // Tests read back what they just wrote; no response caching.
      "-search.disableCache",
    ];
    const headers: Record<string, string> = {};
    if (options.httpAuth !== undefined) {
      args.push(
        `-httpAuth.username=${options.httpAuth.username}`,
        `-httpAuth.password=${options.httpAuth.password}`,
      );
      headers["Authorization"] = basicAuthHeader(options.httpAuth.username, options.httpAuth.password);
    }
    const url = `http://127.0.0.1:${port}`;
    const peer = await launchPeer({
      binary,
      args,
      readyUrl: `${url}/health`,
      readyHeaders: headers,
      cleanup: ownsStorage ? () => rm(storageDir, { recursive: true, force: true }) : undefined,
    });
    return { url, headers, storageDataPath: storageDir, port, stop: () => peer.stop() };
  };
  return options.port === undefined ? onFreePort(launch) : launch(options.port);
}

/** Makes just-ingested samples searchable now (VictoriaMetrics buffers them for up to a second). */
export async function forceFlush(vm: RunningVictoriaMetrics): Promise<void> {
  await vmFetch(vm, "/internal/force_flush", { method: "GET" });
}

/** `/api/v1/import/prometheus`: Prometheus text exposition lines, with millisecond timestamps. */
export async function importPrometheusText(vm: RunningVictoriaMetrics, text: string): Promise<void> {
  await vmFetch(vm, "/api/v1/import/prometheus", { method: "POST", body: text });
}

export interface TimeRange {
  /** Unix seconds. */
  readonly start: number;
  readonly end: number;
}

/**
 * `/api/v1/series` for one or more selectors (the union of their series), each
 * series as a label-name → value record. Throws with VictoriaMetrics' error
 * text when it rejects a selector.
 */
export async function querySeries(
  vm: RunningVictoriaMetrics,
  selectors: readonly string[],
  range: TimeRange,
): Promise<Record<string, string>[]> {
  const form = new URLSearchParams({ start: String(range.start), end: String(range.end) });
  for (const selector of selectors) form.append("match[]", selector);
  const body = await vmFetch(vm, "/api/v1/series", { method: "POST", body: form });
  const parsed = JSON.parse(body) as { status?: unknown; data?: unknown };
  if (parsed.status !== "success" || !Array.isArray(parsed.data)) {
    throw new Error(`unexpected /api/v1/series answer: ${body.slice(0, 500)}`);
  }
  return parsed.data as Record<string, string>[];
}

async function vmFetch(vm: RunningVictoriaMetrics, path: string, init: RequestInit): Promise<string> {
  const response = await fetch(`${vm.url}${path}`, {
    ...init,
    headers: { ...vm.headers },
    signal: AbortSignal.timeout(30_000),
  });
  const body = await response.text();
  if (!response.ok) throw new VictoriaMetricsError(path, response.status, body);
  return body;
}

export class VictoriaMetricsError extends Error {
  override readonly name = "VictoriaMetricsError";
  constructor(
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export interface ExportedSeries {
  readonly metric: Record<string, string>;
  readonly values: readonly number[];
  readonly timestamps: readonly number[];
}

/** `/api/v1/export`: the raw samples of every series matching the selector in the range. */
export async function exportSamples(
  vm: RunningVictoriaMetrics,
  selector: string,
  range: TimeRange,
): Promise<ExportedSeries[]> {
  const form = new URLSearchParams({
    "match[]": selector,
    start: String(range.start),
    end: String(range.end),
  });
  const body = await vmFetch(vm, "/api/v1/export", { method: "POST", body: form });
  return body
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as ExportedSeries);
}
