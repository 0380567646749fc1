// The in-process controller's writes without HTTP: the same answers, errors,
// authorization and watch events as over the listener; reads stay on HTTP.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { KubeApiError, KubeClient } from "../kube/index.js";
import { controlPlanePath } from "./paths.js";
import { examplePolicy, startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import { watchEvents } from "../../test-support/watch-events.js";

const EP = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
type Json = Record<string, unknown>;
const metadataOf = (object: Json): Json => object["metadata"] as Json;

describe("writes in the API server's process", () => {
  let server: TestApiServer;
  let client: KubeClient;
  let httpOnly: KubeClient;
  const path = (rest: string) => `${controlPlanePath("local")}${rest}`;

  before(async () => {
    server = await startTestApiServer();
    const inProcess = server.api.inProcess;
    assert.ok(inProcess !== undefined, "open access: the in-process principal may write");
    const connection = {
      server: server.api.url,
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    };
    client = new KubeClient({ ...connection, inProcess });
    httpOnly = new KubeClient(connection);
  });
  after(async () => {
    await client.close();
    await httpOnly.close();
    await server.close();
  });

  it("answer as over HTTP, and watchers see them", async () => {
    const watched = watchEvents(`${server.api.url}${path(EP)}?watch=true`, 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const created = await client.request<Json>("POST", path(EP), {
      query: { fieldManager: "ctl" },
      body: examplePolicy("local"),
    });
    assert.equal(metadataOf(created)["generation"], 1);
    const status = {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Delivering",
          message: "ok",
          lastTransitionTime: "2026-12-07T00:00:00Z",
        },
      ],
    };
    await client.request("PATCH", path(`${EP}/local/status`), {
      query: { fieldManager: "ctl" },
      contentType: "application/merge-patch+json",
      body: { status },
    });
    const read = await httpOnly.request<Json>("GET", path(`${EP}/local`));
    assert.deepEqual(read["status"], status);
    const managers = (metadataOf(read)["managedFields"] as { manager: string; subresource?: string }[]).map(
      (m) => `${m.manager}/${m.subresource ?? ""}`,
    );
    assert.deepEqual(managers.sort(), ["ctl/", "ctl/status"]);
    const events = await watched;
    assert.deepEqual(
      events.map((e) => e.type),
      ["ADDED", "MODIFIED"],
    );
  });

  it("fail as over HTTP: the same code, reason and message", async () => {
    const failures = async (target: KubeClient): Promise<KubeApiError[]> => {
      const caught: KubeApiError[] = [];
      const attempts = [
        () => target.request("POST", path(EP), { body: examplePolicy("local") }),
        () => target.request("POST", path(EP), { body: { ...examplePolicy("bad"), spec: { sources: [] } } }),
        () =>
          target.request("PATCH", path(`${EP}/missing/status`), {
            contentType: "application/merge-patch+json",
            body: { status: {} },
          }),
        () => target.request("PATCH", path(`${EP}/local`), { contentType: "text/plain", body: {} }),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof KubeApiError);
          caught.push(error);
          return true;
        });
      }
      return caught;
    };
    const local = await failures(client);
    const remote = await failures(httpOnly);
    assert.deepEqual(
      local.map((e) => [e.statusCode, e.reason, e.status.message]),
      remote.map((e) => [e.statusCode, e.reason, e.status.message]),
    );
    assert.deepEqual(
      local.map((e) => e.statusCode),
      [409, 422, 404, 415],
    );
  });

  it("leave reads to HTTP", async () => {
    const inProcess = server.api.inProcess;
    assert.ok(inProcess !== undefined);
    const answer = await inProcess({
      method: "GET",
      path: path(`${EP}/local`),
      query: new URLSearchParams(),
      body: undefined,
      contentType: undefined,
    });
    assert.equal(answer, undefined);
  });
});

describe("the in-process principal with a tokens file", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-local-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [{ token: "viewer-token-of-every-project", user: "v", projects: ["*"], role: "viewer" }],
      }),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is the internal token's, and there is none without it", async () => {
    const tokensFile = join(dir, "tokens.yaml");
    const withToken = await startTestApiServer({
      tokensFile,
      internalToken: "internal-token-of-this-process",
      selfSignedTls: true,
    });
    const without = await startTestApiServer({ tokensFile, selfSignedTls: true });
    try {
      assert.equal(without.api.inProcess, undefined);
      const inProcess = withToken.api.inProcess;
      assert.ok(inProcess !== undefined);
      const answer = await inProcess({
        method: "POST",
        path: `${controlPlanePath("any-project")}${EP}`,
        query: new URLSearchParams(),
        body: examplePolicy("p"),
        contentType: "application/json",
      });
      assert.equal(answer?.ok, true);
      assert.equal(answer.code, 201);
    } finally {
      await withToken.close();
      await without.close();
    }
  });
});
