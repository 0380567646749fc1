// The ExportPolicy `sinktest` subresource with a stand-in tester: what the
// API resolves itself (the policy given or stored, the sink, the Secret's
// credentials, which reach the tester and never the answer), what it
// refuses, and how many tests it runs at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type ApiResponse,
  type TestApiServer,
} from "../../test-support/telex-api.js";
import type { SinkTestOutcome, SinkTestRequest } from "./index.js";

const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const SECRETS = "/api/v1/namespaces/default/secrets";

const OK: SinkTestOutcome = {
  accepted: true,
  phases: ["DNS", "TCP", "TLS", "HTTP"].map((name) => ({ name, result: "Succeeded", message: name })),
};

function withSecret(name: string, secret: string): Record<string, unknown> {
  const policy = examplePolicy(name) as { spec: { sinks: { target: { prometheusRemoteWrite: object } }[] } };
  const [sink] = policy.spec.sinks;
  assert.ok(sink);
  sink.target.prometheusRemoteWrite = {
    ...sink.target.prometheusRemoteWrite,
    authentication: { basicAuth: { secretRef: { name: secret } } },
  };
  return policy;
}

describe("the exportpolicies/sinktest subresource", () => {
  let server: TestApiServer;
  const asked: SinkTestRequest[] = [];
  let release: (() => void) | undefined;
  let hold: Promise<void> | undefined;

  before(async () => {
    server = await startTestApiServer({
      sinkTest: async (request) => {
        asked.push(request);
        await hold;
        return OK;
      },
    });
    const secret = await request("POST", SECRETS, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds" },
      type: "kubernetes.io/basic-auth",
      stringData: { username: "alice", password: "pa55-word" },
    });
    assert.equal(secret.status, 201, secret.text);
  });
  after(async () => {
    await server.close();
  });

  const request = (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    apiRequest(server.api.projectUrl("p-one"), method, path, body === undefined ? {} : { body });
  const test = (name: string, spec: Record<string, unknown>): Promise<ApiResponse> =>
    request("POST", `${POLICIES}/${name}/sinktest`, {
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      kind: "ExportPolicySinkTest",
      spec,
    });

  it("tests a policy given in the body with the Secret's credentials; the answer does not carry them", async () => {
    asked.length = 0;
    const answer = await test("unapplied", { policy: withSecret("unapplied", "creds") });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(asked, [
      {
        endpoint: "https://metrics.example.com/api/v1/write",
        credentials: { username: "alice", password: "pa55-word" },
        secret: "default/creds",
      },
    ]);
    const body = answer.json();
    assert.equal(body["kind"], "ExportPolicySinkTest");
    assert.deepEqual(body["spec"], { sink: "remote" });
    const status = body["status"] as { accepted: boolean; secretRef: unknown; phases: { name: string }[] };
    assert.equal(status.accepted, true);
    assert.deepEqual(status.secretRef, { namespace: "default", name: "creds" });
    assert.deepEqual(
      status.phases.map((p) => p.name),
      ["Auth", "DNS", "TCP", "TLS", "HTTP"],
    );
    assert.ok(!answer.text.includes("pa55-word") && !answer.text.includes("alice"), answer.text);
    const stored = await request("GET", `${POLICIES}/unapplied`);
    assert.equal(stored.status, 404, "a dry run: nothing stored");
  });

  it("tests the stored policy when the body has none; 404 when there is none", async () => {
    const created = await request("POST", POLICIES, examplePolicy("stored"));
    assert.equal(created.status, 201, created.text);
    asked.length = 0;
    assert.equal((await test("stored", {})).status, 201);
    assert.deepEqual(asked, [{ endpoint: "https://metrics.example.com/api/v1/write" }]);
    const missing = await test("never-made", {});
    assert.equal(missing.status, 404, missing.text);
  });

  it("a missing Secret is the Auth phase's failure, and the tester is not asked", async () => {
    asked.length = 0;
    const answer = await test("no-secret", { policy: withSecret("no-secret", "absent") });
    assert.equal(answer.status, 201, answer.text);
    const status = answer.json()["status"] as {
      accepted: boolean;
      phases: { name: string; result: string; reason?: string; fix?: string }[];
    };
    assert.equal(status.accepted, false);
    assert.deepEqual(status.phases[0], {
      name: "Auth",
      result: "Failed",
      message: "Secret default/absent not found",
      reason: "SecretNotFound",
      fix: "create it: telex create secret basic-auth absent --username USER --password PASSWORD",
    });
    assert.deepEqual(asked, []);
  });

  it("refuses what it cannot test: another name, an unknown sink, an invalid policy, another kind, GET", async () => {
    const renamed = await test("one-name", { policy: examplePolicy("another-name") });
    assert.equal(renamed.status, 400, renamed.text);
    const unknownSink = await test("x", { policy: examplePolicy("x"), sink: "nope" });
    assert.equal(unknownSink.status, 422, unknownSink.text);
    assert.match(
      String(unknownSink.json()["message"]),
      /spec\.sink: Not found: "nope": the policy's sinks are remote/,
    );
    const invalid = { ...examplePolicy("bad"), spec: { sources: [], sinks: [] } };
    assert.equal((await test("bad", { policy: invalid })).status, 422);
    const kind = await request("POST", `${POLICIES}/x/sinktest`, { kind: "Eviction", spec: {} });
    assert.equal(kind.status, 400, kind.text);
    assert.equal((await request("GET", `${POLICIES}/stored/sinktest`)).status, 405);
  });

  it("runs four at once per project; the fifth is told to come back (429)", async () => {
    hold = new Promise((resolve) => {
      release = resolve;
    });
    try {
      asked.length = 0;
      const running = Array.from({ length: 4 }, () => test("stored", {}));
      // The four are in the tester before the fifth arrives.
      for (let i = 0; i < 500 && asked.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(asked.length, 4);
      const fifth = await test("stored", {});
      assert.equal(fifth.status, 429, fifth.text);
      assert.match(String(fifth.json()["message"]), /too many sink tests are running in this project/);
      release?.();
      for (const answer of await Promise.all(running)) assert.equal(answer.status, 201);
      assert.equal((await test("stored", {})).status, 201, "free again");
    } finally {
      release?.();
      hold = undefined;
    }
  });

  it("discovery lists exportpolicies/sinktest with the create verb", async () => {
    const list = await request("GET", "/apis/telemetry.miloapis.com/v1alpha1");
    const resources = list.json()["resources"] as { name: string; kind: string; verbs: string[] }[];
    assert.ok(
      resources.some(
        (r) =>
          r.name === "exportpolicies/sinktest" &&
          r.kind === "ExportPolicySinkTest" &&
          r.verbs.join() === "create",
      ),
      list.text,
    );
  });
});
