import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeLabels, encodeWriteRequest, InvalidLabelsError } from "../../remotewrite/index.js";
import type { TimeSeriesInput } from "../../remotewrite/index.js";
import { ManualClock } from "../../../test-support/manual-clock.js";
import { memoryLogger } from "../../../test-support/memory-logger.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { DurableLog } from "../buffer/index.js";
import { Exporter } from "../exporter.js";
import { formatSeries, UNTENANTED_WARNING } from "./untenanted.js";

const T0 = 1_700_000_000_000;

function series(labels: Readonly<Record<string, string>>, samples = 1): TimeSeriesInput {
  return {
    labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
    samples: Array.from({ length: samples }, (_, i) => ({ value: i, timestampMs: T0 + i })),
  };
}

const NODE_UP = { __name__: "up", instance: "a:9100", job: "node" };
const TENANTED = { __name__: "up", [TENANT_LABEL]: "p1", job: "gw" };

/** The fields of the warning lines the logger recorded (quoted values are JSON strings). */
function warnings(lines: readonly string[]): { tenantLabel: string; samples: number; example: string }[] {
  return lines
    .filter((line) => line.includes(" warn ignored samples of series without the tenant label"))
    .map((line) => {
      const fields = new Map<string, string>();
      for (const [, name = "", value = ""] of line.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
        fields.set(name, value.startsWith('"') ? (JSON.parse(value) as string) : value);
      }
      return {
        tenantLabel: fields.get("tenantLabel") ?? "",
        samples: Number(fields.get("samples")),
        example: fields.get("example") ?? "",
      };
    });
}

describe("the warning about samples without the tenant label", () => {
  const setup = () => {
    const clock = new ManualClock(T0);
    const logger = memoryLogger();
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL, logger, clock });
    const apply = (...input: TimeSeriesInput[]) => exporter.ingest.apply(encodeWriteRequest(input));
    return { clock, logger, exporter, apply };
  };

  it("names one series, the label expected and how many samples, at once the first time", async () => {
    const { clock, logger, exporter, apply } = setup();
    apply(series(NODE_UP, 2), series(TENANTED), series({ __name__: "go_goroutines", job: "node" }));
    assert.deepEqual(warnings(logger.lines), [], "not before the request is applied and counted");
    await clock.advance(0);
    assert.deepEqual(warnings(logger.lines), [
      { tenantLabel: TENANT_LABEL, samples: 3, example: 'up{instance="a:9100",job="node"}' },
    ]);
    assert.equal(exporter.ingest.stats.samplesWithoutTenant, 3);
    await exporter.close();
  });

  it("says it at most once a minute, counting the samples since the last warning", async () => {
    const { clock, logger, exporter, apply } = setup();
    apply(series(NODE_UP));
    await clock.advance(0);
    await clock.advance(10_000);
    apply(series({ __name__: "node_load1", job: "node" }, 4));
    await clock.advance(20_000);
    apply(series(NODE_UP), series(TENANTED, 3));
    await clock.advance(UNTENANTED_WARNING.intervalMs - 30_001);
    assert.equal(warnings(logger.lines).length, 1, "still within the minute");
    await clock.advance(1);
    assert.deepEqual(warnings(logger.lines)[1], {
      tenantLabel: TENANT_LABEL,
      samples: 5,
      example: 'node_load1{job="node"}',
    });
    await clock.advance(10 * 60_000);
    assert.equal(warnings(logger.lines).length, 2, "no input without the label: nothing more");
    assert.equal(clock.pendingTimers(), 0, "and no timer left armed");
    apply(series(NODE_UP, 7));
    await clock.advance(0);
    assert.deepEqual(warnings(logger.lines)[2], {
      tenantLabel: TENANT_LABEL,
      samples: 7,
      example: 'up{instance="a:9100",job="node"}',
    });
    await exporter.close();
  });

  it("says nothing of a request refused as a whole: none of its samples was ignored", async () => {
    const { clock, logger, exporter, apply } = setup();
    assert.throws(
      () => apply(series(NODE_UP), series({ __name__: "up", "bad-name": "x" })),
      InvalidLabelsError,
    );
    await clock.advance(2 * UNTENANTED_WARNING.intervalMs);
    assert.deepEqual(warnings(logger.lines), []);
    apply(series({ __name__: "later", job: "x" }));
    await clock.advance(0);
    assert.deepEqual(warnings(logger.lines), [
      { tenantLabel: TENANT_LABEL, samples: 1, example: 'later{job="x"}' },
    ]);
    await exporter.close();
  });

  it("counts them with the durable buffer as well", async () => {
    const dir = await mkdtemp(join(tmpdir(), "telex-untenanted-"));
    const log = await DurableLog.open({ dir });
    const clock = new ManualClock(T0);
    const logger = memoryLogger();
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL, logger, clock, log });
    try {
      await exporter.ingest.apply(encodeWriteRequest([series(NODE_UP, 3), series(TENANTED)]));
      await clock.advance(0);
      assert.deepEqual(warnings(logger.lines), [
        { tenantLabel: TENANT_LABEL, samples: 3, example: 'up{instance="a:9100",job="node"}' },
      ]);
    } finally {
      await exporter.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("formatSeries", () => {
  const bytes = (labels: Readonly<Record<string, string>>) =>
    encodeLabels(Object.entries(labels).map(([name, value]) => ({ name, value })));

  it("prints a series as PromQL does, escaping values", () => {
    assert.equal(formatSeries(bytes(NODE_UP), 256), 'up{instance="a:9100",job="node"}');
    assert.equal(formatSeries(bytes({ a: 'say "hi"\\\n' }), 256), '{a="say \\"hi\\"\\\\\\n"}');
  });

  it("cuts a long one to the bound, marking the cut", () => {
    const text = formatSeries(bytes({ __name__: "up", long: "x".repeat(1000) }), 256);
    assert.equal(text.length, 256);
    assert.match(text, /^up\{long="x+…$/);
  });
});
