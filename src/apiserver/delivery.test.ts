// The ExportPolicy `delivery` subresource: live counters from a provider,
// served read-only with the policy's own authorization, and 404 where no
// exporter runs with the API.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { Kubectl, kubectlPeer } from "../../test-support/kubectl.js";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type ApiResponse,
  type RequestOptions,
  type TestApiServer,
} from "../../test-support/telex-api.js";
import type { DeliveryPolicyRef, PolicyDelivery } from "./index.js";

const TOKENS = {
  admin: "admin-token-of-project-one",
  viewer: "viewer-token-of-project-one",
  other: "admin-token-of-project-two",
  everywhere: "viewer-token-of-every-project",
};

const TOKENS_FILE = stringify({
  tokens: [
    { token: TOKENS.admin, user: "alice", projects: ["p-one"], role: "admin" },
    { token: TOKENS.viewer, user: "victor", projects: ["p-one"], role: "viewer" },
    { token: TOKENS.other, user: "mallory", projects: ["p-two"], role: "admin" },
    { token: TOKENS.everywhere, user: "watcher", projects: ["*"], role: "viewer" },
  ],
});

const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const delivery = (name: string): string => `${POLICIES}/${name}/delivery`;

const LAST_SUCCESS_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const LAST_ERROR_MS = Date.UTC(2026, 0, 2, 3, 4, 9, 1);
const DOWN_SINCE_MS = Date.UTC(2026, 0, 2, 3, 4, 7, 0);
const NEXT_PROBE_MS = Date.UTC(2026, 0, 2, 3, 9, 7, 500);

const REPORT: PolicyDelivery = {
  generation: 1,
  sinks: [
    {
      name: "remote",
      samplesReceived: 1500,
      samplesSent: 1200,
      samplesDropped: { buffer_full: 0, expired: 250 },
      samplesBuffered: 50,
      bufferedBytes: 1600,
      lagSeconds: 192.5,
      shards: 4,
      samplesRetried: 300,
      down: { sinceMs: DOWN_SINCE_MS, nextProbeMs: NEXT_PROBE_MS, probes: 3 },
      requests: { success: 3, server_error: 2 },
      bytesSent: 4096,
      consecutiveFailures: 2,
      lastSuccessMs: LAST_SUCCESS_MS,
      lastError: { reason: "ServerError", message: "HTTP 503: overloaded", atMs: LAST_ERROR_MS },
      latency: { count: 5, sumSeconds: 0.25 },
      history: {
        intervalSeconds: 15,
        endMs: LAST_ERROR_MS,
        samplesSentPerSecond: [10, 12.5, 0],
        samplesDroppedPerSecond: [0, 0, 1],
      },
    },
  ],
  sources: [{ name: "gateways", samplesMatched: 1500 }],
};

