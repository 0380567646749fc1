// Issue 13 parts 4 and 6 on this machine: `telex serve --api-only` and three
// `--join` replicas in push mode, 60 policies in 20 projects delivering to a
// real VictoriaMetrics behind an outage proxy. An agent writes to any replica
// (each request to the next one, as a Service would spread them); series of a
// policy another replica runs are forwarded there, so every sink runs on its
// owner alone. Through an endpoint outage during which a fourth replica joins
// (the old owners deliver the backlog they hold for the policies that moved),
// a replica killed with SIGKILL (its policies Ready on the others within 30 s;
// like a StatefulSet's pod it comes back with its volume) and a graceful
// restart, every sample a replica acknowledged reaches the customers' store.
import { policyManifest } from "../../test-support/policies.js";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { eventuallyValue } from "../../test-support/eventually.js";
import { startOutageProxy, type OutageProxy } from "../../test-support/outage-proxy.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { decodeToObjects, snappyUncompress } from "../remotewrite/index.js";
import { expositionValue } from "../../test-support/exposition.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";

const TOKEN = "platform-token-of-the-push-fleet-test";
const INGEST_TOKEN = "ingest-token-of-the-push-fleet-test";
const PROJECTS = Array.from({ length: 20 }, (_, i) => `push-${String(i).padStart(2, "0")}`);
const POLICIES_PER_PROJECT = 3;
const POLICY_COUNT = PROJECTS.length * POLICIES_PER_PROJECT;
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const LEASE = "3s";
const WRITE_EVERY_MS = 250;

type Json = Record<string, unknown>;

const metricOf = (k: number): string => `fleet_push_${k}`;

