// `telex preview` end to end: the CLI against a whole `telex serve` in this
// process. Push mode: the demo generator's series of three projects that
// share metric names (and one series pushed over Remote Write to the real
// ingest endpoint), previewed per project — no project ever sees another's
// series — with tokens: a viewer may preview, another project's admin may
// not; `telex apply --dry-run=server` prints the preview as warnings. Pull
// mode: a real VictoriaMetrics holding two projects' series with the same
// names, in export and federate mode, and kubectl's own `apply
// --dry-run=server` printing the warnings.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { startServer, type RunningServer } from "../../serve/index.js";
import { runCli } from "../../../test-support/cli.js";
import { eventuallyValue } from "../../../test-support/eventually.js";
import { Kubectl, kubectlPeer } from "../../../test-support/kubectl.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import {
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";

process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const ADMIN_TOKEN = "preview-admin-0123456789";
const VIEWER_TOKEN = "preview-viewer-0123456789";
const OTHER_ADMIN_TOKEN = "preview-other-0123456789";

interface SourceSpec {
  readonly name: string;
  readonly metricsql: string;
}

function policy(
  sources: readonly SourceSpec[],
  sinks: readonly { name: string; sources: string[] }[],
): string {
  return stringify({
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: "look" },
    spec: {
      sources: sources.map((s) => ({ name: s.name, metrics: { metricsql: s.metricsql } })),
      sinks: sinks.map((s) => ({
        name: s.name,
        sources: s.sources,
        target: { prometheusRemoteWrite: { endpoint: "https://metrics.example.com/api/v1/write" } },
      })),
    },
  });
}

type Json = Record<string, unknown>;
interface SourceStatus {
  name: string;
  series: number;
  atLeast: boolean;
  samplesPerMinute: number;
  sample: string[];
  sinks: string[];
}
interface SinkStatus {
  name: string;
  series: number;
  atLeast: boolean;
  samplesPerMinute: number;
}
interface PreviewStatus {
  project: string;
  mode: string;
  sources: SourceStatus[];
  sinks: SinkStatus[];
}

function statusOf(stdout: string): PreviewStatus {
  return (JSON.parse(stdout) as Json)["status"] as PreviewStatus;
}

function source(status: PreviewStatus, name: string): SourceStatus {
  const found = status.sources.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
}

function sink(status: PreviewStatus, name: string): SinkStatus {
  const found = status.sinks.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
}

