// Bearer tokens, roles and project isolation, through kubectl and raw HTTP.
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
import { ApiServerConfigError, startApiServer } from "./index.js";

const TOKENS = {
  admin: "admin-token-of-project-one",
  viewer: "viewer-token-of-project-one",
  other: "admin-token-of-project-two",
  controller: "controller-token-all-projects",
};

const TOKENS_FILE = stringify({
  tokens: [
    { token: TOKENS.admin, user: "alice", projects: ["p-one"], role: "admin" },
    { token: TOKENS.viewer, user: "victor", projects: ["p-one"], role: "viewer" },
    { token: TOKENS.other, user: "mallory", projects: ["p-two"], role: "admin" },
    { token: TOKENS.controller, user: "telex-controller", projects: ["*"], role: "viewer" },
  ],
});

describe("authentication and authorization", () => {
  let dir: string;
  let server: TestApiServer;
  const base = (): string => server.api.projectUrl("p-one");
  const request = (
    url: string,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse> => apiRequest(url, method, path, { ...options, ca: server.caPem ?? "" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-auth-"));
    await writeFile(join(dir, "tokens.yaml"), TOKENS_FILE);
    server = await startTestApiServer({ tokensFile: join(dir, "tokens.yaml"), selfSignedTls: true });
    const created = await request(
      base(),
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      {
        token: TOKENS.admin,
        body: examplePolicy("exists"),
      },
    );
    assert.equal(created.status, 201, created.text);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("no token or an unknown token is 401", async () => {
    for (const token of [undefined, "not-a-known-token-at-all"]) {
      const response = await request(
        base(),
        "GET",
        "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies",
        token === undefined ? {} : { token },
      );
      assert.equal(response.status, 401);
      assert.deepEqual([response.json()["reason"], response.json()["code"]], ["Unauthorized", 401]);
    }
    const discovery = await request(base(), "GET", "/api");
    assert.equal(discovery.status, 401, "discovery needs a token too");
  });

  it("a token of another project is 403, the same whether the object exists or not", async () => {
    const path = (name: string): string =>
      `/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies/${name}`;
    const existing = await request(base(), "GET", path("exists"), { token: TOKENS.other });
    const missing = await request(base(), "GET", path("missing"), { token: TOKENS.other });
    assert.equal(existing.status, 403);
    assert.equal(missing.status, 403);
    assert.equal(existing.text.replaceAll("exists", "NAME"), missing.text.replaceAll("missing", "NAME"));
    const unknownProject = await request(server.api.projectUrl("p-three"), "GET", path("exists"), {
      token: TOKENS.other,
    });
    assert.equal(unknownProject.status, 403);
    const discovery = await request(base(), "GET", "/apis/telemetry.miloapis.com/v1alpha1", {
      token: TOKENS.other,
    });
    assert.equal(discovery.status, 403);
  });

  it("the cross-project view lists every project's objects, read-only, for an all-projects token", async () => {
    const view = server.api.projectUrl("-");
    const list = await request(view, "GET", "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies", {
      token: TOKENS.controller,
    });
    assert.equal(list.status, 200, list.text);
    const items = list.json()["items"] as {
      metadata: { name: string; annotations: Record<string, string> };
    }[];
    assert.deepEqual(
      items.map((i) => [i.metadata.name, i.metadata.annotations["telex.miloapis.com/project"]]),
      [["exists", "p-one"]],
    );
    const write = await request(
      view,
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      {
        token: TOKENS.controller,
        body: examplePolicy("x"),
      },
    );
    assert.equal(write.status, 403);
    const denied = await request(view, "GET", "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies", {
      token: TOKENS.admin,
    });
    assert.equal(denied.status, 403, "a single-project token has no cross-project view");
  });

  it("a SelfSubjectReview tells a token its own user, projects and role, in any plane", async () => {
    const review = { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" };
    const path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    const root = server.api.url;
    const asked = await request(`${root}/`, "POST", path.slice(1), { token: TOKENS.admin, body: review });
    assert.equal(asked.status, 201, asked.text);
    assert.deepEqual(asked.json()["status"], {
      userInfo: {
        username: "alice",
        groups: ["system:authenticated"],
        extra: { "telex.miloapis.com/projects": ["p-one"], "telex.miloapis.com/role": ["admin"] },
      },
    });
    // In another project's plane it still answers about the caller, and says nothing of that project.
    const elsewhere = await request(server.api.projectUrl("p-two"), "POST", path, {
      token: TOKENS.viewer,
      body: review,
    });
    assert.equal(elsewhere.status, 201, elsewhere.text);
    assert.equal(
      JSON.stringify(elsewhere.json()["status"]),
      JSON.stringify({
        userInfo: {
          username: "victor",
          groups: ["system:authenticated"],
          extra: { "telex.miloapis.com/projects": ["p-one"], "telex.miloapis.com/role": ["viewer"] },
        },
      }),
    );
    const platform = await request(base(), "POST", path, { token: TOKENS.controller, body: review });
    assert.deepEqual((platform.json()["status"] as { userInfo: { extra: unknown } }).userInfo.extra, {
      "telex.miloapis.com/projects": ["*"],
      "telex.miloapis.com/role": ["viewer"],
    });
    assert.equal((await request(base(), "POST", path, { body: review })).status, 401);
    assert.equal((await request(base(), "GET", path, { token: TOKENS.admin })).status, 405);
    assert.equal((await request(base(), "POST", path, { token: TOKENS.admin })).status, 400);
  });

  it("refuses to start without tokens on a non-loopback address", async () => {
    await assert.rejects(
      startApiServer({ listen: "0.0.0.0:0", dataDir: join(dir, "open") }),
      ApiServerConfigError,
    );
  });

  describe("through kubectl", { skip: kubectlPeer.skip }, () => {
    const as = async (token: string | undefined): Promise<Kubectl> =>
      Kubectl.create({
        server: base(),
        caPem: server.caPem ?? "",
        ...(token === undefined ? {} : { token }),
      });

    it("with an unknown token kubectl is told to log in", async () => {
      // (Without any credentials kubectl prompts for a username on https instead of asking.)
      const kubectl = await as("not-a-token-of-this-server");
      const result = await kubectl.run(["get", "exportpolicies"]);
      await kubectl.cleanup();
      assert.equal(result.code, 1);
      assert.match(result.stderr, /You must be logged in to the server/);
    });

    it("an admin manages policies and secrets and can-i says so", async () => {
      const kubectl = await as(TOKENS.admin);
      try {
        await kubectl.ok([
          "create",
          "secret",
          "generic",
          "creds",
          "--type=kubernetes.io/basic-auth",
          "--from-literal=username=u",
          "--from-literal=password=p",
        ]);
        assert.match(await kubectl.ok(["get", "secrets"]), /^creds\s/m);
        assert.equal((await kubectl.ok(["auth", "can-i", "get", "secrets"])).trim(), "yes");
        assert.match(await kubectl.ok(["auth", "whoami"]), /^Username\s+alice$/m);
      } finally {
        await kubectl.cleanup();
      }
    });

    it("a viewer reads policies but not secrets, and writes nothing", async () => {
      const kubectl = await as(TOKENS.viewer);
      try {
        assert.match(await kubectl.ok(["get", "exportpolicies"]), /^exists\s/m);
        const secrets = await kubectl.run(["get", "secrets"]);
        assert.equal(secrets.code, 1);
        assert.match(secrets.stderr, /Forbidden.*User "victor" cannot list resource "secrets"/);
        const create = await kubectl.run(["apply", "-f", "-"], stringify(examplePolicy("viewer-made")));
        assert.equal(create.code, 1);
        assert.match(create.stderr, /forbidden/i);
        const cannot = await kubectl.run(["auth", "can-i", "get", "secrets"]);
        assert.equal(cannot.stdout.trim(), "no");
        assert.equal((await kubectl.ok(["auth", "can-i", "watch", "exportpolicies"])).trim(), "yes");
        const rules = await kubectl.ok(["auth", "can-i", "--list"]);
        assert.match(rules, /^exportpolicies\.telemetry\.miloapis\.com\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
        assert.doesNotMatch(rules, /secrets/);
      } finally {
        await kubectl.cleanup();
      }
    });

    it("another project's admin gets Forbidden, never NotFound", async () => {
      const kubectl = await as(TOKENS.other);
      try {
        const existing = await kubectl.run(["get", "exportpolicy", "exists"]);
        const missing = await kubectl.run(["get", "exportpolicy", "missing"]);
        assert.match(existing.stderr, /Forbidden/);
        assert.match(missing.stderr, /Forbidden/);
        assert.doesNotMatch(missing.stderr, /NotFound/);
        assert.equal((await kubectl.run(["auth", "can-i", "get", "exportpolicies"])).stdout.trim(), "no");
      } finally {
        await kubectl.cleanup();
      }
    });
  });
});