describe(
  "a fleet in push mode: any replica takes ingest, sinks run on their owner",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let api: TelexServe;
    let customers: RunningVictoriaMetrics;
    let proxy: OutageProxy;
    const replicas = new Map<string, TelexServe>();
    let writing: Promise<void> | undefined;
    let stopWriting = false;
    /** Per series key (project/metric): the timestamps a replica acknowledged. */
    const acknowledged = new Map<string, number[]>();
    const refusals: string[] = [];
    /** Per series (project/metric): the newest timestamp that reached the endpoint. */
    const newestSent = new Map<string, number>();
    /** Samples that reached the endpoint after a newer one of their series, and when. */
    const outOfOrder: { readonly atMs: number; readonly sample: string }[] = [];
    const checkOrder = (body: Buffer): void => {
      for (const series of decodeToObjects(snappyUncompress(body, 64 * 2 ** 20)).timeseries) {
        const label = (name: string) => series.labels.find((l) => l.name === name)?.value ?? "";
        const key = `${label(TENANT_LABEL)}/${label("__name__")}`;
        for (const { timestampMs } of series.samples) {
          const newest = newestSent.get(key) ?? -Infinity;
          if (timestampMs < newest)
            outOfOrder.push({ atMs: Date.now(), sample: `${key}@${timestampMs} after ${newest}` });
          newestSent.set(key, Math.max(newest, timestampMs));
        }
      }
    };

    const asPlatform = (project: string, method: string, path: string, body?: Json) =>
      apiRequest(
        `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane`,
        method,
        path,
        { token: TOKEN, ...(body === undefined ? {} : { body }) },
      );

    const startReplica = async (name: string): Promise<TelexServe> => {
      const replica = await startTelexServe([
        "--join",
        api.url,
        "--token-file",
        join(dir, "replica.token"),
        "--replica-name",
        name,
        "--lease-duration",
        LEASE,
        "--data-dir",
        join(dir, name),
        "--ingest-token-file",
        join(dir, "ingest.token"),
        "--status-interval",
        "300ms",
        "--endpoint-allow",
        "127.0.0.0/8",
      ]);
      replicas.set(name, replica);
      return replica;
    };

    const metricsOf = async (replica: TelexServe): Promise<string> =>
      (await fetch(`${replica.metricsUrl ?? ""}/metrics`)).text();

    const shares = async (): Promise<Map<string, number>> =>
      new Map(
        await Promise.all(
          [...replicas].map(
            async ([name, r]) =>
              [name, expositionValue(await metricsOf(r), "telex_replica_policies")] as const,
          ),
        ),
      );

    const everyPolicyOwned = (s: Map<string, number>): boolean =>
      [...s.values()].reduce((a, b) => a + b, 0) === POLICY_COUNT;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-push-fleet-"));
      await writeFile(join(dir, "replica.token"), `${TOKEN}\n`);
      await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
      await writeFile(
        join(dir, "tokens.yaml"),
        stringify({ tokens: [{ token: TOKEN, user: "telex-fleet", projects: ["*"], role: "admin" }] }),
      );
      [api, customers] = await Promise.all([
        startTelexServe([
          "--api-only",
          "--api-listen",
          "127.0.0.1:0",
          "--tokens-file",
          join(dir, "tokens.yaml"),
          "--data-dir",
          join(dir, "api"),
        ]),
        startVictoriaMetrics(),
      ]);
      proxy = await startOutageProxy({ upstream: customers.url, onForward: checkOrder });
      for (const project of PROJECTS) {
        for (let k = 0; k < POLICIES_PER_PROJECT; k++) {
          const created = await asPlatform(
            project,
            "POST",
            POLICIES,
            policyManifest({
              name: `p${k}`,
              sources: { m: `{__name__="${metricOf(k)}"}` },
              sinks: [
                {
                  name: "customer",
                  endpoint: `${proxy.url}/api/v1/write`,
                  sources: ["m"],
                  batch: { timeout: "200ms" },
                  retry: { maxAttempts: 2, backoffDuration: "200ms" },
                },
              ],
            }),
          );
          assert.equal(created.status, 201, created.text);
        }
      }
    });

    after(async () => {
      stopWriting = true;
      await writing;
      await Promise.all([...replicas.values()].map((r) => r.stop()));
      await api.stop();
      await proxy.close();
      await customers.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /** One request per tick with a sample of every series, each tick to the next live replica. */
    const startWriting = (): void => {
      let tick = 0;
      writing = (async () => {
        while (!stopWriting) {
          const live = [...replicas.values()];
          const target = live[tick++ % live.length];
          const at = Date.now();
          const series = PROJECTS.flatMap((project) =>
            Array.from({ length: POLICIES_PER_PROJECT }, (_, k) => ({
              labels: [
                { name: "__name__", value: metricOf(k) },
                { name: TENANT_LABEL, value: project },
              ],
              samples: [{ value: tick, timestampMs: at }],
            })),
          );
          try {
            const result = await pushSeries(`${target?.ingestUrl ?? ""}/api/v1/write`, series, {
              Authorization: `Bearer ${INGEST_TOKEN}`,
            });
            if (result.status === 204) {
              for (const project of PROJECTS)
                for (let k = 0; k < POLICIES_PER_PROJECT; k++) {
                  const key = `${project}/${metricOf(k)}`;
                  acknowledged.set(key, [...(acknowledged.get(key) ?? []), at]);
                }
            } else refusals.push(`${result.status}: ${result.body.trim()}`);
          } catch (error: unknown) {
            // A replica being killed: the agent would retry elsewhere; nothing was acknowledged.
            refusals.push(String(error));
          }
          await new Promise((resolve) => setTimeout(resolve, WRITE_EVERY_MS));
        }
      })();
    };

    const readyCount = async (): Promise<number> => {
      let ready = 0;
      for (const project of PROJECTS) {
        const list = await asPlatform(project, "GET", POLICIES);
        const items = (list.json()["items"] ?? []) as {
          status?: { conditions?: { type: string; status: string }[] };
        }[];
        for (const item of items)
          if (item.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true)
            ready++;
      }
      return ready;
    };

    const drainingSinks = async (): Promise<number> =>
      (await Promise.all([...replicas.values()].map(async (r) => metricsOf(r)))).reduce(
        (sum, text) => sum + expositionValue(text, "telex_exporter_draining_sinks"),
        0,
      );

    it("forwards each series to its policy's owner; through an outage while a fourth replica joins, a kill -9 and a graceful restart no acknowledged sample is lost", async () => {
      for (const name of ["replica-a", "replica-b", "replica-c"]) await startReplica(name);
      await eventuallyValue(
        shares,
        (s) => everyPolicyOwned(s) && [...s.values()].every((n) => n > 0),
        "every policy owned by exactly one of three replicas, each with a share",
        { timeoutMs: 20_000, intervalMs: 300 },
      );
      startWriting();
      await eventuallyValue(readyCount, (n) => n === POLICY_COUNT, "every policy Ready", {
        timeoutMs: 20_000,
        intervalMs: 500,
      });

      // During an outage a fourth replica joins: policies move to it while their old owners hold a
      // backlog for them. The old owners deliver it after the outage, longer than a sink's 5 s
      // drain at removal (which would have given it up), while replica-d sends the new samples.
      proxy.outage();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await startReplica("replica-d");
      await eventuallyValue(
        shares,
        (s) => everyPolicyOwned(s) && (s.get("replica-d") ?? 0) > 0,
        "replica-d with a share",
        { timeoutMs: 20_000, intervalMs: 300 },
      );
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const draining = await eventuallyValue(
        drainingSinks,
        (n) => n > 0,
        "sinks of moved policies draining their backlog on the old owners",
        { timeoutMs: 5_000, intervalMs: 200 },
      );
      assert.ok(draining > 0);
      proxy.restore();
      await eventuallyValue(readyCount, (n) => n === POLICY_COUNT, "every policy Ready after the outage", {
        timeoutMs: 30_000,
        intervalMs: 500,
      });

      // The handover kept each series in order: the new owners held their samples until the old
      // ones had delivered the backlog (src/fleet/handover.ts).
      assert.deepEqual(outOfOrder.slice(0, 5), [], `${outOfOrder.length} samples out of order`);

      // SIGKILL: requests forwarded to it are retried (or refused with 503, the agent retries)
      // until its Lease expires; then its policies run, and are Ready, on the others.
      await replicas.get("replica-b")?.kill();
      replicas.delete("replica-b");
      const killedAt = Date.now();
      await eventuallyValue(shares, everyPolicyOwned, "replica-b's share run by the others", {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      await eventuallyValue(readyCount, (n) => n === POLICY_COUNT, "every policy Ready on the others", {
        timeoutMs: 30_000,
        intervalMs: 300,
      });
      const failoverS = (Date.now() - killedAt) / 1000;
      assert.ok(failoverS < 30, `Ready elsewhere ${failoverS} s after the kill`);
      // Like a StatefulSet's pod it comes back: what it acknowledged and had not sent yet is on its volume.
      await startReplica("replica-b");

      // A graceful stop and restart.
      await replicas.get("replica-a")?.stop();
      replicas.delete("replica-a");
      await eventuallyValue(shares, everyPolicyOwned, "replica-a's share run by the others", {
        timeoutMs: 20_000,
        intervalMs: 200,
      });
      await startReplica("replica-a");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      stopWriting = true;
      await writing;
      // Drained backlogs are forgotten once delivered.
      await eventuallyValue(drainingSinks, (n) => n === 0, "no sink left draining", {
        timeoutMs: 20_000,
        intervalMs: 300,
      });

      const forwarded = (await Promise.all([...replicas.values()].map(async (r) => metricsOf(r)))).reduce(
        (sum, text) => sum + expositionValue(text, "telex_ingest_samples_forwarded_total"),
        0,
      );
      assert.ok(forwarded > 0, `samples forwarded between replicas: ${forwarded}`);

      const acked = [...acknowledged.values()].reduce((sum, list) => sum + list.length, 0);
      assert.ok(acked >= POLICY_COUNT * 30, `acknowledged ${acked} samples (refused: ${refusals.length})`);
      const missing = await eventuallyValue(
        async () => {
          await forceFlush(customers);
          const rows = await exportSamples(customers, `{__name__=~"fleet_push_.*"}`, {
            start: 0,
            end: Math.ceil(Date.now() / 1000) + 5,
          });
          const holes: string[] = [];
          for (const [key, timestamps] of acknowledged) {
            const [project, metric] = key.split("/");
            const row = rows.find(
              (r) => r.metric[TENANT_LABEL] === project && r.metric["__name__"] === metric,
            );
            const got = new Set(row?.timestamps ?? []);
            const absent = timestamps.filter((t) => !got.has(t));
            if (absent.length > 0) holes.push(`${key}: ${absent.length} of ${timestamps.length} missing`);
          }
          return holes;
        },
        (holes) => holes.length === 0,
        "every acknowledged sample delivered",
        { timeoutMs: 40_000, intervalMs: 1_000 },
      ).catch(async (error: unknown) => {
        // What the replicas counted as dropped (since their last start): a loss they told of, or a silent one.
        const counted = await Promise.all(
          [...replicas.entries()].map(async ([name, replica]) => {
            const lines = (await metricsOf(replica))
              .split("\n")
              .filter((l) => /^telex_(sink|ingest)_samples_dropped_total\{/.test(l) && !/ 0$/.test(l));
            return `${name}: ${lines.length === 0 ? "none dropped" : lines.join("; ")}`;
          }),
        );
        throw new Error(`${String(error)}\n${counted.join("\n")}`);
      });
      assert.deepEqual(missing, []);
    });
  },
);
