// Regression tests for the attacks of issue 11 (one tenant must not crash
// Telex or starve other tenants): JSON patch copy bombs, deep nesting, YAML
// alias bombs, too many patch operations, objects over 1.5 MiB, and quotas.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type ApiResponse,
  type RequestOptions,
  type TestApiServer,
} from "../../test-support/telex-api.js";
import { MAX_JSON_PATCH_OPERATIONS, MAX_NESTING_DEPTH, MAX_OBJECT_BYTES } from "./limits.js";

const EP = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const SECRETS = "/api/v1/namespaces/default/secrets";
const EVENTS = "/api/v1/namespaces/default/events";
const NAMESPACES = "/api/v1/namespaces";
const JSON_PATCH = "application/json-patch+json";
const MERGE_PATCH = "application/merge-patch+json";
const APPLY = "application/apply-patch+yaml";

type Json = Record<string, unknown>;

function messageOf(response: ApiResponse): string {
  const status = response.json();
  assert.equal(status["kind"], "Status", response.text.slice(0, 200));
  return String(status["message"]);
}

function deepJson(depth: number): string {
  return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
}

describe("bounded API work (issue 11)", () => {
  let server: TestApiServer;
  let base: string;
  const call = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(base, method, path, options);

  before(async () => {
    server = await startTestApiServer();
    base = server.api.projectUrl("limits");
    const created = await call("POST", EP, { body: examplePolicy("target") });
    assert.equal(created.status, 201, created.text);
  });
  after(async () => {
    await server.close();
  });

  it("a JSON patch copy bomb fails fast with 413, without the memory it asks for", async (t) => {
    const bomb = [
      { op: "add", path: "/spec/x", value: [["a".repeat(1000)]] },
      ...Array.from({ length: 40 }, () => ({ op: "copy", from: "/spec/x", path: "/spec/x/-" })),
    ];
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const response = await call("PATCH", `${EP}/target`, { body: bomb, contentType: JSON_PATCH });
    const elapsedMs = performance.now() - started;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(`copy bomb: ${elapsedMs.toFixed(1)} ms, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`);
    assert.equal(response.status, 413, response.text);
    assert.match(messageOf(response), new RegExp(`limit of ${MAX_OBJECT_BYTES} bytes`));
    assert.ok(elapsedMs < 1000, `answered in ${elapsedMs.toFixed(0)} ms`);
    assert.ok(rssGrowth < 100 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MiB`);
    assert.equal((await call("GET", `${EP}/target`)).status, 200, "the server keeps serving");
  });

  it("copies nested into themselves, moves and repeated adds are bounded too", async () => {
    const nested = [
      { op: "add", path: "/spec/x", value: { a: "b".repeat(10_000) } },
      ...Array.from({ length: 200 }, (_, i) => ({
        op: "copy",
        from: "/spec/x",
        path: `/spec/x/c${i}`,
      })),
    ];
    const copies = await call("PATCH", `${EP}/target`, { body: nested, contentType: JSON_PATCH });
    assert.equal(copies.status, 413, copies.text);
    const big = "c".repeat(200_000);
    const adds = Array.from({ length: 10 }, (_, i) => ({ op: "add", path: `/spec/y${i}`, value: big }));
    const added = await call("PATCH", `${EP}/target`, { body: adds, contentType: JSON_PATCH });
    assert.equal(added.status, 413, added.text);
    assert.match(messageOf(added), /larger than the limit/);
    const list = Array.from({ length: 20_000 }, () => 0);
    const shifts = [
      { op: "add", path: "/spec/z", value: list },
      ...Array.from({ length: 2_000 }, () => ({ op: "move", from: "/spec/z/19999", path: "/spec/z/0" })),
    ];
    const moved = await call("PATCH", `${EP}/target`, { body: shifts, contentType: JSON_PATCH });
    assert.equal(moved.status, 413, moved.text);
    assert.match(messageOf(moved), /array elements/);
  });

  it(`more than ${MAX_JSON_PATCH_OPERATIONS} operations → 413 naming the limit`, async () => {
    const operations = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({
      op: "test",
      path: "/kind",
      value: "ExportPolicy",
    }));
    const response = await call("PATCH", `${EP}/target`, { body: operations, contentType: JSON_PATCH });
    assert.equal(response.status, 413, response.text);
    assert.match(messageOf(response), /10001 operations, more than the limit of 10000/);
  });

  it("100,000-deep JSON in labels or annotations → 400 naming the depth limit", async () => {
    for (const field of ["labels", "annotations"]) {
      const body = `{"metadata":{"name":"deep","${field}":{"a":${deepJson(100_000)}}}}`;
      const response = await call("POST", EP, { body });
      assert.equal(response.status, 400, response.text);
      assert.match(messageOf(response), new RegExp(`limit of ${MAX_NESTING_DEPTH} levels`));
      const patch = await call("PATCH", `${EP}/target`, {
        body: `{"metadata":{"${field}":{"a":${deepJson(100_000)}}}}`,
        contentType: MERGE_PATCH,
      });
      assert.equal(patch.status, 400, patch.text);
    }
  });

  it("a patch cannot nest the object past the depth limit", async () => {
    const value = JSON.parse(deepJson(60)) as unknown;
    const response = await call("PATCH", `${EP}/target`, {
      body: [
        { op: "add", path: "/spec/x", value },
        {
          op: "copy",
          from: "/spec/x",
          path: "/spec/x/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0",
        },
      ],
      contentType: JSON_PATCH,
    });
    assert.equal(response.status, 422, response.text);
    assert.match(messageOf(response), /deeper than the limit of 100 levels/);
  });

  it("a YAML alias bomb → 400 naming the alias limit", async () => {
    let yaml =
      'apiVersion: telemetry.miloapis.com/v1alpha1\nkind: ExportPolicy\nmetadata: {name: target}\na0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let level = 1; level <= 9; level++) {
      yaml += `a${level}: &a${level} [${Array.from({ length: 9 }, () => `*a${level - 1}`).join(",")}]\n`;
    }
    const response = await call("PATCH", `${EP}/target?fieldManager=bomb`, {
      body: yaml,
      contentType: APPLY,
    });
    assert.equal(response.status, 400, response.text);
    assert.match(messageOf(response), /aliases expand more than the limit of 100 \(maxAliasCount\)/);
  });

  it("deeply nested YAML (flow and block) → 400 naming the depth limit, quickly", async () => {
    const header = "apiVersion: v1\nkind: Secret\nmetadata: {name: deep}\n";
    // 30,000 levels: deep, yet under the 64 KiB YAML size limit, so the depth check is what refuses them.
    const hiddenInFlow = `x: [ |\n  ${deepJson(30_000)}]\n`;
    for (const nested of [`x: ${deepJson(30_000)}\n`, `x:\n${"- ".repeat(30_000)}1\n`, hiddenInFlow]) {
      const started = performance.now();
      const response = await call("POST", SECRETS, {
        body: header + nested,
        contentType: "application/yaml",
      });
      assert.equal(response.status, 400, response.text);
      assert.match(messageOf(response), /limit of 100 levels/);
      assert.ok(performance.now() - started < 1000);
    }
  });

  it("YAML with thousands of nodes on a line (anchors, tags, stray brackets) → 413 before the slow parser", async () => {
    const header = "apiVersion: v1\nkind: Secret\nmetadata: {name: noisy}\n";
    for (const noisy of [
      `x: ${"&a ".repeat(20_000)}1\n`,
      `x: ${"!t ".repeat(20_000)}1\n`,
      `x: {"a":1${"}".repeat(50_000)}\n`,
    ]) {
      const started = performance.now();
      const response = await call("POST", SECRETS, { body: header + noisy, contentType: "application/yaml" });
      assert.equal(response.status, 413, response.text.slice(0, 300));
      assert.match(messageOf(response), /limit of 2000 YAML nodes/);
      assert.ok(performance.now() - started < 500);
    }
  });

  it("an object over 1.5 MiB via merge patch → 413; just under it is accepted", async () => {
    const over = await call("PATCH", `${SECRETS}/sized`, {
      body: { data: { big: Buffer.alloc(1.2 * 1024 * 1024).toString("base64") } },
      contentType: MERGE_PATCH,
    });
    assert.equal(over.status, 404, "patching needs the object first");
    const created = await call("POST", SECRETS, {
      body: { apiVersion: "v1", kind: "Secret", metadata: { name: "sized" }, data: {} },
    });
    assert.equal(created.status, 201, created.text);
    const under = await call("PATCH", `${SECRETS}/sized`, {
      body: { data: { a: Buffer.alloc(1024 * 1024).toString("base64") } },
      contentType: MERGE_PATCH,
    });
    assert.equal(under.status, 200, under.text.slice(0, 300));
    const tooBig = await call("PATCH", `${SECRETS}/sized`, {
      body: { data: { b: Buffer.alloc(200 * 1024).toString("base64") } },
      contentType: MERGE_PATCH,
    });
    assert.equal(tooBig.status, 413, tooBig.text.slice(0, 300));
    assert.match(messageOf(tooBig), new RegExp(`larger than the limit of ${MAX_OBJECT_BYTES} bytes`));
  });

  it("a request target that is no URL → 400, not 500", async () => {
    for (const path of ["//", "http://[", "http://x:99999/"]) {
      const status = await new Promise<number>((resolve, reject) => {
        const request = httpRequest({ host: server.api.host, port: server.api.port, path }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on("error", reject);
        request.end();
      });
      assert.equal(status, 400, path);
    }
  });

  it("query integers past 2^53 and forged continue tokens → 400, not 500", async () => {
    const forgedContinue = Buffer.from(
      JSON.stringify({ v: 1, rv: 1e300, p: "limits", ns: "", n: "" }),
    ).toString("base64url");
    for (const query of [
      "limit=100000000000000000000",
      "watch=true&timeoutSeconds=1e3",
      `limit=1&continue=${forgedContinue}`,
    ]) {
      const response = await call("GET", `${SECRETS}?${query}`);
      assert.equal(response.status, 400, `${query}: ${response.text.slice(0, 200)}`);
    }
  });

  it("JSON pointers cannot reach Object.prototype", async () => {
    const response = await call("PATCH", `${EP}/target`, {
      body: [{ op: "add", path: "/__proto__/polluted", value: "yes" }],
      contentType: JSON_PATCH,
    });
    assert.equal(response.status, 422, response.text);
    assert.equal(({} as Json)["polluted"], undefined);
  });
});

describe("request bodies in flight (issue 11)", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer({ maxBodyBytesInFlight: 4 * 2 ** 20 });
  });
  after(async () => {
    await server.close();
  });

  it("a body that does not fit the budget now → 429 with Retry-After; the budget comes back", async () => {
    const path = `${server.api.projectUrl("budget")}${EP}`;
    // A slow upload that declared 3 MiB holds them until it ends.
    const slow = httpRequest(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Length": String(3 * 2 ** 20) },
    });
    const slowStatus = new Promise<number>((resolve, reject) => {
      slow.on("response", (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      slow.on("error", reject);
    });
    slow.write(" ".repeat(1024));
    const base = server.api.projectUrl("budget");
    const body = { ...examplePolicy("second"), padding: " ".repeat(2 * 2 ** 20) };
    const refused = await apiRequest(base, "POST", EP, { body });
    assert.equal(refused.status, 429, refused.text.slice(0, 300));
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match(messageOf(refused), /request bodies being received are at their limit of 4 MiB/);

    slow.end(" ".repeat(3 * 2 ** 20 - 1024));
    assert.equal(await slowStatus, 400);
    const accepted = await apiRequest(base, "POST", EP, { body: examplePolicy("second") });
    assert.equal(accepted.status, 201, accepted.text.slice(0, 300));
  });
});

describe("bytes queued to tenants' watches (issue 11)", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer({
      maxWatchBytesQueued: 2 ** 20,
      quotas: { maxWatchesPerProject: 1, maxSecretBytesPerProject: 64 * 2 ** 20 },
    });
  });
  after(async () => {
    await server.close();
  });

  it("a watch whose client does not read is ended once the shared bound is passed", async () => {
    const base = server.api.projectUrl("slow-reader");
    const watchStatus = (): Promise<{ status: number; response: IncomingMessage }> =>
      new Promise((resolve, reject) => {
        const request = httpRequest(`${base}${SECRETS}?watch=true`, (response) => {
          // Never read: the socket fills, then the server's queue for it.
          response.pause();
          resolve({ status: response.statusCode ?? 0, response });
        });
        request.on("error", reject);
        request.end();
      });
    const stalled = await watchStatus();
    assert.equal(stalled.status, 200);
    const second = await watchStatus();
    assert.equal(second.status, 429, "one watch per project while the first is open");
    second.response.destroy();

    // ~1 MiB Secrets, far more than loopback socket buffers plus the 1 MiB bound.
    const data = { blob: randomBytes(768 * 1024).toString("base64") };
    for (let i = 0; i < 24; i++) {
      const created = await apiRequest(base, "POST", SECRETS, {
        body: { apiVersion: "v1", kind: "Secret", metadata: { name: `big-${i}` }, data },
      });
      assert.equal(created.status, 201, created.text.slice(0, 200));
    }
    const after = await watchStatus();
    assert.equal(after.status, 200, "the stalled watch was ended, so its slot is free");
    after.response.destroy();
    stalled.response.destroy();
  });
});

describe("the bytes of a project's Secrets (issue 11)", () => {
  let server: TestApiServer;
  before(async () => {
    server = await startTestApiServer({ quotas: { maxSecretBytesPerProject: 16 * 1024 } });
  });
  after(async () => {
    await server.close();
  });

  it("are bounded: 403 naming the flag; a smaller replacement or a delete frees room", async () => {
    const base = server.api.projectUrl("secret-bytes");
    const secret = (name: string, bytes: number): Json => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name },
      data: { blob: Buffer.alloc(bytes, 1).toString("base64") },
    });
    assert.equal((await apiRequest(base, "POST", SECRETS, { body: secret("a", 8 * 1024) })).status, 201);
    const refused = await apiRequest(base, "POST", SECRETS, { body: secret("b", 8 * 1024) });
    assert.equal(refused.status, 403, refused.text.slice(0, 300));
    assert.match(
      messageOf(refused),
      /exceeded quota: project "secret-bytes", requested: secrets\.bytes=\d+, used: secrets\.bytes=\d+, limited: secrets\.bytes=16384 \(telex serve --max-secret-bytes-per-project\)/,
    );
    assert.equal((await apiRequest(base, "POST", SECRETS, { body: secret("c", 1024) })).status, 201);
    assert.equal((await apiRequest(base, "DELETE", `${SECRETS}/a`)).status, 200);
    assert.equal((await apiRequest(base, "POST", SECRETS, { body: secret("b", 8 * 1024) })).status, 201);
  });
});

describe("per-project quotas (issue 11)", () => {
  let server: TestApiServer;
  let base: string;
  const call = (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    apiRequest(base, method, path, options);
  const withSinks = (name: string, sinks: number): Json => {
    const policy = examplePolicy(name);
    const spec = policy["spec"] as { sinks: Json[] };
    const sink = spec.sinks[0] ?? {};
    spec.sinks = Array.from({ length: sinks }, (_, i) => ({ ...sink, name: `remote-${i}` }));
    return policy;
  };
  const event = (name: string): Json => ({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name },
    involvedObject: { kind: "ExportPolicy", name: "a", namespace: "default" },
    reason: "Test",
    message: "hello",
    type: "Normal",
  });

  before(async () => {
    server = await startTestApiServer({
      quotas: {
        maxPoliciesPerProject: 2,
        maxSinksPerProject: 3,
        maxSecretsPerProject: 1,
        maxNamespacesPerProject: 2,
        maxEventsPerProject: 2,
        maxWatchesPerProject: 2,
      },
    });
    base = server.api.projectUrl("quota");
  });
  after(async () => {
    await server.close();
  });

  it("refuses the policy past the quota with 403 naming it, dry run too; a delete frees room", async () => {
    assert.equal((await call("POST", EP, { body: withSinks("a", 1) })).status, 201);
    assert.equal((await call("POST", EP, { body: withSinks("b", 1) })).status, 201);
    for (const path of [EP, `${EP}?dryRun=All`]) {
      const refused = await call("POST", path, { body: withSinks("c", 1) });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(
        messageOf(refused),
        'exportpolicies.telemetry.miloapis.com "c" is forbidden: exceeded quota: project "quota", requested: count/exportpolicies.telemetry.miloapis.com=1, used: count/exportpolicies.telemetry.miloapis.com=2, limited: count/exportpolicies.telemetry.miloapis.com=2 (telex serve --max-policies-per-project)',
      );
    }
    const other = apiRequest(server.api.projectUrl("other"), "POST", EP, { body: withSinks("c", 1) });
    assert.equal((await other).status, 201, "another project has its own quota");
    assert.equal((await call("DELETE", `${EP}/b`)).status, 200);
    assert.equal((await call("POST", EP, { body: withSinks("c", 1) })).status, 201);
  });

  it("counts sinks over all policies; an update that grows them past the quota is refused", async () => {
    const a = (await call("GET", `${EP}/a`)).json();
    const grown = { ...withSinks("a", 2), metadata: a["metadata"] };
    const first = await call("PUT", `${EP}/a`, { body: grown });
    assert.equal(first.status, 200, first.text);
    const patch = { spec: withSinks("c", 2)["spec"] as Json };
    const refused = await call("PATCH", `${EP}/c`, { body: patch, contentType: MERGE_PATCH });
    assert.equal(refused.status, 403, refused.text);
    assert.match(
      messageOf(refused),
      /exceeded quota: .*requested: exportpolicies\.spec\.sinks=1, used: exportpolicies\.spec\.sinks=3, limited: exportpolicies\.spec\.sinks=3 \(telex serve --max-sinks-per-project\)/,
    );
    const shrink = await call("PATCH", `${EP}/a`, {
      body: { spec: withSinks("a", 1)["spec"] },
      contentType: MERGE_PATCH,
    });
    assert.equal(shrink.status, 200, "shrinking is always allowed");
    assert.equal((await call("PATCH", `${EP}/c`, { body: patch, contentType: MERGE_PATCH })).status, 200);
  });

  it("bounds Secrets, namespaces and Events", async () => {
    const secret = (name: string): Json => ({ apiVersion: "v1", kind: "Secret", metadata: { name } });
    assert.equal((await call("POST", SECRETS, { body: secret("s1") })).status, 201);
    const secrets = await call("POST", SECRETS, { body: secret("s2") });
    assert.equal(secrets.status, 403);
    assert.match(messageOf(secrets), /--max-secrets-per-project/);
    const namespace = (name: string): Json => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    assert.equal((await call("POST", NAMESPACES, { body: namespace("team") })).status, 201);
    const namespaces = await call("POST", NAMESPACES, { body: namespace("more") });
    assert.equal(namespaces.status, 403);
    assert.match(messageOf(namespaces), /used: count\/namespaces=2, limited: count\/namespaces=2/);
    assert.equal((await call("POST", EVENTS, { body: event("e1") })).status, 201);
    assert.equal((await call("POST", EVENTS, { body: event("e2") })).status, 201);
    const events = await call("POST", EVENTS, { body: event("e3") });
    assert.equal(events.status, 403, events.text);
    assert.match(messageOf(events), /--max-events-per-project/);
  });

  it("bounds open watches per project with 429; closing one frees room", async () => {
    const open = async (): Promise<{ status: number; close: () => void; text: () => Promise<string> }> => {
      const controller = new AbortController();
      const response = await fetch(`${base}${SECRETS}?watch=true`, { signal: controller.signal });
      return {
        status: response.status,
        close: () => {
          controller.abort();
        },
        text: () => response.text(),
      };
    };
    const first = await open();
    const second = await open();
    assert.deepEqual([first.status, second.status], [200, 200]);
    const third = await open();
    assert.equal(third.status, 429);
    const status = JSON.parse(await third.text()) as Json;
    assert.equal(
      status["message"],
      'too many open watches in project "quota": 2 of at most 2 (telex serve --max-watches-per-project)',
    );
    first.close();
    let fourth = await open();
    for (let attempt = 0; fourth.status === 429 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      fourth = await open();
    }
    assert.equal(fourth.status, 200, "the closed watch was released");
    second.close();
    fourth.close();
  });
});
