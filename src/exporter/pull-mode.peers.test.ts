// Pull mode end to end: policies' sources are read from a real VictoriaMetrics
// (the platform's store) with their tenant-scoped selectors and delivered to
// another VictoriaMetrics (the customer's endpoint). Window semantics are
// tested in pull/; this checks the exporter's wiring: the right samples, of
// the right project only, to the right sink.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { silentLogger, systemClock } from "../util/index.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import {
  exportSamples,
  forceFlush,
  importPrometheusText,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../test-support/victoriametrics.js";
import { ExpositionWriter } from "../metrics/exposition.js";
import { Exporter } from "./exporter.js";
import { MemoryCursorStore, PullSource } from "./pull/index.js";

describe("pull mode", { skip: victoriaMetricsAvailability().skip }, () => {
  let store: RunningVictoriaMetrics;
  let customer: RunningVictoriaMetrics;
  let pull: PullSource;
  let exporter: Exporter;

  before(async () => {
    [store, customer] = await Promise.all([startVictoriaMetrics(), startVictoriaMetrics()]);
    pull = new PullSource({
      url: store.url,
      intervalMs: 500,
      lagMs: 2500,
      cursorStore: new MemoryCursorStore(),
      clock: systemClock,
      logger: silentLogger,
    });
    exporter = new Exporter({ tenantLabel: TENANT_LABEL, pull });
    exporter.apply(
      policyPlan("alpha", {
        name: "gateways",
        sources: { gw: '{resource_kind="Gateway"}' },
        sinks: [
          {
            name: "customer",
            endpoint: `${customer.url}/api/v1/write`,
            sources: ["gw"],
            batch: { timeout: "100ms" },
          },
        ],
      }),
    );
    pull.start();
  });

  after(async () => {
    await pull.stop();
    await exporter.close();
    await Promise.all([store.stop(), customer.stop()]);
  });

  it("exports exactly the project's selected samples from the store", async () => {
    const base = Date.now() + 500;
    const lines: string[] = [];
    for (const project of ["alpha", "beta"]) {
      for (const kind of ["Gateway", "HTTPProxy"]) {
        for (let i = 0; i < 5; i++) {
          lines.push(
            `requests_total{${TENANT_LABEL}="${project}",resource_kind="${kind}"} ${i} ${base + i * 200}`,
          );
        }
      }
    }
    await importPrometheusText(store, `${lines.join("\n")}\n`);
    await forceFlush(store);

    const deadline = Date.now() + 15_000;
    let rows: Awaited<ReturnType<typeof exportSamples>> = [];
    while (Date.now() < deadline) {
      await forceFlush(customer);
      rows = await exportSamples(customer, '{__name__!=""}', {
        start: base / 1000 - 10,
        end: base / 1000 + 10,
      });
      if ((rows[0]?.values.length ?? 0) >= 5) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.equal(rows.length, 1, JSON.stringify(rows.map((r) => r.metric)));
    const [row] = rows;
    assert.ok(row);
    assert.equal(row.metric[TENANT_LABEL], "alpha");
    assert.equal(row.metric["resource_kind"], "Gateway");
    assert.deepEqual(row.values, [0, 1, 2, 3, 4]);
    assert.deepEqual(
      row.timestamps,
      [0, 1, 2, 3, 4].map((i) => base + i * 200),
    );
    assert.equal(exporter.health("uid-alpha-gateways")?.sources.get("gw")?.matchedSamples, 5);
    assert.equal(exporter.foreignPulledSamples, 0);

    // The job's progress per (policy, sink) on /metrics: windows, samples, errors, lag.
    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    const text = writer.render();
    const job = `{project="alpha",namespace="default",policy="gateways",sink="customer"}`;
    const valueOf = (name: string): number =>
      Number(new RegExp(`^${name}${job.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    assert.ok(valueOf("telex_pull_windows_total") >= 1, text);
    assert.equal(valueOf("telex_pull_samples_total"), 5);
    assert.equal(valueOf("telex_pull_errors_total"), 0);
    const lag = valueOf("telex_pull_lag_seconds");
    assert.ok(lag >= 0 && lag < 5, `lag ${lag} s: below a few intervals when keeping up`);
  });
});