describe("telex preview, push mode (demo generator and Remote Write into the real ingest)", () => {
  let dir: string;
  let server: RunningServer;
  let file: string;
  const flags = (project: string, token = ADMIN_TOKEN) => [
    "--server",
    server.api.url,
    "--project",
    project,
    "--token",
    token,
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-preview-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: ADMIN_TOKEN, user: "alice", projects: ["my-project", "test-rdzjb8"], role: "admin" },
          { token: VIEWER_TOKEN, user: "victor", projects: ["my-project"], role: "viewer" },
          { token: OTHER_ADMIN_TOKEN, user: "olga", projects: ["prod-x7k2p9"], role: "admin" },
        ],
      }),
    );
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      tokensFile: join(dir, "tokens.yaml"),
      demo: true,
    });
    // The same metric name in a fourth project, through the ingest endpoint as an agent sends it.
    const pushed = await pushSeries(`${server.ingest?.url ?? ""}/api/v1/write`, [
      {
        labels: [
          { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
          { name: "envoy_response_code", value: "503" },
          { name: "gateway_name", value: "intruder" },
          { name: TENANT_LABEL, value: "stranger-1" },
        ],
        samples: [{ value: 1, timestampMs: Date.now() }],
      },
    ]);
    assert.equal(pushed.status, 204);
    file = join(dir, "policy.yaml");
    await writeFile(
      file,
      policy(
        [
          { name: "errors", metricsql: 'envoy_vhost_vcluster_upstream_rq{envoy_response_code=~"5.."}' },
          { name: "requests", metricsql: "envoy_vhost_vcluster_upstream_rq" },
          { name: "waf", metricsql: "coraza_envoy_filter_request_events_total" },
        ],
        [
          { name: "both", sources: ["errors", "requests"] },
          { name: "only-errors", sources: ["errors"] },
        ],
      ),
    );
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts and shows the project's own series only, although all projects share the names", async () => {
    for (const project of ["my-project", "test-rdzjb8"]) {
      const result = await eventuallyValue(
        () => runCli(["preview", "-f", file, "-o", "json", ...flags(project)]),
        (r) => r.code === 0 && source(statusOf(r.stdout), "requests").series === 12,
        `the demo's 12 request series of ${project}`,
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      const status = statusOf(result.stdout);
      assert.equal(status.mode, "push");
      assert.equal(status.project, project);
      // 3 gateways × 1 code of 5xx; × 4 codes; 3 WAF series (one per gateway).
      assert.deepEqual(
        status.sources.map((s) => [s.name, s.series, s.atLeast]),
        [
          ["errors", 3, false],
          ["requests", 12, false],
          ["waf", 3, false],
        ],
      );
      for (const s of status.sources) {
        assert.ok(s.sample.length <= 10 && s.sample.length === Math.min(10, s.series), s.name);
        for (const series of s.sample) assert.ok(series.includes(`${TENANT_LABEL}="${project}"`), series);
      }
      assert.ok(!result.stdout.includes("intruder"), "a series of another project is never shown");
      assert.deepEqual(source(status, "waf").sinks, []);
      // "both" is sent each 5xx series twice (it matches both of its sources), "only-errors" once.
      assert.equal(sink(status, "both").series, 12);
      assert.equal(sink(status, "only-errors").series, 3);
      const errors = source(status, "errors").samplesPerMinute;
      const requests = source(status, "requests").samplesPerMinute;
      assert.ok(errors > 0 && requests > 0, "samples per minute are estimated");
      // The demo sends a sample per series every 5 s: at most 12 a minute each.
      assert.ok(requests <= 12 * 12, String(requests));
      assert.ok(Math.abs(sink(status, "both").samplesPerMinute - (errors + requests)) <= 1);
    }
  });

  it("prints a readable answer: counts, the selector as run, the sample, the sinks", async () => {
    const result = await runCli(["preview", "-f", file, ...flags("my-project")]);
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /^SOURCE errors: 3 series match now, [\d.]+ samples\/min$/m);
    assert.match(out, /^SOURCE waf: 3 series match now, [\d.]+ samples\/min \(no sink forwards it\)$/m);
    assert.match(
      out,
      /^ {2}selector as run: envoy_vhost_vcluster_upstream_rq\{envoy_response_code=~"5\.\.", resourcemanager_datumapis_com_project_name="my-project"\}$/m,
    );
    assert.match(out, /^ {2}10 of them:$/m);
    assert.match(out, /^SINK +SOURCES +SERIES +SAMPLES\/MIN$/m);
    assert.match(out, /^only-errors +errors +3 +[\d.]+$/m);
  });

  it("is a read: a viewer may preview; an admin of another project may not", async () => {
    const viewer = await runCli(["preview", "-f", file, "-o", "json", ...flags("my-project", VIEWER_TOKEN)]);
    assert.equal(viewer.code, 0, viewer.stderr);
    assert.equal(source(statusOf(viewer.stdout), "requests").series, 12);
    const stranger = await runCli(["preview", "-f", file, ...flags("my-project", OTHER_ADMIN_TOKEN)]);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /403 Forbidden/);
    assert.equal(stranger.stdout, "");
  });

  it("apply --dry-run=server stores nothing and warns with the preview", async () => {
    const result = await runCli(["apply", "--dry-run=server", "-f", file, ...flags("test-rdzjb8")]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "exportpolicy.telemetry.miloapis.com/look created (server dry run)\n");
    assert.match(
      result.stderr,
      /^Warning: preview: source errors matches 3 series of project test-rdzjb8 now \([\d.]+ samples\/min\)$/m,
    );
    assert.match(result.stderr, /^Warning: preview: source waf matches 3 series .*; no sink forwards it$/m);
    assert.match(
      result.stderr,
      /^Warning: preview: sink both would receive 12 series, [\d.]+ samples\/min$/m,
    );
    const get = await runCli(["get", "exportpolicies", ...flags("test-rdzjb8")]);
    assert.doesNotMatch(get.stdout, /look/, "nothing was stored");
  });

  it("refuses an invalid policy with the field at fault, and a stored policy that does not exist", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, policy([{ name: "x", metricsql: "{" }], [{ name: "s", sources: ["x"] }]));
    const invalid = await runCli(["preview", "-f", bad, ...flags("my-project")]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /spec\.sources\[0\]\.metrics\.metricsql/);
    const missing = await runCli(["preview", "nothing-here", ...flags("my-project")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });
});

