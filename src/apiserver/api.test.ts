// Kubernetes semantics over raw HTTP: discovery, writes, concurrency, patches,
// validation modes, bad input, lists, watches, tables, finalizers, namespaces.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type ApiResponse,
  type RequestOptions,
  type TestApiServer,
} from "../../test-support/telex-api.js";
import { watchEvents } from "../../test-support/watch-events.js";

const EP = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const SECRETS = "/api/v1/namespaces/default/secrets";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

type Json = Record<string, unknown>;
const meta = (object: Json): Json => object["metadata"] as Json;

describe("the resource API over HTTP", () => {
  let server: TestApiServer;
  let base: string;
  const call = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(base, method, path, options);
  const create = async (path: string, body: Json): Promise<Json> => {
    const response = await call("POST", path, { body });
    assert.equal(response.status, 201, response.text);
    return response.json();
  };

  before(async () => {
    server = await startTestApiServer({ eventWindow: 300, bookmarkIntervalMs: 100 });
    base = server.api.projectUrl("semantics");
  });
  after(async () => {
    await server.close();
  });

  describe("discovery and OpenAPI", () => {
    it("lists the groups, versions and resources kubectl resolves", async () => {
      assert.deepEqual((await call("GET", "/api")).json()["versions"], ["v1"]);
      const groups = (await call("GET", "/apis")).json()["groups"] as { name: string }[];
      assert.deepEqual(groups.map((g) => g.name).sort(), [
        "authentication.k8s.io",
        "authorization.k8s.io",
        "telemetry.miloapis.com",
      ]);
      const core = (await call("GET", "/api/v1")).json()["resources"] as {
        name: string;
        namespaced: boolean;
      }[];
      assert.deepEqual(core.map((r) => r.name).sort(), [
        "events",
        "namespaces",
        "namespaces/status",
        "secrets",
      ]);
      const telemetry = (await call("GET", "/apis/telemetry.miloapis.com/v1alpha1")).json()["resources"] as {
        name: string;
        kind: string;
      }[];
      assert.deepEqual(
        telemetry.map((r) => `${r.name}:${r.kind}`),
        ["exportpolicies:ExportPolicy", "exportpolicies/status:ExportPolicy"],
      );
    });

    it("serves OpenAPI v3 with the project's prefix in links and ObjectMeta as a shared definition", async () => {
      const root = (await call("GET", "/openapi/v3")).json()["paths"] as Record<
        string,
        { serverRelativeURL: string }
      >;
      const link = root["apis/telemetry.miloapis.com/v1alpha1"]?.serverRelativeURL ?? "";
      assert.match(
        link,
        /^\/apis\/resourcemanager\.miloapis\.com\/v1alpha1\/projects\/semantics\/control-plane\/openapi\/v3\/apis\/telemetry\.miloapis\.com\/v1alpha1\?hash=[0-9A-F]+$/,
      );
      const doc = (await apiRequest(server.api.url, "GET", link)).json();
      const schemas = (doc["components"] as { schemas: Record<string, Json> }).schemas;
      const policy = schemas["com.miloapis.telemetry.v1alpha1.ExportPolicy"] ?? {};
      assert.deepEqual(policy["x-kubernetes-group-version-kind"], [
        { group: "telemetry.miloapis.com", version: "v1alpha1", kind: "ExportPolicy" },
      ]);
      const properties = policy["properties"] as Record<string, Json | undefined>;
      assert.deepEqual(properties["metadata"]?.["allOf"], [
        { $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" },
      ]);
      assert.ok(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]);
    });
  });

  describe("writes", () => {
    it("create stamps uid, creationTimestamp and generation 1, drops status, applies defaults", async () => {
      const created = await create(EP, { ...examplePolicy("one"), status: { conditions: [] } });
      assert.match(String(meta(created)["uid"]), /^[0-9a-f-]{36}$/);
      assert.match(String(meta(created)["creationTimestamp"]), /Z$/);
      assert.equal(meta(created)["generation"], 1);
      assert.equal(created["status"], undefined);
      const again = await call("POST", EP, { body: examplePolicy("one") });
      assert.equal(again.status, 409);
      assert.equal(again.json()["reason"], "AlreadyExists");
    });

    it("update needs the current resourceVersion; generation counts spec changes only", async () => {
      const current = (await call("GET", `${EP}/one`)).json();
      const stale = { ...current, metadata: { ...meta(current), resourceVersion: "1" } };
      const conflict = await call("PUT", `${EP}/one`, { body: stale });
      assert.equal(conflict.status, 409);
      assert.match(String(conflict.json()["message"]), /the object has been modified/);
      const missing = { ...current, metadata: { ...meta(current), resourceVersion: undefined } };
      assert.equal((await call("PUT", `${EP}/one`, { body: missing })).status, 422);
      const labelled = { ...current, metadata: { ...meta(current), labels: { tier: "gold" } } };
      const afterLabel = await call("PUT", `${EP}/one`, { body: labelled });
      assert.equal(afterLabel.status, 200, afterLabel.text);
      assert.equal(meta(afterLabel.json())["generation"], 1);
      const changed = {
        ...afterLabel.json(),
        spec: (examplePolicy("one", "https://changed.example.com/") as Json)["spec"],
      };
      const afterSpec = await call("PUT", `${EP}/one`, { body: changed });
      assert.equal(meta(afterSpec.json())["generation"], 2);
      assert.ok(
        Number(meta(afterSpec.json())["resourceVersion"]) >
          Number(meta(afterLabel.json())["resourceVersion"]),
      );
    });

    it("the status subresource writes status only, the main resource everything but status", async () => {
      const current = (await call("GET", `${EP}/one`)).json();
      const condition = {
        type: "Ready",
        status: "True",
        reason: "Delivering",
        message: "",
        lastTransitionTime: "2026-01-01T00:00:00Z",
      };
      const body = { ...current, spec: { sources: [] }, status: { conditions: [condition] } };
      const response = await call("PUT", `${EP}/one/status`, { body });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.json()["spec"], current["spec"]);
      assert.deepEqual((response.json()["status"] as Json)["conditions"], [condition]);
      assert.equal(meta(response.json())["generation"], meta(current)["generation"]);
      const main = await call("PATCH", `${EP}/one`, {
        body: { status: null, metadata: { labels: { x: "y" } } },
        contentType: "application/merge-patch+json",
      });
      assert.deepEqual(
        (main.json()["status"] as Json)["conditions"],
        [condition],
        "main resource writes keep status",
      );
      const table = (await call("GET", EP, { accept: TABLE })).json();
      const row = (table["rows"] as { cells: unknown[] }[])[0];
      assert.deepEqual(row?.cells.slice(0, 4), ["one", "True", 1, 1]);
      assert.deepEqual(
        (table["columnDefinitions"] as { name: string }[]).map((c) => c.name),
        ["Name", "Ready", "Sources", "Sinks", "Age", "Reason"],
      );
    });

    it("patches: merge, JSON (a failed test is 422), strategic only for built-in kinds", async () => {
      const merged = await call("PATCH", `${EP}/one`, {
        body: { metadata: { annotations: { a: "1" } } },
        contentType: "application/merge-patch+json",
      });
      assert.equal((meta(merged.json())["annotations"] as Json)["a"], "1");
      const json = await call("PATCH", `${EP}/one`, {
        body: [{ op: "replace", path: "/metadata/annotations/a", value: "2" }],
        contentType: "application/json-patch+json",
      });
      assert.equal((meta(json.json())["annotations"] as Json)["a"], "2");
      const failed = await call("PATCH", `${EP}/one`, {
        body: [{ op: "test", path: "/metadata/annotations/a", value: "3" }],
        contentType: "application/json-patch+json",
      });
      assert.equal(failed.status, 422);
      const strategic = await call("PATCH", `${EP}/one`, {
        body: {},
        contentType: "application/strategic-merge-patch+json",
      });
      assert.equal(strategic.status, 415);
      await create(SECRETS, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "s", finalizers: ["a/b"] },
        data: { k: "dg==" },
      });
      const smp = await call("PATCH", `${SECRETS}/s`, {
        body: { stringData: { extra: "x" }, metadata: { finalizers: ["c/d"] } },
        contentType: "application/strategic-merge-patch+json",
      });
      assert.equal(smp.status, 200, smp.text);
      assert.deepEqual(smp.json()["data"], { k: "dg==", extra: "eA==" });
      assert.deepEqual(meta(smp.json())["finalizers"], ["a/b", "c/d"], "finalizers merge as a set");
      const removed = await call("PATCH", `${SECRETS}/s`, {
        body: { data: { k: null }, metadata: { "$deleteFromPrimitiveList/finalizers": ["a/b", "c/d"] } },
        contentType: "application/strategic-merge-patch+json",
      });
      assert.deepEqual(removed.json()["data"], { extra: "eA==" });
      assert.equal(meta(removed.json())["finalizers"], undefined);
    });

    it("dryRun=All validates and answers without storing", async () => {
      const dry = await call("POST", `${EP}?dryRun=All`, { body: examplePolicy("dry") });
      assert.equal(dry.status, 201);
      assert.equal((await call("GET", `${EP}/dry`)).status, 404);
      const deleteDry = await call("DELETE", `${EP}/one?dryRun=All`);
      assert.equal(deleteDry.status, 200);
      assert.equal((await call("GET", `${EP}/one`)).status, 200);
    });

    it("fieldValidation: Strict refuses unknown fields, Warn warns, Ignore drops them", async () => {
      const body = { ...examplePolicy("fv"), spec: { ...(examplePolicy("fv")["spec"] as Json), sinkz: [] } };
      const strict = await call("POST", `${EP}?fieldValidation=Strict`, { body });
      assert.equal(strict.status, 400);
      assert.match(String(strict.json()["message"]), /strict decoding error: unknown field "spec\.sinkz"/);
      const warn = await call("POST", `${EP}?fieldValidation=Warn&dryRun=All`, { body });
      assert.equal(warn.status, 201);
      assert.equal(warn.headers.get("warning"), '299 - "unknown field \\"spec.sinkz\\""');
      const ignore = await call("POST", `${EP}?fieldValidation=Ignore`, { body });
      assert.equal(ignore.status, 201);
      assert.equal(ignore.headers.get("warning"), null);
      assert.equal((ignore.json()["spec"] as Json)["sinkz"], undefined);
    });

    it("invalid objects get a 422 Status with field causes", async () => {
      const body = examplePolicy("invalid") as { spec: { sinks: Json[] } };
      body.spec.sinks[0] = { name: "remote", sources: ["nope"], target: {} };
      const response = await call("POST", EP, { body });
      assert.equal(response.status, 422);
      const status = response.json();
      assert.equal(status["kind"], "Status");
      assert.equal(status["reason"], "Invalid");
      const causes = (status["details"] as { causes: { field: string; reason: string }[] }).causes;
      assert.deepEqual(causes.map((c) => `${c.field} ${c.reason}`).sort(), [
        "spec.sinks[0].sources[0] FieldValueNotFound",
        "spec.sinks[0].target FieldValueRequired",
      ]);
    });

    it("generateName picks a free name", async () => {
      const created = await create(EP, { ...examplePolicy("x"), metadata: { generateName: "gen-" } });
      assert.match(String(meta(created)["name"]), /^gen-[a-z0-9]{5}$/);
    });
  });

  describe("bad input", () => {
    const cases: [string, () => Promise<ApiResponse>, number][] = [
      ["malformed JSON", () => call("POST", EP, { body: "{not json", contentType: "application/json" }), 400],
      ["malformed YAML", () => call("POST", EP, { body: "a: [", contentType: "application/yaml" }), 400],
      ["a wrong content type", () => call("POST", EP, { body: "x", contentType: "text/plain" }), 415],
      ["a JSON array instead of an object", () => call("POST", EP, { body: "[]" }), 400],
      [
        "a name that differs from the URL",
        () => call("PUT", `${EP}/one`, { body: examplePolicy("two") }),
        400,
      ],
      [
        "a namespace that differs from the URL",
        () =>
          call("POST", EP, {
            body: { ...examplePolicy("ns"), metadata: { name: "ns", namespace: "other" } },
          }),
        400,
      ],
      ["a body over 3 MiB", () => call("POST", EP, { body: { pad: "x".repeat(3 * 1024 * 1024) } }), 413],
      [
        "an object over 1.5 MiB",
        () =>
          call("POST", SECRETS, {
            body: {
              apiVersion: "v1",
              kind: "Secret",
              metadata: { name: "big" },
              data: { k: Buffer.alloc(1_200_000).toString("base64") },
            },
          }),
        413,
      ],
      [
        "an unknown resource",
        () => call("GET", "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/widgets"),
        404,
      ],
      ["a bad label selector", () => call("GET", `${EP}?labelSelector=${encodeURIComponent("a in (")}`), 400],
      ["an unsupported field selector", () => call("GET", `${EP}?fieldSelector=spec.x%3D1`), 400],
      ["protobuf-only Accept", () => call("GET", EP, { accept: "application/vnd.kubernetes.protobuf" }), 406],
      ["a POST to a named object", () => call("POST", `${EP}/one`, { body: examplePolicy("one") }), 405],
    ];
    for (const [what, send, code] of cases) {
      it(`${what} → ${code} Status, and the server keeps serving`, async () => {
        const response = await send();
        assert.equal(response.status, code, response.text);
        assert.equal(response.json()["kind"], "Status");
        assert.equal((await call("GET", `${EP}/one`)).status, 200);
      });
    }
  });

  describe("lists", () => {
    before(async () => {
      for (let i = 0; i < 12; i++) {
        await create(EP, {
          ...examplePolicy(`l-${String(i).padStart(2, "0")}`),
          metadata: {
            name: `l-${String(i).padStart(2, "0")}`,
            labels: { parity: i % 2 === 0 ? "even" : "odd", ...(i < 3 ? { early: "yes" } : {}) },
          },
        });
      }
    });
    const names = async (query: string): Promise<string[]> =>
      ((await call("GET", `${EP}?${query}`)).json()["items"] as Json[])
        .map((o) => String(meta(o)["name"]))
        .filter((n) => n.startsWith("l-"));

    it("filter by label selector", async () => {
      assert.equal((await names("labelSelector=parity%3Deven")).length, 6);
      assert.deepEqual(await names(`labelSelector=${encodeURIComponent("parity!=even,early")}`), ["l-01"]);
      assert.deepEqual(await names(`labelSelector=${encodeURIComponent("parity in (odd),!early")}`), [
        "l-03",
        "l-05",
        "l-07",
        "l-09",
        "l-11",
      ]);
      assert.deepEqual(await names(`labelSelector=${encodeURIComponent("early notin (yes),parity=even")}`), [
        "l-04",
        "l-06",
        "l-08",
        "l-10",
      ]);
      assert.deepEqual(await names("fieldSelector=metadata.name%3Dl-07"), ["l-07"]);
    });

    it("pages with limit and continue, each item exactly once", async () => {
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const page = (
          await call("GET", `${EP}?labelSelector=parity&limit=5${token === "" ? "" : `&continue=${token}`}`)
        ).json();
        seen.push(...(page["items"] as Json[]).map((o) => String(meta(o)["name"])));
        const next = (page["metadata"] as Json)["continue"];
        token = typeof next === "string" ? next : "";
        pages++;
      } while (token !== "");
      assert.equal(pages, 3);
      assert.deepEqual(
        seen,
        Array.from({ length: 12 }, (_, i) => `l-${String(i).padStart(2, "0")}`),
      );
    });

    it("lists across a project's namespaces, and never another project's", async () => {
      const all = await apiRequest(base, "GET", "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies");
      assert.ok((all.json()["items"] as Json[]).length >= 12);
      const other = await apiRequest(
        server.api.projectUrl("someone-else"),
        "GET",
        "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies",
      );
      assert.deepEqual(other.json()["items"], []);
    });
  });

  describe("watch", () => {
    it("replays from a resourceVersion, then follows live changes", async () => {
      const start = (await call("GET", EP)).json();
      const from = String((start["metadata"] as Json)["resourceVersion"]);
      await create(EP, examplePolicy("w-1"));
      const events = watchEvents(`${base}${EP}?watch=true&resourceVersion=${from}`, 3);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await call("PATCH", `${EP}/w-1`, {
        body: { metadata: { labels: { a: "b" } } },
        contentType: "application/merge-patch+json",
      });
      await call("DELETE", `${EP}/w-1`);
      assert.deepEqual(
        (await events).map((e) => `${e.type} ${String(meta(e.object)["name"])}`),
        ["ADDED w-1", "MODIFIED w-1", "DELETED w-1"],
      );
    });

    it("without a resourceVersion starts with the current objects", async () => {
      const events = await watchEvents(`${base}${EP}?watch=1&fieldSelector=metadata.name%3Dl-03`, 1);
      assert.deepEqual(
        events.map((e) => `${e.type} ${String(meta(e.object)["name"])}`),
        ["ADDED l-03"],
      );
    });

    it("the cross-project view watches every project, naming each object's project", async () => {
      const view = server.api.projectUrl("-");
      const events = await watchEvents(
        `${view}/apis/telemetry.miloapis.com/v1alpha1/exportpolicies?watch=1&fieldSelector=metadata.name%3Dl-03`,
        1,
      );
      const annotations = meta(events[0]?.object ?? {})["annotations"] as Record<string, string> | undefined;
      assert.equal(annotations?.["telex.miloapis.com/project"], "semantics");
      const write = await apiRequest(view, "DELETE", `${EP}/l-03`);
      assert.equal(write.status, 403, "the view is read-only");
    });

    it("sends bookmarks when allowed and ends at timeoutSeconds", async () => {
      const started = Date.now();
      const events = await watchEvents(
        `${base}${EP}?watch=1&resourceVersion=${server.api.port > 0 ? "1" : "0"}&allowWatchBookmarks=true&timeoutSeconds=1&labelSelector=none`,
        1000,
        5000,
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 3000, `ended after ${elapsed} ms`);
      const bookmark = events.find((e) => e.type === "BOOKMARK");
      assert.ok(bookmark !== undefined, "a bookmark within a second");
      assert.match(String(meta(bookmark.object)["resourceVersion"]), /^[0-9]+$/);
    });

    it("a selector watch sees an object leave the selection as DELETED", async () => {
      await create(EP, { ...examplePolicy("sel"), metadata: { name: "sel", labels: { watched: "yes" } } });
      const events = watchEvents(`${base}${EP}?watch=1&labelSelector=watched%3Dyes`, 2);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await call("PATCH", `${EP}/sel`, {
        body: { metadata: { labels: { watched: "no" } } },
        contentType: "application/merge-patch+json",
      });
      assert.deepEqual(
        (await events).map((e) => e.type),
        ["ADDED", "DELETED"],
      );
    });

    it("a resourceVersion older than the retained log gets 410 Expired", async () => {
      for (let i = 0; i < 400; i++) {
        await call("PATCH", `${EP}/one`, {
          body: { metadata: { annotations: { n: String(i) } } },
          contentType: "application/merge-patch+json",
        });
      }
      const events = await watchEvents(`${base}${EP}?watch=1&resourceVersion=2`, 1);
      const [first] = events;
      assert.equal(first?.type, "ERROR");
      assert.equal(first.object["code"], 410);
      assert.equal(first.object["reason"], "Expired");
    });
  });

  describe("deletion", () => {
    it("finalizers hold the object with a deletionTimestamp; new ones are refused; the last removal deletes", async () => {
      await create(EP, { ...examplePolicy("fin"), metadata: { name: "fin", finalizers: ["x/y"] } });
      const deleted = await call("DELETE", `${EP}/fin`);
      assert.equal(deleted.status, 200);
      assert.match(String(meta(deleted.json())["deletionTimestamp"]), /Z$/);
      assert.equal(meta(deleted.json())["generation"], 2);
      const add = await call("PATCH", `${EP}/fin`, {
        body: { metadata: { finalizers: ["x/y", "new/one"] } },
        contentType: "application/merge-patch+json",
      });
      assert.equal(add.status, 422);
      const done = await call("PATCH", `${EP}/fin`, {
        body: { metadata: { finalizers: null } },
        contentType: "application/merge-patch+json",
      });
      assert.equal(done.status, 200);
      assert.equal((await call("GET", `${EP}/fin`)).status, 404);
    });

    it("namespaces: default always exists and stays; deleting another removes its objects", async () => {
      assert.equal((await call("GET", "/api/v1/namespaces/default")).status, 200);
      assert.equal((await call("DELETE", "/api/v1/namespaces/default")).status, 403);
      assert.equal(
        (
          await call("POST", "/apis/telemetry.miloapis.com/v1alpha1/namespaces/team/exportpolicies", {
            body: examplePolicy("t"),
          })
        ).status,
        404,
      );
      await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
      await create(
        "/apis/telemetry.miloapis.com/v1alpha1/namespaces/team/exportpolicies",
        examplePolicy("t"),
      );
      assert.equal((await call("DELETE", "/api/v1/namespaces/team")).status, 200);
      assert.equal((await call("GET", "/api/v1/namespaces/team")).status, 404);
      assert.equal(
        (await call("GET", "/apis/telemetry.miloapis.com/v1alpha1/namespaces/team/exportpolicies/t")).status,
        404,
      );
    });
  });

  it("expires events an hour after they last occurred", async () => {
    const old = new Date(Date.now() - 2 * 3600_000).toISOString().slice(0, 19) + "Z";
    const event = (name: string, lastTimestamp: string): Json => ({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name },
      involvedObject: { kind: "ExportPolicy", name: "one", namespace: "default" },
      reason: "Test",
      message: "m",
      type: "Normal",
      lastTimestamp,
    });
    await create("/api/v1/namespaces/default/events", event("stale", old));
    const now = new Date().toISOString().slice(0, 19) + "Z";
    for (let i = 0; i < 64; i++) await create("/api/v1/namespaces/default/events", event(`fresh-${i}`, now));
    assert.equal((await call("GET", "/api/v1/namespaces/default/events/stale")).status, 404);
    assert.equal((await call("GET", "/api/v1/namespaces/default/events/fresh-0")).status, 200);
  });

  it("answers SelfSubjectAccessReviews", async () => {
    const review = await call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { verb: "get", resource: "secrets", namespace: "default" } },
      },
    });
    assert.equal(review.status, 201);
    assert.equal((review.json()["status"] as Json)["allowed"], true);
  });
});
