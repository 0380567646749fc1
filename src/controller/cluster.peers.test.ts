// `telex serve --kubeconfig`: the controller, exporter and ingest against a
// Kubernetes API it does not run, reached through a kubeconfig (https with a
// CA, a bearer token) with plain Kubernetes paths (clusterLayout). No
// kube-apiserver is installable on this machine, so the API is one project's
// control plane of a separate embedded API server — a Kubernetes API with the
// CRD, as kubectl itself shows by applying and deleting the policy through the
// same kubeconfig.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventuallyValue } from "../../test-support/eventually.js";
import { Kubectl, kubectlPeer } from "../../test-support/kubectl.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { runTelex } from "../../test-support/telex-cli.js";
import { startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";

const PROJECT = "cluster-project";
const TOKEN = "admin-token-of-cluster-project";
const TOKENS_FILE = `tokens:\n  - {token: ${TOKEN}, user: telex-controller, projects: [${PROJECT}], role: admin}\n`;
const skip = victoriaMetricsAvailability().skip ?? kubectlPeer.skip;

const policyYaml = (endpoint: string) => `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: gateways
spec:
  sources:
    - name: gw
      metrics:
        metricsql: '{resource_kind="Gateway"}'
  sinks:
    - name: vm
      sources: [gw]
      target:
        prometheusRemoteWrite:
          endpoint: ${endpoint}
          batch: {timeout: 200ms}
`;

interface PolicyJson {
  metadata: { finalizers?: string[] };
  status?: { conditions?: { type: string; status: string; reason: string }[] };
}

describe("telex serve against a Kubernetes API through a kubeconfig", { skip }, () => {
  let dir = "";
  let api: TestApiServer;
  let vm: RunningVictoriaMetrics;
  let kubectl: Kubectl;
  let serve: TelexServe | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-cluster-"));
    await writeFile(join(dir, "tokens.yaml"), TOKENS_FILE);
    [api, vm] = await Promise.all([
      startTestApiServer({ selfSignedTls: true, tokensFile: join(dir, "tokens.yaml") }),
      startVictoriaMetrics(),
    ]);
    kubectl = await Kubectl.create({
      server: api.api.projectUrl(PROJECT),
      token: TOKEN,
      ...(api.caPem === undefined ? {} : { caPem: api.caPem }),
    });
  });

  after(async () => {
    await serve?.stop();
    await kubectl.cleanup();
    await Promise.all([api.close(), vm.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("exports the project's selected series and keeps the policy's status and finalizer", async () => {
    const kubeconfig = join(kubectl.home, "kubeconfig");
    serve = await startTelexServe([
      "--kubeconfig",
      kubeconfig,
      "--project",
      PROJECT,
      "--status-interval",
      "300ms",
      // A cluster is shared by strangers, so loopback is denied unless allowed; the receiver is on it.
      "--endpoint-allow",
      "127.0.0.0/8",
      "--data-dir",
      join(dir, "data"),
    ]);
    assert.equal(serve.url, api.api.projectUrl(PROJECT));
    const applied = await kubectl.ok(["apply", "-f", "-"], policyYaml(`${vm.url}/api/v1/write`));
    assert.match(applied, /exportpolicy.telemetry.miloapis.com\/gateways created/);

    const getPolicy = async () =>
      JSON.parse(await kubectl.ok(["get", "exportpolicy", "gateways", "-o", "json"])) as PolicyJson;
    const reason = (p: PolicyJson) => p.status?.conditions?.find((c) => c.type === "Ready")?.reason;
    const waiting = await eventuallyValue(getPolicy, (p) => reason(p) === "AwaitingData", "AwaitingData");
    assert.deepEqual(waiting.metadata.finalizers, ["exportpolicy.telemetry.miloapis.com/controller"]);

    const now = Date.now();
    const series = (project: string, kind: string, i: number) => ({
      labels: [
        { name: "__name__", value: "gateway_requests_total" },
        { name: TENANT_LABEL, value: project },
        { name: "resource_kind", value: kind },
        { name: "resource_name", value: `gw-${i}` },
      ],
      samples: [{ value: i, timestampMs: now }],
    });
    const ingest = `${serve.ingestUrl ?? ""}/api/v1/write`;
    const push = async () => {
      const result = await pushSeries(ingest, [
        series(PROJECT, "Gateway", 1),
        series(PROJECT, "Gateway", 2),
        series(PROJECT, "HTTPProxy", 3),
        series("another-project", "Gateway", 4),
      ]);
      assert.equal(result.status, 204);
    };
    await push();
    await eventuallyValue(
      async () => {
        await push();
        return getPolicy();
      },
      (p) => reason(p) === "AllSinksReady",
      "Ready through the kubeconfig's API",
    );
    await forceFlush(vm);
    const exported = await exportSamples(vm, '{__name__="gateway_requests_total"}', {
      start: Math.floor(now / 1000) - 60,
      end: Math.ceil(now / 1000) + 60,
    });
    assert.deepEqual(exported.map((s) => s.metric["resource_name"]).sort(), ["gw-1", "gw-2"]);
    assert.ok(exported.every((s) => s.metric[TENANT_LABEL] === PROJECT));

    // kubectl's delete waits for the finalizer, which only the controller removes.
    await kubectl.ok(["delete", "exportpolicy", "gateways", "--timeout=20s"]);
    const metrics = await (await fetch(`${serve.ingestUrl ?? ""}/metrics`)).text();
    assert.doesNotMatch(metrics, /policy="gateways"/);
  });

  it("stops with a reason when the API has no ExportPolicy CRD or refuses the credentials", async () => {
    const config = (server: string) =>
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: c, cluster: {server: ${JSON.stringify(server)}, certificate-authority-data: ${Buffer.from(api.caPem ?? "").toString("base64")}}}]`,
        "users: [{name: u, user: {tokenFile: token.txt}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
        "",
      ].join("\n");
    await writeFile(join(dir, "token.txt"), `${TOKEN}\n`);
    // Nothing is served below this prefix: a Kubernetes API without the CRD, as Telex sees it.
    await writeFile(join(dir, "root.yaml"), config(`${api.api.url}/no-crd-here`));
    const noCrd = await runTelex([
      "serve",
      "--kubeconfig",
      join(dir, "root.yaml"),
      "--project",
      PROJECT,
      "--ingest-listen",
      "127.0.0.1:0",
    ]);
    assert.equal(noCrd.code, 1);
    assert.match(noCrd.stderr, /does not serve exportpolicies\.telemetry\.miloapis\.com: install the CRD/);

    await writeFile(join(dir, "token.txt"), "not-a-token\n");
    await writeFile(join(dir, "bad-token.yaml"), config(api.api.projectUrl(PROJECT)));
    const refused = await runTelex([
      "serve",
      "--kubeconfig",
      join(dir, "bad-token.yaml"),
      "--project",
      PROJECT,
      "--ingest-listen",
      "127.0.0.1:0",
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the kubeconfig's credentials \(401\)/);

    // Without --project every labelled namespace is a project: the grant it needs includes namespaces.
    await writeFile(join(dir, "token.txt"), `${TOKEN}\n`);
    await writeFile(join(dir, "platform-root.yaml"), config(api.api.url));
    const fleet = await runTelex([
      "serve",
      "--kubeconfig",
      join(dir, "platform-root.yaml"),
      "--ingest-listen",
      "127.0.0.1:0",
    ]);
    assert.equal(fleet.code, 1);
    assert.match(fleet.stderr, /refused the kubeconfig's credentials \(403\): .*list,watch namespaces/);
  });
});