describe("the exportpolicies/delivery subresource", () => {
  let dir: string;
  let server: TestApiServer;
  let uid = "";
  const asked: DeliveryPolicyRef[] = [];
  const base = (project = "p-one"): string => server.api.projectUrl(project);
  const request = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(base(), method, path, { token: TOKENS.admin, ...options, ca: server.caPem ?? "" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-delivery-"));
    await writeFile(join(dir, "tokens.yaml"), TOKENS_FILE);
    server = await startTestApiServer({
      tokensFile: join(dir, "tokens.yaml"),
      selfSignedTls: true,
      delivery: (policy) => {
        asked.push(policy);
        return policy.uid === uid ? REPORT : undefined;
      },
    });
    for (const name of ["running", "idle"]) {
      const created = await request("POST", POLICIES, { body: examplePolicy(name) });
      assert.equal(created.status, 201, created.text);
      if (name === "running") uid = String((created.json()["metadata"] as Record<string, unknown>)["uid"]);
    }
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers the provider's counters for the policy's uid, times in RFC 3339", async () => {
    const response = await request("GET", delivery("running"));
    assert.equal(response.status, 200, response.text);
    assert.equal(response.headers.get("content-type"), "application/json");
    const body = response.json();
    assert.match(String(body["timestamp"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    delete body["timestamp"];
    assert.deepEqual(body, {
      kind: "ExportPolicyDelivery",
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      metadata: { name: "running", namespace: "default", uid },
      observedGeneration: 1,
      sinks: [
        {
          name: "remote",
          samplesReceived: 1500,
          samplesSent: 1200,
          samplesDropped: { buffer_full: 0, expired: 250 },
          samplesBuffered: 50,
          samplesPending: 50,
          bufferedBytes: 1600,
          lagSeconds: 192.5,
          shards: 4,
          samplesRetried: 300,
          down: { since: "2026-01-02T03:04:07Z", nextProbeTime: "2026-01-02T03:09:07Z", probes: 3 },
          requests: { success: 3, server_error: 2 },
          bytesSent: 4096,
          consecutiveFailures: 2,
          lastSuccessTime: "2026-01-02T03:04:05Z",
          lastError: { reason: "ServerError", message: "HTTP 503: overloaded", time: "2026-01-02T03:04:09Z" },
          latency: { count: 5, sumSeconds: 0.25 },
          history: {
            intervalSeconds: 15,
            endTime: "2026-01-02T03:04:09Z",
            samplesSentPerSecond: [10, 12.5, 0],
            samplesDroppedPerSecond: [0, 0, 1],
          },
        },
      ],
      sources: [{ name: "gateways", samplesMatched: 1500 }],
    });
    assert.deepEqual(asked.at(-1), { project: "p-one", namespace: "default", name: "running", uid });
  });

  it("a policy without running pipelines gets no sinks and a message saying why", async () => {
    const response = await request("GET", delivery("idle"));
    assert.equal(response.status, 200, response.text);
    const body = response.json();
    assert.deepEqual([body["sinks"], body["sources"]], [[], []]);
    assert.match(String(body["message"]), /not reconciled yet, or its spec is invalid/);
    assert.equal(body["observedGeneration"], undefined);
  });

  it("a missing policy is the usual 404 NotFound, and the provider is not asked", async () => {
    const before = asked.length;
    const response = await request("GET", delivery("missing"));
    assert.equal(response.status, 404);
    assert.deepEqual(
      [response.json()["reason"], response.json()["message"]],
      ["NotFound", 'exportpolicies.telemetry.miloapis.com "missing" not found'],
    );
    assert.equal(asked.length, before);
  });

  it("is read-only: other methods are 405 and change nothing", async () => {
    for (const method of ["PUT", "PATCH", "POST", "DELETE"]) {
      const response = await request(method, delivery("running"), {
        body: { sinks: [] },
        contentType: method === "PATCH" ? "application/merge-patch+json" : "application/json",
      });
      assert.equal(response.status, 405, `${method}: ${response.text}`);
      assert.equal(response.json()["reason"], "MethodNotAllowed");
    }
    const still = await request("GET", `${POLICIES}/running`);
    assert.equal(still.status, 200);
  });

  it("a viewer may read it; another project's token is 403 whether the policy exists or not", async () => {
    const viewer = await request("GET", delivery("running"), { token: TOKENS.viewer });
    assert.equal(viewer.status, 200, viewer.text);
    assert.equal((viewer.json()["sinks"] as unknown[]).length, 1);
    const existing = await request("GET", delivery("running"), { token: TOKENS.other });
    const missing = await request("GET", delivery("missing"), { token: TOKENS.other });
    assert.equal(existing.status, 403);
    assert.equal(missing.status, 403);
    assert.match(String(existing.json()["message"]), /cannot get resource "exportpolicies\/delivery"/);
    assert.equal(existing.text.replaceAll("running", "NAME"), missing.text.replaceAll("missing", "NAME"));
    const anonymous = await apiRequest(base(), "GET", delivery("running"), { ca: server.caPem ?? "" });
    assert.equal(anonymous.status, 401);
  });

  it("is not served in the cross-project view", async () => {
    const response = await request("GET", delivery("running"), { token: TOKENS.everywhere });
    assert.equal(response.status, 200, "the token reads project p-one itself");
    const view = await apiRequest(base("-"), "GET", delivery("running"), {
      token: TOKENS.everywhere,
      ca: server.caPem ?? "",
    });
    assert.equal(view.status, 404, view.text);
    assert.match(String(view.json()["message"]), /served per project/);
  });

  it("discovery lists exportpolicies/delivery with the get verb only", async () => {
    const list = await request("GET", "/apis/telemetry.miloapis.com/v1alpha1");
    const resources = list.json()["resources"] as { name: string; kind: string; verbs: string[] }[];
    assert.deepEqual(
      resources.map((r) => `${r.name}:${r.kind}:${r.verbs.join(",")}`),
      [
        "exportpolicies:ExportPolicy:create,delete,deletecollection,get,list,patch,update,watch",
        "exportpolicies/status:ExportPolicy:get,patch,update",
        "exportpolicies/delivery:ExportPolicyDelivery:get",
      ],
    );
  });

  it("kubectl get --raw reads it with a viewer's token", { skip: kubectlPeer.skip }, async () => {
    const kubectl = await Kubectl.create({
      server: base(),
      token: TOKENS.viewer,
      caPem: server.caPem ?? "",
    });
    try {
      const raw = await kubectl.ok(["get", "--raw", `${new URL(base()).pathname}${delivery("running")}`]);
      const body = JSON.parse(raw) as { kind: string; sinks: { name: string; samplesSent: number }[] };
      assert.equal(body.kind, "ExportPolicyDelivery");
      assert.deepEqual(
        body.sinks.map((s) => [s.name, s.samplesSent]),
        [["remote", 1200]],
      );
      const missing = await kubectl.run([
        "get",
        "--raw",
        `${new URL(base()).pathname}${delivery("missing")}`,
      ]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /not found/);
    } finally {
      await kubectl.cleanup();
    }
  });
});

describe("the delivery subresource without a provider", () => {
  let server: TestApiServer;
  const base = (): string => server.api.projectUrl("alone");

  before(async () => {
    server = await startTestApiServer();
    const created = await apiRequest(base(), "POST", POLICIES, { body: examplePolicy("p") });
    assert.equal(created.status, 201, created.text);
  });
  after(async () => {
    await server.close();
  });

  it("is 404 NotFound saying no exporter runs here, and discovery does not list it", async () => {
    const response = await apiRequest(base(), "GET", delivery("p"));
    assert.equal(response.status, 404);
    assert.equal(response.json()["reason"], "NotFound");
    assert.match(
      String(response.json()["message"]),
      /not served by this API server: no exporter runs with it/,
    );
    const list = await apiRequest(base(), "GET", "/apis/telemetry.miloapis.com/v1alpha1");
    const names = (list.json()["resources"] as { name: string }[]).map((r) => r.name);
    assert.deepEqual(names, ["exportpolicies", "exportpolicies/status"]);
  });
});
