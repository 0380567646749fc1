// Two ways writes do less without changing what they accept or store: a
// stored spec that a write leaves as it was is not validated again
// (kube-apiserver's validation ratcheting), and the finalizer of the
// controller in the same process is set at create, owned by that
// controller's field manager.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { DATABASE_FILE } from "./server.js";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type RequestOptions,
  type TestApiServer,
} from "../../test-support/telex-api.js";

const EP = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const MERGE = "application/merge-patch+json";
const APPLY = "application/apply-patch+yaml";
type Json = Record<string, unknown>;

const metadataOf = (object: Json): Json => object["metadata"] as Json;
const readyStatus = {
  status: {
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Delivering",
        message: "every sink delivers",
        lastTransitionTime: "2026-12-07T00:00:00Z",
      },
    ],
  },
};

describe("a write that leaves a stored spec as it was", () => {
  const servers: TestApiServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });

  it("does not refuse it for what today's rules find in it; a changed spec is validated whole", async () => {
    const first = await startTestApiServer();
    const call = (method: string, path: string, options?: RequestOptions) =>
      apiRequest(first.api.projectUrl("ratchet"), method, path, options);
    assert.equal((await call("POST", EP, { body: examplePolicy("kept") })).status, 201);
    await first.api.stop();
    // As a policy written under looser rules would be stored: its selector no longer parses.
    const db = new Database(join(first.dataDir, DATABASE_FILE));
    const row = db.prepare("SELECT body FROM objects WHERE resource = 'exportpolicies'").get() as {
      body: string;
    };
    const stored = JSON.parse(row.body) as { spec: { sources: { metrics: { metricsql: string } }[] } };
    const source = stored.spec.sources[0];
    assert.ok(source !== undefined);
    source.metrics.metricsql = '{service_name=~"("}';
    db.prepare("UPDATE objects SET body = ? WHERE resource = 'exportpolicies'").run(JSON.stringify(stored));
    db.close();

    const second = await startTestApiServer({ dataDir: first.dataDir });
    servers.push(second);
    const again = (method: string, path: string, options?: RequestOptions) =>
      apiRequest(second.api.projectUrl("ratchet"), method, path, options);
    const status = await again("PATCH", `${EP}/kept/status`, { body: readyStatus, contentType: MERGE });
    assert.equal(status.status, 200, status.text);
    const labelled = await again("PATCH", `${EP}/kept`, {
      body: { metadata: { labels: { team: "a" } } },
      contentType: MERGE,
    });
    assert.equal(labelled.status, 200, labelled.text);
    assert.equal(metadataOf(labelled.json())["generation"], 1, "the spec did not change");

    const changed = await again("PATCH", `${EP}/kept`, {
      body: {
        spec: {
          sinks: [
            {
              name: "remote",
              sources: ["gateways"],
              target: { prometheusRemoteWrite: { endpoint: "https://other.example.com/api/v1/write" } },
            },
          ],
        },
      },
      contentType: MERGE,
    });
    assert.equal(changed.status, 422, changed.text);
    assert.match(changed.text, /spec\.sources\[0\]\.metrics\.metricsql/);
    // A status that breaks the schema is refused as ever.
    const badStatus = await again("PATCH", `${EP}/kept/status`, {
      body: { status: { conditions: [{ type: "Ready", status: "Maybe" }] } },
      contentType: MERGE,
    });
    assert.equal(badStatus.status, 422, badStatus.text);
  });
});

describe("the finalizer of a controller in the API's process", () => {
  const FINALIZER = "example.com/controller";
  let server: TestApiServer | undefined;
  after(async () => {
    await server?.close();
  });

  it("is set at create, through POST and through server-side apply, in the controller's name", async () => {
    server = await startTestApiServer({
      policyFinalizer: { finalizer: FINALIZER, manager: "the-controller" },
    });
    const base = server.api.projectUrl("finalized");
    const call = (method: string, path: string, options?: RequestOptions) =>
      apiRequest(base, method, path, options);

    const created = await call("POST", `${EP}?fieldManager=creator`, { body: examplePolicy("posted") });
    assert.equal(created.status, 201, created.text);
    const meta = metadataOf(created.json());
    assert.deepEqual(meta["finalizers"], [FINALIZER]);
    const managers = meta["managedFields"] as { manager: string; fieldsV1: Json }[];
    const controller = managers.find((m) => m.manager === "the-controller");
    assert.deepEqual(controller?.fieldsV1, {
      "f:metadata": { "f:finalizers": { [`v:"${FINALIZER}"`]: {} } },
    });
    assert.equal(
      JSON.stringify(managers.find((m) => m.manager === "creator")?.fieldsV1).includes("finalizers"),
      false,
      "the creator does not own the finalizer",
    );

    const applied = await call("PATCH", `${EP}/applied?fieldManager=applier`, {
      body: JSON.stringify(examplePolicy("applied")),
      contentType: APPLY,
    });
    assert.equal(applied.status, 201, applied.text);
    assert.deepEqual(metadataOf(applied.json())["finalizers"], [FINALIZER]);
    // The applier never set it, so applying again without it leaves it.
    const reapplied = await call("PATCH", `${EP}/applied?fieldManager=applier`, {
      body: JSON.stringify({
        ...examplePolicy("applied"),
        metadata: { name: "applied", labels: { a: "b" } },
      }),
      contentType: APPLY,
    });
    assert.equal(reapplied.status, 200, reapplied.text);
    assert.deepEqual(metadataOf(reapplied.json())["finalizers"], [FINALIZER]);

    // Deleting waits for the controller, as when it had added the finalizer itself.
    assert.equal((await call("DELETE", `${EP}/posted`)).status, 200);
    const deleting = await call("GET", `${EP}/posted`);
    assert.equal(deleting.status, 200);
    assert.ok(metadataOf(deleting.json())["deletionTimestamp"] !== undefined);
  });

  it("is not set by a server without a controller", async () => {
    const bare = await startTestApiServer();
    try {
      const created = await apiRequest(bare.api.projectUrl("bare"), "POST", EP, { body: examplePolicy("p") });
      assert.equal(created.status, 201, created.text);
      assert.equal(metadataOf(created.json())["finalizers"], undefined);
    } finally {
      await bare.close();
    }
  });
});
