// `telex serve --log-format json` as an operator reads it: every line one
// JSON event; a policy's sink whose endpoint fails (503) is logged once as
// a transition, with the project, policy and sink on the line; and no
// credential — the Secret's password, its Basic header, the ingest or API
// token — appears anywhere in the output.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { eventuallyValue } from "../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";

const API_TOKEN = "api-token-never-logged-1234";
const INGEST_TOKEN = "ingest-token-never-logged-5678";
const PASSWORD = "password-never-logged-9012";
const PROJECT = "logs";

describe("telex serve --log-format json", () => {
  let dir = "";
  let server: TelexServe;
  let endpoint: FaultServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-logs-"));
    endpoint = await startFaultServer(() => ({ status: 503, body: "down for maintenance" }));
    await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({ tokens: [{ token: API_TOKEN, user: "admin", projects: [PROJECT], role: "admin" }] }),
    );
    server = await startTelexServe([
      "--api-listen",
      "127.0.0.1:0",
      "--tokens-file",
      join(dir, "tokens.yaml"),
      "--ingest-token-file",
      join(dir, "ingest.token"),
      "--data-dir",
      join(dir, "data"),
      "--endpoint-allow",
      "127.0.0.0/8",
      "--status-interval",
      "300ms",
      "--log-format",
      "json",
    ]);
  });

  after(async () => {
    await server.stop();
    await endpoint.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes one JSON event per line, the sink's failure once with its policy, and no credential", async () => {
    const plane = `${server.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
    const secret = await apiRequest(plane, "POST", "/api/v1/namespaces/default/secrets", {
      token: API_TOKEN,
      body: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "creds" },
        type: "kubernetes.io/basic-auth",
        stringData: { username: "telex", password: PASSWORD },
      },
    });
    assert.equal(secret.status, 201, secret.text);
    const policy = await apiRequest(
      plane,
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      {
        token: API_TOKEN,
        body: {
          apiVersion: "telemetry.miloapis.com/v1alpha1",
          kind: "ExportPolicy",
          metadata: { name: "gateways" },
          spec: {
            sources: [{ name: "all", metrics: { metricsql: "{}" } }],
            sinks: [
              {
                name: "customer",
                sources: ["all"],
                target: {
                  prometheusRemoteWrite: {
                    endpoint: `${endpoint.url}/api/v1/write`,
                    authentication: { basicAuth: { secretRef: { name: "creds" } } },
                    batch: { timeout: "100ms" },
                    retry: { maxAttempts: 1, backoffDuration: "100ms" },
                  },
                },
              },
            ],
          },
        },
      },
    );
    assert.equal(policy.status, 201, policy.text);

    const events = (): Record<string, unknown>[] =>
      server
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    await eventuallyValue(
      async () => {
        const pushed = await pushSeries(
          `${server.ingestUrl ?? ""}/api/v1/write`,
          [
            {
              labels: [
                { name: "__name__", value: "up" },
                { name: TENANT_LABEL, value: PROJECT },
              ],
              samples: [{ value: 1, timestampMs: Date.now() }],
            },
          ],
          { Authorization: `Bearer ${INGEST_TOKEN}` },
        );
        assert.equal(pushed.status, 204, pushed.body);
        return events();
      },
      (list) => list.some((event) => event["msg"] === "sink endpoint down: keeping its samples and probing"),
      "the sink's failure logged",
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const all = events();
    // The warm-up pass (warm-up.ts) ran once before ingest opened, and relayed what it selected.
    const warmed = all.filter((event) => event["msg"] === "warmed up the relaying path");
    assert.equal(warmed.length, 1, JSON.stringify(warmed));
    assert.ok(Number(warmed[0]?.["sent"]) > 0, JSON.stringify(warmed));
    const down = all.filter(
      (event) => event["msg"] === "sink endpoint down: keeping its samples and probing",
    );
    assert.equal(down.length, 1, "once per transition, not per request");
    assert.equal(down[0]?.["level"], "warn");
    assert.deepEqual(
      [down[0]["project"], down[0]["namespace"], down[0]["policy"], down[0]["sink"]],
      [PROJECT, "default", "gateways", "customer"],
    );
    assert.ok(
      all.some((event) => event["msg"] === "exporting policy" && event["policy"] === "gateways"),
      "the apply is logged",
    );
    const sinkReadiness = all.filter(
      (event) => event["msg"] === "readiness changed" && event["sink"] === "customer",
    );
    assert.equal(sinkReadiness.length, 1, JSON.stringify(sinkReadiness));
    assert.equal(sinkReadiness[0]?.["level"], "warn");
    assert.match(String(sinkReadiness[0]["transition"]), /→ False \(/);

    // Whatever the stderr lines say, and stdout's start-up report too: no credential.
    const output = server.output();
    const basic = Buffer.from(`telex:${PASSWORD}`).toString("base64");
    for (const secretText of [PASSWORD, basic, INGEST_TOKEN, API_TOKEN])
      assert.ok(!output.includes(secretText), `${secretText} appears in the output`);
    const nonJson = output
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("{"))
      .filter((line) => !/^(api|ui|ingest|metrics|controller|Next| {2})/.test(line));
    assert.deepEqual(nonJson, [], "stderr holds only JSON events");
  });
});
