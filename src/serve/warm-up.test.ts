// The warm-up pass (warm-up.ts): it relays through its own pipeline, leaves
// nothing behind, and a failure only costs the warm-up.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { memoryLogger } from "../../test-support/memory-logger.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { warmUp } from "./warm-up.js";

describe("warm-up pass", () => {
  const dir = mkdtempSync(join(tmpdir(), "telex-warm-up-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("relays its samples to its null receiver, through a durable log it removes afterwards", async () => {
    const logger = memoryLogger();
    const logDir = join(dir, "warm-up");
    const report = await warmUp({ tenantLabel: TENANT_LABEL, samples: 5_000, logDir, logger });
    assert.ok(report !== undefined, logger.lines.join("\n"));
    assert.equal(report.samples, 5_000);
    // Its policies select part of its series (one all of a project's, the others some): all of those reach the receiver.
    assert.ok(report.sent > 0 && report.sent < report.samples, `sent ${report.sent}`);
    assert.equal(existsSync(logDir), false, "its log directory is gone");
    assert.match(logger.lines.join("\n"), /warmed up the relaying path samples=5000 sent=\d+ ms=\d+/);
  });

  it("relays the same without a log (memory buffer), and sends every selected sample", async () => {
    const withLog = await warmUp({ tenantLabel: TENANT_LABEL, samples: 5_000, logDir: join(dir, "again") });
    const withoutLog = await warmUp({ tenantLabel: TENANT_LABEL, samples: 5_000 });
    assert.ok(withLog !== undefined && withoutLog !== undefined);
    assert.equal(
      withoutLog.sent,
      withLog.sent,
      "nothing dropped for want of memory: each request in its own turn",
    );
  });

  it("works with a tenant label named like one of its own labels", async () => {
    const report = await warmUp({ tenantLabel: "instance", samples: 2_000 });
    assert.ok(report !== undefined && report.sent > 0, JSON.stringify(report));
  });

  it("does nothing for 0 samples", async () => {
    const logger = memoryLogger();
    assert.equal(await warmUp({ tenantLabel: TENANT_LABEL, samples: 0, logger }), undefined);
    assert.deepEqual(logger.lines, []);
  });

  it("logs a failure and returns, without throwing: the replica starts cold", async () => {
    const logger = memoryLogger();
    // A log directory below a regular file cannot be made.
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const report = await warmUp({
      tenantLabel: TENANT_LABEL,
      samples: 1_000,
      logDir: join(file, "warm-up"),
      logger,
    });
    assert.equal(report, undefined);
    assert.match(logger.lines.join("\n"), /warm-up pass failed; starting cold/);
  });
});
