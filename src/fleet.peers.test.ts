// A fleet's roles end to end, each `telex serve` in its own process: the
// resource API alone (`--api-only`, https, a tokens file) and replicas that
// `--join` it with a platform token and the API's certificate. A tenant
// applies a policy through the API with its own token; the replica exports
// the project's samples to a real VictoriaMetrics and writes the policy's
// status back through the API — pushed to the replica's ingest, and pulled
// by another replica from a VictoriaMetrics standing for the platform's store.
import { policyManifest } from "../test-support/policies.js";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { runCli } from "../test-support/cli.js";
import { eventuallyValue } from "../test-support/eventually.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import { pushSeries } from "../test-support/remote-write-client.js";
import { selfSignedCert } from "../test-support/self-signed-cert.js";
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

const REPLICA_TOKEN = "platform-token-of-the-replicas";
const TENANT_TOKEN = { alpha: "tenant-token-of-project-alpha", beta: "tenant-token-of-project-beta" };
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

type Json = Record<string, unknown>;

const policy = (endpoint: string) =>
  policyManifest({
    name: "gateways",
    sources: { gw: '{resource_kind="Gateway"}' },
    sinks: [{ name: "vm", endpoint, sources: ["gw"], batch: { timeout: "200ms" } }],
  });

const readyReason = (object: Json): string | undefined => {
  const conditions = (object["status"] as { conditions?: { type: string; reason: string }[] } | undefined)
    ?.conditions;
  return conditions?.find((c) => c.type === "Ready")?.reason;
};

