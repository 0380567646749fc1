// `npm run bench -- fleet`: issue 13's figures for a fleet of replicas.
// `telex serve --api-only` holds the policies; `telex serve --join` replicas
// share them (Leases, rendezvous hashing: src/fleet). In failover and scale
// they pull from a real VictoriaMetrics (the platform's store) and deliver to
// another (the customers'); in ingest agents push to them and they forward
// each series to its policy's owner. Every process is a child; every temp
// dir is removed.
//
//   failover  three replicas, FLEET_FAILOVER_POLICIES (60) in
//             FLEET_FAILOVER_PROJECTS (20) projects, each selecting its own
//             metric; a writer imports one sample per series every 500 ms.
//             One replica is SIGKILLed with the default lease (15 s):
//             time until the survivors own every policy, time until every
//             policy of the killed replica delivered a sample written after
//             the kill, and samples lost (every sample written from the
//             steady state to the end must be at the customers' store).
//   scale     three replicas started together over FLEET_POLICIES (10,000)
//             in FLEET_PROJECTS (100) projects, one series per policy in the
//             store (written every FLEET_SCALE_WRITE_S, 10 s), read every
//             FLEET_SCALE_PULL_INTERVAL_S (30 s, the default): time until
//             every policy is owned and every one is Ready; then FLEET_REST_S
//             (60 s) at rest: API writes per second by the fleet, from the
//             replicas' counters and from the API's resourceVersion; RSS and
//             CPU of each replica.
//   ingest    push mode, 1, then 2, then 3 replicas (FLEET_INGEST_REPLICAS,
//             1,2,3), each count a fresh API, fleet and receiver: one `{}`
//             policy in each of 50 projects, its sink (batch 5,000, 1 s, as
//             bench/ingest.ts) to a counting receiver in this process. The
//             policies are split evenly (re-created until rendezvous gives no
//             replica more than ⌈50/n⌉), every sink runs on its owner, a
//             warm-up sends every body to every replica, every policy is
//             Ready. Load: bench/ingest-workload.ts's platform series (10,000
//             of 11 labels, 200 in each project, interleaved so each request
//             of 1,000 holds 20 of every project), 4 writers
//             (bench/loss/pushers.ts), fresh timestamps (re-encoded every
//             10 s). First FLEET_INGEST_SAMPLES (2 M) spread round-robin over
//             the replicas, as a Service would; then, with 2 or 3 replicas,
//             FLEET_INGEST_DIRECT_SAMPLES (1 M) each sent to the replica that
//             runs its series: the same processes without the hop. Per push:
//             accepted and delivered samples/s, CPU-seconds per million input
//             samples summed over the replicas (/proc), the share forwarded,
//             acknowledged against received; per count the peak RSS of each
//             replica; and the hop's CPU per million forwarded samples, against
//             the single replica and against the same replicas unforwarded.
//             FLEET_INGEST_BUFFER=memory runs the replicas with
//             --buffer memory (default: disk, telex serve's);
//             FLEET_INGEST_CPU_PROF=<dir> runs them under --cpu-prof into it.
//             About 3 min on 2 cores shared with other work.
//
// Knobs (env): the above, FLEET_PARTS (failover,scale,ingest),
// FLEET_SCALE_TIMEOUT_S (600). A quick run: FLEET_POLICIES=600 FLEET_REST_S=20.
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { Informer, KubeClient, type KubeObject } from "../src/kube/index.js";
import { rendezvousOwner } from "../src/fleet/index.js";
import { silentLogger, systemClock } from "../src/util/index.js";
import { startCountingReceiver, type CountingReceiver } from "../test-support/counting-receiver.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { apiRequest } from "../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../test-support/victoriametrics.js";
import { benchRequests, benchSeries } from "./ingest-workload.js";
import { pushFullSpeed, type PushTally } from "./loss/pushers.js";

const TOKEN = "platform-token-of-the-fleet-bench";
const GROUP_PATH = "/apis/telemetry.miloapis.com/v1alpha1";
const projectPlane = (project: string): string =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane`;
const POLICIES_IN = (project: string): string =>
  `${projectPlane(project)}${GROUP_PATH}/namespaces/default/exportpolicies`;
const ALL_POLICIES = `${projectPlane("-")}${GROUP_PATH}/exportpolicies`;
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases";
const CREATE_CONCURRENCY = 16;
const INGEST_TOKEN = "ingest-token-of-the-fleet-bench";
const INGEST_PROJECTS = 50;
const INGEST_SERIES_PER_PROJECT = 200;
const INGEST_SERIES_PER_REQUEST = 1000;
const INGEST_WRITERS = 4;
const INGEST_REPLICAS = ["replica-a", "replica-b", "replica-c"] as const;
const FAILOVER_WRITE_EVERY_MS = 500;
const FAILOVER_PULL = ["--pull-interval", "1s", "--pull-lag", "2s"] as const;
const FAILOVER_LAG_MS = 2000;
/** The API writes the fleet makes, by counter (summed over label sets). */
const WRITE_COUNTERS = [
  "telex_controller_status_writes_total",
  "telex_pull_position_writes_total",
  "telex_replica_lease_renewals_total",
] as const;

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: ${raw} is not a positive number`);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const n = (value: number): string => Math.round(value).toLocaleString("en-US");
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const line = (text: string): void => {
  console.log(`  ${text}`);
};
const progress = (text: string): void => {
  console.log(`  … ${text}`);
};

