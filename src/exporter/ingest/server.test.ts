// The ingest endpoint's handling of bad input: each case gets its status and
// a one-line reason, is counted, and applies nothing.
import assert from "node:assert/strict";
import type { ClientRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import {
  decodeToObjects,
  encodeLabels,
  encodeWriteRequest,
  snappyCompress,
  snappyUncompress,
} from "../../remotewrite/index.js";
import { eventually, eventuallyValue } from "../../../test-support/eventually.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { postRaw, postRemoteWrite, pushSeries } from "../../../test-support/remote-write-client.js";
import { Exporter } from "../exporter.js";
import { RefusedRequestError } from "./processor.js";
import { FORWARD_PATH, INGEST_PATH, startIngestServer, type IngestServer } from "./server.js";

describe("ingest endpoint", () => {
  let receiver: FaultServer;
  let exporter: Exporter;
  let ingest: IngestServer;
  let url = "";

  before(async () => {
    receiver = await startFaultServer(() => ({ status: 204 }));
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    exporter.apply(
      policyPlan("p1", {
        name: "all",
        sources: { all: "{}" },
        sinks: [{ name: "null", endpoint: receiver.url, sources: ["all"], batch: { timeout: "50ms" } }],
      }),
    );
    ingest = await startIngestServer({
      host: "127.0.0.1",
      port: 0,
      processor: exporter.ingest,
      token: "s3cret-token",
      maxCompressedBytes: 64 * 1024,
      maxUncompressedBytes: 256 * 1024,
    });
    url = `${ingest.url}/api/v1/write`;
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
    await receiver.close();
  });

  const auth = { Authorization: "Bearer s3cret-token" };
  const series = (labels: Record<string, string>, n = 1) => ({
    labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
    samples: Array.from({ length: n }, (_, i) => ({ value: i, timestampMs: 1_700_000_000_000 + i })),
  });
  const good = series({ __name__: "up", [TENANT_LABEL]: "p1" }, 3);
  const received = () => exporter.ingest.stats.samplesReceived;

  it("accepts a valid request with 204 and routes it", async () => {
    const before = received();
    const result = await pushSeries(url, [good, series({ __name__: "up", [TENANT_LABEL]: "p2" })], auth);
    assert.equal(result.status, 204);
    assert.equal(received() - before, 4);
    const sink = exporter.health("uid-p1-all")?.sinks.get("null");
    assert.ok(sink);
    assert.equal(sink.stats.samplesReceived, 3, "only p1's samples reach p1's sink");
  });

  it("forwards every series with its own labels while request buffers are reused", async () => {
    const start = receiver.requests.length;
    const named = (name: string) => series({ __name__: name, [TENANT_LABEL]: "p1", pad: name.repeat(20) });
    // Same-sized requests: each is decompressed into the buffer the one before used, so a
    // key that was a view of it would now hold other bytes.
    const hits: number[] = [];
    for (const names of [
      ["aa", "bb"],
      ["cc", "dd"],
      ["bb", "aa"],
      ["ee", "ff"],
    ]) {
      const before = exporter.router.cacheHits;
      const result = await pushSeries(url, names.map(named), auth);
      assert.equal(result.status, 204);
      hits.push(exporter.router.cacheHits - before);
    }
    // The route cache kept its own copy of aa and bb: the second time they are hits.
    assert.deepEqual(hits, [0, 0, 2, 0]);
    const forwarded = () => {
      const names: string[] = [];
      for (const request of receiver.requests.slice(start)) {
        const decoded = decodeToObjects(snappyUncompress(request.body, 1 << 20));
        for (const ts of decoded.timeseries) {
          const name = ts.labels.find((l) => l.name === "__name__")?.value ?? "";
          if (name !== "up") names.push(name); // the earlier tests' series may share a batch
        }
      }
      return names;
    };
    const names = await eventuallyValue(forwarded, (n) => n.length === 8, "8 series at the receiver");
    assert.deepEqual(names.sort(), ["aa", "aa", "bb", "bb", "cc", "dd", "ee", "ff"]);
  });

  it("counts and ignores series without the tenant label", async () => {
    const before = exporter.ingest.stats.samplesWithoutTenant;
    const result = await pushSeries(url, [series({ __name__: "up", job: "x" }, 2)], auth);
    assert.equal(result.status, 204);
    assert.equal(exporter.ingest.stats.samplesWithoutTenant - before, 2);
  });

  it("drops and counts series over a label limit, accepts the rest, and caches none of them", async () => {
    const tenant = { [TENANT_LABEL]: "p1" };
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, "v"]));
    const overLimit = {
      too_many_labels: series({ __name__: "many", ...tenant, ...many }, 2),
      label_name_too_long: series({ __name__: "name", ...tenant, ["n".repeat(257)]: "v" }, 3),
      label_value_too_long: series({ __name__: "value", ...tenant, v: "é".repeat(2049) }, 4),
      labels_too_large: series(
        { __name__: "total", ...tenant, a: "a".repeat(3000), b: "b".repeat(3000), c: "c".repeat(3000) },
        5,
      ),
    };
    const dropped = { ...exporter.ingest.stats.samplesDropped };
    const sink = exporter.health("uid-p1-all")?.sinks.get("null");
    assert.ok(sink);
    const sinkBefore = sink.stats.samplesReceived;
    const bytesBefore = exporter.router.cachedBytes;
    const atLimits = series({ __name__: "edge", ...tenant, v: "é".repeat(2048), ["n".repeat(256)]: "x" });
    const result = await pushSeries(url, [...Object.values(overLimit), atLimits], auth);
    assert.equal(result.status, 204, result.body);
    for (const [reason, { samples }] of Object.entries(overLimit)) {
      const key = reason as keyof typeof dropped;
      assert.equal(exporter.ingest.stats.samplesDropped[key] - dropped[key], samples.length, reason);
    }
    assert.equal(sink.stats.samplesReceived - sinkBefore, 1, "the series at the limits is routed");
    const edgeBytes = encodeLabels(atLimits.labels).length;
    assert.equal(exporter.router.cachedBytes - bytesBefore, edgeBytes, "only the accepted series is cached");
  });

  const rejections: [string, () => Promise<{ status: number; body: string }>, number, RegExp, string][] = [
    [
      "a Telex sink's request (the loop marker), before its token",
      () => pushSeries(url, [good], { "telex-exported": "1" }),
      400,
      /^this request was sent by a Telex sink; Telex does not route samples it exported again \(loop\)$/,
      "loop",
    ],
    ["no token", () => pushSeries(url, [good]), 401, /bearer token/, "unauthorized"],
    [
      "wrong token",
      () => pushSeries(url, [good], { Authorization: "Bearer nope" }),
      401,
      /bearer token/,
      "unauthorized",
    ],
    [
      "bad snappy",
      () => postRemoteWrite(url, Buffer.from("definitely not snappy"), auth),
      400,
      // "snappy" and "corrupt input" once each: no prefix repeated by a decoder and again here.
      /^bad snappy: corrupt input: (?!.*snappy)(?!.*corrupt input)\S/,
      "bad_request",
    ],
    [
      "bad protobuf",
      () => postRemoteWrite(url, snappyCompress(Buffer.from([0x0a, 0xff, 0x01])), auth),
      400,
      /^malformed WriteRequest at byte \d+: /,
      "bad_request",
    ],
    [
      "invalid label name",
      () => pushSeries(url, [good, series({ __name__: "up", "bad-name": "x", [TENANT_LABEL]: "p1" })], auth),
      400,
      /invalid label name "bad-name"/,
      "bad_request",
    ],
    [
      "compressed body over the limit",
      () => postRemoteWrite(url, new Uint8Array(70 * 1024), auth),
      413,
      /exceeds/,
      "too_large",
    ],
    [
      "decompressed body over the limit",
      () =>
        postRemoteWrite(
          url,
          snappyCompress(
            encodeWriteRequest([series({ __name__: "x".repeat(300 * 1024), [TENANT_LABEL]: "p1" })]),
          ),
          auth,
        ),
      413,
      /too large/,
      "too_large",
    ],
    [
      "gzip instead of snappy",
      () => postRemoteWrite(url, Buffer.from("x"), { ...auth, "Content-Encoding": "gzip" }),
      415,
      /Content-Encoding must be snappy/,
      "unsupported_media_type",
    ],
    [
      "Remote Write 2.0",
      () =>
        postRemoteWrite(url, Buffer.from("x"), {
          ...auth,
          "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }),
      415,
      /only Remote Write 1\.0/,
      "unsupported_media_type",
    ],
  ];

  for (const [name, send, status, reason, outcome] of rejections) {
    it(`rejects ${name} with ${status}, applying nothing`, async () => {
      const before = received();
      const counted = ingest.requests[outcome as keyof typeof ingest.requests];
      const result = await send();
      assert.equal(result.status, status, result.body);
      assert.match(result.body.trim(), reason);
      assert.equal(result.body.trim().split("\n").length, 1, "one-line reason");
      assert.equal(received(), before, "nothing applied");
      assert.equal(ingest.requests[outcome as keyof typeof ingest.requests], counted + 1);
    });
  }

  it("answers 404 and 405 for other paths and methods, and keeps serving", async () => {
    const notFound = await fetch(`${ingest.url}/write`, { method: "POST" });
    assert.equal(notFound.status, 404);
    const wrongMethod = await fetch(url, { headers: auth });
    assert.equal(wrongMethod.status, 405);
    assert.equal((await pushSeries(url, [good], auth)).status, 204);
  });
});

