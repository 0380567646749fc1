// The ExportPolicy `delivery` subresource through `telex serve --api-only`
// (no exporter of its own): the API server asks the fleet's replicas, at
// DELIVERY_PATH on their listeners with the ingest token, and serves the
// answer of the one running the policy.
// - Push: two `--join` replicas, a policy with a sink to a real
//   VictoriaMetrics and one to a closed port. `telex describe` shows the sent
//   counter, the backlog and the replica; the subresource matches what the
//   replica itself reports; the closed sink is down with its last error. A
//   killed owner is a clear 503 while its Lease is live, then the survivor's
//   answer. A replica that never answers costs the timeout, and reads beyond
//   the API's bound are 429s, never 500s.
// - Handover: a policy whose owner changes as a replica joins still runs on
//   its old owner, draining a backlog its down sink holds: the new owner's
//   counters are served, and a note names the old owner and its backlog.
// - Pull: a replica reading a real VictoriaMetrics, its forward-only
//   listener answering; the down sink shows through the API server too.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { runCli } from "../../test-support/cli.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyManifest } from "../../test-support/policies.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest, type ApiResponse } from "../../test-support/telex-api.js";
import { expositionValue } from "../../test-support/exposition.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { DELIVERY_PATH } from "../exporter/ingest/server.js";
import { microTime } from "../kube/index.js";
import { INGEST_URL_ANNOTATION, REPLICA_LABEL } from "./membership.js";
import { rendezvousOwner } from "./rendezvous.js";

process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const PLATFORM_TOKEN = "platform-token-of-the-fleet-delivery-test";
const INGEST_TOKEN = "ingest-token-of-the-fleet-delivery-test";
const ALPHA_TOKEN = "alpha-admin-of-the-fleet-delivery-test";
const BETA_TOKEN = "beta-admin-of-the-fleet-delivery-test";
const METRIC = "fleet_delivery_rq";
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const DEAD_ENDPOINT = "http://127.0.0.1:9/api/v1/write";
const FORWARD_LINE = /^forward: listening on (http:\/\/\S+)\/internal\/v1\/forward$/m;

type Json = Record<string, unknown>;

function sinkOf(body: Json, name: string): Json {
  const sinks = body["sinks"] as Json[] | undefined;
  const found = sinks?.find((s) => s["name"] === name);
  assert.ok(found, `sink ${name} in ${JSON.stringify(body)}`);
  return found;
}

async function writeTokens(dir: string): Promise<void> {
  await writeFile(join(dir, "replica.token"), `${PLATFORM_TOKEN}\n`);
  await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
  await writeFile(
    join(dir, "tokens.yaml"),
    stringify({
      tokens: [
        { token: PLATFORM_TOKEN, user: "telex-fleet", projects: ["*"], role: "admin" },
        { token: ALPHA_TOKEN, user: "alice", projects: ["alpha"], role: "admin" },
        { token: BETA_TOKEN, user: "bob", projects: ["beta"], role: "admin" },
      ],
    }),
  );
}

function apiOnly(dir: string, extra: readonly string[] = []): Promise<TelexServe> {
  return startTelexServe([
    "--api-only",
    "--api-listen",
    "127.0.0.1:0",
    "--tokens-file",
    join(dir, "tokens.yaml"),
    "--ingest-token-file",
    join(dir, "ingest.token"),
    "--data-dir",
    join(dir, "api"),
    "--endpoint-allow",
    "127.0.0.0/8",
    ...extra,
  ]);
}

function replicaArgs(api: TelexServe, dir: string, name: string): string[] {
  return [
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
    "--ingest-token-file",
    join(dir, "ingest.token"),
    "--endpoint-allow",
    "127.0.0.0/8",
    "--status-interval",
    "300ms",
  ];
}

/** A sink to a closed port: down after its one attempt. */
const DEAD_SINK = {
  name: "dead",
  endpoint: DEAD_ENDPOINT,
  sources: ["m"],
  batch: { timeout: "200ms" },
  retry: { maxAttempts: 1, backoffDuration: "100ms" },
};

/** A policy of alpha: one sink to the store (when given), and DEAD_SINK. */
function shippingPolicy(storeWrite: string | undefined, name = "shipping"): Json {
  return policyManifest({
    name,
    sources: { m: METRIC },
    sinks: [
      ...(storeWrite === undefined
        ? []
        : [{ name: "store", endpoint: storeWrite, sources: ["m"], batch: { timeout: "200ms" } }]),
      DEAD_SINK,
    ],
  });
}

