// Fuzzing the ingest endpoint over HTTP: thousands of seeded mutations of
// valid Remote Write requests (of the protobuf before compressing, and of the
// compressed bytes), with a policy routing what survives. The server must
// answer every one with 204 or a 4xx, keep answering, and never block its
// event loop for 100 ms with one request. The block is measured in CPU time
// by the server (the event loop delay, shared with this test's client on a
// busy 2-core machine, is only reported). The seed is printed;
// FUZZ_SEED=<seed> replays a run (fixed under CI=true: see fuzzSeed).
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { encodeWriteRequest, snappyCompress, type TimeSeriesInput } from "../../remotewrite/index.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { Random, fuzzSeed } from "../../../test-support/random.js";
import { postRemoteWrite, pushSeries } from "../../../test-support/remote-write-client.js";
import { Exporter } from "../exporter.js";
import { startIngestServer, type IngestServer } from "./server.js";

const SEED = fuzzSeed(1_133_859_789);
const REQUESTS = 2000;
const CONCURRENCY = 8;
const MAX_LOOP_BLOCK_MS = 100;
const ACCEPTED = new Set([204, 400, 413, 415, 429]);

const PROJECTS = ["p1", "p2", "p3"];
const VALUES = ["Gateway", "HTTPProxy", "200", "503", "default", "café", "日本", "", "x".repeat(300)];

function randomSeries(random: Random): TimeSeriesInput[] {
  return Array.from({ length: random.between(1, random.chance(0.02) ? 1000 : 40) }, (_, i) => {
    const labels = [{ name: "__name__", value: random.pick(["up", "envoy_vhost_vcluster_upstream_rq"]) }];
    if (!random.chance(0.1)) labels.push({ name: TENANT_LABEL, value: random.pick(PROJECTS) });
    const extra = random.chance(0.05) ? 45 : random.int(8);
    for (let l = 0; l < extra; l++) labels.push({ name: `l${l}`, value: `${random.pick(VALUES)}${i}` });
    if (random.chance(0.03)) labels.push({ name: "long", value: "v".repeat(random.between(4000, 9000)) });
    if (random.chance(0.02)) labels.push({ name: "n".repeat(random.between(200, 300)), value: "x" });
    return {
      labels,
      samples: Array.from({ length: random.between(1, 4) }, (_, s) => ({
        value: random.next() * 100,
        timestampMs: 1_700_000_000_000 + s * 1000,
      })),
    };
  });
}

function mutateBytes(random: Random, input: Uint8Array): Buffer {
  const bytes = Buffer.from(input);
  switch (random.int(6)) {
    case 0:
      return bytes.subarray(0, random.int(bytes.length + 1));
    case 1:
      for (let flips = random.between(1, 6); flips > 0 && bytes.length > 0; flips--) {
        const at = random.int(bytes.length);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << random.int(8));
      }
      return bytes;
    case 2: {
      const at = random.int(bytes.length + 1);
      const insert = Buffer.from(Array.from({ length: random.between(1, 16) }, () => random.int(256)));
      return Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
    }
    case 3: {
      const at = random.int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + random.between(1, 16))]);
    }
    case 4: {
      // A length varint made large: framing that points past the end.
      if (bytes.length > 2) bytes[random.int(bytes.length)] = 0xff;
      return bytes;
    }
    default:
      return Buffer.from(Array.from({ length: random.int(512) }, () => random.int(256)));
  }
}

/** A valid request, mutated as protobuf (then compressed) or as compressed bytes. */
function fuzzBody(random: Random): Buffer {
  const protobuf = encodeWriteRequest(randomSeries(random));
  switch (random.int(4)) {
    case 0:
      return Buffer.from(snappyCompress(protobuf));
    case 1:
      return Buffer.from(snappyCompress(mutateBytes(random, protobuf)));
    case 2:
      return mutateBytes(random, snappyCompress(protobuf));
    default: {
      // The preamble (declared length) rewritten: huge, zero or off by a little.
      const compressed = Buffer.from(snappyCompress(protobuf));
      const declared = random.pick([0x7fffffff, 0, protobuf.length + 1, Math.max(0, protobuf.length - 1)]);
      const preamble: number[] = [];
      for (let v = declared; ; v = Math.floor(v / 128)) {
        if (v < 128) {
          preamble.push(v);
          break;
        }
        preamble.push((v % 128) | 0x80);
      }
      let skip = 0;
      while ((compressed[skip] ?? 0) >= 0x80) skip++;
      return Buffer.concat([Buffer.from(preamble), compressed.subarray(skip + 1)]);
    }
  }
}