describe("ingest memory budget", () => {
  let exporter: Exporter;
  let ingest: IngestServer;
  let url = "";

  before(async () => {
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    ingest = await startIngestServer({
      host: "127.0.0.1",
      port: 0,
      processor: exporter.ingest,
      maxCompressedBytes: 200 * 1024,
      maxUncompressedBytes: 512 * 1024,
      maxInflightBytes: 256 * 1024,
    });
    url = `${ingest.url}/api/v1/write`;
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
  });

  const body = (bytes: number) =>
    snappyCompress(
      encodeWriteRequest([
        {
          labels: [
            { name: "__name__", value: "up" },
            { name: "pad", value: "x".repeat(bytes) },
          ],
          samples: [{ value: 1, timestampMs: 1 }],
        },
      ]),
    );

  it("answers 429 with Retry-After while other bodies hold the budget, and recovers", async () => {
    // A client that declares 150 KiB and sends a third of it holds 150 KiB of the budget.
    let holder: ClientRequest | undefined;
    const held = postRaw(url, { "Content-Length": 150 * 1024 }, (request) => {
      holder = request;
      request.write(Buffer.alloc(50 * 1024));
    });
    held.catch(() => undefined);
    await eventually(() => ingest.inflightBytes === 150 * 1024, "the first body's bytes taken");
    const busy = await postRaw(url, { "Content-Length": 120 * 1024 }, (request) => {
      request.end(Buffer.alloc(120 * 1024));
    });
    assert.equal(busy.status, 429, busy.body);
    assert.equal(busy.headers["retry-after"], "1");
    assert.match(busy.body, /ingest is busy/);
    assert.equal(ingest.requests.throttled, 1);
    holder?.destroy();
    await eventually(() => ingest.inflightBytes === 0, "the budget given back when the client goes away");
    assert.equal((await postRemoteWrite(url, body(100))).status, 204);
    assert.equal(ingest.inflightBytes, 0);
  });

  it("answers 413 to a request that could never fit, before decompressing it", async () => {
    // 100 KiB compressed declaring 200 KiB decompressed: 300 KiB, over the 256 KiB budget.
    const compressible = body(200 * 1024);
    assert.ok(compressible.length < 20 * 1024);
    const padded = Buffer.concat([compressible, Buffer.alloc(100 * 1024 - compressible.length)]);
    const result = await postRemoteWrite(url, padded);
    assert.equal(result.status, 413, result.body);
    assert.match(result.body, /exceed the 262144 bytes of the ingest budget/);
  });

  it("refuses an unsized (chunked) body once it outgrows the limit, answering before reading on", async () => {
    const before = ingest.requests.too_large;
    const result = await postRaw(url, { "Transfer-Encoding": "chunked" }, (request) => {
      for (let i = 0; i < 40; i++) request.write(Buffer.alloc(8 * 1024)); // 320 KiB
      request.end();
    });
    assert.equal(result.status, 413, result.body);
    assert.equal(ingest.requests.too_large, before + 1);
    assert.equal(ingest.inflightBytes, 0);
  });
});

