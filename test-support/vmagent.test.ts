import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startVmagent, vmagentAvailability } from "./vmagent.js";

const availability = vmagentAvailability();

describe("startVmagent", { skip: availability.skip }, () => {
  it("serves on 127.0.0.1 and stop() kills it and removes its temp dir", async () => {
    const agent = await startVmagent({ remoteWriteUrls: ["http://127.0.0.1:9/api/v1/write"] });
    try {
      assert.match(agent.writeUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write$/);
      assert.ok(existsSync(agent.tmpDataPath));
      assert.match(await agent.metrics(), /^vmagent_remotewrite_packets_dropped_total/m);
    } finally {
      await agent.stop();
    }
    await assert.rejects(fetch(`${agent.url}/health`));
    assert.equal(existsSync(agent.tmpDataPath), false);
  });

  it("restarts after kill() on the same port and the dir it was given", async () => {
    const dir = mkdtempSync(join(tmpdir(), "telex-vmagent-test-"));
    try {
      const first = await startVmagent({
        remoteWriteUrls: ["http://127.0.0.1:9/api/v1/write"],
        tmpDataPath: dir,
      });
      await first.kill();
      await assert.rejects(fetch(`${first.url}/health`));
      assert.ok(existsSync(dir));
      const second = await startVmagent({
        remoteWriteUrls: ["http://127.0.0.1:9/api/v1/write"],
        tmpDataPath: dir,
        port: first.port,
      });
      try {
        assert.equal(second.url, first.url);
        assert.equal((await fetch(`${second.url}/health`)).status, 200);
      } finally {
        await second.stop();
      }
      assert.ok(existsSync(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
