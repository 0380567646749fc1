// `telex preview` in a fleet (issue 15 part 2): the API server is
// `telex serve --api-only`, which runs no exporter.
// - Push: two `--join` replicas take ingest (an agent's requests land on
//   either); the API server asks both for the series ingested through them
//   and merges: a series ingested through both counts once, samples per
//   minute are each sample once (also those forwarded to the replica running
//   the stored policy), another project's series never show. A replica killed
//   with SIGKILL (its Lease still live) is a warning in the preview, not a hang.
//   The replicas' preview endpoint wants their ingest token.
// - Pull: --api-only with --source-url previews from the store itself; without
//   it, in front of a pull replica, the preview answers 503 saying so.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { runCli } from "../../test-support/cli.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { policyManifest } from "../../test-support/policies.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { pushSeries } from "../../test-support/remote-write-client.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { expositionValue } from "../../test-support/exposition.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { PREVIEW_PATH } from "../exporter/ingest/server.js";

process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const PLATFORM_TOKEN = "platform-token-of-the-fleet-preview-test";
const INGEST_TOKEN = "ingest-token-of-the-fleet-preview-test";
const ALPHA_TOKEN = "alpha-admin-of-the-fleet-preview-test";
const BETA_TOKEN = "beta-admin-of-the-fleet-preview-test";
const METRIC = "fleet_preview_rq";

type Json = Record<string, unknown>;
interface SourceStatus {
  name: string;
  series: number;
  atLeast: boolean;
  samplesPerMinute: number;
  sample: string[];
}
interface PreviewStatus {
  mode: string;
  sources: SourceStatus[];
  sinks: { name: string; series: number; samplesPerMinute: number }[];
  notes: string[];
}

function statusOf(stdout: string): PreviewStatus {
  return (JSON.parse(stdout) as Json)["status"] as PreviewStatus;
}

function sourceOf(status: PreviewStatus, name: string): SourceStatus {
  const found = status.sources.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
}

function previewPolicy(name: string): string {
  return stringify({
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: [
        { name: "rq", metrics: { metricsql: METRIC } },
        { name: "all", metrics: { metricsql: '{__name__=~".+"}' } },
      ],
      sinks: [
        {
          name: "out",
          sources: ["rq", "all"],
          target: { prometheusRemoteWrite: { endpoint: "https://metrics.example.com/api/v1/write" } },
        },
      ],
    },
  });
}

const series = (project: string, id: number, at: number) => ({
  labels: [
    { name: "__name__", value: METRIC },
    { name: "id", value: String(id) },
    { name: TENANT_LABEL, value: project },
  ],
  samples: [{ value: id, timestampMs: at }],
});

