// Exemplars, native histograms and metric metadata through `telex serve` to a
// real Prometheus with native histograms and exemplar storage on: they arrive
// for the selected project only, and histograms kept on disk during an
// outage survive a SIGKILL. Prometheus 2.42 keeps no metadata that comes by
// Remote Write 1.0 (its write handler reads series only), so a second sink,
// a small recording receiver, shows which metadata Telex sent.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { snappyCompress } from "../../remotewrite/index.js";
import { startCountingReceiver, type CountingReceiver } from "../../../test-support/counting-receiver.js";
import { eventually } from "../../../test-support/eventually.js";
import { startOutageProxy, type OutageProxy } from "../../../test-support/outage-proxy.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyManifest } from "../../../test-support/policies.js";
import {
  prometheusApi,
  prometheusAvailability,
  startPrometheus,
  type RunningPrometheus,
} from "../../../test-support/prometheus.js";
import {
  referenceEncode,
  type ReferenceTimeSeries,
} from "../../../test-support/remotewrite/reference-prompb.js";
import { postRemoteWrite } from "../../../test-support/remote-write-client.js";
import { apiRequest } from "../../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../../test-support/telex-serve.js";

const SELECTED = "items-a";
const OTHER = "items-b";
const policiesOf = (project: string): string =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;

function series(
  project: string,
  name: string,
  extra: Omit<ReferenceTimeSeries, "labels">,
): ReferenceTimeSeries {
  return {
    labels: [
      { name: "__name__", value: name },
      { name: TENANT_LABEL, value: project },
    ],
    ...extra,
  };
}

/** A native histogram sample with `count` observations in one bucket. */
function histogram(count: number, timestamp: number): Record<string, unknown> {
  return {
    countInt: count,
    sum: count * 0.5,
    schema: 0,
    positiveSpans: [{ offset: 0, length: 1 }],
    positiveDeltas: [count],
    timestamp,
  };
}

