// The two systems the loss benchmark compares, behind one interface: a
// `telex serve` child (push or pull mode) with its ExportPolicies created
// through the API, and a vmagent child. Both can be SIGKILLed and restarted
// on the same data directory and ports, and both report what they dropped
// by their own counters (summed over restarts: a new process starts at 0).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiRequest } from "../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import { startVmagent, type RunningVmagent } from "../../test-support/vmagent.js";
import { addCounts, sumMetric } from "./exposition.js";

export interface LossSystem {
  readonly name: string;
  /** Where agents push; undefined in pull mode. */
  readonly writeUrl: string | undefined;
  /** SIGKILL (the counters are read just before). */
  kill(): Promise<void>;
  /** Starts again on the same data directory and ports, and waits until it delivers. */
  restart(): Promise<void>;
  /** Samples (telex) or packets and blocks (vmagent) the system counted as dropped, by reason. */
  dropped(): Promise<Record<string, number>>;
  /** Samples (telex) or bytes (vmagent) still waiting to be sent. */
  pending(): Promise<number>;
  /** Graceful stop; removes the data directory. */
  stop(): Promise<void>;
}

export interface TelexPolicy {
  readonly project: string;
  readonly name: string;
  readonly selector: string;
  readonly endpoint: string;
  readonly batchMaxSize?: number;
  readonly retry?: { readonly maxAttempts: number; readonly backoffDuration: string };
}

export interface TelexOptions {
  readonly policies: readonly TelexPolicy[];
  /** Pull mode. */
  readonly sourceUrl?: string;
  readonly pullIntervalS?: number;
  readonly pullLagS?: number;
}

function policiesPath(project: string): string {
  return `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;
}

function manifest(policy: TelexPolicy): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: policy.name },
    spec: {
      sources: [{ name: "all", metrics: { metricsql: policy.selector } }],
      sinks: [
        {
          name: "out",
          sources: ["all"],
          target: {
            prometheusRemoteWrite: {
              endpoint: policy.endpoint,
              ...(policy.batchMaxSize === undefined ? {} : { batch: { maxSize: policy.batchMaxSize } }),
              ...(policy.retry === undefined ? {} : { retry: policy.retry }),
            },
          },
        },
      ],
    },
  };
}

interface SinkCounters {
  readonly samplesDropped: Readonly<Record<string, number>>;
  readonly samplesPending: number;
}

/** The policy's live counters from the `delivery` subresource; undefined until its pipelines run. */
async function deliveryOf(apiUrl: string, policy: TelexPolicy): Promise<SinkCounters[] | undefined> {
  const response = await apiRequest(apiUrl, "GET", `${policiesPath(policy.project)}/${policy.name}/delivery`);
  if (response.status !== 200) {
    throw new Error(
      `delivery of ${policy.project}/${policy.name}: HTTP ${response.status}: ${response.text}`,
    );
  }
  const sinks = response.json()["sinks"];
  if (!Array.isArray(sinks) || sinks.length === 0) return undefined;
  return sinks as SinkCounters[];
}

async function waitDelivering(
  apiUrl: string,
  policies: readonly TelexPolicy[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const policy of policies) {
    while ((await deliveryOf(apiUrl, policy)) === undefined) {
      if (Date.now() > deadline)
        throw new Error(`policy ${policy.project}/${policy.name} runs no sink after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

export async function startTelex(options: TelexOptions): Promise<LossSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), "telex-loss-"));
  const pullArgs =
    options.sourceUrl === undefined
      ? []
      : [
          "--source-url",
          options.sourceUrl,
          "--pull-interval",
          `${options.pullIntervalS ?? 30}s`,
          "--pull-lag",
          `${options.pullLagS ?? 60}s`,
        ];
  let serve: TelexServe;
  try {
    serve = await startTelexServe(["--api-listen", "127.0.0.1:0", "--data-dir", dataDir, ...pullArgs]);
  } catch (error: unknown) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const apiPort = portOf(serve.url);
  const ingestPort = serve.ingestUrl === undefined ? undefined : portOf(serve.ingestUrl);
  let beforeRestarts: Record<string, number> = {};

  const counters = async (): Promise<{ dropped: Record<string, number>; pending: number }> => {
    let dropped: Record<string, number> = {};
    let pending = 0;
    for (const policy of options.policies) {
      for (const sink of (await deliveryOf(serve.url, policy)) ?? []) {
        dropped = addCounts(dropped, sink.samplesDropped);
        pending += sink.samplesPending;
      }
    }
    return { dropped, pending };
  };

  try {
    for (const policy of options.policies) {
      const created = await apiRequest(serve.url, "POST", policiesPath(policy.project), {
        body: manifest(policy),
      });
      if (created.status !== 201) {
        throw new Error(`creating ${policy.project}/${policy.name}: HTTP ${created.status}: ${created.text}`);
      }
    }
    await waitDelivering(serve.url, options.policies);
  } catch (error: unknown) {
    await serve.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }

  return {
    name: "telex",
    get writeUrl() {
      return serve.ingestUrl === undefined ? undefined : `${serve.ingestUrl}/api/v1/write`;
    },
    async kill() {
      beforeRestarts = addCounts(beforeRestarts, (await counters()).dropped);
      await serve.kill();
    },
    async restart() {
      const listen = ingestPort === undefined ? [] : ["--ingest-listen", `127.0.0.1:${ingestPort}`];
      serve = await startTelexServe([
        "--api-listen",
        `127.0.0.1:${apiPort}`,
        ...listen,
        "--data-dir",
        dataDir,
        ...pullArgs,
      ]);
      await waitDelivering(serve.url, options.policies);
    },
    async dropped() {
      return addCounts(beforeRestarts, (await counters()).dropped);
    },
    async pending() {
      return (await counters()).pending;
    },
    async stop() {
      await serve.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** vmagent's own drop counters: packets it gave up on, persistent-queue blocks it discarded. */
const VMAGENT_DROPS = {
  packets: "vmagent_remotewrite_packets_dropped_total",
  queue_blocks: "vm_persistentqueue_blocks_dropped_total",
  relabel: "vmagent_remotewrite_relabel_metrics_dropped_total",
} as const;

export async function startVmagentSystem(
  remoteWriteUrl: string,
  args: readonly string[] = [],
): Promise<LossSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), "telex-loss-vmagent-"));
  const launch = (port?: number): Promise<RunningVmagent> =>
    startVmagent({
      remoteWriteUrls: [remoteWriteUrl],
      tmpDataPath: dataDir,
      args,
      ...(port === undefined ? {} : { port }),
    });
  let agent: RunningVmagent;
  try {
    agent = await launch();
  } catch (error: unknown) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = agent.port;
  let beforeRestarts: Record<string, number> = {};
  const drops = async (): Promise<Record<string, number>> => {
    const text = await agent.metrics();
    return Object.fromEntries(
      Object.entries(VMAGENT_DROPS).map(([name, metric]) => [name, sumMetric(text, metric)]),
    );
  };
  return {
    name: "vmagent",
    writeUrl: agent.writeUrl,
    async kill() {
      beforeRestarts = addCounts(beforeRestarts, await drops());
      await agent.kill();
    },
    async restart() {
      agent = await launch(port);
    },
    async dropped() {
      return addCounts(beforeRestarts, await drops());
    },
    async pending() {
      const text = await agent.metrics();
      return sumMetric(text, "vmagent_remotewrite_pending_data_bytes");
    },
    async stop() {
      await agent.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
