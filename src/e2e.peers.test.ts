// The main job end to end, as a customer and the platform meet it: `telex
// serve` in its own process; every user step through the `telex` command in
// its own process (create secret, apply, get, delete); the platform's metrics
// of several projects pushed into ingest over Remote Write; and a real
// VictoriaMetrics with basic auth as the customer's endpoint. Then the
// outages a customer causes or suffers — the Secret deleted and restored,
// the endpoint stopped and started — each seen through `telex get`, and
// finally the policy deleted: delivery stops and its pipelines are gone.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TimeSeriesInput } from "./remotewrite/index.js";
import { eventuallyValue } from "../test-support/eventually.js";
import {
  TENANT_LABEL,
  generatePlatformSeries,
  labelsFromRecord,
  seriesKey,
} from "../test-support/platform-series.js";
import type { Labels } from "./metricsql/ast.js";
import { Random } from "../test-support/random.js";
import { pushSeries } from "../test-support/remote-write-client.js";
import { runTelex, telexOk, type TelexResult } from "../test-support/telex-cli.js";
import { startTelexServe, type TelexServe } from "../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type ExportedSeries,
  type RunningVictoriaMetrics,
} from "../test-support/victoriametrics.js";

const PROJECT = "test-rdzjb8";
const POLICY = "gateway-traffic";
const SINK = "customer-vm";
const SECRET = "vm-credentials";
const CREDENTIALS = { username: "1234567", password: "glc_e2e-secret-token" };
const POLICY_DISPLAY = "exportpolicy.telemetry.miloapis.com";
/** Status refresh of the server under test: delivery health shows within a second. */
const STATUS_INTERVAL = "500ms";

const SELECTOR = '{__name__=~"envoy_vhost_.*", resource_kind="Gateway", gateway_name!="internal"}';

/** What SELECTOR means, written independently of Telex' matcher: the oracle for what must arrive. */
function selectedBySelector(labels: Labels): boolean {
  const value = (name: string) => labels.find((l) => l.name === name)?.value ?? "";
  return (
    value("__name__").startsWith("envoy_vhost_") &&
    value("resource_kind") === "Gateway" &&
    value("gateway_name") !== "internal"
  );
}
const tenantOf = (labels: Labels) => labels.find((l) => l.name === TENANT_LABEL)?.value;

// Projects test-rdzjb8 and test-rdzjb80 (its id extended: scoping compares
// whole values), two more, and platform-internal series without a tenant.
const DATASET = generatePlatformSeries(new Random(3), 4);
const EXPECTED = DATASET.series.filter((s) => tenantOf(s) === PROJECT && selectedBySelector(s));
const EXPECTED_KEYS = new Set(EXPECTED.map(seriesKey));

const POLICY_YAML = (endpoint: string) => `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: ${POLICY}
spec:
  sources:
    - name: gateway-requests
      metrics:
        metricsql: '${SELECTOR}'
  sinks:
    - name: ${SINK}
      sources: [gateway-requests]
      target:
        prometheusRemoteWrite:
          endpoint: ${endpoint}
          authentication:
            basicAuth:
              secretRef:
                name: ${SECRET}
          batch:
            timeout: 200ms
          retry:
            maxAttempts: 2
            backoffDuration: 200ms
`;

const SECRET_YAML = `apiVersion: v1
kind: Secret
metadata:
  name: ${SECRET}
type: kubernetes.io/basic-auth
stringData:
  username: "${CREDENTIALS.username}"
  password: ${CREDENTIALS.password}
`;

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}
interface PolicyJson {
  readonly metadata: { readonly name: string; readonly generation?: number };
  readonly status?: {
    readonly conditions?: readonly Condition[];
    readonly sinks?: readonly { readonly name: string; readonly conditions?: readonly Condition[] }[];
  };
}

const ready = (conditions: readonly Condition[] | undefined) => conditions?.find((c) => c.type === "Ready");
const sinkReady = (policy: PolicyJson) =>
  ready(policy.status?.sinks?.find((s) => s.name === SINK)?.conditions);

