// The real kubectl against the API server: the commands users run.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { Kubectl, kubectlPeer } from "../../test-support/kubectl.js";
import { outputOf } from "../../test-support/peers.js";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type TestApiServer,
} from "../../test-support/telex-api.js";

const PROJECT = "test-rdzjb8";

const yaml = (object: unknown): string => stringify(object);

describe("kubectl against the Telex API server", { skip: kubectlPeer.skip }, () => {
  let server: TestApiServer;
  let kubectl: Kubectl;

  before(async () => {
    server = await startTestApiServer({ bookmarkIntervalMs: 200 });
    kubectl = await Kubectl.create({ server: server.api.projectUrl(PROJECT) });
  });
  after(async () => {
    await kubectl.cleanup();
    await server.close();
  });

  const generation = async (name: string): Promise<string> =>
    kubectl.ok(["get", "exportpolicy", name, "-o", "jsonpath={.metadata.generation}"]);

  it("apply -f creates, then configures a change and bumps the generation", async () => {
    const first = await kubectl.ok(["apply", "-f", "-"], yaml(examplePolicy("csa")));
    assert.match(first, /exportpolicy\.telemetry\.miloapis\.com\/csa created/);
    assert.equal(await generation("csa"), "1");
    const changed = await kubectl.ok(
      ["apply", "-f", "-"],
      yaml(examplePolicy("csa", "https://other.example.com/write")),
    );
    assert.match(changed, /csa configured/);
    assert.equal(await generation("csa"), "2");
    const endpoint = await kubectl.ok([
      "get",
      "exportpolicy",
      "csa",
      "-o",
      "jsonpath={.spec.sinks[0].target.prometheusRemoteWrite.endpoint}",
    ]);
    assert.equal(endpoint, "https://other.example.com/write");
    const labelled = {
      ...examplePolicy("csa", "https://other.example.com/write"),
      metadata: { name: "csa", labels: { team: "edge" } },
    };
    await kubectl.ok(["apply", "-f", "-"], yaml(labelled));
    assert.equal(await generation("csa"), "2", "a metadata-only change keeps the generation");
  });

  it("apply --server-side creates, configures, reports conflicts and forces them", async () => {
    const created = await kubectl.ok(["apply", "--server-side", "-f", "-"], yaml(examplePolicy("ssa")));
    assert.match(created, /ssa serverside-applied/);
    await kubectl.ok(
      ["apply", "--server-side", "-f", "-"],
      yaml(examplePolicy("ssa", "https://v2.example.com/write")),
    );
    assert.equal(await generation("ssa"), "2");
    const conflict = await kubectl.run(
      ["apply", "--server-side", "--field-manager=other", "-f", "-"],
      yaml(examplePolicy("ssa", "https://v3.example.com/write")),
    );
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /conflict with "kubectl"/);
    assert.match(conflict.stderr, /prometheusRemoteWrite\.endpoint/);
    await kubectl.ok(
      ["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"],
      yaml(examplePolicy("ssa", "https://v3.example.com/write")),
    );
    const managers = await kubectl.ok([
      "get",
      "exportpolicy",
      "ssa",
      "-o",
      "jsonpath={.metadata.managedFields[*].manager}",
      "--show-managed-fields",
    ]);
    assert.deepEqual(managers.split(" ").sort(), ["kubectl", "other"]);
  });

  it("get prints the table; -o wide adds the reason", async () => {
    const table = await kubectl.ok(["get", "exportpolicies"]);
    const [header, ...rows] = table.trimEnd().split("\n");
    assert.match(header ?? "", /^NAME\s+READY\s+SOURCES\s+SINKS\s+AGE$/);
    assert.ok(
      rows.some((r) => /^csa\s+Unknown\s+1\s+1\s+\d+s$/.test(r)),
      table,
    );
    const wide = await kubectl.ok(["get", "exportpolicies", "-o", "wide"]);
    assert.match(wide.split("\n")[0] ?? "", /AGE\s+REASON$/);
  });

  it("ep is the short name, telex and telemetry the categories; all is not one of them", async () => {
    const rows = (table: string): string[] =>
      table
        .trim()
        .split("\n")
        .slice(1)
        .map((row) => row.split(/\s+/)[0] ?? "")
        .sort();
    assert.deepEqual(rows(await kubectl.ok(["get", "ep"])), ["csa", "ssa"]);
    assert.equal(
      await kubectl.ok(["get", "ep", "csa", "-o", "name"]),
      "exportpolicy.telemetry.miloapis.com/csa\n",
    );
    assert.deepEqual(rows(await kubectl.ok(["get", "telex"])), ["csa", "ssa"]);
    assert.deepEqual(rows(await kubectl.ok(["get", "telemetry"])), ["csa", "ssa"]);
    assert.match(
      await kubectl.ok(["api-resources"]),
      /^exportpolicies\s+ep\s+telemetry\.miloapis\.com\/v1alpha1/m,
    );
    // A policy is configuration: `kubectl delete all --all` clears workloads and must leave it be.
    const all = await kubectl.run(["get", "all"]);
    assert.doesNotMatch(all.stdout, /csa/);
  });

  it("get -o yaml, -o json and -o name", async () => {
    assert.match(await kubectl.ok(["get", "exportpolicy", "csa", "-o", "yaml"]), /^kind: ExportPolicy$/m);
    const json = JSON.parse(await kubectl.ok(["get", "exportpolicy", "csa", "-o", "json"])) as {
      metadata: { uid: string; resourceVersion: string; creationTimestamp: string };
      spec: { sinks: { target: { prometheusRemoteWrite: { batch: { maxSize: number } } } }[] };
    };
    assert.match(json.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(json.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(json.spec.sinks[0]?.target.prometheusRemoteWrite.batch.maxSize, 500, "defaults applied");
    const names = await kubectl.ok(["get", "exportpolicies", "-o", "name"]);
    assert.deepEqual(names.trim().split("\n").sort(), [
      "exportpolicy.telemetry.miloapis.com/csa",
      "exportpolicy.telemetry.miloapis.com/ssa",
    ]);
  });

  it("get -w prints the current rows, then each change", async () => {
    const watch = kubectl.spawn(["get", "exportpolicies", "-w"]);
    try {
      const output = outputOf(watch);
      await output.waitFor((out) => /^ssa\s/m.test(out));
      await kubectl.ok(["label", "exportpolicy", "ssa", "watched=yes"]);
      const out = await output.waitFor((s) => (s.match(/^ssa\s/gm) ?? []).length >= 2);
      assert.equal((out.match(/^NAME/gm) ?? []).length, 1, "one header");
    } finally {
      watch.kill();
    }
  });

  it("describe shows the spec and the policy's events", async () => {
    const uid = await kubectl.ok(["get", "exportpolicy", "csa", "-o", "jsonpath={.metadata.uid}"]);
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "csa.1" },
      involvedObject: {
        apiVersion: "telemetry.miloapis.com/v1alpha1",
        kind: "ExportPolicy",
        name: "csa",
        namespace: "default",
        uid,
      },
      reason: "SinkReady",
      message: "sink remote delivers",
      type: "Normal",
      source: { component: "telex-controller" },
      count: 1,
      firstTimestamp: new Date().toISOString().slice(0, 19) + "Z",
      lastTimestamp: new Date().toISOString().slice(0, 19) + "Z",
    };
    await kubectl.ok(["create", "-f", "-"], yaml(event));
    const text = await kubectl.ok(["describe", "exportpolicy", "csa"]);
    assert.match(text, /^Name:\s+csa$/m);
    assert.match(text, /Endpoint:\s+https:\/\/other\.example\.com\/write/);
    assert.match(text, /Normal\s+SinkReady\s+\S+\s+telex-controller\s+sink remote delivers/);
    const events = await kubectl.ok(["get", "events"]);
    assert.match(events, /exportpolicy\/csa\s+sink remote delivers/);
  });

  it("explain exportpolicies --recursive walks the published schema", async () => {
    const text = await kubectl.ok(["explain", "exportpolicies", "--recursive"]);
    assert.match(text, /^KIND:\s+ExportPolicy$/m);
    for (const field of [
      "metadata\t<ObjectMeta>",
      "sinks\t<[]Object> -required-",
      "prometheusRemoteWrite\t<Object>",
      "maxSize\t<integer>",
      "metricsql\t<string> -required-",
    ]) {
      assert.ok(text.includes(field), `missing ${JSON.stringify(field)} in:\n${text}`);
    }
    const batch = await kubectl.ok([
      "explain",
      "exportpolicies.spec.sinks.target.prometheusRemoteWrite.batch",
    ]);
    assert.match(batch, /maxSize\t<integer>.*\n\s+Maximum number of telemetry entries per batch/);
  });

  it("create secret generic stores basic-auth data base64-encoded", async () => {
    await kubectl.ok([
      "create",
      "secret",
      "generic",
      "grafana",
      "--type=kubernetes.io/basic-auth",
      "--from-literal=username=123456",
      "--from-literal=password=glc_token",
    ]);
    const secret = JSON.parse(await kubectl.ok(["get", "secret", "grafana", "-o", "json"])) as {
      type: string;
      data: Record<string, string>;
    };
    assert.equal(secret.type, "kubernetes.io/basic-auth");
    assert.equal(Buffer.from(secret.data["password"] ?? "", "base64").toString(), "glc_token");
    assert.match(await kubectl.ok(["get", "secrets"]), /^grafana\s+kubernetes\.io\/basic-auth\s+2\s+\d+s$/m);
    const invalid = await kubectl.run([
      "create",
      "secret",
      "generic",
      "half",
      "--type=kubernetes.io/basic-auth",
      "--from-literal=username=1",
    ]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /Secret "half" is invalid: data\.password: Required value/);
  });

  it("stringData is folded into data and never returned", async () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "sd" },
      type: "kubernetes.io/basic-auth",
      stringData: { username: "u", password: "p" },
    };
    await kubectl.ok(["apply", "-f", "-"], yaml(secret));
    const stored = JSON.parse(await kubectl.ok(["get", "secret", "sd", "-o", "json"])) as Record<
      string,
      unknown
    >;
    assert.equal(stored["stringData"], undefined);
    assert.deepEqual(stored["data"], { username: "dQ==", password: "cA==" });
  });

  it("delete waits for finalizers; removing the last one completes it", async () => {
    await kubectl.ok(
      ["apply", "-f", "-"],
      yaml({
        ...examplePolicy("final"),
        metadata: { name: "final", finalizers: ["telemetry.miloapis.com/export"] },
      }),
    );
    const deletion = kubectl.spawn(["delete", "exportpolicy", "final", "--timeout=20s"]);
    let exited = false;
    const done = new Promise<number | null>((resolve) =>
      deletion.once("exit", (code) => {
        exited = true;
        resolve(code);
      }),
    );
    await outputOf(deletion).waitFor((out) => out.includes("deleted"));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(exited, false, "kubectl delete keeps waiting while a finalizer is set");
    const stamp = await kubectl.ok([
      "get",
      "exportpolicy",
      "final",
      "-o",
      "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert.match(stamp, /Z$/);
    await kubectl.ok([
      "patch",
      "exportpolicy",
      "final",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    assert.equal(await done, 0);
    const gone = await kubectl.run(["get", "exportpolicy", "final"]);
    assert.match(gone.stderr, /NotFound/);
  });

  it("auth can-i answers yes with open access", async () => {
    assert.equal((await kubectl.ok(["auth", "can-i", "delete", "secrets"])).trim(), "yes");
  });

  it("invalid manifests are refused with field paths, unknown fields under Strict", async () => {
    const bad = examplePolicy("bad") as {
      spec: { sinks: { target: { prometheusRemoteWrite: Record<string, unknown> } }[] };
    };
    const target = bad.spec.sinks[0]?.target.prometheusRemoteWrite ?? {};
    target["batch"] = { maxSize: 6000 };
    const invalid = await kubectl.run(["apply", "-f", "-"], yaml(bad));
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /The ExportPolicy "bad" is invalid/);
    assert.match(
      invalid.stderr,
      /spec\.sinks\[0\]\.target\.prometheusRemoteWrite\.batch\.maxSize: Invalid value: 6000/,
    );
    target["batch"] = { maxSize: 10, maxSizes: 1 };
    const unknown = await kubectl.run(["apply", "-f", "-"], yaml(bad));
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /unknown field "spec\.sinks\[0\]\.target\.prometheusRemoteWrite\.batch\.maxSizes"/,
    );
    const warned = await kubectl.run(["apply", "--validate=warn", "-f", "-"], yaml(bad));
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /Warning: unknown field/);
  });

  it("the server answers raw requests with Status objects", async () => {
    const response = await apiRequest(
      server.api.projectUrl(PROJECT),
      "GET",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies/nope",
    );
    assert.equal(response.status, 404);
    assert.equal(response.json()["reason"], "NotFound");
  });
});