describe(
  "the delivery subresource through telex serve --api-only, a push fleet of two replicas",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let api: TelexServe;
    let store: RunningVictoriaMetrics;
    const replicas = new Map<string, TelexServe>();
    let uid = "";

    const control = (project: string) =>
      `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane`;
    const readDelivery = (token = ALPHA_TOKEN): Promise<ApiResponse> =>
      apiRequest(control("alpha"), "GET", `${POLICIES}/shipping/delivery`, { token });
    /** token "": none sent. */
    const askReplica = (replica: TelexServe, query: string, token = INGEST_TOKEN) =>
      fetch(`${replica.ingestUrl ?? ""}${DELIVERY_PATH}${query}`, {
        headers: token === "" ? {} : { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5_000),
      });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-fleet-delivery-"));
      await writeTokens(dir);
      [api, store] = await Promise.all([apiOnly(dir), startVictoriaMetrics()]);
      const created = await apiRequest(control("alpha"), "POST", POLICIES, {
        token: ALPHA_TOKEN,
        body: shippingPolicy(`${store.url}/api/v1/write`),
      });
      assert.equal(created.status, 201, created.text);
      uid = String((created.json()["metadata"] as Json)["uid"]);
      await Promise.all(
        ["replica-a", "replica-b"].map(async (name) => {
          replicas.set(name, await startTelexServe(replicaArgs(api, dir, name)));
        }),
      );
      // Both see each other and one runs the policy.
      await eventuallyValue(
        () =>
          Promise.all(
            [...replicas.values()].map(async (r) => (await fetch(`${r.ingestUrl ?? ""}/metrics`)).text()),
          ),
        (texts) =>
          texts.every((t) => expositionValue(t, "telex_replica_members", 0) === 2) &&
          texts.reduce((sum, t) => sum + expositionValue(t, "telex_replica_policies", 0), 0) === 1,
        "two members, the policy owned by one",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
    });

    after(async () => {
      await Promise.all([...replicas.values()].map((r) => r.stop()));
      await api.stop();
      await store.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("describe shows the sent counter, backlog and replica; the subresource is what the replica reports", async () => {
      const a = replicas.get("replica-a");
      assert.ok(a !== undefined);
      // Five series through replica-a: forwarded to the owner when that is replica-b.
      const now = Date.now();
      const body = [1, 2, 3, 4, 5].map((id) => ({
        labels: [
          { name: "__name__", value: METRIC },
          { name: "id", value: String(id) },
          { name: TENANT_LABEL, value: "alpha" },
        ],
        samples: [{ value: id, timestampMs: now }],
      }));
      await eventuallyValue(
        () =>
          pushSeries(`${a.ingestUrl ?? ""}/api/v1/write`, body, { Authorization: `Bearer ${INGEST_TOKEN}` }),
        (r) => r.status === 204,
        "the push accepted",
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      const served = await eventuallyValue(
        async () => (await readDelivery()).json(),
        (b) => {
          const s = (b["sinks"] as Json[] | undefined)?.find((x) => x["name"] === "store");
          return s !== undefined && s["samplesSent"] === 5 && s["samplesBuffered"] === 0;
        },
        "the store sink's 5 samples sent, as the API server serves them",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      const owner = String(served["replica"]);
      assert.ok(replicas.has(owner), `the replica that runs it: ${owner}`);
      assert.equal(served["kind"], "ExportPolicyDelivery");
      assert.equal((served["metadata"] as Json)["uid"], uid);
      assert.equal(served["message"], undefined, "no handover, no warning");

      // The replica's own report, asked as the API server asks it: the same counters.
      const running = replicas.get(owner);
      assert.ok(running !== undefined);
      const direct = await askReplica(running, `?uid=${uid}`);
      assert.equal(direct.status, 200);
      const answer = (await direct.json()) as Json;
      assert.equal(answer["replica"], owner);
      assert.equal(answer["draining"], false);
      const own = sinkOf(answer["delivery"] as Json, "store");
      const viaApi = sinkOf(served, "store");
      for (const key of [
        "samplesReceived",
        "samplesSent",
        "samplesBuffered",
        "bytesSent",
        "shards",
        "samplesRetried",
      ])
        assert.equal(viaApi[key], own[key], key);
      assert.deepEqual(viaApi["requests"], own["requests"]);
      assert.deepEqual(viaApi["samplesDropped"], own["samplesDropped"]);
      assert.equal(
        Date.parse(String(viaApi["lastSuccessTime"])),
        Math.floor(Number(own["lastSuccessMs"]) / 1000) * 1000,
        "the same last success (the API's timestamps are in seconds)",
      );
      assert.deepEqual(
        (served["sources"] as Json[]).map((s) => [s["name"], s["samplesMatched"]]),
        ((answer["delivery"] as Json)["sources"] as Json[]).map((s) => [s["name"], s["samplesMatched"]]),
      );

      const described = await runCli([
        "describe",
        "exportpolicy",
        "shipping",
        "--server",
        api.url,
        "--project",
        "alpha",
        "--token",
        ALPHA_TOKEN,
      ]);
      assert.equal(described.code, 0, described.stderr);
      assert.match(described.stdout, new RegExp(`^Running on: {3}replica ${owner}$`, "m"));
      assert.match(described.stdout, /Delivery: {2}5 samples sent in 1 request \(0 failed\)/);
      assert.match(described.stdout, /Backlog: {3}0 samples \(0 B\), lag 0s, 1 shard/);
      assert.doesNotMatch(described.stdout, /not reported by this server/);

      // The other replica does not run it; the endpoint wants the token and a uid.
      const other = [...replicas.entries()].find(([name]) => name !== owner)?.[1];
      assert.ok(other !== undefined);
      const notHere = await askReplica(other, `?uid=${uid}`);
      assert.equal(notHere.status, 404);
      assert.equal(((await notHere.json()) as Json)["running"], false);
      assert.equal((await askReplica(running, `?uid=${uid}`, "")).status, 401);
      assert.equal((await askReplica(running, `?uid=${uid}`, "wrong")).status, 401);
      assert.equal((await askReplica(running, "")).status, 400);
      // The tenant boundary is the API's: another project's admin may not read alpha's counters.
      assert.equal((await readDelivery(BETA_TOKEN)).status, 403);
    });

    it("a sink that is down shows its down state and last error through the API server", async () => {
      const served = await eventuallyValue(
        async () => (await readDelivery()).json(),
        (b) => sinkOf(b, "dead")["down"] !== undefined,
        "the dead sink down",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      const dead = sinkOf(served, "dead");
      const lastError = dead["lastError"] as Json;
      assert.equal(lastError["reason"], "Unreachable");
      assert.match(String(lastError["message"]), /.+/);
      assert.ok(Number(dead["samplesBuffered"]) > 0, "it keeps its samples");
      assert.ok(!Number.isNaN(Date.parse(String((dead["down"] as Json)["since"]))));
      const described = await runCli([
        "describe",
        "exportpolicy",
        "shipping",
        "--server",
        api.url,
        "--project",
        "alpha",
        "--token",
        ALPHA_TOKEN,
      ]);
      assert.match(described.stdout, /Down since \S+ \(.*ago\)/);
      assert.match(described.stdout, /Last error: Unreachable /);
    });

    it("reads beyond the API's bound are 429s, and a replica that never answers costs the timeout", async () => {
      // A replica's Lease whose listener accepts and never answers (a stuck process).
      const stuck: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
      const address = stuck.address();
      assert.ok(address !== null && typeof address === "object");
      try {
        const lease = await apiRequest(
          api.url,
          "POST",
          "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases",
          {
            token: PLATFORM_TOKEN,
            body: {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: {
                name: "replica-stuck",
                labels: { [REPLICA_LABEL]: "true" },
                annotations: { [INGEST_URL_ANNOTATION]: `http://127.0.0.1:${address.port}` },
              },
              spec: {
                holderIdentity: "replica-stuck",
                leaseDurationSeconds: 30,
                renewTime: microTime(new Date()),
              },
            },
          },
        );
        assert.equal(lease.status, 201, lease.text);
        // Seen by the API server's view: a read now waits for the stuck one, at most 2 s.
        const started = Date.now();
        const reads = await eventuallyValue(
          () => Promise.all(Array.from({ length: 40 }, () => readDelivery())),
          (all) => all.some((r) => r.status === 429),
          "reads beyond the bound refused",
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        const statuses = new Set(reads.map((r) => r.status));
        for (const status of statuses) assert.ok([200, 429, 503].includes(status), `status ${status}`);
        const refused = reads.find((r) => r.status === 429);
        assert.match(refused?.text ?? "", /too many delivery reads are running in this project/);
        assert.ok(Date.now() - started < 15_000, "no read hangs on the stuck replica");
        const answered = reads.find((r) => r.status === 200 || r.status === 503);
        assert.ok(answered !== undefined, "the reads within the bound were answered");
        assert.match(answered.text, /replica replica-stuck did not answer within 2000 ms/);
      } finally {
        await apiRequest(
          api.url,
          "DELETE",
          "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases/replica-stuck",
          { token: PLATFORM_TOKEN },
        );
        stuck.closeAllConnections();
        await new Promise<void>((resolve) => {
          stuck.close(() => {
            resolve();
          });
        });
      }
    });

    it("a killed owner is a clear 503 while its Lease is live, then the survivor's counters", async () => {
      // The stuck Lease of the last test is gone, and the two replicas agree again.
      const before = await eventuallyValue(
        async () => readDelivery(),
        (r) =>
          r.status === 200 && typeof r.json()["replica"] === "string" && r.json()["message"] === undefined,
        "the owner's answer, with no warning",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      const owner = String(before.json()["replica"]);
      const killed = replicas.get(owner);
      assert.ok(killed !== undefined);
      await killed.kill();
      replicas.delete(owner);
      const survivor = [...replicas.keys()][0] ?? "";
      const first = await readDelivery();
      assert.equal(first.status, 503, first.text);
      assert.match(
        first.text,
        new RegExp(
          `cannot read the delivery counters: .*replica ${owner} could not be asked \\(ECONNREFUSED\\)`,
        ),
      );
      const statuses: number[] = [];
      const moved = await eventuallyValue(
        async () => {
          const response = await readDelivery();
          statuses.push(response.status);
          return response;
        },
        (r) => r.status === 200 && r.json()["replica"] === survivor,
        "the policy running on the survivor",
        { timeoutMs: 25_000, intervalMs: 250 },
      );
      for (const status of statuses) assert.ok(status === 200 || status === 503, `status ${status}`);
      assert.ok(
        (moved.json()["sinks"] as Json[]).some((s) => s["name"] === "store"),
        "the survivor's pipelines",
      );
    });
  },
);

describe("the delivery subresource through telex serve --api-only, a push handover", () => {
  let dir = "";
  let api: TelexServe;
  const replicas: TelexServe[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-fleet-delivery-handover-"));
    await writeTokens(dir);
    api = await apiOnly(dir);
    replicas.push(await startTelexServe(replicaArgs(api, dir, "replica-a")));
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the new owner's counters and says the old one still drains its backlog", async () => {
    const control = `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/alpha/control-plane`;
    // A policy replica-b will own once it joins (each uid does with ½; the API makes the uids).
    let name = "";
    for (let k = 0; k < 16 && name === ""; k++) {
      const created = await apiRequest(control, "POST", POLICIES, {
        token: ALPHA_TOKEN,
        body: shippingPolicy(undefined, `mover-${k}`),
      });
      assert.equal(created.status, 201, created.text);
      const uid = String((created.json()["metadata"] as Json)["uid"]);
      if (rendezvousOwner(uid, ["replica-a", "replica-b"]) === "replica-b") name = `mover-${k}`;
    }
    assert.notEqual(name, "", "a policy replica-b will own");
    const read = () => apiRequest(control, "GET", `${POLICIES}/${name}/delivery`, { token: ALPHA_TOKEN });
    const a = replicas[0];
    assert.ok(a !== undefined);
    await eventuallyValue(
      async () => (await read()).json(),
      (b) => b["replica"] === "replica-a",
      "the policy running on replica-a alone",
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    // A backlog on replica-a: the sink is down and keeps what it got.
    const now = Date.now();
    await eventuallyValue(
      () =>
        pushSeries(
          `${a.ingestUrl ?? ""}/api/v1/write`,
          [1, 2, 3].map((id) => ({
            labels: [
              { name: "__name__", value: METRIC },
              { name: "id", value: String(id) },
              { name: TENANT_LABEL, value: "alpha" },
            ],
            samples: [{ value: id, timestampMs: now }],
          })),
          { Authorization: `Bearer ${INGEST_TOKEN}` },
        ),
      (r) => r.status === 204,
      "the push accepted",
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await eventuallyValue(
      async () => (await read()).json(),
      (b) => {
        const dead = (b["sinks"] as Json[] | undefined)?.find((s) => s["name"] === "dead");
        return dead !== undefined && dead["down"] !== undefined && dead["samplesBuffered"] === 3;
      },
      "3 samples held by the down sink on replica-a",
      { timeoutMs: 15_000, intervalMs: 200 },
    );

    replicas.push(await startTelexServe(replicaArgs(api, dir, "replica-b")));
    const statuses = new Set<number>();
    const handedOver = await eventuallyValue(
      async () => {
        const response = await read();
        statuses.add(response.status);
        return response;
      },
      (r) => r.status === 200 && r.json()["replica"] === "replica-b",
      "the new owner's counters",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    for (const status of statuses) assert.ok(status === 200 || status === 503, `status ${status}`);
    assert.match(
      String(handedOver.json()["message"]),
      /the policy is being handed over: replica replica-a also runs it \(draining\) and holds 3 buffered samples of it; the counters shown are replica replica-b's, which owns it now/,
    );
    const described = await runCli([
      "describe",
      "exportpolicy",
      name,
      "--server",
      api.url,
      "--project",
      "alpha",
      "--token",
      ALPHA_TOKEN,
    ]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Running on: {3}replica replica-b$/m);
    assert.match(described.stdout, /^Delivery note: the policy is being handed over: replica replica-a/m);
  });
});

describe(
  "the delivery subresource through telex serve --api-only, a pull fleet",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let api: TelexServe;
    let source: RunningVictoriaMetrics;
    let replica: TelexServe;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-fleet-delivery-pull-"));
      await writeTokens(dir);
      source = await startVictoriaMetrics();
      api = await apiOnly(dir, ["--source-url", source.url]);
      replica = await startTelexServe([
        ...replicaArgs(api, dir, "puller"),
        "--source-url",
        source.url,
        "--pull-interval",
        "500ms",
        "--pull-lag",
        "1s",
      ]);
    });

    after(async () => {
      await replica.stop();
      await api.stop();
      await source.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("the replica's forward-only listener answers: counters, down state and last error", async () => {
      const created = await apiRequest(
        `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/alpha/control-plane`,
        "POST",
        POLICIES,
        {
          token: ALPHA_TOKEN,
          body: shippingPolicy(undefined),
        },
      );
      assert.equal(created.status, 201, created.text);
      // Samples that keep arriving in the store: each pull reads the newest.
      const feed = setInterval(() => {
        const at = Date.now() - 1_500;
        void importPrometheusText(source, `${METRIC}{${TENANT_LABEL}="alpha",id="1"} 1 ${at}\n`)
          .then(() => forceFlush(source))
          .catch(() => undefined);
      }, 300);
      try {
        const served = await eventuallyValue(
          async () =>
            (
              await apiRequest(
                `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/alpha/control-plane`,
                "GET",
                `${POLICIES}/shipping/delivery`,
                { token: ALPHA_TOKEN },
              )
            ).json(),
          (b) => {
            const dead = (b["sinks"] as Json[] | undefined)?.find((s) => s["name"] === "dead");
            return dead !== undefined && dead["down"] !== undefined && Number(dead["samplesReceived"]) > 0;
          },
          "the pull sink down, through the API server",
          { timeoutMs: 40_000, intervalMs: 300 },
        );
        assert.equal(served["replica"], "puller");
        const dead = sinkOf(served, "dead");
        assert.equal((dead["lastError"] as Json)["reason"], "Unreachable");
      } finally {
        clearInterval(feed);
      }
      // The forward-only listener: the token is wanted there too.
      const forward = FORWARD_LINE.exec(replica.output())?.[1];
      assert.ok(forward, "the replica printed its forward listener");
      const anonymous = await fetch(`${forward}${DELIVERY_PATH}?uid=x`, {
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(anonymous.status, 401);
    });

    it("a replica whose listener is open on a non-loopback address answers no delivery reports", async () => {
      const open = await startTelexServe([
        "--join",
        api.url,
        "--token-file",
        join(dir, "replica.token"),
        "--replica-name",
        "open",
        "--data-dir",
        join(dir, "open"),
        "--source-url",
        source.url,
        "--ingest-listen",
        "0.0.0.0:0",
        "--ingest-allow-unauthenticated",
      ]);
      try {
        const forward = FORWARD_LINE.exec(open.output())?.[1];
        assert.ok(forward, "the replica printed its forward listener");
        const url = new URL(`${DELIVERY_PATH}?uid=x`, forward);
        url.hostname = "127.0.0.1";
        const answer = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        assert.equal(answer.status, 404);
        assert.match(await answer.text(), /^no such endpoint/);
      } finally {
        await open.stop();
      }
    });
  },
);
