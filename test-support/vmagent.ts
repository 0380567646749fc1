// Runs a throwaway vmagent (Debian's `victoria-metrics` package, v1.79) on
// 127.0.0.1 for tests and benchmarks: the reference agent Telex's delivery is
// compared with. A free port, a fresh -remoteWrite.tmpDataPath unless one is
// given (to restart on the same persistent queue after kill()), ready once
// /health answers; stop() and kill() end it by PID.
//
// 1.79's retry backoff for a failing -remoteWrite.url doubles up to one
// minute and cannot be tuned (no -remoteWrite.retryMinInterval yet), so after
// a long outage it may take up to a minute to resume sending.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchPeer, onFreePort, peerAvailability, type PeerAvailability } from "./peers.js";

export const VMAGENT_BINARY = "vmagent";

export function vmagentAvailability(env: NodeJS.ProcessEnv = process.env): PeerAvailability {
  return peerAvailability(VMAGENT_BINARY, "apt-get install victoria-metrics", env);
}

export interface VmagentOptions {
  /** One -remoteWrite.url each. */
  readonly remoteWriteUrls: readonly string[];
  /** Use this dir instead of a fresh temp one, and keep it on stop() and kill(). */
  readonly tmpDataPath?: string;
  /** Listen on this port instead of a free one, e.g. to restart where pushers already point. */
  readonly port?: number;
  /** More flags, e.g. -remoteWrite.queues=8. */
  readonly args?: readonly string[];
}

export interface RunningVmagent {
  /** e.g. http://127.0.0.1:40123: /metrics, /health. */
  readonly url: string;
  /** Where agents push: `${url}/api/v1/write`. */
  readonly writeUrl: string;
  readonly port: number;
  readonly pid: number;
  readonly tmpDataPath: string;
  /** Idempotent: SIGTERM (vmagent flushes its queues to disk), SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** SIGKILL: what is only in memory is lost. */
  kill(): Promise<void>;
  /** Its Prometheus exposition. */
  metrics(): Promise<string>;
}

export async function startVmagent(options: VmagentOptions): Promise<RunningVmagent> {
  const binary = vmagentAvailability().requirePath();
  const launch = async (port: number): Promise<RunningVmagent> => {
    const ownsDir = options.tmpDataPath === undefined;
    const dir = options.tmpDataPath ?? (await mkdtemp(join(tmpdir(), "telex-vmagent-")));
    const url = `http://127.0.0.1:${port}`;
    const peer = await launchPeer({
      binary,
      args: [
        `-httpListenAddr=127.0.0.1:${port}`,
        ...options.remoteWriteUrls.map((u) => `-remoteWrite.url=${u}`),
        `-remoteWrite.tmpDataPath=${dir}`,
        "-loggerLevel=ERROR",
        ...(options.args ?? []),
      ],
      readyUrl: `${url}/health`,
      cleanup: ownsDir ? () => rm(dir, { recursive: true, force: true }) : undefined,
    });
    return {
      url,
      writeUrl: `${url}/api/v1/write`,
      port,
      pid: peer.pid,
      tmpDataPath: dir,
      stop: () => peer.stop(),
      kill: () => peer.kill(),
      metrics: async () => {
        const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
        const text = await response.text();
        if (!response.ok) throw new Error(`vmagent /metrics: HTTP ${response.status}: ${text.slice(0, 200)}`);
        return text;
      },
    };
  };
  return options.port === undefined ? onFreePort(launch) : launch(options.port);
}
