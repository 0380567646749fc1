// Runs a throwaway Prometheus (Debian's `prometheus` package) on 127.0.0.1
// for tests, with the remote-write receiver on, a free port and a fresh temp
// TSDB; stop() kills it by PID and removes the directory.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchPeer, onFreePort, peerAvailability, type PeerAvailability } from "./peers.js";

export const PROMETHEUS_BINARY = "prometheus";

export function prometheusAvailability(env: NodeJS.ProcessEnv = process.env): PeerAvailability {
  return peerAvailability(PROMETHEUS_BINARY, "apt-get install prometheus", env);
}

export interface PrometheusOptions {
  /** prometheus.yml contents; the default scrapes nothing. */
  readonly config?: string;
  /** More flags, e.g. --enable-feature=native-histograms,exemplar-storage. */
  readonly args?: readonly string[];
}

export interface RunningPrometheus {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** Where remote-write clients send: `${url}/api/v1/write`. */
  readonly remoteWriteUrl: string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const binary = prometheusAvailability().requirePath();
  return onFreePort(async (port) => {
    const dir = await mkdtemp(join(tmpdir(), "telex-prometheus-"));
    const configFile = join(dir, "prometheus.yml");
    await writeFile(configFile, options.config ?? "global:\n  scrape_interval: 1m\n");
    const url = `http://127.0.0.1:${port}`;
    const peer = await launchPeer({
      binary,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-remote-write-receiver",
        "--log.level=error",
        ...(options.args ?? []),
      ],
      readyUrl: `${url}/-/ready`,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    });
    return { url, remoteWriteUrl: `${url}/api/v1/write`, stop: () => peer.stop() };
  });
}

export interface RawSeries {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as text] pairs, as the HTTP API gives them. */
  readonly values: readonly [number, string][];
}

/** Raw samples of a selector over the last `rangeSeconds` before `atSeconds`, via a range-vector query. */
export async function queryRawSamples(
  prometheus: RunningPrometheus,
  selector: string,
  rangeSeconds: number,
  atSeconds: number = Date.now() / 1000,
): Promise<RawSeries[]> {
  const form = new URLSearchParams({ query: `${selector}[${rangeSeconds}s]`, time: String(atSeconds) });
  const response = await fetch(`${prometheus.url}/api/v1/query`, {
    method: "POST",
    body: form,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const parsed = JSON.parse(text) as {
    status?: string;
    data?: { resultType?: string; result?: RawSeries[] };
  };
  if (!response.ok || parsed.status !== "success" || parsed.data?.result === undefined) {
    throw new Error(`prometheus query failed: HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
  return parsed.data.result;
}

/** GET a Prometheus HTTP API path (e.g. /api/v1/query_exemplars?…) and return its `data`. */
export async function prometheusApi(prometheus: RunningPrometheus, pathAndQuery: string): Promise<unknown> {
  const response = await fetch(`${prometheus.url}${pathAndQuery}`, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  const parsed = JSON.parse(text) as { status?: string; data?: unknown };
  if (!response.ok || parsed.status !== "success") {
    throw new Error(`prometheus ${pathAndQuery} failed: HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
  return parsed.data;
}
