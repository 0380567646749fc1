// Pull positions of replicas that left the fleet, against the embedded API's
// platform plane: their ConfigMaps are deleted by the first live member once
// no position in them is still needed (a live replica's is as far or further,
// or the position is older than the max backlog age), and not before.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { Dispatcher } from "undici";
import { eventually, eventuallyValue } from "../../test-support/eventually.js";
import { startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import { CONFIG_MAPS, platformPath } from "../controller/layout.js";
import { KubeClient, PLATFORM_NAMESPACE, type ConfigMap, type RequestOptions } from "../kube/index.js";
import { ApiCursorStore, POSITIONS_LABEL, type ApiCursorStoreOptions } from "./positions.js";

const COLLECTION = platformPath(CONFIG_MAPS, PLATFORM_NAMESPACE);
const HOUR = 3600_000;

describe("pull positions of departed replicas", () => {
  let server: TestApiServer;
  let client: KubeClient;
  const open: ApiCursorStore[] = [];

  const startStore = async (
    identity: string,
    options: Partial<ApiCursorStoreOptions> = {},
  ): Promise<ApiCursorStore> => {
    // One bucket: each replica's positions in one ConfigMap, telex-pull-positions-<replica>-0.
    const store = new ApiCursorStore({
      client,
      configMapsPath: COLLECTION,
      identity,
      flushIntervalMs: 10,
      buckets: 1,
      ...options,
    });
    await store.start();
    open.push(store);
    return store;
  };

  /** A replica that saved these positions and stopped: its ConfigMap stays behind. */
  const departedReplica = async (identity: string, positions: Record<string, number>): Promise<void> => {
    const store = await startStore(identity);
    await Promise.all(Object.entries(positions).map(([key, value]) => store.save(key, value)));
    await store.close();
  };

  const positionMaps = async (): Promise<string[]> => {
    const list = await client.request<{ items: ConfigMap[] }>("GET", COLLECTION, {
      query: { labelSelector: `${POSITIONS_LABEL}=true` },
    });
    return list.items.map((item) => item.metadata.name).sort();
  };

  /** Until the store's cache has the other replica's position (it judges from its cache). */
  const sees = (store: ApiCursorStore, key: string, value: number) =>
    eventuallyValue(
      () => store.load(key),
      (loaded) => loaded === value,
      `${key} at ${value} in the cache`,
    );

  before(async () => {
    server = await startTestApiServer();
    client = new KubeClient({
      server: server.api.url,
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    });
  });
  const closeStores = () => Promise.all(open.splice(0).map((store) => store.close().catch(() => undefined)));
  after(async () => {
    await closeStores();
    await client.close();
    await server.close();
  });
  beforeEach(async () => {
    await closeStores();
    for (const name of await positionMaps()) await client.request("DELETE", `${COLLECTION}/${name}`);
  });

  it("keeps them while one position is ahead of every live replica's, deletes them once none is", async () => {
    // Recent positions (a minute apart), well within the max backlog age.
    const t = Date.now() - HOUR;
    await departedReplica("replica-gone", { "policy-a/sink": t, "policy-b/sink": t + 60_000 });
    const members = ["replica-a", "replica-b"];
    const first = await startStore("replica-a", { liveMembers: () => members });
    const second = await startStore("replica-b", { liveMembers: () => members });
    assert.equal(first.load("policy-a/sink"), t, "the departed replica's positions are read");

    assert.deepEqual(await first.removeDepartedPositions(), [], "both positions are ahead");
    await second.save("policy-a/sink", t + 30_000);
    await sees(first, "policy-a/sink", t + 30_000);
    assert.deepEqual(await first.removeDepartedPositions(), [], "policy-b is still ahead");
    assert.deepEqual(await positionMaps(), [
      "telex-pull-positions-replica-b-0",
      "telex-pull-positions-replica-gone-0",
    ]);

    // Equal is enough: load() gives the same position without the departed entry. Equal values show
    // no change through load(), so the first member's cache catching up is waited for by polling.
    await second.save("policy-b/sink", t + 60_000);
    const removed = await eventuallyValue(
      () => first.removeDepartedPositions(),
      (names) => names.length > 0,
      "the departed ConfigMap deleted",
    );
    assert.deepEqual(removed, ["telex-pull-positions-replica-gone-0"]);
    assert.deepEqual(await positionMaps(), ["telex-pull-positions-replica-b-0"]);
    assert.equal(first.removedConfigMaps, 1);
    assert.equal(first.load("policy-a/sink"), t + 30_000);
    assert.equal(first.load("policy-b/sink"), t + 60_000);
  });

  it("keeps the ConfigMaps of live replicas whatever they hold", async () => {
    const members = ["replica-a", "replica-b"];
    const first = await startStore("replica-a", { liveMembers: () => members, maxBacklogAgeMs: HOUR });
    const second = await startStore("replica-b", { liveMembers: () => members, maxBacklogAgeMs: HOUR });
    // Past the max backlog age: redundant, were replica-b not alive.
    const old = Date.now() - 2 * HOUR;
    await second.save("policy-a/sink", old);
    await sees(first, "policy-a/sink", old);
    assert.deepEqual(await first.removeDepartedPositions(), [], "replica-b is alive");
    assert.deepEqual(await positionMaps(), ["telex-pull-positions-replica-b-0"]);
    members.pop();
    assert.deepEqual(
      await first.removeDepartedPositions(),
      ["telex-pull-positions-replica-b-0"],
      "once it left",
    );
  });

  it("deletes a departed position older than the max backlog age even with no live position for it", async () => {
    const now = Date.now();
    await departedReplica("replica-stale", { "deleted-policy/sink": now - 2 * HOUR });
    await departedReplica("replica-recent", { "other-policy/sink": now - HOUR / 2 });
    const store = await startStore("replica-a", { liveMembers: () => ["replica-a"], maxBacklogAgeMs: HOUR });
    assert.deepEqual(await store.removeDepartedPositions(), ["telex-pull-positions-replica-stale-0"]);
    assert.deepEqual(await positionMaps(), ["telex-pull-positions-replica-recent-0"]);
    assert.equal(store.load("other-policy/sink"), now - HOUR / 2);
  });

  it("does nothing while this replica is not a member (its own Lease lapsed)", async () => {
    await departedReplica("replica-gone", { "policy-a/sink": 1 });
    const members: string[] = [];
    const store = await startStore("replica-a", { liveMembers: () => members, maxBacklogAgeMs: HOUR });
    assert.deepEqual(await store.removeDepartedPositions(), [], "not a member");
    members.push("replica-0", "replica-a");
    assert.deepEqual(await store.removeDepartedPositions(), [], "a member, but not the first");
    members.shift();
    assert.deepEqual(await store.removeDepartedPositions(), ["telex-pull-positions-replica-gone-0"]);
  });

  it("does not delete a ConfigMap written again between the judgement and the delete", async () => {
    await departedReplica("replica-back", { "policy-a/sink": 1 });
    const newer = { [Buffer.from("policy-b/sink").toString("base64url")]: String(Date.now()) };
    // The replica comes back and writes just as the delete goes out: the store judged the old version.
    const racing = new (class extends KubeClient {
      override async request<T>(
        method: Dispatcher.HttpMethod,
        path: string,
        options?: RequestOptions,
      ): Promise<T> {
        if (method === "DELETE")
          await client.request("PATCH", path, {
            contentType: "application/merge-patch+json",
            body: { data: newer },
          });
        return super.request<T>(method, path, options);
      }
    })({ server: server.api.url, tls: { rejectUnauthorized: true }, authorization: () => undefined });
    try {
      const store = await startStore("replica-a", {
        client: racing,
        liveMembers: () => ["replica-a"],
        maxBacklogAgeMs: HOUR,
      });
      assert.deepEqual(await store.removeDepartedPositions(), []);
      const kept = await client.request<ConfigMap>(
        "GET",
        `${COLLECTION}/telex-pull-positions-replica-back-0`,
      );
      assert.deepEqual(Object.keys(kept.data ?? {}).sort(), [
        Buffer.from("policy-a/sink").toString("base64url"),
        ...Object.keys(newer),
      ]);
      assert.equal(store.removedConfigMaps, 0);
    } finally {
      await Promise.all(open.splice(0).map((store) => store.close()));
      await racing.close();
    }
  });

  it("cleans up on its own every cleanup interval", async () => {
    await departedReplica("replica-gone", { "policy-a/sink": 1 });
    await startStore("replica-a", {
      liveMembers: () => ["replica-a"],
      maxBacklogAgeMs: HOUR,
      cleanupIntervalMs: 50,
    });
    await eventually(async () => (await positionMaps()).length === 0, "the departed ConfigMap deleted");
  });
});
