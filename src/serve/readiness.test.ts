// /readyz of a real replica: a Telex API on 127.0.0.1 and a replica of a
// fleet that joins it (in this process), with its durable buffer, its ingest
// listener and a /metrics listener of its own. The API is stopped: both
// listeners turn not ready naming `api`, then `membership` as the Lease runs
// out, while /livez stays up; the API is started again on its port and data:
// ready again.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startApiServer, type ApiServer } from "../apiserver/index.js";
import { eventuallyValue } from "../../test-support/eventually.js";
import { memoryLogger } from "../../test-support/memory-logger.js";
import { startJoinedReplica } from "./join.js";
import type { RunningExporter } from "./options.js";

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function get(url: string): Promise<Answer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

describe("/readyz of a replica whose API goes away and comes back", () => {
  let dir = "";
  let api: ApiServer | undefined;
  let replica: RunningExporter | undefined;
  const logger = memoryLogger();
  /** The ingest listener and the /metrics listener: both answer the same checks. */
  let listeners: string[] = [];

  const startApi = (listen: string) =>
    startApiServer({ listen, dataDir: join(dir, "api"), bookmarkIntervalMs: 1000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-readyz-"));
    api = await startApi("127.0.0.1:0");
    replica = await startJoinedReplica({
      url: api.url,
      dataDir: join(dir, "replica"),
      ingestListen: "127.0.0.1:0",
      metricsListen: "127.0.0.1:0",
      fleet: { replicaName: "replica-0", leaseDurationMs: 1500 },
      logger,
    });
    assert.ok(replica.ingest !== undefined && replica.metricsUrl !== undefined);
    listeners = [replica.ingest.url, replica.metricsUrl];
  });

  after(async () => {
    await replica?.stop();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("is ready with every check passing, on both listeners", async () => {
    for (const base of listeners) {
      assert.deepEqual(await get(`${base}/readyz`), { status: 200, body: "ok\n" }, base);
      assert.deepEqual(
        await get(`${base}/readyz?verbose`),
        {
          status: 200,
          body: "[+]api ok\n[+]informers-synced ok\n[+]buffer ok\n[+]membership ok\nreadyz check passed\n",
        },
        base,
      );
      assert.deepEqual(await get(`${base}/readyz/membership`), { status: 200, body: "ok\n" }, base);
      assert.deepEqual(await get(`${base}/livez?verbose`), {
        status: 200,
        body: "[+]ping ok\nlivez check passed\n",
      });
    }
    // The API's own listener, as kube-apiserver's: its store answers.
    assert.ok(api !== undefined);
    assert.deepEqual(await get(`${api.url}/readyz?verbose`), {
      status: 200,
      body: "[+]store ok\nreadyz check passed\n",
    });
    assert.deepEqual(await get(`${api.url}/readyz/store`), { status: 200, body: "ok\n" });
    assert.equal((await get(`${api.url}/readyz/nothing-here`)).status, 404);
  });

  it("turns not ready naming the api, then the membership, once the API is stopped; stays live", async () => {
    assert.ok(api !== undefined);
    const port = api.port;
    await api.stop();
    api = undefined;
    const [ingest = "", metrics = ""] = listeners;
    const failing = await eventuallyValue(
      () => get(`${ingest}/readyz`),
      (answer) => answer.status === 503 && /^\[-\]membership failed: /m.test(answer.body),
      "503 naming the api and the membership",
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.match(
      failing.body,
      /^\[-\]api failed: list\/watch of (exportpolicies|secrets) failing for \d+s: .*ECONNREFUSED/m,
    );
    assert.match(failing.body, /^\[\+\]informers-synced ok$/m);
    assert.match(failing.body, /^\[\+\]buffer ok$/m);
    assert.match(failing.body, /readyz check failed\n$/);

    const viaMetrics = await get(`${metrics}/readyz?verbose`);
    assert.equal(viaMetrics.status, 503);
    assert.match(viaMetrics.body, /^\[-\]api failed: /m);
    const one = await get(`${metrics}/readyz/api`);
    assert.equal(one.status, 503);
    assert.match(one.body, /^\[-\]api failed: .*\nreadyz check failed\n$/);
    assert.deepEqual(await get(`${metrics}/readyz/buffer`), { status: 200, body: "ok\n" });
    // The same verdicts as gauges, for alerts.
    const scrape = (await get(`${metrics}/metrics`)).body;
    assert.match(scrape, /^telex_readyz_check_failing\{check="api"\} 1$/m);
    assert.match(scrape, /^telex_readyz_check_failing\{check="buffer"\} 0$/m);
    assert.deepEqual(await get(`${ingest}/readyz?exclude=api&exclude=membership`), {
      status: 200,
      body: "ok\n",
    });
    for (const base of listeners) {
      assert.deepEqual(await get(`${base}/livez`), { status: 200, body: "ok\n" }, base);
      assert.deepEqual(await get(`${base}/healthz`), { status: 200, body: "ok\n" }, base);
    }
    assert.ok(
      logger.lines.some((line) => / warn not ready failed=".*api failed: /.test(line)),
      logger.lines.join("\n"),
    );

    api = await startApi(`127.0.0.1:${port}`);
    await eventuallyValue(
      () => get(`${ingest}/readyz?verbose`),
      (answer) => answer.status === 200,
      "ready again once the API is back",
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    assert.deepEqual(await get(`${metrics}/readyz`), { status: 200, body: "ok\n" });
    assert.ok(
      logger.lines.some((line) => / info ready again: every readyz check passes$/.test(line)),
      logger.lines.join("\n"),
    );
  });
});
