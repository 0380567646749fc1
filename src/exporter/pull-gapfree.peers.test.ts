// Gap-free pull against real peers: a source VictoriaMetrics written to live,
// destination VictoriaMetrics behind a switchable 503 (the outage proxy).
// (1) a sink down for a while keeps its cursor behind undelivered data and,
// after recovery, every sample the source held arrives; (2) a healthy sink of
// the same policy and a sink of another policy keep reading live data
// meanwhile; (3) `telex serve` SIGKILLed mid-outage and restarted on the same
// data dir still delivers every sample.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger, systemClock } from "../util/index.js";
import { startOutageProxy, type OutageProxy } from "../../test-support/outage-proxy.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import { apiRequest } from "../../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import {
  exportSamples,
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { Exporter } from "./exporter.js";
import { MemoryCursorStore, PullSource } from "./pull/index.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes one sample per series of each project every 200 ms, timestamped now, and remembers them. */
class LiveWriter {
  /** project → `pod@timestamp` written. */
  readonly written = new Map<string, Set<string>>();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: RunningVictoriaMetrics,
    private readonly projects: readonly string[],
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      const lines: string[] = [];
      for (const project of this.projects) {
        let set = this.written.get(project);
        if (set === undefined) this.written.set(project, (set = new Set()));
        for (const pod of ["p0", "p1", "p2"]) {
          lines.push(
            `requests_total{${TENANT_LABEL}="${project}",resource_kind="Gateway",pod="${pod}"} ${now % 1000} ${now}`,
          );
          set.add(`${pod}@${now}`);
        }
      }
      await importPrometheusText(this.store, `${lines.join("\n")}\n`);
      await forceFlush(this.store);
      await sleep(200);
    }
  }
}

