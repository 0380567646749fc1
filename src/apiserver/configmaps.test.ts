// The platform plane's core/v1 ConfigMaps with kube-apiserver's semantics:
// CRUD, optimistic concurrency, the merge patches (null removes a key),
// validation with kube's messages and field paths, `immutable`, the 1 MiB
// data limit, the --max-config-maps quota, platform principals only, kept out
// of every project — over raw HTTP, through src/kube's KubeClient and
// Informer the way replicas keep pull positions, and through the real kubectl.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { eventually, eventuallyValue } from "../../test-support/eventually.js";
import { Kubectl, kubectlPeer } from "../../test-support/kubectl.js";
import {
  apiRequest,
  startTestApiServer,
  startTestApiWithClient,
  type ApiResponse,
  type RequestOptions,
  type TestApiServer,
  type TestApiWithClient,
} from "../../test-support/telex-api.js";
import { CONFIG_MAPS, platformPath } from "../controller/layout.js";
import { ApiCursorStore, POSITIONS_LABEL } from "../fleet/index.js";
import {
  Informer,
  KubeApiError,
  PLATFORM_NAMESPACE,
  type ConfigMap,
  type KubeClient,
} from "../kube/index.js";
import { silentLogger, systemClock } from "../util/index.js";

type Json = Record<string, unknown>;

const CMS = "/api/v1/namespaces/telex-system/configmaps";
const ALL_CMS = "/api/v1/configmaps";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
const MERGE = "application/merge-patch+json";
const MiB = 1024 * 1024;

const configMap = (name: string, fields: Json = {}): Json => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  ...fields,
});

const metaOf = (object: Json): Json => object["metadata"] as Json;
const dataOf = (object: Json): Json | undefined => object["data"] as Json | undefined;

/** `field: message` of each cause of a 422, as kubectl prints them. */
function causesOf(response: ApiResponse): string[] {
  assert.equal(response.status, 422, response.text);
  const body = response.json();
  assert.equal(body["reason"], "Invalid");
  return ((body["details"] as Json)["causes"] as Json[]).map(
    (c) => `${String(c["field"])}: ${String(c["message"])}`,
  );
}