/** Per metric name, the sum over its label sets; with `bySeries`, each labelled series too (`name{…}`). */
async function scrape(replica: TelexServe, bySeries = false): Promise<Map<string, number>> {
  const response = await fetch(`${replica.metricsUrl ?? ""}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200)
    throw new Error(`${replica.metricsUrl ?? ""}/metrics: HTTP ${response.status}`);
  const sums = new Map<string, number>();
  for (const row of (await response.text()).split("\n")) {
    if (row === "" || row.startsWith("#")) continue;
    const name = row.slice(0, row.search(/[{ ]/));
    const value = Number(row.slice(row.lastIndexOf(" ") + 1));
    sums.set(name, (sums.get(name) ?? 0) + value);
    if (bySeries && row[name.length] === "{") sums.set(row.slice(0, row.lastIndexOf(" ")), value);
  }
  return sums;
}

async function procStatus(
  pid: number | undefined,
): Promise<{ rssBytes: number; peakRssBytes: number; cpuSeconds: number }> {
  if (pid === undefined) return { rssBytes: 0, peakRssBytes: 0, cpuSeconds: 0 };
  const [status, stat] = await Promise.all([
    readFile(`/proc/${pid}/status`, "utf8"),
    readFile(`/proc/${pid}/stat`, "utf8"),
  ]);
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  const peakKb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th (clock ticks).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return {
    rssBytes: kb === undefined ? 0 : Number(kb) * 1024,
    peakRssBytes: peakKb === undefined ? 0 : Number(peakKb) * 1024,
    cpuSeconds: ticks / 100,
  };
}

interface PolicyRef {
  readonly project: string;
  readonly metric: string;
  readonly uid: string;
}

const seriesKey = (project: string, metric: string): string => `${project}/${metric}`;

interface PolicyStatus extends KubeObject {
  readonly status?: { readonly conditions?: readonly { type: string; status: string }[] };
}

/** The tokens files of `dir`, then `telex serve --api-only` on them, its quotas room for `perProject`. */
async function startApi(dir: string, perProject: number): Promise<TelexServe> {
  await writeFile(join(dir, "replica.token"), `${TOKEN}\n`);
  await writeFile(
    join(dir, "tokens.yaml"),
    stringify({ tokens: [{ token: TOKEN, user: "telex-fleet", projects: ["*"], role: "admin" }] }),
  );
  const quota = String(Math.max(100, perProject));
  const quota2 = String(Math.max(200, perProject));
  return startTelexServe([
    "--api-only",
    "--api-listen",
    "127.0.0.1:0",
    "--tokens-file",
    join(dir, "tokens.yaml"),
    "--data-dir",
    join(dir, "api"),
    "--max-policies-per-project",
    quota,
    "--max-sinks-per-project",
    quota2,
    "--max-sources-per-project",
    quota2,
    "--max-events-per-project",
    String(Math.max(1000, perProject * 10)),
  ]);
}

/** The API's global resourceVersion: one per committed write, whoever made it. */
async function resourceVersionOf(apiUrl: string): Promise<number> {
  const response = await apiRequest(apiUrl, "GET", LEASES, { token: TOKEN });
  if (response.status !== 200) throw new Error(`GET leases: HTTP ${response.status}: ${response.text}`);
  const meta = response.json()["metadata"] as { resourceVersion?: string } | undefined;
  return Number(meta?.resourceVersion ?? NaN);
}

/** Creates one ExportPolicy in the project; its uid. */
async function createPolicy(
  apiUrl: string,
  project: string,
  manifest: Record<string, unknown>,
): Promise<string> {
  const created = await apiRequest(apiUrl, "POST", POLICIES_IN(project), { token: TOKEN, body: manifest });
  const name = (manifest["metadata"] as { name?: string } | undefined)?.name ?? "?";
  if (created.status !== 201)
    throw new Error(`creating ${project}/${name}: HTTP ${created.status}: ${created.text}`);
  return (created.json()["metadata"] as { uid?: string } | undefined)?.uid ?? "";
}

/** `fn` for every item, CREATE_CONCURRENCY at once. */
async function inParallel<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item === undefined) return;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
}

/** The API, the two stores and the replicas of one part; stop() ends every process and removes the dir. */
class Fleet {
  readonly replicas = new Map<string, TelexServe>();
  private writer: Promise<void> | undefined;
  private stopWriting = false;
  /** Timestamps the writer imported, the same for every series. */
  readonly written: number[] = [];

  /** Interrupted (Ctrl-C): every child is SIGKILLed by its own exit hook; this removes the dirs. */
  private readonly removeOnExit = (): void => {
    for (const path of [this.dir, this.store.storageDataPath, this.customers.storageDataPath])
      rmSync(path, { recursive: true, force: true, maxRetries: 3 });
  };

  private constructor(
    readonly dir: string,
    readonly api: TelexServe,
    readonly store: RunningVictoriaMetrics,
    readonly customers: RunningVictoriaMetrics,
  ) {
    process.once("exit", this.removeOnExit);
  }

  static async start(tag: string, perProject: number): Promise<Fleet> {
    const dir = await mkdtemp(join(tmpdir(), `telex-bench-fleet-${tag}-`));
    const started: { api?: TelexServe; store?: RunningVictoriaMetrics; customers?: RunningVictoriaMetrics } =
      {};
    try {
      await Promise.all([
        startApi(dir, perProject).then((api) => (started.api = api)),
        startVictoriaMetrics().then((vm) => (started.store = vm)),
        startVictoriaMetrics().then((vm) => (started.customers = vm)),
      ]);
      const { api, store, customers } = started;
      if (api === undefined || store === undefined || customers === undefined) throw new Error("unreachable");
      return new Fleet(dir, api, store, customers);
    } catch (error) {
      await started.api?.stop();
      await Promise.all([started.store?.stop(), started.customers?.stop()]);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Creates `perProject` policies in each project, each selecting its own metric; CREATE_CONCURRENCY at once. */
  async createPolicies(
    projects: readonly string[],
    perProject: number,
    prefix: string,
  ): Promise<PolicyRef[]> {
    const todo = projects.flatMap((project) =>
      Array.from({ length: perProject }, (_, k) => ({ project, metric: `${prefix}_${k}`, name: `p${k}` })),
    );
    const made: PolicyRef[] = [];
    await inParallel(todo, async (item) => {
      const uid = await createPolicy(this.api.url, item.project, {
        apiVersion: "telemetry.miloapis.com/v1alpha1",
        kind: "ExportPolicy",
        metadata: { name: item.name },
        spec: {
          sources: [{ name: "m", metrics: { metricsql: `{__name__="${item.metric}"}` } }],
          sinks: [
            {
              name: "customer",
              sources: ["m"],
              target: {
                prometheusRemoteWrite: {
                  endpoint: `${this.customers.url}/api/v1/write`,
                  batch: { timeout: "200ms" },
                  retry: { maxAttempts: 2, backoffDuration: "200ms" },
                },
              },
            },
          ],
        },
      });
      made.push({ project: item.project, metric: item.metric, uid });
    });
    return made;
  }

  /** Imports one sample (value 1) of every policy's series every `everyMs`, until stopWriter(). */
  startWriter(policies: readonly PolicyRef[], everyMs: number): void {
    this.writer = (async () => {
      while (!this.stopWriting) {
        const at = Date.now();
        const text = policies.map((p) => `${p.metric}{${TENANT_LABEL}="${p.project}"} 1 ${at}\n`).join("");
        await importPrometheusText(this.store, text);
        this.written.push(at);
        await sleep(at + everyMs - Date.now());
      }
    })();
  }

  async stopWriter(): Promise<void> {
    this.stopWriting = true;
    await this.writer;
  }

  async startReplica(name: string, pull: readonly string[]): Promise<TelexServe> {
    const replica = await startTelexServe(
      [
        "--join",
        this.api.url,
        "--token-file",
        join(this.dir, "replica.token"),
        "--replica-name",
        name,
        "--data-dir",
        join(this.dir, name),
        "--source-url",
        this.store.url,
        ...pull,
        "--endpoint-allow",
        "127.0.0.0/8",
      ],
      60_000,
    );
    this.replicas.set(name, replica);
    return replica;
  }

  /** Per replica, its metrics (replicas that do not answer are left out). */
  async scrapeAll(): Promise<Map<string, Map<string, number>>> {
    const rows = await Promise.all(
      [...this.replicas].map(async ([name, replica]) => {
        try {
          return [name, await scrape(replica)] as const;
        } catch {
          return undefined;
        }
      }),
    );
    return new Map(rows.filter((row) => row !== undefined));
  }

  /** The API's global resourceVersion: one per committed write, whoever made it. */
  async resourceVersion(): Promise<number> {
    return resourceVersionOf(this.api.url);
  }

  async leaseRenewTime(name: string): Promise<number> {
    const response = await apiRequest(this.api.url, "GET", `${LEASES}/${name}`, { token: TOKEN });
    const spec = response.json()["spec"] as { renewTime?: string } | undefined;
    return Date.parse(spec?.renewTime ?? "");
  }

  async stop(): Promise<void> {
    process.removeListener("exit", this.removeOnExit);
    await this.stopWriter().catch(() => undefined);
    await Promise.all([...this.replicas.values()].map((r) => r.stop().catch(() => r.kill())));
    await this.api.stop().catch(() => this.api.kill());
    await Promise.all([this.store.stop(), this.customers.stop()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The API, a counting receiver (in this process) and the push replicas of one
 * ingest run; stop() ends every process, closes the receiver and removes the dir.
 */
class PushFleet {
  readonly replicas = new Map<string, TelexServe>();

  /** Interrupted (Ctrl-C): every child is SIGKILLed by its own exit hook; this removes the dir. */
  private readonly removeOnExit = (): void => {
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  };

  private constructor(
    readonly dir: string,
    readonly api: TelexServe,
    readonly receiver: CountingReceiver,
  ) {
    process.once("exit", this.removeOnExit);
  }

  static async start(tag: string): Promise<PushFleet> {
    const dir = await mkdtemp(join(tmpdir(), `telex-bench-fleet-${tag}-`));
    const started: { api?: TelexServe; receiver?: CountingReceiver } = {};
    try {
      await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
      await Promise.all([
        startApi(dir, 1).then((api) => (started.api = api)),
        startCountingReceiver().then((receiver) => (started.receiver = receiver)),
      ]);
      const { api, receiver } = started;
      if (api === undefined || receiver === undefined) throw new Error("unreachable");
      return new PushFleet(dir, api, receiver);
    } catch (error) {
      await started.api?.stop();
      await started.receiver?.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The policies made so far (ingest: one per project). */
  readonly policies: { project: string; name: string; uid: string }[] = [];

  /** One policy selecting `{}` in the project, its sink to the receiver (bench/ingest.ts's batch). */
  private async createAll(project: string, name: string): Promise<void> {
    const uid = await createPolicy(this.api.url, project, {
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      kind: "ExportPolicy",
      metadata: { name },
      spec: {
        sources: [{ name: "all", metrics: { metricsql: "{}" } }],
        sinks: [
          {
            name: "out",
            sources: ["all"],
            target: {
              prometheusRemoteWrite: {
                endpoint: this.receiver.writeUrl,
                batch: { maxSize: 5000, timeout: "1s" },
              },
            },
          },
        ],
      },
    });
    this.policies.push({ project, name, uid });
  }

  async createPolicies(projects: readonly string[]): Promise<void> {
    await inParallel(projects, (project) => this.createAll(project, "all"));
  }

  /**
   * Before any replica runs (no finalizers yet): re-creates policies, each with a new uid, until
   * rendezvous hashing over `names` gives no replica more than ⌈N/n⌉ — with 50 policies chance
   * alone gives splits like 21/20/9, which a fleet of thousands does not see. How many were made again.
   */
  async balance(names: readonly string[]): Promise<number> {
    const most = Math.ceil(this.policies.length / names.length);
    for (let again = 0; again < 1000; again++) {
      const owned = new Map(names.map((name) => [name, [] as (typeof this.policies)[number][]]));
      for (const policy of this.policies) owned.get(rendezvousOwner(policy.uid, names) ?? "")?.push(policy);
      const over = [...owned.values()].find((list) => list.length > most)?.[0];
      if (over === undefined) return again;
      const deleted = await apiRequest(this.api.url, "DELETE", `${POLICIES_IN(over.project)}/${over.name}`, {
        token: TOKEN,
      });
      if (deleted.status !== 200 && deleted.status !== 202)
        throw new Error(`deleting ${over.project}/${over.name}: HTTP ${deleted.status}: ${deleted.text}`);
      this.policies.splice(this.policies.indexOf(over), 1);
      await this.createAll(over.project, `all-${again + 1}`);
    }
    throw new Error(`no even split of ${this.policies.length} policies over ${names.length} replicas`);
  }

  /** Starts the replicas side by side; any that failed fails the run (the others are stopped by stop()). */
  async startReplicas(names: readonly string[], extra: readonly string[]): Promise<void> {
    const profileDir = process.env["FLEET_INGEST_CPU_PROF"];
    const results = await Promise.allSettled(
      names.map(async (name) => {
        const replica = await startTelexServe(
          [
            "--join",
            this.api.url,
            "--token-file",
            join(this.dir, "replica.token"),
            "--replica-name",
            name,
            "--data-dir",
            join(this.dir, name),
            "--ingest-token-file",
            join(this.dir, "ingest.token"),
            "--status-interval",
            "1s",
            "--endpoint-allow",
            "127.0.0.0/8",
            ...extra,
          ],
          60_000,
          { nodeArgs: profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] },
        );
        this.replicas.set(name, replica);
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /** Per replica, its metrics with each labelled series (replicas that do not answer are left out). */
  async scrapeAll(): Promise<Map<string, Map<string, number>>> {
    const rows = await Promise.all(
      [...this.replicas].map(async ([name, replica]) => {
        try {
          return [name, await scrape(replica, true)] as const;
        } catch {
          return undefined;
        }
      }),
    );
    return new Map(rows.filter((row) => row !== undefined));
  }

  /** ExportPolicies with Ready=True, from one GET of the cross-project list; the conditions of one that is not. */
  async readiness(): Promise<{ readonly ready: number; readonly notReady: string }> {
    const listed = await apiRequest(this.api.url, "GET", ALL_POLICIES, { token: TOKEN });
    if (listed.status !== 200) throw new Error(`GET policies: HTTP ${listed.status}: ${listed.text}`);
    const items = (listed.json()["items"] ?? []) as PolicyStatus[];
    const isReady = (p: PolicyStatus): boolean =>
      (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
    const waiting = items.find((p) => !isReady(p));
    return {
      ready: items.filter(isReady).length,
      notReady: waiting === undefined ? "" : JSON.stringify(waiting.status ?? {}),
    };
  }

  async stop(): Promise<void> {
    process.removeListener("exit", this.removeOnExit);
    await Promise.all([...this.replicas.values()].map((r) => r.stop().catch(() => r.kill())));
    await this.api.stop().catch(() => this.api.kill());
    await this.receiver.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

const sum = (values: Iterable<number>): number => {
  let total = 0;
  for (const v of values) total += v;
  return total;
};

const metricOf = (scraped: Map<string, Map<string, number>>, name: string): Map<string, number> =>
  new Map([...scraped].map(([replica, sums]) => [replica, sums.get(name) ?? 0]));

/** Per series (project/metric), the timestamps the customers' store holds for metrics with the prefix. */
async function heldAtCustomers(
  fleet: Fleet,
  prefix: string,
  fromMs: number,
): Promise<Map<string, readonly number[]>> {
  await forceFlush(fleet.customers);
  const rows = await exportSamples(fleet.customers, `{__name__=~"${prefix}_.*"}`, {
    start: Math.floor(fromMs / 1000) - 1,
    end: Math.ceil(Date.now() / 1000) + 5,
  });
  const held = new Map<string, number[]>();
  for (const row of rows) {
    const key = seriesKey(row.metric[TENANT_LABEL] ?? "", row.metric["__name__"] ?? "");
    const list = held.get(key) ?? [];
    list.push(...row.timestamps);
    held.set(key, list);
  }
  return held;
}

/** Events of every project created in [fromMs, toMs] (whole seconds, as they are stamped), by reason. */
async function eventsBetween(fleet: Fleet, fromMs: number, toMs: number): Promise<Map<string, number>> {
  const listed = await apiRequest(fleet.api.url, "GET", `${projectPlane("-")}/api/v1/events`, {
    token: TOKEN,
  });
  if (listed.status !== 200)
    throw new Error(`GET events: HTTP ${listed.status}: ${listed.text.slice(0, 300)}`);
  const items = (listed.json()["items"] ?? []) as {
    metadata?: { creationTimestamp?: string };
    reason?: string;
  }[];
  const byReason = new Map<string, number>();
  for (const event of items) {
    const at = Date.parse(event.metadata?.creationTimestamp ?? "");
    if (at < Math.floor(fromMs / 1000) * 1000 || at > toMs) continue;
    const reason = event.reason ?? "?";
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  return byReason;
}

/** Requests the store has answered on /api/v1/export (VictoriaMetrics' own counter). */
async function exportRequests(vm: RunningVictoriaMetrics): Promise<number> {
  const text = await (await fetch(`${vm.url}/metrics`)).text();
  const row = text.split("\n").find((r) => r.startsWith('vm_http_requests_total{path="/api/v1/export"}'));
  return row === undefined ? 0 : Number(row.slice(row.lastIndexOf(" ") + 1));
}

async function runFailover(): Promise<void> {
  const total = knob("FLEET_FAILOVER_POLICIES", 60);
  const projectCount = knob("FLEET_FAILOVER_PROJECTS", 20);
  const perProject = Math.ceil(total / projectCount);
  const projects = Array.from({ length: projectCount }, (_, i) => `fleet-${String(i).padStart(2, "0")}`);
  const prefix = "fleet_bench_failover";
  console.log(
    `\n## fleet failover: 3 replicas (pull, interval 1 s, lag 2 s), ${n(projectCount * perProject)} policies in ${n(projectCount)} projects, default lease (15 s), one sample per series every ${FAILOVER_WRITE_EVERY_MS} ms; SIGKILL of one replica`,
  );
  const fleet = await Fleet.start("failover", perProject);
  try {
    const policies = await fleet.createPolicies(projects, perProject, prefix);
    const N = policies.length;
    fleet.startWriter(policies, FAILOVER_WRITE_EVERY_MS);
    const names = ["replica-a", "replica-b", "replica-c"];
    for (const name of names) await fleet.startReplica(name, FAILOVER_PULL);
    const sharedBy = Date.now() + 60_000;
    let shares = new Map<string, number>();
    for (;;) {
      const scraped = await fleet.scrapeAll();
      shares = metricOf(scraped, "telex_replica_policies");
      const members = metricOf(scraped, "telex_replica_members");
      if (sum(shares.values()) === N && [...members.values()].every((m) => m === 3) && members.size === 3)
        break;
      if (Date.now() > sharedBy) throw new Error(`the fleet did not share ${N} policies within 60 s`);
      await sleep(250);
    }
    const steadyAt = Date.now();
    line(`shares: ${[...shares].map(([name, count]) => `${name} ${count}`).join(", ")}`);
    // Every series flows before the kill.
    const flowingBy = Date.now() + 60_000;
    for (;;) {
      const held = await heldAtCustomers(fleet, prefix, steadyAt);
      const flowing = policies.filter((p) =>
        (held.get(seriesKey(p.project, p.metric)) ?? []).some((t) => t >= steadyAt),
      ).length;
      if (flowing === N) break;
      if (Date.now() > flowingBy) throw new Error(`only ${flowing} of ${N} series delivered within 60 s`);
      await sleep(500);
    }
    progress(
      `every series delivered ${s(Date.now() - steadyAt)} after the shares settled; 10 s more, then the kill`,
    );
    const exportsBefore = await exportRequests(fleet.store);
    const exportsFrom = Date.now();
    await sleep(10_000);
    const exportRate =
      ((await exportRequests(fleet.store)) - exportsBefore) / ((Date.now() - exportsFrom) / 1000);
    line(
      `pull cadence: the store answered ${exportRate.toFixed(1)} /api/v1/export requests/s for ${N} jobs at --pull-interval 1s (one per job every ${(N / exportRate).toFixed(1)} s)`,
    );

    const victimName = "replica-b";
    const victim = fleet.replicas.get(victimName);
    if (victim === undefined) throw new Error("unreachable");
    const victims = policies.filter((p) => rendezvousOwner(p.uid, names) === victimName);
    const survivorsOwn = policies.filter((p) => rendezvousOwner(p.uid, names) !== victimName);
    const renewedAt = await fleet.leaseRenewTime(victimName);
    const killedAt = Date.now();
    await victim.kill();
    fleet.replicas.delete(victimName);
    progress(
      `SIGKILL ${victimName} (${victims.length} policies by rendezvous, its gauge said ${shares.get(victimName) ?? 0}); its Lease was last renewed ${s(killedAt - renewedAt)} before`,
    );

    let ownedAt: number | undefined;
    /** Per series: when the customers' store was first seen holding a sample written after the kill. */
    const firstAfterKill = new Map<string, number>();
    const watchedBy = killedAt + 120_000;
    while (ownedAt === undefined || firstAfterKill.size < N) {
      const now = Date.now();
      if (now > watchedBy) break;
      if (ownedAt === undefined) {
        const owned = sum(metricOf(await fleet.scrapeAll(), "telex_replica_policies").values());
        if (owned === N) ownedAt = Date.now();
      }
      const held = await heldAtCustomers(fleet, prefix, killedAt);
      const seenAt = Date.now();
      for (const p of policies) {
        const key = seriesKey(p.project, p.metric);
        if (firstAfterKill.has(key)) continue;
        if ((held.get(key) ?? []).some((t) => t > killedAt)) firstAfterKill.set(key, seenAt);
      }
      await sleep(now + 250 - Date.now());
    }
    const worst = (list: readonly PolicyRef[]): string => {
      const times = list.map((p) => firstAfterKill.get(seriesKey(p.project, p.metric)));
      const missing = times.filter((t) => t === undefined).length;
      if (missing > 0) return `${missing} of ${list.length} never within 120 s`;
      return `${s(Math.max(...times.map((t) => (t ?? 0) - killedAt)))} (all ${list.length})`;
    };
    line(
      `SIGKILL → survivors own all ${N} (sum of telex_replica_policies): ${ownedAt === undefined ? "not within 120 s" : s(ownedAt - killedAt)}`,
    );
    line(
      `SIGKILL → every policy of the killed replica delivered a sample written after the kill: ${worst(victims)}`,
    );
    line(
      `  for comparison, the survivors' own policies (pull lag 2 s, interval 1 s, positions flushed every 5 s): ${worst(survivorsOwn)}`,
    );

    await sleep(10_000);
    await fleet.stopWriter();
    const lastWrite = fleet.written[fleet.written.length - 1] ?? 0;
    const expected = fleet.written.filter((t) => t >= steadyAt);
    progress(`writes stopped; waiting for the last ones to pass the pull lag and be delivered`);
    await sleep(FAILOVER_LAG_MS + 8_000);
    let missing = 0;
    let missingOfVictims = 0;
    let duplicates = 0;
    const checkedBy = Date.now() + 60_000;
    for (;;) {
      const held = await heldAtCustomers(fleet, prefix, steadyAt);
      missing = missingOfVictims = duplicates = 0;
      for (const p of policies) {
        const timestamps = held.get(seriesKey(p.project, p.metric)) ?? [];
        const got = new Set(timestamps);
        duplicates += timestamps.filter((t) => t >= steadyAt && t <= lastWrite).length;
        const absent = expected.filter((t) => !got.has(t)).length;
        missing += absent;
        if (victims.includes(p)) missingOfVictims += absent;
      }
      duplicates -= expected.length * N - missing;
      if (missing === 0 || Date.now() > checkedBy) break;
      await sleep(2_000);
    }
    line(
      `lost: ${n(missing)} of ${n(expected.length * N)} samples written from the steady state to the end (${n(expected.length)} writes × ${N} series; ${n(missingOfVictims)} of the missing in the killed replica's series)`,
    );
    line(`held twice at the customers' store (re-sent; harmless): ${n(duplicates)}`);
  } finally {
    await fleet.stop();
  }
}

