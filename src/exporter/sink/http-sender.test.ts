// What the sender makes of hostile or broken endpoints: a redirect is never
// followed, a denied address is never connected to (and not retried), and
// credentials echoed in an error body never leave the sender.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeLabels } from "../../remotewrite/index.js";
import { eventually } from "../../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { EgressPolicy } from "../egress/index.js";
import type { SeriesRef } from "../series.js";
import { systemClock } from "../../util/index.js";
import { basicAuthHeaders } from "./auth.js";
import { HttpSender } from "./http-sender.js";
import { RemoteWriteSink, type RemoteWriteSinkConfig } from "./index.js";

const CREDENTIALS = { username: "7654321", password: "glc_eyJrIjoi/SECRET+token==" };
const TOKEN = Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64");
const SERIES: SeriesRef = { labelBytes: encodeLabels([{ name: "__name__", value: "up" }]) };

const config = (endpoint: string): RemoteWriteSinkConfig => ({
  endpoint,
  batchMaxSize: 10,
  batchTimeoutMs: 20,
  maxAttempts: 3,
  backoffMs: 10,
  credentials: CREDENTIALS,
});

function assertBalanced(sink: RemoteWriteSink): void {
  const { stats } = sink;
  assert.equal(stats.samplesReceived, stats.samplesSent + stats.droppedTotal() + sink.buffered);
}

describe("HttpSender against hostile endpoints", () => {
  let endpoint: FaultServer;
  let elsewhere: FaultServer;
  const closing: { close(): Promise<void> }[] = [];
  before(async () => {
    [endpoint, elsewhere] = await Promise.all([startFaultServer(), startFaultServer(undefined, "127.0.0.2")]);
  });
  after(async () => {
    await Promise.all(closing.map((c) => c.close()));
    await Promise.all([endpoint.close(), elsewhere.close()]);
  });

  const sender = (egress = new EgressPolicy()) => {
    const created = new HttpSender({
      endpoint: `${endpoint.url}/api/v1/write`,
      requestTimeoutMs: 2000,
      headers: basicAuthHeaders(CREDENTIALS),
      clock: systemClock,
      egress,
    });
    closing.push(created);
    return created;
  };

  for (const status of [307, 308]) {
    it(`does not follow a ${String(status)} to another host: a Rejected that is not retried`, async () => {
      endpoint.script(() => ({ status, headers: { location: `${elsewhere.url}/api/v1/write` } }));
      const sink = new RemoteWriteSink(config(`${endpoint.url}/api/v1/write`));
      closing.push({ close: () => sink.close(0) });
      const before = endpoint.requests.length;
      for (let i = 0; i < 10; i++) sink.push(SERIES, i, Date.now());
      await eventually(() => sink.stats.dropped.rejected === 10, "the batch dropped as rejected");
      assert.equal(endpoint.requests.length, before + 1, "one attempt, no retry");
      assert.equal(elsewhere.requests.length, 0, "the redirect was not followed");
      assert.deepEqual(
        [sink.stats.lastError?.reason, sink.stats.lastError?.message],
        ["Rejected", `HTTP ${String(status)}: redirects are not followed`],
      );
      assertBalanced(sink);
    });
  }

  it("never connects to a denied address; the batch is dropped as endpoint_forbidden without retries", async () => {
    const egress = new EgressPolicy({ sharedTenancy: true });
    const sink = new RemoteWriteSink(config(`${endpoint.url}/api/v1/write`), { egress });
    closing.push({ close: () => sink.close(0) });
    const before = endpoint.requests.length;
    for (let i = 0; i < 10; i++) sink.push(SERIES, i, Date.now());
    await eventually(() => sink.stats.dropped.endpoint_forbidden === 10, "dropped as endpoint_forbidden");
    assert.equal(sink.stats.requests.forbidden, 1, "not retried");
    assert.equal(endpoint.requests.length, before, "no request reached the server");
    assert.deepEqual(
      [sink.stats.lastError?.reason, sink.stats.lastError?.message],
      ["Forbidden", "127.0.0.1 is loopback (denied on a shared server; allow with --endpoint-allow)"],
    );
    assertBalanced(sink);
  });

  it("redacts credentials a receiver echoes in an error body, in every spelling", async () => {
    endpoint.script((request) => ({
      status: 400,
      body: [
        `bad request: ${JSON.stringify(request.headers)}`,
        `authorization=${String(request.headers.authorization).toLowerCase()}`,
        `user=${CREDENTIALS.username} password=${encodeURIComponent(CREDENTIALS.password)}`,
        `decoded=${CREDENTIALS.username}:${CREDENTIALS.password.toUpperCase()}`,
      ].join("\n"),
    }));
    const outcome = await sender().send(new Uint8Array([0]), new AbortController().signal);
    assert.ok(outcome.kind === "fatal", JSON.stringify(outcome));
    assert.match(outcome.message, /^HTTP 400: bad request: .*\[REDACTED\]/);
    for (const secret of [TOKEN, CREDENTIALS.username, CREDENTIALS.password, "SECRET", "secret", "glc_"]) {
      assert.ok(
        !outcome.message.toLowerCase().includes(secret.toLowerCase()),
        `${secret} in ${outcome.message}`,
      );
    }
    assert.match(outcome.message, /"user-agent":/, "the rest of the body is kept");
  });

  it("caps error text after redacting, so a secret across the cap is not cut into a revealing prefix", async () => {
    endpoint.script(() => ({
      status: 400,
      body: `${"x".repeat(500)}${CREDENTIALS.password}${"y".repeat(10_000)}`,
    }));
    const outcome = await sender().send(new Uint8Array([0]), new AbortController().signal);
    assert.ok(outcome.kind === "fatal");
    const text = outcome.message.slice("HTTP 400: ".length);
    assert.equal(text.length, 512);
    assert.ok(text.endsWith(`${"x".repeat(500)}[REDACTED]yy`), text.slice(490));
  });
});
