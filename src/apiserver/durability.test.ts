// Acknowledged writes survive `kill -9` of `telex serve` at a random moment;
// resourceVersions keep increasing across the restart, and watches resume.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiRequest, examplePolicy } from "../../test-support/telex-api.js";
import { eventually } from "../../test-support/eventually.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import { controlPlanePath } from "./paths.js";

const PROJECT = "durable";
const COLLECTION = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const WRITERS = 6;

interface Ack {
  readonly name: string;
  readonly resourceVersion: number;
}

// Writes are group-committed and fast: the writers may pass the default 100 policies a project
// before the kill, which would fail them with the quota's 403 instead of the kill.
const SERVE_ARGS = (dataDir: string): string[] => [
  "--api-listen",
  "127.0.0.1:0",
  "--data-dir",
  dataDir,
  "--max-policies-per-project",
  "100000",
];

describe("durability across kill -9", () => {
  let dataDir: string;
  let serve: TelexServe | undefined;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "telex-durable-"));
  });
  after(async () => {
    await serve?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps every acknowledged write and a monotonic resourceVersion", async (t) => {
    serve = await startTelexServe(SERVE_ARGS(dataDir));
    const base = `${serve.url}${controlPlanePath(PROJECT)}`;
    const acks: Ack[] = [];
    let next = 0;
    const loop = { stopped: false };
    const stopping = (): boolean => loop.stopped;
    const writer = async (): Promise<void> => {
      while (!stopping()) {
        const name = `policy-${next++}`;
        try {
          const response = await apiRequest(base, "POST", COLLECTION, { body: examplePolicy(name) });
          if (response.status !== 201)
            throw new Error(`create answered ${response.status}: ${response.text}`);
          const metadata = response.json()["metadata"] as { resourceVersion: string };
          acks.push({ name, resourceVersion: Number(metadata.resourceVersion) });
        } catch (error: unknown) {
          if (!stopping()) throw error;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    // A random moment once the writers are well under way: counting writes
    // rather than milliseconds keeps a busy machine from killing it too early.
    await eventually(() => acks.length >= 20, "20 acknowledged writes", {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    const delayMs = Math.floor(Math.random() * 600);
    t.diagnostic(`kill -9 ${delayMs} ms after the 20th acknowledged write`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    loop.stopped = true;
    await serve.kill();
    await Promise.all(writers.map((w) => w.catch(() => undefined)));
    t.diagnostic(`${acks.length} writes acknowledged before the kill`);
    assert.ok(acks.length > 20, `the loop acknowledged only ${acks.length} writes`);

    serve = await startTelexServe(SERVE_ARGS(dataDir));
    const after = `${serve.url}${controlPlanePath(PROJECT)}`;
    const list = await apiRequest(after, "GET", COLLECTION);
    assert.equal(list.status, 200);
    const items = list.json()["items"] as { metadata: { name: string; resourceVersion: string } }[];
    const stored = new Map(items.map((i) => [i.metadata.name, Number(i.metadata.resourceVersion)]));
    // The controller in the same process may have written since (finalizer, status): newer is fine.
    const lost = acks.filter((a) => (stored.get(a.name) ?? -1) < a.resourceVersion);
    assert.deepEqual(lost, [], `${lost.length} of ${acks.length} acknowledged writes lost`);

    const highest = Math.max(...acks.map((a) => a.resourceVersion));
    const listVersion = Number((list.json()["metadata"] as { resourceVersion: string }).resourceVersion);
    assert.ok(listVersion >= highest, `list resourceVersion ${listVersion} < acknowledged ${highest}`);
    const fresh = await apiRequest(after, "POST", COLLECTION, { body: examplePolicy("after-restart") });
    assert.equal(fresh.status, 201);
    const freshVersion = Number((fresh.json()["metadata"] as { resourceVersion: string }).resourceVersion);
    assert.ok(freshVersion > listVersion, `resourceVersion went from ${listVersion} to ${freshVersion}`);

    const [first] = [...acks].sort((a, b) => a.resourceVersion - b.resourceVersion);
    assert.ok(first !== undefined);
    const watch = await apiRequest(
      after,
      "GET",
      `${COLLECTION}?watch=1&resourceVersion=${first.resourceVersion}&timeoutSeconds=1`,
    );
    const events = watch.text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; object: { metadata: { name: string } } });
    const replayed = new Set(events.filter((e) => e.type === "ADDED").map((e) => e.object.metadata.name));
    const missing = acks.filter((a) => a.resourceVersion > first.resourceVersion && !replayed.has(a.name));
    assert.deepEqual(missing, [], "a watch resumed after the restart replays every later write");
    assert.ok(replayed.has("after-restart"));
  });

  it("stops gracefully on SIGTERM", async () => {
    serve ??= await startTelexServe(SERVE_ARGS(dataDir));
    const exited = new Promise<number | null>((resolve) =>
      serve?.child.once("exit", (code) => {
        resolve(code);
      }),
    );
    serve.child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(serve.output(), /stopped/);
    serve = undefined;
  });
});