async function runScale(): Promise<void> {
  const wanted = knob("FLEET_POLICIES", 10_000);
  const projectCount = knob("FLEET_PROJECTS", 100);
  const restMs = knob("FLEET_REST_S", 60) * 1000;
  const timeoutMs = knob("FLEET_SCALE_TIMEOUT_S", 600) * 1000;
  const intervalS = knob("FLEET_SCALE_PULL_INTERVAL_S", 30);
  const writeEveryMs = knob("FLEET_SCALE_WRITE_S", 10) * 1000;
  const perProject = Math.ceil(wanted / projectCount);
  const projects = Array.from({ length: projectCount }, (_, i) => `scale-${String(i).padStart(3, "0")}`);
  const prefix = "fleet_bench_scale";
  const pull = ["--pull-interval", `${intervalS}s`, "--pull-lag", "2s"];
  console.log(
    `\n## fleet scale: 3 replicas (pull, interval ${intervalS} s, lag 2 s) × ${n(projectCount * perProject)} policies in ${n(projectCount)} projects, one series each written every ${writeEveryMs / 1000} s; then ${restMs / 1000} s at rest`,
  );
  const fleet = await Fleet.start("scale", perProject);
  const client = new KubeClient({
    server: fleet.api.url,
    tls: { rejectUnauthorized: true },
    authorization: () => `Bearer ${TOKEN}`,
  });
  // The cross-project list, then watched: re-listing 10,000 objects every second would cost
  // the API more than the fleet's own work.
  const ready = new Set<string>();
  let policyUpdates = 0;
  const informer = new Informer<PolicyStatus>({
    client,
    path: ALL_POLICIES,
    keyOf: (p) => p.metadata.uid ?? "",
    clock: systemClock,
    logger: silentLogger,
    handlers: {
      onUpsert: (key, p) => {
        policyUpdates++;
        if ((p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"))
          ready.add(key);
        else ready.delete(key);
      },
      onDelete: (key) => {
        ready.delete(key);
      },
    },
  });
  try {
    const createStart = Date.now();
    const policies = await fleet.createPolicies(projects, perProject, prefix);
    const N = policies.length;
    const createMs = Date.now() - createStart;
    line(
      `created ${n(N)} policies through the API: ${s(createMs)} (${n((N * 1000) / createMs)}/s, ${CREATE_CONCURRENCY} clients)`,
    );
    fleet.startWriter(policies, writeEveryMs);
    informer.start();
    await informer.waitForSync();

    const names = ["replica-a", "replica-b", "replica-c"];
    const rvAtStart = await fleet.resourceVersion();
    const startedAt = Date.now();
    await Promise.all(names.map((name) => fleet.startReplica(name, pull)));
    progress(`3 replicas listening ${s(Date.now() - startedAt)} after their start`);
    // Each replica's /metrics grows with its sinks (megabytes at thousands of policies): it is read
    // every second only until the policies are owned, then every 10 s for the progress lines; Ready
    // comes from the watch.
    let ownedAt: number | undefined;
    let readyAt: number | undefined;
    let scrapedAt = 0;
    let shares = new Map<string, number>();
    for (;;) {
      const now = Date.now();
      if (ownedAt === undefined || now - scrapedAt >= 10_000) {
        scrapedAt = now;
        const scraped = await fleet.scrapeAll();
        shares = metricOf(scraped, "telex_replica_policies");
        const members = metricOf(scraped, "telex_replica_members");
        const owned = sum(shares.values());
        if (ownedAt === undefined && owned === N && [...members.values()].every((m) => m === 3))
          ownedAt = Date.now();
        const queued = sum(metricOf(scraped, "telex_controller_queue_length").values());
        if (ownedAt !== undefined)
          progress(
            `${s(Date.now() - startedAt)}: owned ${n(owned)} (${[...shares.values()].join("/")}), Ready ${n(ready.size)} of ${n(N)}, reconciles queued ${n(queued)}`,
          );
      }
      if (readyAt === undefined && ready.size === N) readyAt = Date.now();
      if (ownedAt !== undefined && readyAt !== undefined) break;
      if (Date.now() - startedAt > timeoutMs) break;
      await sleep(ownedAt === undefined ? 1000 : 250);
    }
    line(`shares: ${[...shares].map(([name, count]) => `${name} ${n(count)}`).join(", ")}`);
    line(
      `start → all ${n(N)} owned (sum of telex_replica_policies, 3 members each): ${ownedAt === undefined ? `not within ${s(timeoutMs)}` : s(ownedAt - startedAt)}`,
    );
    line(
      `start → all ${n(N)} Ready=True (watched on the cross-project list): ${readyAt === undefined ? `not within ${s(timeoutMs)} (${n(ready.size)} Ready)` : s(readyAt - startedAt)}`,
    );
    const rvAtReady = await fleet.resourceVersion();
    const convergedS = ((readyAt ?? Date.now()) - startedAt) / 1000;
    line(
      `API writes from the start until then (resourceVersion): ${n(rvAtReady - rvAtStart)}, ${n((rvAtReady - rvAtStart) / convergedS)}/s; ${((rvAtReady - rvAtStart) / N).toFixed(1)} a policy`,
    );
    const cpuUntilReady = await Promise.all(
      [["API", fleet.api] as const, ...fleet.replicas].map(
        async ([name, serve]) => `${name} ${(await procStatus(serve.child.pid)).cpuSeconds.toFixed(0)}`,
      ),
    );
    line(
      `CPU-seconds each process used until then: ${cpuUntilReady.join(", ")} (the API's include the creates)`,
    );
    // One plain poll of the list, as a client would check it.
    const listed = await apiRequest(fleet.api.url, "GET", ALL_POLICIES, { token: TOKEN });
    const items = (listed.json()["items"] ?? []) as PolicyStatus[];
    const readyListed = items.filter((p) =>
      (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
    line(`GET of the cross-project list: ${n(readyListed)} of ${n(items.length)} Ready=True`);

    // At rest: the queues empty, then the window. Each figure over its own measured interval.
    const quietBy = Date.now() + 60_000;
    while (sum(metricOf(await fleet.scrapeAll(), "telex_controller_queue_length").values()) > 0) {
      if (Date.now() > quietBy) break;
      await sleep(5000);
    }
    const pids = new Map([...fleet.replicas].map(([name, r]) => [name, r.child.pid]));
    const cpuOf = async (): Promise<Map<string, number>> =>
      new Map(
        await Promise.all(
          [...pids].map(async ([name, pid]) => [name, (await procStatus(pid)).cpuSeconds] as const),
        ),
      );
    const beforeAt = Date.now();
    const before = await fleet.scrapeAll();
    const rvBefore = await fleet.resourceVersion();
    const rvBeforeAt = Date.now();
    const cpuBefore = await cpuOf();
    const cpuBeforeAt = Date.now();
    const updatesBefore = policyUpdates;
    progress(`at rest for ${restMs / 1000} s`);
    await sleep(restMs);
    const cpuAfter = await cpuOf();
    const cpuSeconds = (Date.now() - cpuBeforeAt) / 1000;
    const rvAfter = await fleet.resourceVersion();
    const rvSeconds = (Date.now() - rvBeforeAt) / 1000;
    const updatesInWindow = policyUpdates - updatesBefore;
    const countersSeconds = (Date.now() - beforeAt) / 1000;
    const after = await fleet.scrapeAll();
    const events = await eventsBetween(fleet, rvBeforeAt, rvBeforeAt + rvSeconds * 1000);
    const rate = (count: number, seconds: number): string => `${(count / seconds).toFixed(2)}/s`;
    const increase = (name: string): number =>
      sum([...after].map(([replica, sums]) => (sums.get(name) ?? 0) - (before.get(replica)?.get(name) ?? 0)));
    const byCounter = WRITE_COUNTERS.map((name) => [name, increase(name)] as const);
    const fleetWrites = sum(byCounter.map(([, count]) => count));
    line(
      `at rest, API writes by the fleet (replicas' counters, ${countersSeconds.toFixed(0)} s): ${rate(fleetWrites, countersSeconds)} — ${byCounter.map(([name, count]) => `${name.replace(/^telex_|_total$/g, "")} ${rate(count, countersSeconds)}`).join(", ")}`,
    );
    const rvWrites = rvAfter - rvBefore;
    line(
      `at rest, writes committed by the API (its resourceVersion: every writer, Events and finalizers included): ${rate(rvWrites, rvSeconds)} (${n(rvWrites)} in ${rvSeconds.toFixed(0)} s); ExportPolicy updates seen by a watch: ${n(updatesInWindow)}; Events created: ${events.size === 0 ? "0" : [...events].map(([reason, count]) => `${reason} ${n(count)}`).join(", ")}`,
    );
    for (const [name, pid] of pids) {
      const { rssBytes } = await procStatus(pid);
      const cpu = ((cpuAfter.get(name) ?? 0) - (cpuBefore.get(name) ?? 0)) / cpuSeconds;
      const heap = after.get(name)?.get("nodejs_heap_size_used_bytes") ?? 0;
      line(
        `${name}: RSS ${(rssBytes / 2 ** 20).toFixed(0)} MiB (V8 heap used ${(heap / 2 ** 20).toFixed(0)} MiB), CPU at rest ${(cpu * 100).toFixed(0)} % of a core, ${n(shares.get(name) ?? 0)} policies`,
      );
    }
    const first = fleet.replicas.get("replica-a");
    if (first !== undefined) {
      const scrapeStart = Date.now();
      const text = await (await fetch(`${first.metricsUrl ?? ""}/metrics`)).text();
      line(
        `replica-a's /metrics: ${(Buffer.byteLength(text) / 2 ** 20).toFixed(1)} MiB, ${n(text.split("\n").length)} lines, answered in ${s(Date.now() - scrapeStart)}`,
      );
    }
    const apiProc = await procStatus(fleet.api.child.pid);
    line(`API server (--api-only): RSS ${(apiProc.rssBytes / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await informer.stop();
    await client.close();
    await fleet.stop();
  }
}

/** Waits until the receiver holds `atLeast` samples and took none for `quietMs`, or `timeoutMs` passed. */
async function receiverQuiet(
  receiver: CountingReceiver,
  atLeast: number,
  quietMs: number,
  timeoutMs: number,
): Promise<{ readonly lastAt: number; readonly reached: boolean }> {
  const deadline = performance.now() + timeoutMs;
  let last = receiver.samples;
  let lastAt = performance.now();
  for (;;) {
    await sleep(50);
    const now = performance.now();
    if (receiver.samples !== last) {
      last = receiver.samples;
      lastAt = now;
    }
    const reached = last >= atLeast;
    if ((reached && now - lastAt >= quietMs) || now > deadline) return { lastAt, reached };
  }
}

type Labels = { name: string; value: string }[];

const tenantOf = (labels: Labels): string => labels.find((l) => l.name === TENANT_LABEL)?.value ?? "";

/** One measured push and what the fleet did with it, from the first request until the receiver was quiet. */
interface IngestPush {
  readonly tally: PushTally;
  readonly pushSeconds: number;
  /** CPU-seconds the replicas used per second while the writers pushed. */
  readonly coresWhilePushing: number;
  readonly delivered: number;
  readonly deliverSeconds: number;
  /** Agents' samples the replicas took (received − forwarded: the owners count forwarded samples again). */
  readonly input: number;
  readonly forwarded: number;
  readonly outcomes: Map<string, number>;
  /** All writes the API committed, and the replicas' status writes. */
  readonly apiWrites: number;
  readonly statusWrites: number;
  readonly sinkSent: number;
  readonly sinkDropped: number;
  readonly cpu: Map<string, number>;
  readonly apiCpu: number;
  readonly benchCpu: number;
}

interface IngestRun {
  readonly replicas: readonly string[];
  /** Policies made again (new uid) for an even split. */
  readonly recreated: number;
  readonly shares: Map<string, number>;
  /** Start of the replicas → every policy Ready (after the warm-up). */
  readonly readySeconds: number;
  readonly warm: PushTally;
  /** Each request to the next replica, as a Service spreads them. */
  readonly spread: IngestPush;
  /** With 2 or more: the same replicas, each request holding one replica's series and sent to it. */
  readonly direct: IngestPush | undefined;
  readonly peakRss: Map<string, number>;
}

/**
 * Bodies for pushFullSpeed's `aligned` mode: request k carries bodies[k % length] to replica k % n,
 * and holds only series of policies that replica runs (nothing to forward). Each replica's series are
 * cycled to 10 bodies of 1,000 a round.
 */
function directBodies(
  series: readonly Labels[],
  owners: ReadonlyMap<string, string | undefined>,
  names: readonly string[],
  baseMs: number,
): Buffer[] {
  const perReplica = names.map((name) => {
    const own = series.filter((labels) => owners.get(tenantOf(labels)) === name);
    if (own.length < INGEST_SERIES_PER_REQUEST)
      throw new Error(`${name} runs ${own.length} series, fewer than a request holds`);
    const cycled = Array.from(
      { length: 10 * INGEST_SERIES_PER_REQUEST },
      (_, k) => own[k % own.length] ?? [],
    );
    return benchRequests(cycled, INGEST_SERIES_PER_REQUEST, 2, baseMs);
  });
  return (perReplica[0] ?? []).flatMap((_, j) => perReplica.map((bodies) => bodies[j] ?? Buffer.alloc(0)));
}

/** Pushes `requests` bodies from bodiesAt (encoded again every 10 s: fresh timestamps, as an agent's) and measures. */
async function measurePush(
  fleet: PushFleet,
  urls: readonly string[],
  bodiesAt: (baseMs: number) => Buffer[],
  requests: number,
  aligned: boolean,
): Promise<IngestPush> {
  const headers = { Authorization: `Bearer ${INGEST_TOKEN}` };
  const pids = [...fleet.replicas].map(([name, replica]) => [name, replica.child.pid] as const);
  const cpuNow = async (): Promise<Map<string, number>> =>
    new Map(
      await Promise.all(pids.map(async ([name, pid]) => [name, (await procStatus(pid)).cpuSeconds] as const)),
    );
  const bodies = bodiesAt(Date.now());
  const before = await fleet.scrapeAll();
  const rvBefore = await resourceVersionOf(fleet.api.url);
  const cpuBefore = await cpuNow();
  const apiBefore = (await procStatus(fleet.api.child.pid)).cpuSeconds;
  const benchBefore = process.cpuUsage();
  const receivedBefore = fleet.receiver.samples;
  const pushStart = performance.now();
  const refresh = setInterval(() => {
    bodies.splice(0, bodies.length, ...bodiesAt(Date.now()));
  }, 10_000);
  let tally: PushTally;
  try {
    tally = await pushFullSpeed(urls, bodies, INGEST_SERIES_PER_REQUEST, INGEST_WRITERS, {
      count: requests,
      headers,
      aligned,
    });
  } finally {
    clearInterval(refresh);
  }
  const pushSeconds = (performance.now() - pushStart) / 1000;
  const cpuPushed = sum((await cpuNow()).values()) - sum(cpuBefore.values());
  const drained = await receiverQuiet(
    fleet.receiver,
    receivedBefore + tally.acknowledgedSamples,
    1500,
    60_000,
  );
  const delivered = fleet.receiver.samples - receivedBefore;
  const cpuAfter = await cpuNow();
  const apiCpu = (await procStatus(fleet.api.child.pid)).cpuSeconds - apiBefore;
  const apiWrites = (await resourceVersionOf(fleet.api.url)) - rvBefore;
  const benchUsage = process.cpuUsage(benchBefore);
  const after = await fleet.scrapeAll();
  const increase = (key: string): number =>
    sum([...after].map(([name, sums]) => (sums.get(key) ?? 0) - (before.get(name)?.get(key) ?? 0)));
  const forwarded = increase("telex_ingest_samples_forwarded_total");
  return {
    tally,
    pushSeconds,
    coresWhilePushing: cpuPushed / pushSeconds,
    delivered,
    deliverSeconds: (drained.lastAt - pushStart) / 1000,
    input: increase("telex_ingest_samples_received_total") - forwarded,
    forwarded,
    outcomes: new Map(
      ["ok", "retried", "failed"].map((outcome) => [
        outcome,
        increase(`telex_fleet_forward_requests_total{outcome="${outcome}"}`),
      ]),
    ),
    apiWrites,
    statusWrites: increase("telex_controller_status_writes_total"),
    sinkSent: increase("telex_sink_samples_sent_total"),
    sinkDropped: increase("telex_sink_samples_dropped_total"),
    cpu: new Map([...cpuAfter].map(([name, cpu]) => [name, cpu - (cpuBefore.get(name) ?? 0)])),
    apiCpu,
    benchCpu: (benchUsage.user + benchUsage.system) / 1e6,
  };
}

/**
 * One fresh API, receiver and `count` push replicas: policies split evenly, owned, warmed up and
 * Ready; then `requests` bodies spread over the replicas and, with more than one, `directRequests`
 * each sent to the replica that runs its series.
 */
async function ingestWith(
  count: number,
  series: readonly Labels[],
  requests: number,
  directRequests: number,
  extra: readonly string[],
): Promise<IngestRun> {
  const fleet = await PushFleet.start(`ingest-${count}`);
  try {
    const projects = Array.from({ length: INGEST_PROJECTS }, (_, p) => `project-${p}`);
    await fleet.createPolicies(projects);
    const names = INGEST_REPLICAS.slice(0, count);
    const recreated = await fleet.balance(names);
    const startedAt = Date.now();
    await fleet.startReplicas(names, extra);
    const urls = names.map((name) => `${fleet.replicas.get(name)?.ingestUrl ?? ""}/api/v1/write`);
    const headers = { Authorization: `Bearer ${INGEST_TOKEN}` };
    // Every policy owned by exactly one replica, each replica seeing all `count`, and every sink running
    // on its owner (a series pushed before its policy's pipeline runs is not selected, and not sent).
    let shares = new Map<string, number>();
    const ownedBy = Date.now() + 60_000;
    for (;;) {
      const scraped = await fleet.scrapeAll();
      shares = metricOf(scraped, "telex_replica_policies");
      const members = metricOf(scraped, "telex_replica_members");
      const sinks = sum(
        [...scraped.values()].map(
          (sums) => [...sums.keys()].filter((key) => key.startsWith("telex_sink_samples_sent_total{")).length,
        ),
      );
      if (
        scraped.size === count &&
        sum(shares.values()) === INGEST_PROJECTS &&
        [...members.values()].every((m) => m === count) &&
        sinks === INGEST_PROJECTS
      )
        break;
      if (Date.now() > ownedBy)
        throw new Error(
          `${count} replicas did not share ${INGEST_PROJECTS} policies within 60 s (shares ${[...shares.values()].join("/")}, ${sinks} sinks running)`,
        );
      await sleep(250);
    }
    const spreadBodies = (baseMs: number): Buffer[] =>
      benchRequests(series, INGEST_SERIES_PER_REQUEST, 2, baseMs);
    // Warm-up: every body to every replica (each learns every series), then every policy Ready.
    // Fresh timestamps, as agents send: samples an hour old would be a backlog (status CatchingUp).
    const warmBodies = spreadBodies(Date.now());
    const warm = await pushFullSpeed(urls, warmBodies, INGEST_SERIES_PER_REQUEST, INGEST_WRITERS, {
      count: warmBodies.length * urls.length,
      headers,
    });
    const readyBy = Date.now() + 60_000;
    for (;;) {
      const { ready, notReady } = await fleet.readiness();
      if (ready === INGEST_PROJECTS) break;
      if (Date.now() > readyBy)
        throw new Error(
          `only ${ready} of ${INGEST_PROJECTS} policies Ready within 60 s of the warm-up (${n(warm.acknowledgedSamples)} samples acknowledged, ${warm.failedRequests} requests refused: ${[...warm.refusals.keys()].join(", ")}); one not Ready: ${notReady}`,
        );
      await sleep(500);
    }
    const readySeconds = (Date.now() - startedAt) / 1000;
    await receiverQuiet(fleet.receiver, warm.acknowledgedSamples, 1000, 30_000);
    const spread = await measurePush(fleet, urls, spreadBodies, requests, false);

    let direct: IngestPush | undefined;
    if (count > 1) {
      const owners = new Map(fleet.policies.map((p) => [p.project, rendezvousOwner(p.uid, names)]));
      const ownBodies = (baseMs: number): Buffer[] => directBodies(series, owners, names, baseMs);
      // Each replica's route cache learns the new requests' order first.
      const warmDirect = ownBodies(Date.now());
      const receivedBefore = fleet.receiver.samples;
      const warmed = await pushFullSpeed(urls, warmDirect, INGEST_SERIES_PER_REQUEST, INGEST_WRITERS, {
        count: warmDirect.length,
        headers,
        aligned: true,
      });
      await receiverQuiet(fleet.receiver, receivedBefore + warmed.acknowledgedSamples, 1000, 30_000);
      direct = await measurePush(fleet, urls, ownBodies, directRequests, true);
    }
    const peakRss = new Map(
      await Promise.all(
        [...fleet.replicas].map(
          async ([name, replica]) => [name, (await procStatus(replica.child.pid)).peakRssBytes] as const,
        ),
      ),
    );
    return { replicas: names, recreated, shares, readySeconds, warm, spread, direct, peakRss };
  } finally {
    await fleet.stop();
  }
}

const cpuPerMillion = (push: IngestPush): number => sum(push.cpu.values()) / (push.input / 1e6);
const forwardedShare = (push: IngestPush): number => push.forwarded / push.input;

function printPush(what: string, push: IngestPush): void {
  const perM = (cpu: number): string => (cpu / (push.input / 1e6)).toFixed(2);
  const refused =
    push.tally.failedRequests === 0
      ? "none refused"
      : `${n(push.tally.failedRequests)} refused (${[...push.tally.refusals].map(([why, k]) => `${why} × ${n(k)}`).join(", ")})`;
  const pushed = push.tally.requests * INGEST_SERIES_PER_REQUEST;
  const difference = push.delivered - push.tally.acknowledgedSamples;
  line(`  ${what}:`);
  line(
    `    accepted ${n(push.tally.acknowledgedSamples / push.pushSeconds)} samples/s (${n(push.tally.acknowledgedSamples)} of ${n(pushed)} acknowledged in ${push.pushSeconds.toFixed(2)} s, ${refused}; the replicas used ${push.coresWhilePushing.toFixed(2)} cores meanwhile); delivered ${n(push.delivered / push.deliverSeconds)} samples/s (the last ${push.deliverSeconds.toFixed(2)} s after the first push)`,
  );
  line(
    `    CPU-s per million input samples: fleet ${perM(sum(push.cpu.values()))} (${[...push.cpu].map(([name, cpu]) => `${name} ${perM(cpu)}`).join(", ")}); API ${perM(push.apiCpu)} (${n(push.apiWrites)} writes, ${n(push.statusWrites)} of them status); this process (writers and receiver) ${perM(push.benchCpu)}`,
  );
  line(
    `    forwarded ${(100 * forwardedShare(push)).toFixed(1)} % (${n(push.forwarded)} of ${n(push.input)} input samples; forward requests ok ${n(push.outcomes.get("ok") ?? 0)}, retried ${n(push.outcomes.get("retried") ?? 0)}, failed ${n(push.outcomes.get("failed") ?? 0)}); acknowledged ${n(push.tally.acknowledgedSamples)}, received ${n(push.delivered)}${difference === 0 ? " (equal)" : ` (${difference > 0 ? "+" : ""}${n(difference)})`}; the sinks counted ${n(push.sinkSent)} sent, ${n(push.sinkDropped)} dropped`,
  );
}

async function runIngest(): Promise<void> {
  const samples = knob("FLEET_INGEST_SAMPLES", 2_000_000);
  const directSamples = knob("FLEET_INGEST_DIRECT_SAMPLES", 1_000_000);
  const buffer = process.env["FLEET_INGEST_BUFFER"] === "memory" ? "memory" : "disk";
  const requests = Math.ceil(samples / INGEST_SERIES_PER_REQUEST);
  const directRequests = Math.ceil(directSamples / INGEST_SERIES_PER_REQUEST);
  const counts = (process.env["FLEET_INGEST_REPLICAS"] ?? "1,2,3").split(",").map(Number);
  if (counts.some((c) => !Number.isInteger(c) || c < 1 || c > INGEST_REPLICAS.length))
    throw new Error(`FLEET_INGEST_REPLICAS: counts of replicas from 1 to ${INGEST_REPLICAS.length}`);
  // bench/ingest-workload.ts's platform series, interleaved: every request of 1,000 holds 20 series of each
  // project (an agent's request mixes tenants), so with n replicas every request has a part for each.
  const byProject = benchSeries(INGEST_PROJECTS, INGEST_SERIES_PER_PROJECT);
  const series = byProject.map(
    (_, i) =>
      byProject[(i % INGEST_PROJECTS) * INGEST_SERIES_PER_PROJECT + Math.floor(i / INGEST_PROJECTS)] ?? [],
  );
  const [load1, load5] = loadavg();
  console.log(
    `\n## fleet ingest: push, ${counts.join(", ")} replicas (--buffer ${buffer}), one {} policy in each of ${INGEST_PROJECTS} projects to a counting receiver in this process (batch 5,000, 1 s); ${n(series.length)} series of 11 labels, ${n(INGEST_SERIES_PER_REQUEST)} a request, ${INGEST_WRITERS} writers; ${n(requests * INGEST_SERIES_PER_REQUEST)} samples spread round-robin over the replicas (every request holds ${INGEST_SERIES_PER_REQUEST / INGEST_PROJECTS} series of every project), then ${n(directRequests * INGEST_SERIES_PER_REQUEST)} sent each to the replica running its series (the same fleet without the hop); load average before: ${load1?.toFixed(2) ?? "?"} (1 min), ${load5?.toFixed(2) ?? "?"} (5 min)`,
  );
  const extra = buffer === "memory" ? ["--buffer", "memory"] : [];
  const runs: IngestRun[] = [];
  for (const count of counts) {
    const run = await ingestWith(count, series, requests, directRequests, extra);
    runs.push(run);
    line(
      `${count} replica${count === 1 ? "" : "s"} (shares ${[...run.shares].map(([name, k]) => `${name} ${k}`).join(", ")}, ${run.recreated} policies made again for an even split; every policy Ready ${run.readySeconds.toFixed(1)} s after the start; warm-up ${run.warm.failedRequests === 0 ? "none" : n(run.warm.failedRequests)} refused; peak RSS ${[...run.peakRss].map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(0)} MiB`).join(", ")}; load average now ${(loadavg()[0] ?? 0).toFixed(1)})`,
    );
    printPush("spread round-robin over the replicas", run.spread);
    if (run.direct !== undefined) printPush("each request to the replica running its series", run.direct);
  }
  const single = runs.find((run) => run.replicas.length === 1)?.spread;
  line("");
  line(
    "replicas | accepted samples/s | delivered samples/s | CPU-s per M input (all replicas) | forwarded | hop: CPU-s per M forwarded, against 1 replica | CPU-s per M input, same replicas, nothing forwarded | hop against that | peak RSS per replica | replicas' cores while pushing",
  );
  const hop = (push: IngestPush, base: IngestPush | undefined): string =>
    base === undefined || forwardedShare(push) === 0
      ? "—"
      : ((cpuPerMillion(push) - cpuPerMillion(base)) / (forwardedShare(push) - forwardedShare(base))).toFixed(
          2,
        );
  for (const run of runs) {
    const { spread, direct } = run;
    line(
      `${run.replicas.length} | ${n(spread.tally.acknowledgedSamples / spread.pushSeconds)} | ${n(spread.delivered / spread.deliverSeconds)} | ${cpuPerMillion(spread).toFixed(2)} | ${(100 * forwardedShare(spread)).toFixed(1)} % | ${hop(spread, single)} | ${direct === undefined ? "—" : cpuPerMillion(direct).toFixed(2)} | ${hop(spread, direct)} | ${[...run.peakRss.values()].map((b) => (b / 2 ** 20).toFixed(0)).join(" / ")} MiB | ${spread.coresWhilePushing.toFixed(2)}`,
    );
  }
}

export async function runFleetBench(): Promise<void> {
  const parts = (process.env["FLEET_PARTS"] ?? "failover,scale,ingest").split(",");
  // failover and scale read and write real VictoriaMetrics stores; ingest needs none.
  const stores = victoriaMetricsAvailability().path !== undefined;
  if (!stores && (parts.includes("failover") || parts.includes("scale")))
    console.log(
      "\n## fleet failover and scale: skipped (victoria-metrics is not installed: apt-get install victoria-metrics)",
    );
  // A signal would end this process without its exit hooks: the children would outlive it.
  const interrupted = (): void => {
    process.exit(130);
  };
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    if (stores && parts.includes("failover")) await runFailover();
    if (stores && parts.includes("scale")) await runScale();
    if (parts.includes("ingest")) await runIngest();
  } finally {
    process.removeListener("SIGINT", interrupted).removeListener("SIGTERM", interrupted);
  }
}