/** `pod@timestamp` → copies the destination holds for the project. */
async function received(dest: RunningVictoriaMetrics, project: string): Promise<Map<string, number>> {
  await forceFlush(dest);
  const rows = await exportSamples(dest, `{${TENANT_LABEL}="${project}"}`, {
    start: Date.now() / 1000 - 600,
    end: Date.now() / 1000 + 60,
  });
  const counts = new Map<string, number>();
  for (const row of rows) {
    for (const t of row.timestamps) {
      const id = `${row.metric["pod"] ?? "?"}@${t}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

function missing(written: ReadonlySet<string>, got: ReadonlyMap<string, number>): string[] {
  return [...written].filter((id) => !got.has(id));
}

async function allArrive(
  dest: RunningVictoriaMetrics,
  project: string,
  written: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let got = await received(dest, project);
  while (missing(written, got).length > 0 && Date.now() < deadline) {
    await sleep(500);
    got = await received(dest, project);
  }
  return got;
}

function duplicateCount(got: ReadonlyMap<string, number>): number {
  let extra = 0;
  for (const n of got.values()) extra += n - 1;
  return extra;
}

describe("gap-free pull", { skip: victoriaMetricsAvailability().skip }, () => {
  const stops: (() => Promise<void>)[] = [];
  let store: RunningVictoriaMetrics;
  let flakyDest: RunningVictoriaMetrics;
  let steadyDest: RunningVictoriaMetrics;
  let proxy: OutageProxy;

  before(async () => {
    [store, flakyDest, steadyDest] = await Promise.all([
      startVictoriaMetrics(),
      startVictoriaMetrics(),
      startVictoriaMetrics(),
    ]);
    stops.push(
      () => store.stop(),
      () => flakyDest.stop(),
      () => steadyDest.stop(),
    );
    proxy = await startOutageProxy({ upstream: flakyDest.url });
    stops.push(() => proxy.close());
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it("a down sink holds its cursor and catches up completely; healthy sinks keep reading live", async () => {
    const pull = new PullSource({
      url: store.url,
      intervalMs: 500,
      lagMs: 2500,
      cursorStore: new MemoryCursorStore(),
      clock: systemClock,
      logger: silentLogger,
    });
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL, pull });
    const sink = (name: string, endpoint: string) => ({
      name,
      endpoint: `${endpoint}/api/v1/write`,
      sources: ["gw"],
      batch: { timeout: "100ms" },
      retry: { maxAttempts: 2, backoffDuration: "200ms" },
    });
    exporter.apply(
      policyPlan("alpha", {
        name: "a",
        sources: { gw: '{resource_kind="Gateway"}' },
        sinks: [sink("flaky", proxy.url), sink("steady", steadyDest.url)],
      }),
    );
    exporter.apply(
      policyPlan("beta", {
        name: "b",
        sources: { gw: '{resource_kind="Gateway"}' },
        sinks: [sink("other", steadyDest.url)],
      }),
    );
    const writer = new LiveWriter(store, ["alpha", "beta"]);
    writer.start();
    pull.start();
    try {
      await sleep(4000);
      proxy.outage();
      const outageStart = Date.now();
      const steadyLag: number[] = [];
      let flakyCursorMid = 0;
      while (Date.now() - outageStart < 7000) {
        await sleep(250);
        for (const key of ["uid-alpha-a/steady", "uid-beta-b/other"]) {
          steadyLag.push(pull.health(key)?.lagBehindMs ?? Infinity);
        }
        if (Date.now() - outageStart > 3000 && flakyCursorMid === 0)
          flakyCursorMid = pull.health("uid-alpha-a/flaky")?.cursorMs ?? 0;
      }
      const flaky = pull.health("uid-alpha-a/flaky");
      assert.ok(flaky?.waitingForTarget, "the flaky sink's job waits for it");
      assert.equal(flaky.cursorMs, flakyCursorMid, "its cursor does not move while the sink is down");
      const duringOutage = await received(flakyDest, "alpha");
      const firstUndelivered = Math.min(
        ...missing(writer.written.get("alpha") ?? new Set(), duringOutage).map((id) =>
          Number(id.split("@")[1]),
        ),
      );
      assert.ok(
        flaky.cursorMs <= firstUndelivered,
        `cursor ${flaky.cursorMs} not past the first undelivered sample ${firstUndelivered}`,
      );
      // Healthy sinks: at most a window and a delivery behind now − lag, as before the outage.
      assert.ok(
        Math.max(...steadyLag) < 1500,
        `healthy lag during the outage: max ${Math.max(...steadyLag)} ms`,
      );
      const steadyNow = await received(steadyDest, "alpha");
      const liveBound = Date.now() - 2500 - 1500;
      const lateSteady = [...(writer.written.get("alpha") ?? [])].filter(
        (id) => Number(id.split("@")[1]) < liveBound && !steadyNow.has(id),
      );
      assert.deepEqual(
        lateSteady,
        [],
        "the healthy sink of the same policy delivered the outage's data live",
      );

      proxy.restore();
      await sleep(2000);
      await writer.stop();
      await sleep(3000); // past the lag: the last writes are readable
      for (const [dest, project] of [
        [flakyDest, "alpha"],
        [steadyDest, "alpha"],
        [steadyDest, "beta"],
      ] as const) {
        const written = writer.written.get(project) ?? new Set<string>();
        const got = await allArrive(dest, project, written, 20_000);
        assert.deepEqual(missing(written, got), [], `${project}: every sample the store held arrived`);
        assert.equal(duplicateCount(got), 0, `${project}: no duplicates without a crash`);
      }
      const sources = exporter.health("uid-alpha-a")?.sources.get("gw");
      assert.equal(sources?.matchedSamples, writer.written.get("alpha")?.size, "counted once per source");
      assert.equal(exporter.foreignPulledSamples, 0);
    } finally {
      await writer.stop();
      await pull.stop();
      await exporter.close();
    }
  });

  it("telex serve killed with SIGKILL mid-outage and restarted delivers every sample", async () => {
    const crashDest = await startVictoriaMetrics();
    stops.push(() => crashDest.stop());
    const crashProxy = await startOutageProxy({ upstream: crashDest.url });
    stops.push(() => crashProxy.close());
    const dataDir = await mkdtemp(join(tmpdir(), "telex-gapfree-"));
    stops.push(() => rm(dataDir, { recursive: true, force: true }));
    const args = (api: string) => [
      "--api-listen",
      api,
      "--data-dir",
      dataDir,
      "--source-url",
      store.url,
      "--pull-interval",
      "1s",
      "--pull-lag",
      "3s",
    ];
    let serve: TelexServe = await startTelexServe(args("127.0.0.1:0"));
    stops.push(() => serve.stop());
    const apiPort = new URL(serve.url).port;
    const created = await apiRequest(
      serve.url,
      "POST",
      "/apis/resourcemanager.miloapis.com/v1alpha1/projects/gamma/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      {
        body: {
          apiVersion: "telemetry.miloapis.com/v1alpha1",
          kind: "ExportPolicy",
          metadata: { name: "gw" },
          spec: {
            sources: [{ name: "all", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
            sinks: [
              {
                name: "out",
                sources: ["all"],
                target: {
                  prometheusRemoteWrite: {
                    endpoint: `${crashProxy.url}/api/v1/write`,
                    retry: { maxAttempts: 2, backoffDuration: "1s" },
                  },
                },
              },
            ],
          },
        },
      },
    );
    assert.equal(created.status, 201, created.text);
    const writer = new LiveWriter(store, ["gamma"]);
    writer.start();
    try {
      const deadline = Date.now() + 20_000;
      while ((await received(crashDest, "gamma")).size === 0) {
        if (Date.now() > deadline) throw new Error(`nothing delivered:\n${serve.output()}`);
        await sleep(300);
      }
      await sleep(1000);
      crashProxy.outage();
      await sleep(8000);
      await serve.kill();
      await sleep(1000);
      serve = await startTelexServe(args(`127.0.0.1:${apiPort}`));
      await sleep(5000);
      crashProxy.restore();
      await sleep(2000);
      await writer.stop();
      await sleep(4000);
      const written = writer.written.get("gamma") ?? new Set<string>();
      const got = await allArrive(crashDest, "gamma", written, 60_000);
      const lost = missing(written, got);
      const duplicates = duplicateCount(got);
      console.log(
        `SIGKILL mid-outage: ${written.size} samples written, ${written.size - lost.length} arrived, ` +
          `${lost.length} missing, ${duplicates} duplicates; proxy refused ${crashProxy.stats.refused} requests`,
      );
      assert.deepEqual(lost, [], "zero missing");
    } finally {
      await writer.stop();
    }
  });
});
