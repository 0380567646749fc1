// The platform plane at the API's root: coordination.k8s.io/v1 Leases with
// kube-apiserver's semantics (CRUD, optimistic concurrency, watch, validation,
// MicroTime), the fixed `telex-system` namespace, the Lease quota, platform
// principals only — over raw HTTP and through the real kubectl.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { Kubectl, kubectlPeer } from "../../test-support/kubectl.js";
import {
  apiRequest,
  startTestApiServer,
  type ApiResponse,
  type RequestOptions,
  type TestApiServer,
} from "../../test-support/telex-api.js";
import { watchEvents } from "../../test-support/watch-events.js";

type Json = Record<string, unknown>;

const LEASES = "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases";
const ALL_LEASES = "/apis/coordination.k8s.io/v1/leases";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

const lease = (name: string, spec: Json = {}): Json => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name },
  spec: { holderIdentity: `${name}-holder`, leaseDurationSeconds: 15, ...spec },
});

const specOf = (object: Json): Json => object["spec"] as Json;
const metaOf = (object: Json): Json => object["metadata"] as Json;

describe("Leases in the platform plane", () => {
  let server: TestApiServer;
  const call = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(server.api.url, method, path, options);
  const create = async (body: Json): Promise<Json> => {
    const response = await call("POST", LEASES, { body });
    assert.equal(response.status, 201, response.text);
    return response.json();
  };

  before(async () => {
    server = await startTestApiServer({ bookmarkIntervalMs: 100, quotas: { maxLeases: 6 } });
  });
  after(async () => {
    await server.close();
  });

  it("serves discovery and OpenAPI at the root with coordination.k8s.io/v1 leases (and core configmaps)", async () => {
    assert.deepEqual((await call("GET", "/api")).json()["versions"], ["v1"]);
    const core = (await call("GET", "/api/v1")).json()["resources"] as Json[];
    assert.deepEqual(
      core.map((r) => r["name"]),
      ["configmaps"],
    );
    const groups = (await call("GET", "/apis")).json()["groups"] as { name: string }[];
    assert.deepEqual(groups.map((g) => g.name).sort(), [
      "authentication.k8s.io",
      "authorization.k8s.io",
      "coordination.k8s.io",
    ]);
    const resources = (await call("GET", "/apis/coordination.k8s.io/v1")).json()["resources"] as Json[];
    assert.deepEqual(
      resources.map((r) => [r["name"], r["kind"], r["namespaced"]]),
      [["leases", "Lease", true]],
    );
    assert.equal((await call("GET", "/apis/telemetry.miloapis.com/v1alpha1")).status, 404);
    const root = (await call("GET", "/openapi/v3")).json()["paths"] as Record<string, Json>;
    const link = String(root["apis/coordination.k8s.io/v1"]?.["serverRelativeURL"]);
    assert.match(link, /^\/openapi\/v3\/apis\/coordination\.k8s\.io\/v1\?hash=[0-9A-F]+$/);
    const doc = (await call("GET", link)).json();
    const schemas = (doc["components"] as { schemas: Record<string, Json> }).schemas;
    assert.deepEqual(schemas["io.k8s.api.coordination.v1.Lease"]?.["x-kubernetes-group-version-kind"], [
      { group: "coordination.k8s.io", version: "v1", kind: "Lease" },
    ]);
  });

  it("creates, gets, lists, updates, patches and deletes, with MicroTimes as kube writes them", async () => {
    const created = await create(
      lease("replica-a", {
        acquireTime: "2026-12-01T10:00:00Z",
        renewTime: "2026-12-01T11:00:00.5+01:00",
        leaseTransitions: 0,
      }),
    );
    assert.deepEqual(specOf(created), {
      holderIdentity: "replica-a-holder",
      leaseDurationSeconds: 15,
      acquireTime: "2026-12-01T10:00:00.000000Z",
      renewTime: "2026-12-01T10:00:00.500000Z",
      leaseTransitions: 0,
    });
    assert.equal(metaOf(created)["namespace"], "telex-system");
    assert.equal(metaOf(created)["generation"], undefined, "Leases do not count generations");
    const got = (await call("GET", `${LEASES}/replica-a`)).json();
    assert.deepEqual(got, created);

    await create(lease("replica-b"));
    const across = (await call("GET", ALL_LEASES)).json();
    assert.deepEqual(
      (across["items"] as Json[]).map((item) => metaOf(item)["name"]),
      ["replica-a", "replica-b"],
    );
    const renewed = await call("PUT", `${LEASES}/replica-a`, {
      body: { ...got, spec: { ...specOf(got), renewTime: "2026-12-01T10:00:10.123456789Z" } },
    });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(specOf(renewed.json())["renewTime"], "2026-12-01T10:00:10.123456Z");
    assert.notEqual(metaOf(renewed.json())["resourceVersion"], metaOf(got)["resourceVersion"]);

    const patched = await call("PATCH", `${LEASES}/replica-a`, {
      body: { spec: { holderIdentity: "replica-c", leaseTransitions: 1 } },
      contentType: "application/merge-patch+json",
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(
      [specOf(patched.json())["holderIdentity"], specOf(patched.json())["leaseTransitions"]],
      ["replica-c", 1],
    );
    const strategic = await call("PATCH", `${LEASES}/replica-a`, {
      body: { spec: { holderIdentity: "replica-d" } },
      contentType: "application/strategic-merge-patch+json",
    });
    assert.equal(strategic.status, 200, "a built-in kind takes strategic merge patches");

    assert.equal((await call("DELETE", `${LEASES}/replica-b`)).status, 200);
    assert.equal((await call("GET", `${LEASES}/replica-b`)).status, 404);
  });

  it("refuses an update with a stale resourceVersion (409), so two replicas cannot both take a Lease", async () => {
    const first = await create(lease("contended"));
    const take = (holder: string) =>
      call("PUT", `${LEASES}/contended`, {
        body: { ...first, spec: { ...specOf(first), holderIdentity: holder } },
      });
    assert.equal((await take("replica-1")).status, 200);
    const second = await take("replica-2");
    assert.equal(second.status, 409, second.text);
    assert.equal(second.json()["reason"], "Conflict");
    assert.match(String(second.json()["message"]), /the object has been modified/);
    const holder = specOf((await call("GET", `${LEASES}/contended`)).json())["holderIdentity"];
    assert.equal(holder, "replica-1");
    const exists = await call("POST", LEASES, { body: lease("contended") });
    assert.equal(exists.status, 409);
    assert.equal(exists.json()["reason"], "AlreadyExists");
  });

  it("answers 422 Invalid with a cause per field, in kube-apiserver's words", async () => {
    const response = await call("POST", LEASES, {
      body: lease("Bad_Name", {
        leaseDurationSeconds: 0,
        leaseTransitions: -1,
        renewTime: "yesterday",
        preferredHolder: "replica-x",
      }),
    });
    assert.equal(response.status, 422, response.text);
    const body = response.json();
    assert.equal(body["reason"], "Invalid");
    const causes = ((body["details"] as Json)["causes"] as Json[]).map(
      (c) => `${String(c["field"])}: ${String(c["message"])}`,
    );
    for (const expected of [
      /^metadata\.name: .*RFC 1123 subdomain/,
      /^spec\.leaseDurationSeconds: .*must be greater than 0/,
      /^spec\.leaseTransitions: .*must be greater than or equal to 0/,
      /^spec\.renewTime: .*must be an RFC 3339 time/,
      /^spec\.preferredHolder: .*may only be specified if `strategy` is defined/,
    ]) {
      assert.ok(
        causes.some((c) => expected.test(c)),
        `${String(expected)} in:\n${causes.join("\n")}`,
      );
    }
  });

  it("has one namespace, telex-system: creating elsewhere is 404 namespaces not found", async () => {
    const response = await call("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", {
      body: lease("elsewhere"),
    });
    assert.equal(response.status, 404);
    assert.match(String(response.json()["message"]), /namespaces "default" not found/);
    const list = await call("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases");
    assert.deepEqual(list.json()["items"], []);
  });

  it("streams ADDED, MODIFIED and DELETED to a watch from a list's resourceVersion", async () => {
    const list = (await call("GET", ALL_LEASES)).json();
    const from = String(metaOf(list)["resourceVersion"]);
    const events = watchEvents(`${server.api.url}${LEASES}?watch=true&resourceVersion=${from}`, 3);
    const created = await create(lease("watched"));
    const updated = await call("PUT", `${LEASES}/watched`, {
      body: { ...created, spec: { ...specOf(created), renewTime: "2026-12-01T10:00:00.000001Z" } },
    });
    assert.equal(updated.status, 200);
    assert.equal((await call("DELETE", `${LEASES}/watched`)).status, 200);
    const seen = await events;
    assert.deepEqual(
      seen.map((e) => `${e.type} ${String(metaOf(e.object)["name"])}`),
      ["ADDED watched", "MODIFIED watched", "DELETED watched"],
    );
    assert.equal(specOf(seen[1]?.object ?? {})["renewTime"], "2026-12-01T10:00:00.000001Z");
  });

  it("prints NAME HOLDER AGE as a Table", async () => {
    const table = (await call("GET", LEASES, { accept: TABLE })).json();
    assert.deepEqual(
      (table["columnDefinitions"] as Json[]).map((c) => c["name"]),
      ["Name", "Holder", "Age"],
    );
    const rows = (table["rows"] as { cells: unknown[] }[]).map((r) => r.cells.slice(0, 2));
    assert.deepEqual(rows, [
      ["contended", "replica-1"],
      ["replica-a", "replica-d"],
    ]);
  });

  it("bounds the number of Leases (--max-leases), counting deletions", async () => {
    // replica-a and contended exist; the quota is 6.
    for (const name of ["q-1", "q-2", "q-3", "q-4"]) await create(lease(name));
    const over = await call("POST", LEASES, { body: lease("q-5") });
    assert.equal(over.status, 403, over.text);
    assert.match(
      String(over.json()["message"]),
      /exceeded quota: the platform plane, requested: count\/leases\.coordination\.k8s\.io=1, used: count\/leases\.coordination\.k8s\.io=6, limited: count\/leases\.coordination\.k8s\.io=6 \(telex serve --max-leases\)/,
    );
    assert.equal((await call("DELETE", `${LEASES}/q-4`)).status, 200);
    await create(lease("q-5"));
  });

  it("keeps Leases out of every project and of the cross-project view", async () => {
    const project = server.api.projectUrl("some-project");
    const inProject = await apiRequest(project, "GET", "/apis/coordination.k8s.io/v1/leases");
    assert.equal(inProject.status, 404);
    const groups = (await apiRequest(project, "GET", "/apis")).json()["groups"] as { name: string }[];
    assert.ok(!groups.some((g) => g.name === "coordination.k8s.io"));
    const view = `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/-/control-plane`;
    assert.equal((await apiRequest(view, "GET", "/apis/coordination.k8s.io/v1/leases")).status, 404);
    const namespaces = (await apiRequest(view, "GET", "/api/v1/namespaces")).json()["items"] as Json[];
    assert.ok(
      namespaces.every((n) => metaOf(n)["name"] !== "telex-system"),
      "the platform namespace is not a project's",
    );
  });
});

const TOKENS = {
  platformAdmin: "platform-admin-token-0001",
  platformViewer: "platform-viewer-token-0001",
  tenant: "tenant-admin-token-of-p-one",
};

describe("who may use the platform plane", () => {
  let dir: string;
  let server: TestApiServer;
  const call = (token: string, method: string, path: string, body?: Json): Promise<ApiResponse> =>
    apiRequest(server.api.url, method, path, {
      token,
      ca: server.caPem ?? "",
      ...(body === undefined ? {} : { body }),
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-leases-auth-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: TOKENS.platformAdmin, user: "replica", projects: ["*"], role: "admin" },
          { token: TOKENS.platformViewer, user: "watcher", projects: ["*"], role: "viewer" },
          { token: TOKENS.tenant, user: "alice", projects: ["p-one"], role: "admin" },
        ],
      }),
    );
    server = await startTestApiServer({ tokensFile: join(dir, "tokens.yaml"), selfSignedTls: true });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lets a platform admin write and a platform viewer read", async () => {
    assert.equal((await call(TOKENS.platformAdmin, "POST", LEASES, lease("r1"))).status, 201);
    const read = await call(TOKENS.platformViewer, "GET", `${LEASES}/r1`);
    assert.equal(read.status, 200);
    const write = await call(TOKENS.platformViewer, "DELETE", `${LEASES}/r1`);
    assert.equal(write.status, 403);
    assert.match(
      String(write.json()["message"]),
      /User "watcher" cannot delete resource "leases" in API group "coordination.k8s.io" in the namespace "telex-system" of the platform plane/,
    );
  });

  it("refuses a project's token everything, discovery included, whether the Lease exists or not", async () => {
    const attempts: [string, string, Json?][] = [
      ["GET", "/apis"],
      ["GET", "/api/v1"],
      ["GET", "/openapi/v3"],
      ["GET", ALL_LEASES],
      ["GET", `${LEASES}/r1`],
      ["GET", `${LEASES}/absent`],
      ["POST", LEASES, lease("tenant-lease")],
      ["DELETE", `${LEASES}/r1`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await call(TOKENS.tenant, method, path, body);
      assert.equal(response.status, 403, `${method} ${path}: ${response.text}`);
    }
    const listed = await call(TOKENS.platformAdmin, "GET", ALL_LEASES);
    assert.equal((listed.json()["items"] as Json[]).length, 1, "the tenant's create did not happen");
  });
});

