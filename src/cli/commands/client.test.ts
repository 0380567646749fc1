// The client verbs against a real `telex serve` (in-process, port 0).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../../serve/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { runCli } from "../../../test-support/cli.js";

// No developer's config file may change the defaults these tests rely on.
process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const POLICY = `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: gateways
spec:
  sources:
    - name: gw
      metrics:
        metricsql: '{resource_kind="Gateway"}'
  sinks:
    - name: prom
      sources: [gw]
      target:
        prometheusRemoteWrite:
          endpoint: http://127.0.0.1:9/api/v1/write
          authentication:
            basicAuth:
              secretRef:
                name: creds
`;

describe("telex client verbs", () => {
  let dir: string;
  let server: RunningServer;
  let flags: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-cli-"));
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      statusRefreshMs: 200,
    });
    flags = ["--server", server.api.url, "--project", "cli-test"];
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("apply prints created, then unchanged, then configured", async () => {
    const file = join(dir, "policy.yaml");
    await writeFile(file, POLICY);
    assert.equal(
      (await runCli(["apply", "-f", file, ...flags])).stdout,
      "exportpolicy.telemetry.miloapis.com/gateways created\n",
    );
    assert.equal(
      (await runCli(["apply", "-f", file, ...flags])).stdout,
      "exportpolicy.telemetry.miloapis.com/gateways unchanged\n",
    );
    const changed = await runCli(["apply", "-f", "-", ...flags], POLICY.replace('"Gateway"', '"HTTPProxy"'));
    assert.equal(changed.stdout, "exportpolicy.telemetry.miloapis.com/gateways configured\n");
  });

  it("apply prints the server's warnings, e.g. a source no sink forwards", async () => {
    const unused = POLICY.replace("name: gateways", "name: unused-source").replace(
      "  sinks:",
      "    - name: everything\n      metrics:\n        metricsql: '{}'\n  sinks:",
    );
    const result = await runCli(["apply", "-f", "-", ...flags], unused);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "exportpolicy.telemetry.miloapis.com/unused-source created\n");
    assert.equal(
      result.stderr,
      'Warning: spec.sources[1]: source "everything" is forwarded by no sink: nothing it selects is exported\n',
    );
    const removed = await runCli(["delete", "exportpolicies", "unused-source", ...flags]);
    assert.equal(removed.code, 0, removed.stderr);
  });

  it("apply sends nothing when a manifest is invalid, and says where", async () => {
    const result = await runCli(
      ["apply", "-f", "-", ...flags],
      POLICY.replace("name: gateways", "name: broken").replace("sources: [gw]", "sources: [nope]"),
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /<stdin>:\d+:\d+: spec\.sinks\[0\]\.sources\[0\]: Not found: "nope"/);
    const get = await runCli(["get", "exportpolicies", "broken", ...flags]);
    assert.equal(get.code, 1);
    assert.match(get.stderr, /not found/);
  });

  it("create secret basic-auth, then get shows the sink Ready reason", async () => {
    const created = await runCli([
      "create",
      "secret",
      "basic-auth",
      "creds",
      "--username",
      "u",
      "--password",
      "p",
      ...flags,
    ]);
    assert.equal(created.stdout, "secret/creds created\n");
    const secrets = await runCli(["get", "secrets", ...flags]);
    assert.match(secrets.stdout, /^NAME +TYPE +DATA +AGE\ncreds +kubernetes\.io\/basic-auth +2 +\d+s\n$/);
    await eventually(
      async () =>
        (await runCli(["get", "exportpolicies", "-o", "wide", ...flags])).stdout.includes("AwaitingData"),
      "status",
    );
    const table = await runCli(["get", "exportpolicies", "-o", "wide", ...flags]);
    assert.match(
      table.stdout,
      /^NAME +READY +SOURCES +SINKS +AGE +REASON\ngateways +Unknown +1 +1 +\d+s +AwaitingData\n$/,
    );
    assert.equal(
      (await runCli(["get", "exportpolicies", "-o", "name", ...flags])).stdout,
      "exportpolicy.telemetry.miloapis.com/gateways\n",
    );
    const yaml = await runCli(["get", "exportpolicy", "gateways", "-o", "yaml", ...flags]);
    assert.match(yaml.stdout, /^apiVersion: telemetry\.miloapis\.com\/v1alpha1\nkind: ExportPolicy\n/);
  });

  it("the controller writes as telex-controller; managedFields show only with --show-managed-fields", async () => {
    const get = async (...extra: string[]): Promise<string> =>
      (await runCli(["get", "exportpolicy", "gateways", ...extra, ...flags])).stdout;
    const hidden = JSON.parse(await get("-o", "json")) as { metadata: Record<string, unknown> };
    assert.equal(hidden.metadata["managedFields"], undefined);
    assert.doesNotMatch(await get("-o", "yaml"), /managedFields/);
    const shown = JSON.parse(await get("-o", "json", "--show-managed-fields")) as {
      metadata: { managedFields: { manager: string; subresource?: string; fieldsV1: unknown }[] };
    };
    const owners = shown.metadata.managedFields.map((entry) =>
      entry.subresource === undefined ? entry.manager : `${entry.manager}/${entry.subresource}`,
    );
    // The apply's spec, the controller's finalizer and its status: nobody is `unknown`.
    assert.deepEqual(owners.sort(), ["telex", "telex-controller", "telex-controller/status"]);
    const finalizerOwner = shown.metadata.managedFields.find(
      (e) => e.manager === "telex-controller" && e.subresource === undefined,
    );
    assert.match(JSON.stringify(finalizerOwner?.fieldsV1), /f:finalizers/);
  });

  it("describe shows sources, sinks and per-sink conditions", async () => {
    const result = await runCli(["describe", "exportpolicy", "gateways", ...flags]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Sources:\n {2}gw: \{resource_kind="HTTPProxy"\}/);
    assert.match(result.stdout, /Auth: {6}basic, Secret creds/);
    assert.match(result.stdout, /Batch: {5}500 samples or 5s/);
    assert.match(result.stdout, / {4}Ready: Unknown \(AwaitingData\)/);
  });

  it("delete waits for the controller's finalizer, then the policy is gone", async () => {
    const result = await runCli(["delete", "exportpolicy", "gateways", ...flags]);
    assert.equal(result.stdout, 'exportpolicy.telemetry.miloapis.com "gateways" deleted\n');
    assert.equal(
      (await runCli(["get", "exportpolicies", ...flags])).stderr,
      "No resources found in default namespace.\n",
    );
  });

  it("explains a refused connection and a missing project", async () => {
    const refused = await runCli([
      "get",
      "exportpolicies",
      "--server",
      "http://127.0.0.1:1",
      "--project",
      "p",
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /cannot reach the Telex API at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)\.\nIs a server running\? Start one with `npm start` or `telex serve`/,
    );
    const noProject = await runCli(["get", "exportpolicies", "--server", server.api.url]);
    assert.equal(noProject.code, 2);
    assert.match(noProject.stderr, /--project is required/);
  });
});
