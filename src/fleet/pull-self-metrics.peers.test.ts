// Tenants' own delivery metrics in a pull-mode fleet: `telex serve
// --api-only` and two `--join` replicas reading a real VictoriaMetrics, each
// running its share of the policies. A policy that names telex_export_*
// gets the delivery metrics of its project's policies the other replica runs
// (sent over the authenticated forward hop, FORWARD_PATH on --ingest-listen),
// and never another project's; the hop takes nothing but those metrics.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { encodeWriteRequest, snappyCompress } from "../remotewrite/index.js";
import { rendezvousOwner } from "./rendezvous.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyManifest } from "../../test-support/policies.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { expositionValue } from "../../test-support/exposition.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type ExportedSeries,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";

const TOKEN = "platform-token-of-the-pull-self-metrics-test";
const INGEST_TOKEN = "hop-token-of-the-pull-self-metrics-test";
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const NAMES = ["replica-a", "replica-b"] as const;
const HEALTH = '{__name__=~"telex_export_.*"}';
const FORWARD_LINE = /^forward: listening on (http:\/\/\S+)$/m;

type Json = Record<string, unknown>;

describe(
  "tenants' delivery metrics in a pull-mode fleet of two replicas",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let api: TelexServe;
    let store: RunningVictoriaMetrics;
    /** p1's customer and p2's: what a project's sinks deliver lands in its own store only. */
    let p1Store: RunningVictoriaMetrics;
    let p2Store: RunningVictoriaMetrics;
    const replicas = new Map<string, TelexServe>();

    const asPlatform = (project: string, method: string, path: string, body?: Json) =>
      apiRequest(
        `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane`,
        method,
        path,
        { token: TOKEN, ...(body === undefined ? {} : { body }) },
      );

    /** Creates the policy; returns the replica that runs it once both are members. */
    const create = async (project: string, name: string, selector: string, endpoint: string) => {
      const created = await asPlatform(
        project,
        "POST",
        POLICIES,
        policyManifest({
          name,
          sources: { s: selector },
          sinks: [{ name: "vm", endpoint, sources: ["s"], batch: { timeout: "100ms" } }],
        }),
      );
      assert.equal(created.status, 201, created.text);
      const uid = (created.json()["metadata"] as { uid?: string } | undefined)?.uid ?? "";
      assert.notEqual(uid, "");
      return rendezvousOwner(uid, NAMES) ?? "";
    };

    const selfSeries = async (vm: RunningVictoriaMetrics): Promise<ExportedSeries[]> => {
      await forceFlush(vm);
      return exportSamples(vm, '{__name__=~"telex_export_.*"}', {
        start: Math.floor(Date.now() / 1000) - 600,
        end: Math.ceil(Date.now() / 1000) + 60,
      });
    };

    const metricsOf = async (name: string): Promise<string> =>
      (await fetch(`${replicas.get(name)?.metricsUrl ?? ""}/metrics`)).text();

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-pull-self-metrics-"));
      await writeFile(join(dir, "replica.token"), `${TOKEN}\n`);
      await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
      await writeFile(
        join(dir, "tokens.yaml"),
        stringify({ tokens: [{ token: TOKEN, user: "telex-fleet", projects: ["*"], role: "admin" }] }),
      );
      [api, store, p1Store, p2Store] = await Promise.all([
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
        startVictoriaMetrics(),
        startVictoriaMetrics(),
      ]);
      await Promise.all(
        NAMES.map(async (name) => {
          const replica = await startTelexServe([
            "--join",
            api.url,
            "--token-file",
            join(dir, "replica.token"),
            "--replica-name",
            name,
            "--lease-duration",
            "3s",
            "--data-dir",
            join(dir, name),
            "--source-url",
            store.url,
            "--pull-interval",
            "500ms",
            "--pull-lag",
            "2s",
            "--self-metrics-interval",
            "500ms",
            "--status-interval",
            "300ms",
            "--ingest-token-file",
            join(dir, "ingest.token"),
            "--endpoint-allow",
            "127.0.0.0/8",
          ]);
          replicas.set(name, replica);
        }),
      );
    });

    after(async () => {
      await Promise.all([...replicas.values()].map((r) => r.stop()));
      await api.stop();
      await Promise.all([store.stop(), p1Store.stop(), p2Store.stop()]);
      await rm(dir, { recursive: true, force: true });
    });

    it("a policy gets its project's policies' telex_export_* from the other replica, never another project's", async () => {
      const p1Write = `${p1Store.url}/api/v1/write`;
      const p2Write = `${p2Store.url}/api/v1/write`;
      // p1: one health policy naming the metrics, and a gateway policy on the other replica
      // (uids are the API's: more are created until one lands there; each does with ½).
      const healthOwner = await create("p1", "health", HEALTH, p1Write);
      let gw = "";
      for (let k = 0; k < 12 && gw === ""; k++) {
        const owner = await create("p1", `gw-${k}`, '{__name__="pull_fleet_gateway"}', p1Write);
        if (owner !== healthOwner) gw = `gw-${k}`;
      }
      assert.notEqual(gw, "", "a gateway policy of p1 on the other replica than p1/health");
      const gwOwner = NAMES.find((name) => name !== healthOwner) ?? "";
      // p2: health policies on both replicas, so each replica holds a policy of another project
      // beside p1's forwarded and generated metrics.
      const p2Health = new Map<string, string>();
      for (let k = 0; k < 12 && p2Health.size < 2; k++) {
        const owner = await create("p2", `health-${k}`, HEALTH, p2Write);
        if (!p2Health.has(owner)) p2Health.set(owner, `health-${k}`);
      }
      assert.equal(p2Health.size, 2, "a p2 health policy on each replica");

      // p1/health (on one replica) delivers the metrics of p1's gateway policy (on the other).
      const p1Rows = await eventuallyValue(
        () => selfSeries(p1Store),
        (rows) =>
          rows.some((r) => r.metric["policy"] === gw && r.metric["__name__"] === "telex_export_sink_healthy"),
        `p1/${gw}'s delivery metrics (generated on ${gwOwner}) at p1's store`,
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      const gwHealthy = p1Rows.find(
        (r) => r.metric["policy"] === gw && r.metric["__name__"] === "telex_export_sink_healthy",
      );
      assert.ok(gwHealthy);
      assert.equal(gwHealthy.metric[TENANT_LABEL], "p1");
      assert.ok(
        gwHealthy.values.every((v) => v === 1),
        "the gateway sink is healthy",
      );
      // p2's health policies each get the other's metrics too: both replicas' p2 sinks are there.
      const p2Rows = await eventuallyValue(
        () => selfSeries(p2Store),
        (rows) => [...p2Health.values()].every((name) => rows.some((r) => r.metric["policy"] === name)),
        "both p2 health policies' metrics at p2's store",
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      // Two more intervals, then nothing of one project is in the other's store.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const [project, rows] of [
        ["p1", await selfSeries(p1Store)],
        ["p2", await selfSeries(p2Store)],
      ] as const) {
        const tenants = new Set(rows.map((r) => r.metric[TENANT_LABEL]));
        assert.deepEqual([...tenants], [project], `only ${project}'s delivery metrics at ${project}'s store`);
      }
      assert.ok(p2Rows.length > 0);
      // One series per (policy, sink, metric): 15 for each of p1's policies, none of p2's.
      const p1Policies = new Set((await selfSeries(p1Store)).map((r) => r.metric["policy"]));
      assert.ok(p1Policies.has("health") && p1Policies.has(gw), [...p1Policies].join(","));

      // The generator counted what it sent, the receiver what it got.
      const sent = await metricsOf(gwOwner);
      const received = await metricsOf(healthOwner);
      assert.ok(expositionValue(sent, "telex_self_metrics_samples_forwarded_total") > 0, "forwarded");
      assert.ok(expositionValue(received, "telex_self_metrics_samples_received_total") > 0, "received");
      assert.ok(expositionValue(sent, 'telex_fleet_forward_requests_total{outcome="ok"}') > 0);

      // The hop takes only delivery metrics, only with the token, only on its path.
      const forward = FORWARD_LINE.exec(replicas.get(healthOwner)?.output() ?? "")?.[1];
      assert.ok(forward, "the replica printed its forward listener");
      const platformSeries = snappyCompress(
        encodeWriteRequest([
          {
            labels: [
              { name: "__name__", value: "pull_fleet_gateway" },
              { name: TENANT_LABEL, value: "p1" },
            ],
            samples: [{ value: 1, timestampMs: Date.now() }],
          },
        ]),
      );
      const post = (url: string, token: string | undefined) =>
        fetch(url, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
          },
          body: platformSeries,
          signal: AbortSignal.timeout(5_000),
        });
      assert.equal((await post(forward, undefined)).status, 401);
      const refused = await post(forward, INGEST_TOKEN);
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /only the fleet's delivery metrics/);
      assert.equal(
        (await post(forward.replace(/\/internal\/v1\/forward$/, "/api/v1/write"), INGEST_TOKEN)).status,
        404,
      );
    });
  },
);