describe(
  "a fleet: telex serve --api-only and --join replicas",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let caPem = "";
    let api: TelexServe;
    let customer: RunningVictoriaMetrics;
    let replica: TelexServe | undefined;

    /** As a tenant, through the API: a project's own token over https. */
    const asTenant = (project: keyof typeof TENANT_TOKEN, method: string, path: string, body?: Json) =>
      apiRequest(
        `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane`,
        method,
        path,
        { token: TENANT_TOKEN[project], ca: caPem, ...(body === undefined ? {} : { body }) },
      );

    const joinReplica = (...extra: string[]): Promise<TelexServe> =>
      startTelexServe([
        "--join",
        api.url,
        "--token-file",
        join(dir, "replica.token"),
        "--join-ca-file",
        join(dir, "tls.crt"),
        "--status-interval",
        "300ms",
        // Strangers share this API (it has a tokens file): loopback is denied unless allowed; VM is on it.
        "--endpoint-allow",
        "127.0.0.0/8",
        ...extra,
      ]);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-fleet-"));
      const cert = selfSignedCert("127.0.0.1");
      caPem = cert.certPem;
      await Promise.all([
        writeFile(join(dir, "tls.crt"), cert.certPem),
        writeFile(join(dir, "tls.key"), cert.keyPem, { mode: 0o600 }),
        writeFile(join(dir, "replica.token"), `${REPLICA_TOKEN}\n`),
        writeFile(
          join(dir, "tokens.yaml"),
          stringify({
            tokens: [
              { token: REPLICA_TOKEN, user: "telex-replica", projects: ["*"], role: "admin" },
              { token: TENANT_TOKEN.alpha, user: "alice", projects: ["alpha"], role: "admin" },
              { token: TENANT_TOKEN.beta, user: "bob", projects: ["beta"], role: "admin" },
            ],
          }),
        ),
      ]);
      [api, customer] = await Promise.all([
        startTelexServe([
          "--api-only",
          "--api-listen",
          "127.0.0.1:0",
          "--tokens-file",
          join(dir, "tokens.yaml"),
          "--tls-cert-file",
          join(dir, "tls.crt"),
          "--tls-key-file",
          join(dir, "tls.key"),
          "--data-dir",
          join(dir, "api"),
        ]),
        startVictoriaMetrics(),
      ]);
    });

    after(async () => {
      await replica?.stop();
      await api.stop();
      await customer.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("refuses to join with a tenant's token, an unknown one, or a URL that is no Telex API, saying why", async () => {
      const attempt = async (url: string, token: string) => {
        await writeFile(join(dir, "other.token"), `${token}\n`);
        return runCli([
          "serve",
          "--join",
          url,
          "--token-file",
          join(dir, "other.token"),
          "--join-ca-file",
          join(dir, "tls.crt"),
          "--ingest-listen",
          "127.0.0.1:0",
          "--data-dir",
          join(dir, "refused"),
        ]);
      };
      const tenant = await attempt(api.url, TENANT_TOKEN.alpha);
      assert.equal(tenant.code, 1, tenant.stderr);
      assert.match(
        tenant.stderr,
        /refused the token \(403\): a replica needs a platform token \(projects: \["\*"\]/,
      );
      const unknown = await attempt(api.url, "not-a-token-of-this-api");
      assert.match(unknown.stderr, /refused the token \(401\)/);
      const wrongUrl = await attempt(
        `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/alpha/control-plane`,
        REPLICA_TOKEN,
      );
      assert.match(
        wrongUrl.stderr,
        /serves no cross-project view of exportpolicies.*--join takes the root URL/,
      );
    });

    it("push: a replica exports what its ingest receives and writes the policy's status through the API", async () => {
      assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(api.ingestUrl, undefined, "--api-only has no ingest");
      replica = await joinReplica("--data-dir", join(dir, "replica-push"));
      assert.equal(replica.url, api.url);
      const created = await asTenant("alpha", "POST", POLICIES, policy(`${customer.url}/api/v1/write`));
      assert.equal(created.status, 201, created.text);

      const now = Date.now();
      const series = (project: string, kind: string, i: number) => ({
        labels: [
          { name: "__name__", value: "fleet_requests_total" },
          { name: TENANT_LABEL, value: project },
          { name: "resource_kind", value: kind },
          { name: "resource_name", value: `gw-${i}` },
        ],
        samples: [{ value: i, timestampMs: now }],
      });
      const ingest = `${replica.ingestUrl ?? ""}/api/v1/write`;
      const ready = await eventuallyValue(
        async () => {
          const pushed = await pushSeries(ingest, [
            series("alpha", "Gateway", 1),
            series("alpha", "HTTPProxy", 2),
            series("beta", "Gateway", 3),
          ]);
          assert.equal(pushed.status, 204, pushed.body);
          return (await asTenant("alpha", "GET", `${POLICIES}/gateways`)).json();
        },
        (p) => readyReason(p) === "AllSinksReady",
        "the policy Ready, written by the replica",
        { timeoutMs: 20_000, intervalMs: 300 },
      );
      assert.deepEqual((ready["metadata"] as Json)["finalizers"], [
        "exportpolicy.telemetry.miloapis.com/controller",
      ]);
      await forceFlush(customer);
      const exported = await exportSamples(customer, '{__name__="fleet_requests_total"}', {
        start: Math.floor(now / 1000) - 60,
        end: Math.ceil(now / 1000) + 60,
      });
      assert.deepEqual(
        exported.map((s) => `${s.metric[TENANT_LABEL] ?? ""}/${s.metric["resource_name"] ?? ""}`),
        ["alpha/gw-1"],
      );
      const metrics = await (await fetch(`${replica.ingestUrl ?? ""}/metrics`)).text();
      assert.match(
        metrics,
        /telex_sink_samples_sent_total\{project="alpha",namespace="default",policy="gateways",sink="vm"\} [1-9]/,
      );
      await replica.stop();
      replica = undefined;
    });

    it("pull: a replica reads the project's samples from the store and delivers them", async () => {
      const store = await startVictoriaMetrics();
      try {
        replica = await joinReplica(
          "--data-dir",
          join(dir, "replica-pull"),
          "--source-url",
          store.url,
          "--pull-interval",
          "500ms",
          "--pull-lag",
          "2s",
        );
        assert.equal(replica.ingestUrl, undefined, "pull mode has no ingest");
        const created = await asTenant("beta", "POST", POLICIES, policy(`${customer.url}/api/v1/write`));
        assert.equal(created.status, 201, created.text);
        const started = Date.now();
        await eventuallyValue(
          async () => {
            const at = Date.now();
            await importPrometheusText(
              store,
              [
                `fleet_pulled_total{${TENANT_LABEL}="beta",resource_kind="Gateway"} 1 ${at}`,
                `fleet_pulled_total{${TENANT_LABEL}="alpha",resource_kind="Gateway"} 1 ${at}`,
                `fleet_pulled_total{${TENANT_LABEL}="beta",resource_kind="HTTPProxy"} 1 ${at}`,
                "",
              ].join("\n"),
            );
            await forceFlush(store);
            return (await asTenant("beta", "GET", `${POLICIES}/gateways`)).json();
          },
          (p) => readyReason(p) === "AllSinksReady",
          "the pulled policy Ready",
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        const exported = await eventuallyValue(
          async () => {
            await forceFlush(customer);
            const rows = await exportSamples(customer, '{__name__="fleet_pulled_total"}', {
              start: Math.floor(started / 1000) - 60,
              end: Math.ceil(Date.now() / 1000) + 60,
            });
            return rows
              .map((s) => `${s.metric[TENANT_LABEL] ?? ""}/${s.metric["resource_kind"] ?? ""}`)
              .sort();
          },
          (rows) => rows.includes("beta/Gateway"),
          "beta's Gateway series in the customer's VictoriaMetrics",
        );
        // alpha's policy of the push test runs here too: until replicas share the policies out
        // (issue 13's ownership), every replica runs every project's. HTTPProxy matches neither.
        assert.ok(
          exported.every((row) => row === "beta/Gateway" || row === "alpha/Gateway"),
          exported.join(", "),
        );
      } finally {
        await replica?.stop();
        replica = undefined;
        await store.stop();
      }
    });
  },
);