/**
 * Runs the decoding and routing code on a throwaway router until V8 has
 * optimised it: the first cold request of a process costs ~100 ms of CPU in
 * compilation alone, which is not what the block limit is about.
 */
function warmUp(): void {
  const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
  const random = new Random(1);
  for (let i = 0; i < 20; i++) {
    const body = encodeWriteRequest(randomSeries(random));
    exporter.ingest.apply(body);
  }
}

describe("ingest under fuzzed requests", () => {
  let receiver: FaultServer;
  let exporter: Exporter;
  let ingest: IngestServer;
  let url = "";

  before(async () => {
    receiver = await startFaultServer(() => ({ status: 204 }));
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    exporter.apply(
      policyPlan("p1", {
        name: "gateways",
        sources: { gw: '{resource_kind="Gateway"}', all: "{}" },
        sinks: [{ name: "null", endpoint: receiver.url, sources: ["gw", "all"], batch: { timeout: "50ms" } }],
      }),
    );
    warmUp();
    ingest = await startIngestServer({
      host: "127.0.0.1",
      port: 0,
      processor: exporter.ingest,
      measureBlockingCpu: true,
    });
    url = `${ingest.url}/api/v1/write`;
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
    await receiver.close();
  });

  it(`answers ${REQUESTS} mutated requests with 204 or 4xx, never blocking ${MAX_LOOP_BLOCK_MS} ms`, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const random = new Random(SEED);
    // Generated before measuring: the event loop is shared with the server.
    const bodies = Array.from({ length: REQUESTS }, () => fuzzBody(random));
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    let slowestMs = 0;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < bodies.length) {
        const index = next++;
        const body = bodies[index] ?? Buffer.alloc(0);
        const started = performance.now();
        const result = await postRemoteWrite(url, body);
        slowestMs = Math.max(slowestMs, performance.now() - started);
        statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
        if (!ACCEPTED.has(result.status) || (result.status !== 204 && result.body.trim() === "")) {
          unexpected.push(`request ${index}: ${result.status} ${result.body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    delay.disable();
    const maxBlockMs = ingest.maxBlockingCpuMs;
    t.diagnostic(
      `statuses ${JSON.stringify(Object.fromEntries(statuses))}; longest block ${maxBlockMs.toFixed(1)} ms of CPU; ` +
        `event loop delay max ${(delay.max / 1e6).toFixed(1)} ms; slowest answer ${slowestMs.toFixed(1)} ms`,
    );
    assert.deepEqual(unexpected, [], `seed ${SEED}`);
    assert.ok((statuses.get(204) ?? 0) > REQUESTS / 10, `some requests survive the mutations (seed ${SEED})`);
    assert.ok((statuses.get(400) ?? 0) > REQUESTS / 10, `many are refused (seed ${SEED})`);
    assert.ok(maxBlockMs < MAX_LOOP_BLOCK_MS, `a request blocked ${maxBlockMs} ms of CPU (seed ${SEED})`);
    assert.equal(ingest.inflightBytes, 0, "every request gave its bytes back");

    // Still serving, and routing.
    const sink = exporter.health("uid-p1-gateways")?.sinks.get("null");
    assert.ok(sink);
    const routedBefore = sink.stats.samplesReceived;
    const result = await pushSeries(url, [
      {
        labels: [
          { name: "__name__", value: "up" },
          { name: TENANT_LABEL, value: "p1" },
          { name: "resource_kind", value: "Gateway" },
        ],
        samples: [{ value: 1, timestampMs: 1_700_000_000_000 }],
      },
    ]);
    assert.equal(result.status, 204);
    assert.equal(sink.stats.samplesReceived - routedBefore, 2, "two matching sources, one sink");
    assert.equal((await fetch(`${ingest.url}/healthz`)).status, 200);
  });
});