describe(
  "telex preview, pull mode (a real VictoriaMetrics)",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dir: string;
    let vm: RunningVictoriaMetrics;
    let server: RunningServer;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "telex-preview-pull-"));
      vm = await startVictoriaMetrics();
      const now = Date.now();
      const lines: string[] = [];
      // Two projects, the same names; alpha has 3 gateways, beta 5 (and a metric alpha lacks).
      for (const [project, gateways] of [
        ["alpha-1", 3],
        ["beta-2", 5],
      ] as const) {
        for (let g = 0; g < gateways; g++) {
          // Six samples in the last minute and a half, 15 s apart.
          for (let i = 1; i <= 6; i++) {
            const t = now - i * 15_000;
            lines.push(
              `envoy_vhost_vcluster_upstream_rq{${TENANT_LABEL}="${project}",gateway_name="gw-${g}",envoy_response_code="200"} ${i} ${t}`,
            );
            if (project === "beta-2")
              lines.push(`beta_only_total{${TENANT_LABEL}="${project}",gateway_name="gw-${g}"} 1 ${t}`);
          }
        }
      }
      await importPrometheusText(vm, `${lines.join("\n")}\n`);
      await forceFlush(vm);
      server = await startServer({
        apiListen: "127.0.0.1:0",
        dataDir: join(dir, "data"),
        metricsListen: "127.0.0.1:0",
        pull: { url: vm.url },
      });
    });
    after(async () => {
      await server.stop();
      await vm.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("asks the store with the scoped selectors: each project sees its own series only", async () => {
      const file = join(dir, "policy.yaml");
      await writeFile(
        file,
        policy(
          [
            { name: "rq", metricsql: "envoy_vhost_vcluster_upstream_rq" },
            { name: "everything", metricsql: '{__name__=~".+"}' },
          ],
          [{ name: "all", sources: ["rq", "everything"] }],
        ),
      );
      const expected = { "alpha-1": [3, 3], "beta-2": [5, 10] } as const;
      for (const [project, [rq, everything]] of Object.entries(expected)) {
        const result = await runCli([
          "preview",
          "-f",
          file,
          "-o",
          "json",
          "--server",
          server.api.url,
          "--project",
          project,
        ]);
        assert.equal(result.code, 0, result.stderr);
        const status = statusOf(result.stdout);
        assert.equal(status.mode, "pull");
        assert.equal(source(status, "rq").series, rq);
        assert.equal(source(status, "everything").series, everything);
        for (const s of status.sources)
          for (const series of s.sample) assert.ok(series.includes(`${TENANT_LABEL}="${project}"`), series);
        if (project === "alpha-1") assert.ok(!result.stdout.includes("beta_only_total"));
        // The sink's job reads the union of its sources once.
        assert.equal(sink(status, "all").series, everything);
        // VictoriaMetrics answers for its last minute (30 s behind now): 4 samples per series, give or take one.
        const perSeries = source(status, "rq").samplesPerMinute / rq;
        assert.ok(perSeries >= 2 && perSeries <= 6, String(perSeries));
      }
    });

    it(
      "kubectl apply --dry-run=server prints the preview as warnings",
      { skip: kubectlPeer.skip },
      async () => {
        // No tokens on this server: kubectl sends no bearer token over plain HTTP.
        const kubectl = await Kubectl.create({ server: server.api.projectUrl("alpha-1") });
        try {
          const result = await kubectl.run(["apply", "--dry-run=server", "-f", join(dir, "policy.yaml")]);
          assert.equal(result.code, 0, result.stderr);
          assert.match(
            result.stdout,
            /exportpolicy\.telemetry\.miloapis\.com\/look created \(server dry run\)/,
          );
          assert.match(
            result.stderr,
            /^Warning: preview: source rq matches 3 series of project alpha-1 now \([\d.]+ samples\/min\)$/m,
          );
          assert.match(
            result.stderr,
            /^Warning: preview: sink all would receive 3 series, [\d.]+ samples\/min$/m,
          );
        } finally {
          await kubectl.cleanup();
        }
      },
    );

    it("in federate mode a sink gets each series' latest sample once per pull interval", async () => {
      const federating = await startServer({
        apiListen: "127.0.0.1:0",
        dataDir: join(dir, "federate-data"),
        metricsListen: "127.0.0.1:0",
        pull: { url: vm.url, mode: "federate", intervalMs: 20_000 },
      });
      try {
        const file = join(dir, "policy.yaml");
        const result = await runCli([
          "preview",
          "-f",
          file,
          "-o",
          "json",
          "--server",
          federating.api.url,
          "--project",
          "beta-2",
        ]);
        assert.equal(result.code, 0, result.stderr);
        const status = statusOf(result.stdout);
        // 5 series of rq, read 3 times a minute.
        assert.equal(source(status, "rq").samplesPerMinute, 15);
        assert.equal(sink(status, "all").samplesPerMinute, 15 + 30);
      } finally {
        await federating.stop();
      }
    });

    it("a store that does not answer is a 503 that says so", async () => {
      await vm.stop();
      const file = join(dir, "policy.yaml");
      const result = await runCli([
        "preview",
        "-f",
        file,
        "--server",
        server.api.url,
        "--project",
        "alpha-1",
      ]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cannot preview: the metrics store did not answer/);
    });
  },
);