async function histogramCount(prometheus: RunningPrometheus, selector: string): Promise<number | undefined> {
  const data = (await prometheusApi(
    prometheus,
    `/api/v1/query?query=${encodeURIComponent(`histogram_count(${selector})`)}`,
  )) as { result: { value: [number, string] }[] };
  const value = data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe(
  "exemplars, native histograms and metadata through telex serve",
  { skip: prometheusAvailability().skip },
  () => {
    let prometheus: RunningPrometheus;
    let recorder: CountingReceiver;
    let proxy: OutageProxy;
    let dataDir: string;
    const servers: TelexServe[] = [];

    before(async () => {
      prometheus = await startPrometheus({
        args: ["--enable-feature=native-histograms,exemplar-storage"],
      });
      recorder = await startCountingReceiver();
      proxy = await startOutageProxy({ upstream: prometheus.url });
      dataDir = await mkdtemp(join(tmpdir(), "telex-items-"));
    });
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await proxy.close();
      await recorder.close();
      await prometheus.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    const start = async (): Promise<TelexServe> => {
      const server = await startTelexServe([
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        dataDir,
        "--buffer-sync-interval",
        "100ms",
      ]);
      servers.push(server);
      return server;
    };
    const ingestOf = (server: TelexServe): string =>
      `${server.ingestUrl ?? assert.fail("push mode has an ingest URL")}/api/v1/write`;

    it("forwards them for the selected project only, and keeps histograms across a SIGKILL", async () => {
      let server = await start();
      const manifest = policyManifest({
        name: "items",
        sources: { rq: '{__name__=~"rq_duration_seconds.*"}' },
        sinks: [
          {
            name: "prom",
            endpoint: `${proxy.url}/api/v1/write`,
            sources: ["rq"],
            batch: { maxSize: 100, timeout: "200ms" },
            retry: { maxAttempts: 2, backoffDuration: "200ms" },
          },
          { name: "rec", endpoint: recorder.writeUrl, sources: ["rq"], batch: { timeout: "200ms" } },
        ],
      });
      const created = await apiRequest(server.url, "POST", policiesOf(SELECTED), { body: manifest });
      assert.equal(created.status, 201, created.text);

      const now = Date.now() - 60_000;
      const request = (round: number): Uint8Array =>
        referenceEncode({
          timeseries: [
            series(SELECTED, "rq_duration_seconds", {
              histograms: [histogram(round + 1, now + round * 1000)],
            }),
            // Prometheus stores an exemplar of a series it has: the sample comes first on the wire.
            series(SELECTED, "rq_duration_seconds_total", {
              samples: [{ value: round, timestamp: now + round * 1000 }],
              exemplars: [
                {
                  labels: [{ name: "trace_id", value: `selected-${round}` }],
                  value: 0.25,
                  timestamp: now + round * 1000,
                },
              ],
            }),
            // The other project's series and family: never sent anywhere.
            series(OTHER, "rq_duration_seconds", {
              histograms: [histogram(100, now + round * 1000)],
            }),
            series(OTHER, "rq_duration_seconds_total", {
              samples: [{ value: 1, timestamp: now + round * 1000 }],
              exemplars: [
                {
                  labels: [{ name: "trace_id", value: `other-${round}` }],
                  value: 9,
                  timestamp: now + round * 1000,
                },
              ],
            }),
            series(OTHER, "other_family_seconds", { samples: [{ value: 1, timestamp: now + round * 1000 }] }),
          ],
          metadata: [
            {
              type: "HISTOGRAM",
              metricFamilyName: "rq_duration_seconds",
              help: "Request duration.",
              unit: "seconds",
            },
            { type: "COUNTER", metricFamilyName: "other_family_seconds", help: "Of the other project." },
          ],
        });

      // The policy runs once the first request's items arrive.
      await eventually(
        async () => {
          const answer = await postRemoteWrite(ingestOf(server), snappyCompress(request(0)));
          assert.equal(answer.status, 204, answer.body);
          return (
            (await histogramCount(prometheus, `rq_duration_seconds{${TENANT_LABEL}="${SELECTED}"}`)) === 1
          );
        },
        "the first histogram arrives",
        { timeoutMs: 20_000, intervalMs: 500 },
      );

      const exemplars = (await prometheusApi(
        prometheus,
        `/api/v1/query_exemplars?query=${encodeURIComponent('{__name__=~"rq_duration_seconds.*"}')}&start=${Math.floor(now / 1000) - 60}&end=${Math.ceil(Date.now() / 1000)}`,
      )) as { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] }[];
      const traces = exemplars.flatMap((s) => s.exemplars.map((e) => e.labels["trace_id"]));
      assert.ok(traces.includes("selected-0"), `exemplars in Prometheus: ${JSON.stringify(exemplars)}`);
      assert.ok(!traces.some((t) => t?.startsWith("other-") === true), "the other project's exemplars stay");
      assert.equal(
        await histogramCount(prometheus, `rq_duration_seconds{${TENANT_LABEL}="${OTHER}"}`),
        undefined,
        "the other project's histograms stay",
      );
      await eventually(() => recorder.metadataFamilies.has("rq_duration_seconds"), "the metadata arrives", {
        timeoutMs: 10_000,
      });
      assert.ok(!recorder.metadataFamilies.has("other_family_seconds"), "never another project's family");

      // Outage: histograms are acknowledged onto disk, then the process dies.
      proxy.outage(503);
      for (let round = 1; round <= 5; round++) {
        const answer = await postRemoteWrite(ingestOf(server), snappyCompress(request(round)));
        assert.equal(answer.status, 204, answer.body);
      }
      await server.kill();
      server = await start();
      proxy.restore();
      await eventually(
        async () =>
          (await histogramCount(prometheus, `rq_duration_seconds{${TENANT_LABEL}="${SELECTED}"}`)) === 6,
        "the histograms kept on disk arrive after the restart",
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      const metrics = await (await fetch(`${server.metricsUrl ?? ""}/metrics`)).text();
      assert.match(metrics, /^telex_ingest_unsupported_total\{kind="histogram"\} 0$/m);
    });
  },
);
