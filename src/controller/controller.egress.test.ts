// Egress end to end, in-process: `telex serve` with a tokens file (strangers
// share it, so loopback and private ranges are denied by default) and one
// explicitly allowed address. A policy aimed at a denied address warns at
// apply, never reaches the server listening there, and reports Ready=False
// EndpointForbidden; a receiver that echoes the request's headers in a 400
// leaks no credential into status, Events, /delivery or the logs.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { streamLogger } from "../util/index.js";
import { encodeWriteRequest } from "../remotewrite/index.js";
import { startServer, type RunningServer } from "../serve/index.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { apiRequest, type ApiResponse, type RequestOptions } from "../../test-support/telex-api.js";

const PROJECT = "p-egress";
const ADMIN = "admin-token-of-p-egress";
const VIEWER = "viewer-token-of-p-egress";
const CREDENTIALS = { username: "1234567", password: "glc_eyJvIjoiOTk5IiwibiI6InRlbGV4In0=" };
const TOKEN = Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64");
const SECRETS = [TOKEN, CREDENTIALS.username, CREDENTIALS.password, "glc_eyJ"];

const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

function policy(name: string, endpoint: string, secret?: string): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: [{ name: "gw", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
      sinks: [
        {
          name: "remote",
          sources: ["gw"],
          target: {
            prometheusRemoteWrite: {
              endpoint,
              batch: { timeout: "50ms" },
              retry: { maxAttempts: 2, backoffDuration: "50ms" },
              ...(secret === undefined
                ? {}
                : { authentication: { basicAuth: { secretRef: { name: secret } } } }),
            },
          },
        },
      ],
    },
  };
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}
type PolicyJson = { status?: { sinks?: { conditions?: Condition[] }[] } };
const sinkReady = (p: PolicyJson) => p.status?.sinks?.[0]?.conditions?.find((c) => c.type === "Ready");

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} carries a credential: ${text}`);
}

describe("egress policy and credential redaction end to end", () => {
  let dir = "";
  let server: RunningServer;
  let denied: FaultServer;
  let echo: FaultServer;
  let logs = "";

  const request = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(server.api.projectUrl(PROJECT), method, path, { token: ADMIN, ...options });
  const getPolicy = async (name: string, token = ADMIN) =>
    (await request("GET", `${POLICIES}/${name}`, { token })).json() as PolicyJson;
  const push = () => {
    server.exporter.ingest.apply(
      encodeWriteRequest([
        {
          labels: [
            { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
            { name: TENANT_LABEL, value: PROJECT },
            { name: "resource_kind", value: "Gateway" },
          ],
          samples: [{ value: 1, timestampMs: Date.now() }],
        },
      ]),
    );
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-egress-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: ADMIN, user: "alice", projects: [PROJECT], role: "admin" },
          { token: VIEWER, user: "victor", projects: [PROJECT], role: "viewer" },
        ],
      }),
    );
    // 127.0.0.2 stands for a customer's receiver: explicitly allowed. 127.0.0.1 stays denied (loopback).
    [denied, echo] = await Promise.all([
      startFaultServer(() => ({ status: 204 })),
      startFaultServer(
        (recorded) => ({
          status: 400,
          body: `invalid request, headers were ${JSON.stringify(recorded.headers)}`,
        }),
        "127.0.0.2",
      ),
    ]);
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      tokensFile: join(dir, "tokens.yaml"),
      statusRefreshMs: 200,
      endpointAllow: ["127.0.0.2/32"],
      logger: streamLogger((line) => {
        logs += line;
      }),
    });
  });

  after(async () => {
    await server.stop();
    await Promise.all([denied.close(), echo.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("warns at apply when an IP endpoint is denied, and says nothing for an allowed one", async () => {
    const created = await request("POST", POLICIES, {
      body: policy("metadata", "http://169.254.169.254/latest"),
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(
      created.headers.get("warning"),
      '299 - "sink \\"remote\\": 169.254.169.254 is a cloud metadata address (denied; allow with --endpoint-allow); this server will not deliver to it"',
    );
    const loopback = await request("POST", POLICIES, {
      body: policy("loopback", `${denied.url}/api/v1/write`),
    });
    assert.match(
      loopback.headers.get("warning") ?? "",
      /127\.0\.0\.1 is loopback \(denied on a shared server/,
    );
    const api = await request("POST", POLICIES, { body: policy("api", `${server.api.url}/api/v1/write`) });
    assert.match(
      api.headers.get("warning") ?? "",
      /127\.0\.0\.1:\d+ is Telex's API listener \(always denied\)/,
    );
    const allowed = await request("POST", POLICIES, {
      body: policy("dry", `${echo.url}/api/v1/write`),
      token: ADMIN,
    });
    assert.equal(allowed.status, 201);
    assert.equal(allowed.headers.get("warning"), null);
    await request("DELETE", `${POLICIES}/dry`);
  });

  it("reports EndpointForbidden for denied endpoints, and no request reaches the server there", async () => {
    push();
    for (const [name, message] of [
      ["metadata", "169.254.169.254 is a cloud metadata address (denied; allow with --endpoint-allow)"],
      ["loopback", "127.0.0.1 is loopback (denied on a shared server; allow with --endpoint-allow)"],
    ] as const) {
      const forbidden = await eventuallyValue(
        () => getPolicy(name),
        (p) => {
          push();
          return sinkReady(p)?.reason === "EndpointForbidden";
        },
        `${name}: EndpointForbidden`,
      );
      assert.deepEqual(
        { status: sinkReady(forbidden)?.status, message: sinkReady(forbidden)?.message },
        { status: "False", message },
      );
    }
    assert.equal(denied.requests.length, 0, "nothing reached the denied loopback server");
    const report = (await request("GET", `${POLICIES}/loopback/delivery`)).json() as {
      sinks: {
        samplesReceived: number;
        samplesSent: number;
        samplesBuffered: number;
        samplesDropped: Record<string, number>;
        requests: Record<string, number>;
      }[];
    };
    const [sink] = report.sinks;
    assert.ok(sink !== undefined);
    assert.ok((sink.samplesDropped["endpoint_forbidden"] ?? 0) > 0, JSON.stringify(sink));
    assert.equal(sink.requests["unreachable"], 0, "classified as forbidden, not as a network error");
    const dropped = Object.values(sink.samplesDropped).reduce((a, b) => a + b, 0);
    assert.equal(sink.samplesReceived, sink.samplesSent + dropped + sink.samplesBuffered);
  });

  it("never reflects the credentials a receiver echoes: status, Events, /delivery and logs", async () => {
    const secret = await request("POST", "/api/v1/namespaces/default/secrets", {
      body: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "creds" },
        type: "kubernetes.io/basic-auth",
        stringData: CREDENTIALS,
      },
    });
    assert.equal(secret.status, 201, secret.text);
    await request("POST", POLICIES, { body: policy("echo", `${echo.url}/api/v1/write`, "creds") });
    const rejected = await eventuallyValue(
      () => getPolicy("echo", VIEWER),
      (p) => {
        push();
        return sinkReady(p)?.reason === "Rejected";
      },
      "Rejected",
    );
    assert.equal(
      echo.requests[0]?.headers.authorization,
      `Basic ${TOKEN}`,
      "the receiver did get the credentials",
    );
    const message = sinkReady(rejected)?.message ?? "";
    assert.match(message, /^HTTP 400: invalid request, headers were .*"authorization":"\[REDACTED\]"/);
    assertNoSecret(message, "the sink condition");

    const events = await eventuallyValue(
      async () =>
        (await request("GET", "/api/v1/namespaces/default/events", { token: VIEWER })).json() as {
          items: { message: string; type: string; involvedObject: { name: string } }[];
        },
      (list) =>
        list.items.some((e) => e.involvedObject.name === "echo" && e.message.startsWith("sink remote")),
      "a Warning event",
    );
    const warning = events.items.find(
      (e) => e.involvedObject.name === "echo" && e.message.startsWith("sink remote"),
    );
    assert.equal(warning?.type, "Warning");
    assert.match(warning.message, /\[REDACTED\]/);
    for (const event of events.items) assertNoSecret(event.message, "an Event");

    const delivery = await request("GET", `${POLICIES}/echo/delivery`, { token: VIEWER });
    assert.equal(delivery.status, 200, delivery.text);
    assert.match(delivery.text, /\[REDACTED\]/);
    assertNoSecret(delivery.text, "/delivery");
    assertNoSecret(server.metrics(), "/metrics");
    assert.match(
      logs,
      /readiness changed .*sink remote Ready .*HTTP 400: .*\[REDACTED\]/,
      "the failure was logged",
    );
    assertNoSecret(logs, "the logs");
  });
});