describe("ConfigMaps in the platform plane", () => {
  let server: TestApiServer;
  const call = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(server.api.url, method, path, options);
  const create = async (body: Json): Promise<Json> => {
    const response = await call("POST", CMS, { body });
    assert.equal(response.status, 201, response.text);
    return response.json();
  };
  const mergePatch = (name: string, body: Json): Promise<ApiResponse> =>
    call("PATCH", `${CMS}/${name}`, { body, contentType: MERGE });

  before(async () => {
    server = await startTestApiServer({ quotas: { maxConfigMaps: 8 } });
  });
  after(async () => {
    await server.close();
  });

  it("is in the root's core group discovery as configmaps (short name cm) and in its OpenAPI", async () => {
    const core = (await call("GET", "/api/v1")).json();
    const resources = core["resources"] as Json[];
    assert.deepEqual(
      resources.map((r) => [r["name"], r["kind"], r["namespaced"], r["shortNames"]]),
      [["configmaps", "ConfigMap", true, ["cm"]]],
    );
    assert.deepEqual((resources[0]?.["verbs"] as string[]).slice().sort(), [
      "create",
      "delete",
      "deletecollection",
      "get",
      "list",
      "patch",
      "update",
      "watch",
    ]);
    const root = (await call("GET", "/openapi/v3")).json()["paths"] as Record<string, Json>;
    const link = String(root["api/v1"]?.["serverRelativeURL"]);
    assert.match(link, /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]+$/);
    const schemas = ((await call("GET", link)).json()["components"] as { schemas: Record<string, Json> })
      .schemas;
    const schema = schemas["io.k8s.api.core.v1.ConfigMap"];
    assert.deepEqual(schema?.["x-kubernetes-group-version-kind"], [
      { group: "", version: "v1", kind: "ConfigMap" },
    ]);
    assert.deepEqual(Object.keys(schema["properties"] as Json).sort(), [
      "apiVersion",
      "binaryData",
      "data",
      "immutable",
      "kind",
      "metadata",
    ]);
  });

  it("creates, gets, lists, updates with resourceVersion (409 when stale) and deletes", async () => {
    const created = await create(
      configMap("settings", { data: { mode: "pull", "key.with-dots_ok": "1" }, binaryData: { raw: "AAEC" } }),
    );
    assert.deepEqual(dataOf(created), { mode: "pull", "key.with-dots_ok": "1" });
    assert.deepEqual(created["binaryData"], { raw: "AAEC" });
    assert.equal(metaOf(created)["namespace"], "telex-system");
    assert.equal(metaOf(created)["generation"], undefined, "ConfigMaps do not count generations");
    assert.deepEqual((await call("GET", `${CMS}/settings`)).json(), created);

    const empty = await create(configMap("empty", { data: {} }));
    assert.equal("data" in empty, false, "an empty map is not stored (omitempty)");
    const across = (await call("GET", ALL_CMS)).json();
    assert.deepEqual(
      (across["items"] as Json[]).map((item) => metaOf(item)["name"]),
      ["empty", "settings"],
    );

    const updated = await call("PUT", `${CMS}/settings`, {
      body: { ...created, data: { mode: "push" } },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual(dataOf(updated.json()), { mode: "push" });
    assert.notEqual(metaOf(updated.json())["resourceVersion"], metaOf(created)["resourceVersion"]);
    const stale = await call("PUT", `${CMS}/settings`, { body: { ...created, data: { mode: "stale" } } });
    assert.equal(stale.status, 409, stale.text);
    assert.match(String(stale.json()["message"]), /configmaps "settings": the object has been modified/);
    const { resourceVersion: _dropped, ...unversioned } = metaOf(created);
    const unconditional = await call("PUT", `${CMS}/settings`, {
      body: { ...created, metadata: unversioned, data: { mode: "last-writer" } },
    });
    assert.equal(unconditional.status, 200, "without a resourceVersion the update is unconditional");
    const again = await call("POST", CMS, { body: configMap("settings") });
    assert.equal(again.status, 409);
    assert.equal(again.json()["reason"], "AlreadyExists");

    assert.equal((await call("DELETE", `${CMS}/settings`)).status, 200);
    assert.equal((await call("DELETE", `${CMS}/empty`)).status, 200);
    const gone = await call("GET", `${CMS}/settings`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json()["message"], 'configmaps "settings" not found');
  });

  it("merge-patches data: a key is added or changed, null removes one; 404 before the first create", async () => {
    const missing = await mergePatch("positions", { data: { a: "1" } });
    assert.equal(missing.status, 404, "a replica's first flush learns it must POST");
    await create(configMap("positions", { data: { gone: "5", kept: "7" } }));
    const patched = await mergePatch("positions", { data: { key: "value", gone: null } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(dataOf(patched.json()), { kept: "7", key: "value" });
    const strategic = await call("PATCH", `${CMS}/positions`, {
      body: { data: { kept: null, other: "x" } },
      contentType: "application/strategic-merge-patch+json",
    });
    assert.equal(strategic.status, 200, "a built-in kind takes strategic merge patches");
    assert.deepEqual(dataOf(strategic.json()), { key: "value", other: "x" });
    const json = await call("PATCH", `${CMS}/positions`, {
      body: [{ op: "replace", path: "/data/key", value: "json" }],
      contentType: "application/json-patch+json",
    });
    assert.deepEqual(dataOf(json.json()), { key: "json", other: "x" });
    const emptied = await mergePatch("positions", { data: { key: null, other: null } });
    assert.equal("data" in emptied.json(), false);
    assert.equal((await call("DELETE", `${CMS}/positions`)).status, 200);
  });

  it("answers 422 with kube's field paths and words for keys, names and labels", async () => {
    const long = "k".repeat(254);
    const causes = causesOf(
      await call("POST", CMS, {
        body: {
          ...configMap("Bad_Name", {
            data: { "bad key": "v", [long]: "v", dup: "v", "..": "v", "..x": "v" },
            binaryData: { dup: "AA==", "bin/slash": "AA==", notbase64: "***" },
          }),
          metadata: { name: "Bad_Name", labels: { "bad label": "x" } },
        },
      }),
    );
    const expected = [
      'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
      "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      `data[${long}]: Invalid value: "${long}": must be no more than 253 characters`,
      'data[dup]: Invalid value: "dup": duplicate of key present in binaryData',
      "data[..]: Invalid value: \"..\": must not be '..'",
      "data[..x]: Invalid value: \"..x\": must not start with '..'",
      'binaryData[bin/slash]: Invalid value: "bin/slash": a valid config key must consist',
      'binaryData[notbase64]: Invalid value: "***": must be base64 encoded',
      "metadata.labels[bad label]: Invalid value",
    ];
    for (const text of expected) {
      assert.ok(
        causes.some((c) => c.startsWith(text)),
        `${text}\nin:\n${causes.join("\n")}`,
      );
    }
    assert.equal(causes.length, expected.length, causes.join("\n"));
    assert.equal((await call("GET", `${CMS}/Bad_Name`)).status, 404, "nothing was stored");

    const wrongType = await call("POST", CMS, { body: configMap("typed", { data: { n: 5 } }) });
    assert.equal(wrongType.status, 422, "data values are strings");

    await create(configMap("patched-badly", { data: { ok: "1" } }));
    const viaPatch = causesOf(await mergePatch("patched-badly", { data: { "no spaces": "x" } }));
    assert.match(viaPatch.join("\n"), /^data\[no spaces\]: Invalid value: "no spaces"/);
    assert.deepEqual(dataOf((await call("GET", `${CMS}/patched-badly`)).json()), { ok: "1" });
    assert.equal((await call("DELETE", `${CMS}/patched-badly`)).status, 200);
  });

  it("takes keys named like Object.prototype's properties as keys, and still checks their values", async () => {
    // As text: in an object literal `__proto__:` would set the prototype, not a key.
    const response = await call("POST", CMS, {
      body: '{"metadata":{"name":"proto-keys"},"data":{"__proto__":"p","constructor":"c"}}',
    });
    assert.equal(response.status, 201, response.text);
    assert.match(response.text, /"data":\{"__proto__":"p","constructor":"c"\}/);
    const removed = await call("PATCH", `${CMS}/proto-keys`, {
      body: '{"data":{"__proto__":null,"toString":"t"}}',
      contentType: MERGE,
    });
    assert.match(removed.text, /"data":\{"constructor":"c","toString":"t"\}/);
    const typed = causesOf(
      await call("POST", CMS, { body: configMap("typed-proto", { data: { constructor: 5 } }) }),
    );
    assert.deepEqual(typed, ["data.constructor: Invalid value: 5: must be of type string, not integer"]);
    const strict = await call("POST", `${CMS}?fieldValidation=Strict`, {
      body: configMap("unknown-proto", { toString: { x: 1 } }),
    });
    assert.equal(strict.status, 400, "toString is no field of a ConfigMap");
    assert.match(String(strict.json()["message"]), /strict decoding error: unknown field "toString"/);
    assert.equal((await call("DELETE", `${CMS}/proto-keys`)).status, 200);
  });

  it("limits data and binaryData together to 1 MiB of values, binaryData counted decoded", async () => {
    const over = await call("POST", CMS, { body: configMap("big", { data: { a: "x".repeat(MiB + 1) } }) });
    assert.deepEqual(causesOf(over), ["[]: Too long: must have at most 1048576 bytes"]);
    assert.match(
      String(over.json()["message"]),
      /^ConfigMap "big" is invalid: \[\]: Too long: must have at most 1048576 bytes$/,
    );

    // 700,000 bytes as base64 are 933,336 characters: counted as characters, these two would be over.
    const binary = Buffer.alloc(700_000, 7).toString("base64");
    const exact = await call("POST", CMS, {
      body: configMap("exact", { binaryData: { blob: binary }, data: { rest: "y".repeat(MiB - 700_000) } }),
    });
    assert.equal(exact.status, 201, exact.text.slice(0, 500));
    const grown = await mergePatch("exact", { data: { more: "z" } });
    assert.deepEqual(causesOf(grown), ["[]: Too long: must have at most 1048576 bytes"]);
    const multibyte = await call("POST", CMS, {
      body: configMap("utf8", { data: { e: "é".repeat(MiB / 2 + 1) } }),
    });
    assert.deepEqual(causesOf(multibyte), ["[]: Too long: must have at most 1048576 bytes"], "UTF-8 bytes");
    assert.equal((await call("DELETE", `${CMS}/exact`)).status, 200);
  });

  it("freezes data and binaryData once immutable is true; metadata still changes, delete still works", async () => {
    await create(configMap("frozen", { data: { a: "1" }, binaryData: { b: "AQ==" }, immutable: true }));
    const IMMUTABLE = "Forbidden: field is immutable when `immutable` is set";
    assert.deepEqual(causesOf(await mergePatch("frozen", { data: { a: "2" } })), [`data: ${IMMUTABLE}`]);
    assert.deepEqual(causesOf(await mergePatch("frozen", { binaryData: { c: "Ag==" } })), [
      `binaryData: ${IMMUTABLE}`,
    ]);
    assert.deepEqual(causesOf(await mergePatch("frozen", { immutable: false })), [`immutable: ${IMMUTABLE}`]);
    assert.deepEqual(causesOf(await mergePatch("frozen", { immutable: null, data: null })), [
      `immutable: ${IMMUTABLE}`,
      `data: ${IMMUTABLE}`,
    ]);
    const current = (await call("GET", `${CMS}/frozen`)).json();
    const put = await call("PUT", `${CMS}/frozen`, { body: { ...current, data: { a: "3" } } });
    assert.match(causesOf(put).join("\n"), /^data: Forbidden: field is immutable/);
    const labelled = await mergePatch("frozen", { metadata: { labels: { team: "fleet" } } });
    assert.equal(labelled.status, 200, labelled.text);
    assert.deepEqual(dataOf(labelled.json()), { a: "1" });
    assert.equal((await call("DELETE", `${CMS}/frozen`)).status, 200);

    await create(configMap("thawed", { data: { a: "1" } }));
    assert.equal((await mergePatch("thawed", { data: { a: "2" }, immutable: true })).status, 200);
    assert.deepEqual(causesOf(await mergePatch("thawed", { data: { a: "3" } })), [`data: ${IMMUTABLE}`]);
    assert.equal((await call("DELETE", `${CMS}/thawed`)).status, 200);
  });

  it("prints NAME DATA AGE as a Table, DATA counting data and binaryData", async () => {
    await create(configMap("counted", { data: { a: "1", b: "2" }, binaryData: { c: "AA==" } }));
    await create(configMap("bare"));
    const table = (await call("GET", CMS, { accept: TABLE })).json();
    assert.deepEqual(
      (table["columnDefinitions"] as Json[]).map((c) => c["name"]),
      ["Name", "Data", "Age"],
    );
    const rows = (table["rows"] as { cells: unknown[] }[]).map((r) => r.cells.slice(0, 2));
    assert.deepEqual(rows, [
      ["bare", 0],
      ["counted", 3],
    ]);
  });

  it("bounds the number of ConfigMaps (--max-config-maps), counting deletions", async () => {
    // bare and counted exist; the quota is 8.
    for (const n of [1, 2, 3, 4, 5, 6]) await create(configMap(`q-${n}`));
    const over = await call("POST", CMS, { body: configMap("q-7") });
    assert.equal(over.status, 403, over.text);
    assert.match(
      String(over.json()["message"]),
      /^configmaps "q-7" is forbidden: exceeded quota: the platform plane, requested: count\/configmaps=1, used: count\/configmaps=8, limited: count\/configmaps=8 \(telex serve --max-config-maps\)$/,
    );
    const dryRun = await call("POST", `${CMS}?dryRun=All`, { body: configMap("q-7") });
    assert.equal(dryRun.status, 403, "a dry run is refused too");
    assert.equal((await call("DELETE", `${CMS}/q-6`)).status, 200);
    await create(configMap("q-7"));
    assert.equal((await mergePatch("q-7", { data: { grows: "but is no new object" } })).status, 200);
  });

  it("has one namespace, telex-system: creating elsewhere is 404 namespaces not found", async () => {
    const response = await call("POST", "/api/v1/namespaces/default/configmaps", {
      body: configMap("elsewhere"),
    });
    assert.equal(response.status, 404);
    assert.match(String(response.json()["message"]), /namespaces "default" not found/);
  });

  it("keeps ConfigMaps out of every project and of the cross-project view", async () => {
    const project = server.api.projectUrl("some-project");
    const inProject = await apiRequest(project, "GET", "/api/v1/namespaces/default/configmaps");
    assert.equal(inProject.status, 404, inProject.text);
    const create = await apiRequest(project, "POST", "/api/v1/namespaces/default/configmaps", {
      body: configMap("tenant-cm"),
    });
    assert.equal(create.status, 404, create.text);
    const core = (await apiRequest(project, "GET", "/api/v1")).json()["resources"] as Json[];
    assert.ok(core.length > 0 && !core.some((r) => r["name"] === "configmaps"));
    const view = `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/-/control-plane`;
    assert.equal((await apiRequest(view, "GET", "/api/v1/configmaps")).status, 404);
    const projectSchemas = await apiRequest(project, "GET", "/openapi/v3/api/v1");
    assert.doesNotMatch(projectSchemas.text, /io\.k8s\.api\.core\.v1\.ConfigMap/);
  });
});

describe("pull positions in ConfigMaps through src/kube", () => {
  let api: TestApiWithClient;
  let client: KubeClient;
  const collection = platformPath(CONFIG_MAPS, PLATFORM_NAMESPACE);

  before(async () => {
    api = await startTestApiWithClient();
    client = api.client;
  });
  after(async () => {
    await api.close();
  });

  it("merge-patches, creates on 404 with POST, and an informer sees ADDED, MODIFIED and DELETED", async () => {
    assert.equal(collection, "/api/v1/namespaces/telex-system/configmaps");
    const seen: string[] = [];
    const informer = new Informer<ConfigMap>({
      client,
      path: platformPath(CONFIG_MAPS),
      keyOf: (object) => `${object.metadata.namespace ?? ""}/${object.metadata.name}`,
      handlers: {
        onUpsert: (key, object, previous) => {
          seen.push(`${previous === undefined ? "ADDED" : "MODIFIED"} ${key} ${JSON.stringify(object.data)}`);
        },
        onDelete: (key) => {
          seen.push(`DELETED ${key}`);
        },
      },
      clock: systemClock,
      logger: silentLogger,
    });
    informer.start();
    await informer.waitForSync();
    try {
      const name = "telex-pull-positions-replica-a-3";
      const path = `${collection}/${name}`;
      await assert.rejects(
        client.request("PATCH", path, { contentType: MERGE, body: { data: { job: "100" } } }),
        (error: unknown) => error instanceof KubeApiError && error.statusCode === 404,
      );
      const created = await client.request<ConfigMap>("POST", collection, {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name, labels: { [POSITIONS_LABEL]: "true" } },
          data: { gone: "50", job: "100" },
        },
      });
      assert.equal(created.metadata.labels?.[POSITIONS_LABEL], "true");
      const patched = await client.request<ConfigMap>("PATCH", path, {
        contentType: MERGE,
        body: { data: { job: "200", other: "7", gone: null } },
      });
      assert.deepEqual(patched.data, { job: "200", other: "7" });
      const key = `${PLATFORM_NAMESPACE}/${name}`;
      await eventually(() => seen.length >= 2, "the informer to see the create and the patch");
      assert.deepEqual(seen, [
        `ADDED ${key} {"gone":"50","job":"100"}`,
        `MODIFIED ${key} {"job":"200","other":"7"}`,
      ]);
      assert.deepEqual(informer.get(key)?.data, { job: "200", other: "7" });
      await client.request("DELETE", path);
      await eventually(() => seen.length === 3, "the informer to see the deletion");
      assert.equal(seen[2], `DELETED ${key}`);
    } finally {
      await informer.stop();
    }
  });

  it("carries ApiCursorStore's positions from one replica to the next", async () => {
    const storeOf = (identity: string): ApiCursorStore =>
      new ApiCursorStore({ client, configMapsPath: collection, identity, flushIntervalMs: 10 });
    const first = storeOf("replica-one");
    await first.start();
    await Promise.all([first.save("policy-a/source", 1_000), first.save("policy-b/source", 2_000)]);
    await first.save("policy-a/source", 1_500);
    await Promise.all([first.delete("policy-b/source"), first.save("policy-c/source", 3_000)]);
    await first.close();

    const listed = await client.request<{ items: ConfigMap[] }>("GET", collection, {
      query: { labelSelector: `${POSITIONS_LABEL}=true` },
    });
    assert.ok(listed.items.length > 0);
    for (const item of listed.items)
      assert.match(item.metadata.name, /^telex-pull-positions-replica-one-\d$/);
    const second = storeOf("replica-two");
    await second.start();
    try {
      const loaded = await eventuallyValue(
        () => [
          second.load("policy-a/source"),
          second.load("policy-b/source"),
          second.load("policy-c/source"),
        ],
        (values) => values[0] !== undefined,
        "the next replica to read the positions",
      );
      assert.deepEqual(loaded, [1_500, undefined, 3_000]);
    } finally {
      await second.close();
    }
  });
});

const TOKENS = {
  platformAdmin: "platform-admin-token-0001",
  platformViewer: "platform-viewer-token-0001",
  tenant: "tenant-admin-token-of-p-one",
};

const TOKENS_FILE = stringify({
  tokens: [
    { token: TOKENS.platformAdmin, user: "replica", projects: ["*"], role: "admin" },
    { token: TOKENS.platformViewer, user: "watcher", projects: ["*"], role: "viewer" },
    { token: TOKENS.tenant, user: "alice", projects: ["p-one"], role: "admin" },
  ],
});

describe("who may use the platform plane's ConfigMaps", () => {
  let dir: string;
  let server: TestApiServer;
  const call = (token: string, method: string, path: string, options: RequestOptions = {}) =>
    apiRequest(server.api.url, method, path, { ...options, token, ca: server.caPem ?? "" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-configmaps-auth-"));
    await writeFile(join(dir, "tokens.yaml"), TOKENS_FILE);
    server = await startTestApiServer({ tokensFile: join(dir, "tokens.yaml"), selfSignedTls: true });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lets a platform admin write and a platform viewer only read", async () => {
    const created = await call(TOKENS.platformAdmin, "POST", CMS, {
      body: configMap("cm1", { data: { a: "1" } }),
    });
    assert.equal(created.status, 201, created.text);
    assert.equal((await call(TOKENS.platformViewer, "GET", `${CMS}/cm1`)).status, 200);
    const write = await call(TOKENS.platformViewer, "PATCH", `${CMS}/cm1`, {
      body: { data: { a: "2" } },
      contentType: MERGE,
    });
    assert.equal(write.status, 403);
    assert.match(
      String(write.json()["message"]),
      /User "watcher" cannot patch resource "configmaps" in API group "" in the namespace "telex-system" of the platform plane/,
    );
  });

  it("refuses a project's token everything, whether the ConfigMap exists or not", async () => {
    const attempts: [string, string, RequestOptions?][] = [
      ["GET", "/api/v1"],
      ["GET", ALL_CMS],
      ["GET", `${ALL_CMS}?watch=true`],
      ["GET", CMS],
      ["GET", `${CMS}/cm1`],
      ["GET", `${CMS}/absent`],
      ["POST", CMS, { body: configMap("tenant-cm") }],
      ["PUT", `${CMS}/cm1`, { body: configMap("cm1", { data: { a: "tenant" } }) }],
      ["PATCH", `${CMS}/cm1`, { body: { data: { a: "tenant" } }, contentType: MERGE }],
      ["DELETE", `${CMS}/cm1`],
    ];
    for (const [method, path, options] of attempts) {
      const response = await call(TOKENS.tenant, method, path, options);
      assert.equal(response.status, 403, `${method} ${path}: ${response.text}`);
    }
    const listed = (await call(TOKENS.platformAdmin, "GET", ALL_CMS)).json()["items"] as Json[];
    assert.deepEqual(
      listed.map((item) => [metaOf(item)["name"], dataOf(item)]),
      [["cm1", { a: "1" }]],
      "none of the tenant's writes happened",
    );
  });
});

describe("kubectl against the platform plane's ConfigMaps", { skip: kubectlPeer.skip }, () => {
  let dir: string;
  let server: TestApiServer;
  let admin: Kubectl;
  let tenant: Kubectl;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-configmaps-kubectl-"));
    await writeFile(join(dir, "tokens.yaml"), TOKENS_FILE);
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

  it("creates (protobuf), applies, lists with kube's columns, shows YAML, patches and deletes", async () => {
    const created = await admin.ok([
      "create",
      "configmap",
      "positions",
      "--from-literal=job-a=100",
      "--from-literal=job-b=200",
    ]);
    assert.match(created, /^configmap\/positions created$/m);
    const applied = await admin.ok(
      ["apply", "-f", "-"],
      stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "applied", namespace: "telex-system", labels: { [POSITIONS_LABEL]: "true" } },
        data: { one: "1" },
      }),
    );
    assert.match(applied, /^configmap\/applied created$/m);

    const listed = await admin.ok(["get", "configmaps", "-n", "telex-system"]);
    assert.match(listed, /^NAME\s+DATA\s+AGE\n/);
    assert.match(listed, /^applied\s+1\s+\d+s$/m);
    assert.match(listed, /^positions\s+2\s+\d+s$/m);
    const all = await admin.ok(["get", "cm", "-A"]);
    assert.match(all, /^NAMESPACE\s+NAME\s+DATA\s+AGE\n/);
    assert.match(all, /^telex-system\s+positions\s+2\s+\d+s$/m);
    const selected = await admin.ok(["get", "cm", "-l", `${POSITIONS_LABEL}=true`, "-o", "name"]);
    assert.equal(selected, "configmap/applied\n");

    const yaml = await admin.ok(["get", "cm", "positions", "-o", "yaml"]);
    assert.match(yaml, /^apiVersion: v1$/m);
    assert.match(yaml, /^kind: ConfigMap$/m);
    assert.match(yaml, /^data:\n {2}job-a: "100"\n {2}job-b: "200"$/m);
    assert.match(yaml, /^ {2}namespace: telex-system$/m);

    const patched = await admin.ok([
      "patch",
      "cm",
      "positions",
      "--type=merge",
      "-p",
      '{"data":{"job-c":"300","job-a":null}}',
      "-o",
      "jsonpath={.data}",
    ]);
    assert.deepEqual(JSON.parse(patched), { "job-b": "200", "job-c": "300" });
    const invalid = await admin.run([
      "patch",
      "cm",
      "positions",
      "--type=merge",
      "-p",
      '{"data":{"a b":"1"}}',
    ]);
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /data\[a b\]: Invalid value: "a b": a valid config key must consist/);
    const serverSide = await admin.ok(
      ["apply", "--server-side", "-f", "-"],
      stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "applied", namespace: "telex-system" },
        data: { one: "1", two: "2" },
      }),
    );
    assert.match(serverSide, /^configmap\/applied serverside-applied$/m);
    assert.equal(await admin.ok(["get", "cm", "applied", "-o", "jsonpath={.data.two}"]), "2");
    // kubectl's ConfigMap describer also lists core Events, which the platform plane does not serve.
    const described = await admin.ok(["describe", "cm", "positions", "--show-events=false"]);
    assert.match(described, /^Name:\s+positions$/m);
    assert.match(described, /^job-c:\n-+\n300$/m);
    assert.match(await admin.ok(["delete", "cm", "applied"]), /configmap "applied" deleted/);
    assert.doesNotMatch(await admin.ok(["get", "cm"]), /^applied/m);
  });

  it("tells a tenant it is forbidden", async () => {
    const result = await tenant.run(["get", "cm", "-A"]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /forbidden/i);
    assert.doesNotMatch(result.stdout, /positions/);
    const create = await tenant.run(["create", "configmap", "mine", "--from-literal=a=1"]);
    assert.notEqual(create.code, 0);
    assert.match(create.stderr, /forbidden/i);
  });
});
