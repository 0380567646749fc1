import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { peerAvailability } from "../../test-support/peers.js";
import { ExpositionWriter } from "./exposition.js";
import { writeProcessMetrics } from "./process.js";

const promtool = peerAvailability("promtool", "apt-get install prometheus");

describe("process metrics", () => {
  const render = () => {
    const writer = new ExpositionWriter();
    writeProcessMetrics(writer);
    return writer.render();
  };

  it("reports CPU, memory, file descriptors and start time with plausible values", () => {
    const text = render();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    assert.ok(value("process_cpu_seconds_total") > 0);
    assert.ok(value("process_resident_memory_bytes") > 10 * 2 ** 20);
    assert.ok(value("process_open_fds") >= 3);
    const start = value("process_start_time_seconds");
    assert.ok(start > Date.now() / 1000 - 3600 && start <= Date.now() / 1000, `start ${start}`);
  });

  it("passes promtool's exposition checks", { skip: promtool.skip }, () => {
    const result = spawnSync(promtool.requirePath(), ["check", "metrics"], {
      input: render(),
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });
});