describe("kubectl against the platform plane", { skip: kubectlPeer.skip }, () => {
  let dir: string;
  let server: TestApiServer;
  let admin: Kubectl;
  let tenant: Kubectl;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-leases-kubectl-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: TOKENS.platformAdmin, user: "replica", projects: ["*"], role: "admin" },
          { token: TOKENS.tenant, user: "alice", projects: ["p-one"], role: "admin" },
        ],
      }),
    );
    server = await startTestApiServer({ tokensFile: join(dir, "tokens.yaml"), selfSignedTls: true });
    const caPem = server.caPem ?? "";
    [admin, tenant] = await Promise.all([
      Kubectl.create({
        server: server.api.url,
        token: TOKENS.platformAdmin,
        caPem,
        namespace: "telex-system",
      }),
      Kubectl.create({ server: server.api.url, token: TOKENS.tenant, caPem, namespace: "telex-system" }),
    ]);
  });
  after(async () => {
    await Promise.all([admin.cleanup(), tenant.cleanup()]);
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies a Lease and lists it with kube's columns, in its namespace and across namespaces", async () => {
    const applied = await admin.ok(
      ["apply", "-f", "-"],
      stringify({ ...lease("replica-0"), metadata: { name: "replica-0", namespace: "telex-system" } }),
    );
    assert.match(applied, /lease\.coordination\.k8s\.io\/replica-0 created/);
    const listed = await admin.ok(["get", "leases", "-n", "telex-system"]);
    assert.match(listed, /^NAME\s+HOLDER\s+AGE\n/);
    assert.match(listed, /^replica-0\s+replica-0-holder\s+\d+s$/m);
    const all = await admin.ok(["get", "leases", "-A"]);
    assert.match(all, /^NAMESPACE\s+NAME\s+HOLDER\s+AGE\n/);
    assert.match(all, /^telex-system\s+replica-0\s+replica-0-holder\s+\d+s$/m);
    const renew = await admin.ok([
      "patch",
      "lease",
      "replica-0",
      "--type=merge",
      "-p",
      '{"spec":{"renewTime":"2026-12-01T10:00:00.25Z"}}',
      "-o",
      "jsonpath={.spec.renewTime}",
    ]);
    assert.equal(renew, "2026-12-01T10:00:00.250000Z");
  });

  it("tells a tenant it is forbidden", async () => {
    const result = await tenant.run(["get", "leases", "-A"]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /forbidden/i);
    assert.doesNotMatch(result.stdout, /replica-0/);
  });
});