/** Every series of the dataset with one sample at timestampMs (values: the series' index). */
function samplesAt(timestampMs: number): TimeSeriesInput[] {
  return DATASET.series.map((labels, index) => ({ labels, samples: [{ value: index, timestampMs }] }));
}

describe("end to end through the telex CLI", { skip: victoriaMetricsAvailability().skip }, () => {
  let dir: string;
  let vmData: string;
  let vm: RunningVictoriaMetrics;
  let serve: TelexServe;
  let ingestUrl: string;
  let flags: string[];
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 30_000;
  const range = () => ({ start: t0 / 1000 - 60, end: Date.now() / 1000 + 60 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-e2e-"));
    vmData = join(dir, "vm");
    [vm, serve] = await Promise.all([
      startVictoriaMetrics({ httpAuth: CREDENTIALS, storageDataPath: vmData }),
      startTelexServe([
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        join(dir, "telex"),
        "--status-interval",
        STATUS_INTERVAL,
      ]),
    ]);
    assert.ok(serve.ingestUrl, `telex serve printed no ingest address:\n${serve.output()}`);
    ingestUrl = serve.ingestUrl;
    flags = ["--server", serve.url, "--project", PROJECT];
  });

  after(async () => {
    await serve.stop();
    await vm.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const telex = (args: readonly string[], stdin?: string): Promise<TelexResult> =>
    runTelex([...args, ...flags], stdin === undefined ? {} : { stdin });
  const getPolicy = async (): Promise<PolicyJson> =>
    JSON.parse(await telexOk(["get", "exportpolicy", POLICY, "-o", "json", ...flags])) as PolicyJson;
  const push = async (timestampMs: number): Promise<void> => {
    const result = await pushSeries(`${ingestUrl}/api/v1/write`, samplesAt(timestampMs));
    assert.ok(
      result.status >= 200 && result.status < 300,
      `ingest answered ${result.status}: ${result.body}`,
    );
  };
  /** Polls the policy through the CLI, pushing fresh samples first: delivery health needs traffic. */
  const untilSink = (what: string, ok: (policy: PolicyJson) => boolean, timeoutMs = 15_000) =>
    eventuallyValue(
      async () => {
        await push(Date.now());
        return getPolicy();
      },
      ok,
      what,
      { timeoutMs, intervalMs: 200 },
    );
  const metricsText = async (): Promise<string> => {
    const response = await fetch(`${ingestUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    return response.text();
  };
  /** The value of one series of telex' /metrics, or undefined when it is not exposed. */
  const metric = (text: string, name: string, labels = ""): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const sinkLabels = `{project="${PROJECT}",namespace="default",policy="${POLICY}",sink="${SINK}"}`;
  const everything = async (): Promise<ExportedSeries[]> => {
    await forceFlush(vm);
    return exportSamples(vm, '{__name__!=""}', range());
  };

  it("the dataset has what the test needs: matches, near misses in the project, and other projects", () => {
    assert.ok(EXPECTED.length >= 10, `only ${EXPECTED.length} series match`);
    const projects = new Set(DATASET.series.map(tenantOf));
    assert.ok(projects.size >= 4, "at least 3 projects and series without a tenant");
    const inProject = DATASET.series.filter((s) => tenantOf(s) === PROJECT);
    assert.ok(inProject.length > EXPECTED.length + 10, "series of the project the selector leaves out");
    assert.ok(
      inProject.some(
        (s) => !selectedBySelector(s) && selectedBySelector(s.filter((l) => l.name !== "gateway_name")),
      ),
      'series of the project that only gateway_name!="internal" leaves out',
    );
    const elsewhere = DATASET.series.filter((s) => tenantOf(s) !== PROJECT && selectedBySelector(s));
    assert.ok(
      new Set(elsewhere.map(tenantOf)).has("test-rdzjb80"),
      "series of other projects that the selector alone would take",
    );
  });

  it("delivers exactly the selected series of the policy's project and shows Ready", async () => {
    assert.equal(
      await telexOk([
        "create",
        "secret",
        "basic-auth",
        SECRET,
        "--username",
        CREDENTIALS.username,
        "--password",
        CREDENTIALS.password,
        ...flags,
      ]),
      `secret/${SECRET} created\n`,
    );
    const file = join(dir, "policy.yaml");
    await writeFile(file, POLICY_YAML(`${vm.url}/api/v1/write`));
    const created = await telex(["apply", "-f", file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, `${POLICY_DISPLAY}/${POLICY} created\n`);
    const again = await telex(["apply", "-f", "-"], POLICY_YAML(`${vm.url}/api/v1/write`));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${POLICY_DISPLAY}/${POLICY} unchanged\n`);

    // The status is written after the exporter runs the plan: from then on, pushes are routed.
    const awaiting = await eventuallyValue(getPolicy, (p) => sinkReady(p) !== undefined, "a sink status", {
      intervalMs: 200,
    });
    assert.equal(sinkReady(awaiting)?.reason, "AwaitingData");
    assert.equal(ready(awaiting.status?.conditions)?.status, "Unknown");

    const timestamps = [t0, t0 + 1000, t0 + 2000];
    for (const timestampMs of timestamps) await push(timestampMs);
    await eventuallyValue(
      async () => (await everything()).reduce((n, row) => n + row.timestamps.length, 0),
      (samples) => samples >= EXPECTED.length * timestamps.length,
      `${EXPECTED.length * timestamps.length} samples in VictoriaMetrics`,
      { intervalMs: 200 },
    );
    const rows = await everything();
    const delivered = new Map(rows.map((row) => [seriesKey(labelsFromRecord(row.metric)), row]));
    const strays = [...delivered.keys()].filter((key) => !EXPECTED_KEYS.has(key));
    assert.deepEqual(strays, [], "series that were not selected");
    assert.equal(delivered.size, EXPECTED.length);
    for (const labels of EXPECTED) {
      const row = delivered.get(seriesKey(labels));
      assert.ok(row, `missing ${seriesKey(labels)}`);
      const index = DATASET.series.indexOf(labels);
      assert.deepEqual(row.timestamps, timestamps, seriesKey(labels));
      assert.deepEqual(row.values, [index, index, index], seriesKey(labels));
    }
    // Telex' own account agrees: every pushed sample received, exactly the selected ones routed and sent.
    const text = await metricsText();
    assert.equal(metric(text, "telex_ingest_samples_received_total"), DATASET.series.length * 3);
    assert.equal(metric(text, "telex_sink_samples_received_total", sinkLabels), EXPECTED.length * 3);
    assert.equal(metric(text, "telex_sink_samples_sent_total", sinkLabels), EXPECTED.length * 3);

    const table = await eventuallyValue(
      () => telex(["get", "exportpolicies"]),
      (r) => /^gateway-traffic +True /m.test(r.stdout),
      "get shows READY True",
      { intervalMs: 200 },
    );
    assert.match(table.stdout, /^NAME +READY +SOURCES +SINKS +AGE\ngateway-traffic +True +1 +1 +\d+s\n$/);
    const policy = await getPolicy();
    assert.deepEqual(
      [ready(policy.status?.conditions)?.status, ready(policy.status?.conditions)?.reason],
      ["True", "AllSinksReady"],
    );
    assert.deepEqual([sinkReady(policy)?.status, sinkReady(policy)?.reason], ["True", "Delivering"]);
  });

  it("turns the sink not Ready with SecretNotFound when the Secret is deleted, Ready when it is back", async () => {
    const deleted = await telex(["delete", "secret", SECRET]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `secret "${SECRET}" deleted\n`);
    const missing = await eventuallyValue(
      getPolicy,
      (p) => sinkReady(p)?.reason === "SecretNotFound",
      "SecretNotFound",
      {
        timeoutMs: 5000,
        intervalMs: 200,
      },
    );
    assert.equal(sinkReady(missing)?.status, "False");
    assert.match(sinkReady(missing)?.message ?? "", /vm-credentials/);
    assert.deepEqual(
      [ready(missing.status?.conditions)?.status, ready(missing.status?.conditions)?.reason],
      ["False", "SinksNotReady"],
    );
    assert.match(
      (await telex(["get", "exportpolicies", "-o", "wide"])).stdout,
      /^gateway-traffic +False +1 +1 +\d+s +SinksNotReady$/m,
    );

    const restored = await telex(["apply", "-f", "-"], SECRET_YAML);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(restored.stdout, `secret/${SECRET} created\n`);
    const back = await untilSink("Delivering again", (p) => sinkReady(p)?.reason === "Delivering");
    assert.equal(ready(back.status?.conditions)?.status, "True");
  });

  it("reports EndpointUnreachable while VictoriaMetrics is down, and recovers when it is back", async () => {
    const { port } = vm;
    await vm.stop();
    const down = await untilSink(
      "EndpointUnreachable",
      (p) => sinkReady(p)?.reason === "EndpointUnreachable",
    );
    assert.equal(sinkReady(down)?.status, "False");
    assert.match(sinkReady(down)?.message ?? "", /ECONNREFUSED/);
    assert.match((await telex(["get", "exportpolicies"])).stdout, /^gateway-traffic +False /m);

    vm = await startVictoriaMetrics({ httpAuth: CREDENTIALS, storageDataPath: vmData, port });
    const up = await untilSink("Delivering after the restart", (p) => sinkReady(p)?.reason === "Delivering");
    assert.equal(ready(up.status?.conditions)?.status, "True");
    // What is pushed now arrives, next to what arrived before the outage.
    const marker = Date.now() + 5000;
    await push(marker);
    await eventuallyValue(
      async () => (await everything()).filter((row) => row.timestamps.includes(marker)).length,
      (series) => series >= EXPECTED.length,
      `the samples pushed after recovery, in all ${EXPECTED.length} selected series`,
      { intervalMs: 200 },
    );
    const rows = await everything();
    const withMarker = rows.filter((row) => row.timestamps.includes(marker));
    assert.deepEqual(
      withMarker.map((row) => seriesKey(labelsFromRecord(row.metric))).sort(),
      [...EXPECTED_KEYS].sort(),
    );
    assert.ok(
      rows.every((row) => row.timestamps.includes(t0)),
      "the data from before the outage is kept",
    );
  });

  it("deleting the policy returns once its pipelines are gone, and delivery stops", async () => {
    const deleted = await telex(["delete", "exportpolicy", POLICY]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `${POLICY_DISPLAY} "${POLICY}" deleted\n`);
    const get = await telex(["get", "exportpolicy", POLICY]);
    assert.equal(get.code, 1);
    assert.match(get.stderr, /^error: .*"gateway-traffic" not found\n$/);
    const list = await telex(["get", "exportpolicies"]);
    assert.deepEqual(
      [list.code, list.stdout, list.stderr],
      [0, "", "No resources found in default namespace.\n"],
    );

    const before = await metricsText();
    assert.doesNotMatch(before, /policy="gateway-traffic"/, "the policy's sink and source series are gone");
    const routed = metric(before, "telex_ingest_samples_routed_total");
    const notSelected = metric(before, "telex_ingest_samples_not_selected_total") ?? 0;
    const after = Date.now() + 10_000;
    await push(after);
    const text = await metricsText();
    assert.equal(metric(text, "telex_ingest_samples_routed_total"), routed, "nothing routed any more");
    const withTenant = DATASET.series.filter((s) => tenantOf(s) !== undefined).length;
    assert.equal(metric(text, "telex_ingest_samples_not_selected_total"), notSelected + withTenant);
    // Well past the batch timeout (200 ms): had anything been sent, it would be there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rows = await everything();
    assert.deepEqual(
      rows.filter((row) => row.timestamps.includes(after)),
      [],
      "samples pushed after the delete reached VictoriaMetrics",
    );
  });
});