describe("telex preview through telex serve --api-only, a push fleet of two replicas", () => {
  let dir = "";
  let api: TelexServe;
  const replicas: TelexServe[] = [];
  let file = "";

  const preview = (project: string, token: string) =>
    runCli([
      "preview",
      "-f",
      file,
      "-o",
      "json",
      "--server",
      api.url,
      "--project",
      project,
      "--token",
      token,
    ]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-fleet-preview-"));
    await writeFile(join(dir, "replica.token"), `${PLATFORM_TOKEN}\n`);
    await writeFile(join(dir, "ingest.token"), `${INGEST_TOKEN}\n`);
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: PLATFORM_TOKEN, user: "telex-fleet", projects: ["*"], role: "admin" },
          { token: ALPHA_TOKEN, user: "alice", projects: ["alpha"], role: "admin" },
          { token: BETA_TOKEN, user: "bob", projects: ["beta"], role: "admin" },
        ],
      }),
    );
    file = join(dir, "policy.yaml");
    await writeFile(file, previewPolicy("look"));
    api = await startTelexServe([
      "--api-only",
      "--api-listen",
      "127.0.0.1:0",
      "--tokens-file",
      join(dir, "tokens.yaml"),
      "--ingest-token-file",
      join(dir, "ingest.token"),
      "--data-dir",
      join(dir, "api"),
    ]);
    // A stored policy of alpha: its owner runs it, and the other replica forwards alpha's series there.
    const created = await apiRequest(
      `${api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/alpha/control-plane`,
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      {
        token: ALPHA_TOKEN,
        body: policyManifest({
          name: "running",
          sources: { m: METRIC },
          sinks: [{ name: "nowhere", endpoint: "http://127.0.0.1:9/api/v1/write", sources: ["m"] }],
        }),
      },
    );
    assert.equal(created.status, 201, created.text);
    for (const name of ["replica-a", "replica-b"]) {
      replicas.push(
        await startTelexServe([
          "--join",
          api.url,
          "--token-file",
          join(dir, "replica.token"),
          "--replica-name",
          name,
          // Long enough that a killed replica is still a member when the preview asks it.
          "--lease-duration",
          "20s",
          "--data-dir",
          join(dir, name),
          "--ingest-token-file",
          join(dir, "ingest.token"),
          "--endpoint-allow",
          "127.0.0.0/8",
        ]),
      );
    }
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts the series ingested through both replicas once each, and none of another project", async () => {
    const [a, b] = replicas;
    assert.ok(a !== undefined && b !== undefined);
    const ingestOf = (r: TelexServe) => `${r.ingestUrl ?? ""}/api/v1/write`;
    const auth = { Authorization: `Bearer ${INGEST_TOKEN}` };
    // Both replicas see each other and the policy runs on one of them before anything is pushed.
    await eventuallyValue(
      async () =>
        Promise.all(replicas.map(async (r) => (await fetch(`${r.ingestUrl ?? ""}/metrics`)).text())),
      (texts) =>
        texts.every((t) => expositionValue(t, "telex_replica_members", 0) === 2) &&
        texts.reduce((sum, t) => sum + expositionValue(t, "telex_replica_policies", 0), 0) === 1,
      "two members, the policy owned by one",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    // alpha: 1 and 2 through a, 2 (again) and 3 through b; beta's own series of the same name through both.
    // Each request is sent until accepted; every attempt's samples were seen by the replica it reached.
    let alphaSamples = 0;
    const send = async (replica: TelexServe, alpha: number[], beta: number[]) => {
      const body = [
        ...alpha.map((id) => series("alpha", id, Date.now())),
        ...beta.map((id) => series("beta", id, Date.now())),
      ];
      await eventuallyValue(
        async () => {
          alphaSamples += alpha.length;
          return pushSeries(ingestOf(replica), body, auth);
        },
        (r) => r.status === 204,
        "the push accepted",
        { timeoutMs: 15_000, intervalMs: 200 },
      );
    };
    await send(a, [1, 2], [1]);
    await send(b, [2, 3], [9]);
    const forwarded = await Promise.all(
      replicas.map(async (r) => (await fetch(`${r.ingestUrl ?? ""}/metrics`)).text()),
    );
    assert.ok(
      forwarded.some((t) => expositionValue(t, 'telex_fleet_forward_requests_total{outcome="ok"}', 0) > 0),
      "alpha's series went on to the policy's owner",
    );

    const started = Date.now();
    const result = await preview("alpha", ALPHA_TOKEN);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - started < 10_000);
    const status = statusOf(result.stdout);
    assert.equal(status.mode, "push");
    const rq = sourceOf(status, "rq");
    assert.equal(rq.series, 3, "alpha 1, 2 and 3: the series ingested through both replicas counts once");
    assert.equal(rq.atLeast, false);
    // Each sample once: neither twice for series seen by both, nor again where forwarded.
    assert.equal(rq.samplesPerMinute, alphaSamples);
    assert.deepEqual(rq.sample, [
      `${METRIC}{id="1",${TENANT_LABEL}="alpha"}`,
      `${METRIC}{id="2",${TENANT_LABEL}="alpha"}`,
      `${METRIC}{id="3",${TENANT_LABEL}="alpha"}`,
    ]);
    assert.equal(sourceOf(status, "all").series, 3, "everything of alpha is still alpha's only");
    assert.equal(status.sinks[0]?.series, 3);
    assert.doesNotMatch(result.stdout, /beta/);
    assert.match(status.notes[0] ?? "", /2 of 2 live replicas answered: replica-a, replica-b/);

    const beta = statusOf((await preview("beta", BETA_TOKEN)).stdout);
    assert.equal(sourceOf(beta, "rq").series, 2);
    for (const line of sourceOf(beta, "all").sample)
      assert.match(line, /resourcemanager_datumapis_com_project_name="beta"/);
    // `telex apply --dry-run=server` prints the same preview, and stores nothing.
    const dryRun = await runCli([
      "apply",
      "--dry-run=server",
      "-f",
      file,
      "--server",
      api.url,
      "--project",
      "alpha",
      "--token",
      ALPHA_TOKEN,
    ]);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stderr, /preview: source rq matches 3 series of project alpha now/);
    // Another project's admin may not preview alpha.
    const stranger = await preview("alpha", BETA_TOKEN);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /403/);
  });

  it("the replicas' preview endpoint wants their ingest token and a valid request", async () => {
    const replica = replicas[0];
    assert.ok(replica !== undefined);
    const url = `${replica.ingestUrl ?? ""}${PREVIEW_PATH}`;
    const body = JSON.stringify({ project: "alpha", policy: {} });
    const anonymous = await fetch(url, { method: "POST", body });
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(url, { method: "POST", body, headers: { Authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    const invalid = await fetch(url, {
      method: "POST",
      body,
      headers: { Authorization: `Bearer ${INGEST_TOKEN}` },
    });
    assert.equal(invalid.status, 400);
    assert.match(await invalid.text(), /the policy is not valid/);
    const notJson = await fetch(url, {
      method: "POST",
      body: "{",
      headers: { Authorization: `Bearer ${INGEST_TOKEN}` },
    });
    assert.equal(notJson.status, 400);
  });

  it("a replica that cannot answer is a warning, and the counts lower bounds", async () => {
    const killed = replicas[1];
    assert.ok(killed !== undefined);
    await killed.kill();
    replicas.pop();
    const started = Date.now();
    const result = await preview("alpha", ALPHA_TOKEN);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - started < 10_000, "no hang on the dead replica");
    const status = statusOf(result.stdout);
    const rq = sourceOf(status, "rq");
    assert.equal(rq.series, 2, "what went through replica-a alone");
    assert.equal(rq.atLeast, true);
    assert.ok(
      status.notes.some((n) =>
        /^warning: replica replica-b could not be asked .*counts are lower bounds$/.test(n),
      ),
      status.notes.join("\n"),
    );
    // The human-readable output says it too.
    const text = await runCli([
      "preview",
      "-f",
      file,
      "--server",
      api.url,
      "--project",
      "alpha",
      "--token",
      ALPHA_TOKEN,
    ]);
    assert.match(text.stdout, /warning: replica replica-b/);
  });
});

