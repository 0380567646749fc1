// The status page's files over HTTP, without a browser (ui.peers.test.ts
// drives the page itself in Chromium): served without a token and holding
// no data, with headers that keep any API value from running as code,
// and nothing else under /ui/. The API alone (no exporter) serves them too.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Script } from "node:vm";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type TestApiServer,
} from "../../../test-support/telex-api.js";

const PROJECT = "ui-files";

describe("/ui/ files", () => {
  let server: TestApiServer;
  const get = async (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${server.api.url}${path}`, { redirect: "manual", ...init });

  before(async () => {
    server = await startTestApiServer();
    const created = await apiRequest(
      server.api.projectUrl(PROJECT),
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      { body: examplePolicy("hidden-name") },
    );
    assert.equal(created.status, 201, created.text);
  });
  after(() => server.close());

  it("serves one document for /ui/ and every project's page, with no data in it", async () => {
    const root = await get("/ui/");
    const project = await get(`/ui/projects/${PROJECT}/`);
    assert.deepEqual([root.status, project.status], [200, 200]);
    const [rootText, projectText] = [await root.text(), await project.text()];
    assert.equal(rootText, projectText);
    assert.match(root.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/);
    assert.doesNotMatch(rootText, /hidden-name|ui-files/);
    assert.match(rootText, /<script src="\/ui\/app\.js" defer><\/script>/);
    assert.doesNotMatch(rootText, /<script>|<style>| style=/, "nothing inline: the CSP allows none");
  });

  it("sends a CSP without inline script or style, and refuses framing and sniffing", async () => {
    for (const path of ["/ui/", "/ui/app.js", "/ui/app.css"]) {
      const response = await get(path);
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
      const csp = response.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self';/, path);
      assert.match(csp, /style-src 'self';/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(response.headers.get("referrer-policy"), "no-referrer", path);
    }
    const script = await get("/ui/app.js");
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    // The script parses (it lives in a template string, where a stray backquote would break it).
    const source = await script.text();
    assert.doesNotThrow(() => new Script(source, { filename: "app.js" }));
    const css = await get("/ui/app.css");
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    await css.arrayBuffer();
  });

  it("redirects to the trailing slash, 404s other paths and 405s other methods", async () => {
    for (const [path, status, location] of [
      ["/ui", 301, "/ui/"],
      [`/ui/projects/${PROJECT}`, 301, `/ui/projects/${PROJECT}/`],
      ["/ui/projects/Not_A_Project/", 404, null],
      ["/ui/projects/", 404, null],
      ["/ui/constructor", 404, null],
      ["/ui/toString", 404, null],
      ["/ui/projects/a/b/", 404, null],
      ["/ui/app.js/", 404, null],
    ] as const) {
      const response = await get(path);
      await response.arrayBuffer();
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get("location"), location, path);
    }
    for (const method of ["POST", "PUT", "DELETE"]) {
      const response = await get("/ui/", { method });
      const body = (await response.json()) as { reason?: string };
      assert.equal(response.status, 405, method);
      assert.equal(body.reason, "MethodNotAllowed");
    }
    const head = await get("/ui/app.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get("content-length")) > 1000);
    assert.equal(await head.text(), "");
  });
});
