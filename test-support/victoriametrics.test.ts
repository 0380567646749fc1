import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { startVictoriaMetrics, victoriaMetricsAvailability } from "./victoriametrics.js";

const availability = victoriaMetricsAvailability();

describe("startVictoriaMetrics", { skip: availability.skip }, () => {
  it("serves on 127.0.0.1 and stop() kills it and removes its storage", async () => {
    const vm = await startVictoriaMetrics();
    try {
      assert.match(vm.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(existsSync(vm.storageDataPath));
      const health = await fetch(`${vm.url}/health`);
      assert.equal(await health.text(), "OK");
    } finally {
      await vm.stop();
    }
    await assert.rejects(fetch(`${vm.url}/health`));
    assert.equal(existsSync(vm.storageDataPath), false);
    await vm.stop();
  });

  it("requires HTTP Basic Auth when httpAuth is set", async () => {
    const vm = await startVictoriaMetrics({ httpAuth: { username: "telex", password: "s3cret" } });
    try {
      const query = `${vm.url}/api/v1/series?match[]=up`;
      assert.equal((await fetch(query)).status, 401);
      const wrong = { Authorization: `Basic ${Buffer.from("telex:wrong").toString("base64")}` };
      assert.equal((await fetch(query, { headers: wrong })).status, 401);
      const ok = await fetch(query, { headers: vm.headers });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { status: "success", data: [] });
    } finally {
      await vm.stop();
    }
  });

  it("runs two instances side by side", async () => {
    const [a, b] = await Promise.all([startVictoriaMetrics(), startVictoriaMetrics()]);
    try {
      assert.notEqual(a.url, b.url);
      assert.notEqual(a.storageDataPath, b.storageDataPath);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