describe(
  "telex preview through telex serve --api-only, a pull fleet",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir = "";
    let vm: RunningVictoriaMetrics;
    const processes: TelexServe[] = [];
    let file = "";

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-fleet-preview-pull-"));
      file = join(dir, "policy.yaml");
      await writeFile(file, previewPolicy("look"));
      vm = await startVictoriaMetrics();
      const now = Date.now();
      const lines: string[] = [];
      for (const [project, count] of [
        ["alpha", 3],
        ["beta", 5],
      ] as const)
        for (let id = 0; id < count; id++)
          lines.push(`${METRIC}{${TENANT_LABEL}="${project}",id="${id}"} 1 ${now - 30_000}`);
      await importPrometheusText(vm, `${lines.join("\n")}\n`);
      await forceFlush(vm);
    });

    after(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      await vm.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("with --source-url previews from the store, each project its own series", async () => {
      const api = await startTelexServe([
        "--api-only",
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        join(dir, "api"),
        "--source-url",
        vm.url,
      ]);
      processes.push(api);
      for (const [project, expected] of [
        ["alpha", 3],
        ["beta", 5],
      ] as const) {
        const result = await runCli([
          "preview",
          "-f",
          file,
          "-o",
          "json",
          "--server",
          api.url,
          "--project",
          project,
        ]);
        assert.equal(result.code, 0, result.stderr);
        const status = statusOf(result.stdout);
        assert.equal(status.mode, "pull");
        assert.equal(sourceOf(status, "rq").series, expected);
        for (const line of sourceOf(status, "all").sample)
          assert.ok(line.includes(`${TENANT_LABEL}="${project}"`), line);
      }
    });

    it("without --source-url in front of a pull replica, the preview says to pass it", async () => {
      const api = await startTelexServe([
        "--api-only",
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        join(dir, "api-without-store"),
      ]);
      processes.push(api);
      processes.push(
        await startTelexServe([
          "--join",
          api.url,
          "--replica-name",
          "puller",
          "--data-dir",
          join(dir, "puller"),
          "--source-url",
          vm.url,
        ]),
      );
      const result = await eventuallyValue(
        () => runCli(["preview", "-f", file, "--server", api.url, "--project", "alpha"]),
        (r) => !/no replica of the fleet is live/.test(r.stderr),
        "the replica's Lease seen",
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /read a metrics store \(pull mode\): no series are ingested through them; start telex serve --api-only with their --source-url/,
      );
    });
  },
);