describe("a pull-mode fleet replica's forward listener (forwardOnly)", () => {
  let server: IngestServer;
  const applied: number[] = [];
  let refuse = false;

  before(async () => {
    server = await startIngestServer({
      host: "127.0.0.1",
      port: 0,
      token: "hop-token",
      forwardOnly: true,
      processor: {
        overloaded: false,
        apply: (request) => {
          if (refuse) throw new RefusedRequestError("only delivery metrics here");
          applied.push(request.length);
          return undefined;
        },
      },
    });
  });

  after(async () => {
    await server.close();
  });

  const body = snappyCompress(
    encodeWriteRequest([
      {
        labels: [
          { name: "__name__", value: "telex_export_samples_sent_total" },
          { name: TENANT_LABEL, value: "p1" },
        ],
        samples: [{ value: 1, timestampMs: 1_700_000_000_000 }],
      },
    ]),
  );
  const post = (path: string, token = "hop-token") =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        Authorization: `Bearer ${token}`,
      },
      body,
    });

  it("takes the forward path with the token, and nothing else", async () => {
    assert.equal((await post(FORWARD_PATH)).status, 204);
    assert.equal(applied.length, 1);
    const push = await post(INGEST_PATH);
    assert.equal(push.status, 404);
    assert.match(await push.text(), /pull mode/);
    assert.equal((await post(FORWARD_PATH, "wrong")).status, 401);
    refuse = true;
    const refused = await post(FORWARD_PATH);
    assert.equal(refused.status, 400, "a refused request is the client's fault, never a 500");
    assert.match(await refused.text(), /only delivery metrics here/);
    assert.equal(applied.length, 1);
    assert.equal(server.requests.not_found, 1);
    assert.equal(server.requests.bad_request, 1);
  });
});
