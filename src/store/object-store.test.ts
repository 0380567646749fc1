import assert from "node:assert/strict";
import fs, { fstatSync, statSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DatabaseLockedError, ObjectStore, ResourceExpiredError, type StoreEvent } from "./index.js";

const key = (name: string, namespace = "default", project = "p") => ({
  resource: "things",
  project,
  namespace,
  name,
});
const object = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name }, ...extra });

describe("ObjectStore", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-store-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("answers its readiness check while its database can be read, and says why not once it cannot", () => {
    const store = ObjectStore.open({ path: join(dir, "check.db") });
    assert.equal(store.check(), undefined);
    store.close();
    assert.match(store.check() ?? "", /^the store's database cannot be read: .*(closed|open)/i);
  });

  it("stamps increasing resourceVersions and keeps them across reopening", () => {
    const path = join(dir, "reopen.db");
    const store = ObjectStore.open({ path });
    const a = store.commit("ADDED", key("a"), object("a"));
    const b = store.commit("ADDED", key("b"), object("b"));
    const a2 = store.commit("MODIFIED", key("a"), object("a", { v: 2 }));
    assert.deepEqual([a.resourceVersion, b.resourceVersion, a2.resourceVersion], [1, 2, 3]);
    assert.equal(
      (store.get(key("a"))?.object["metadata"] as { resourceVersion: string }).resourceVersion,
      "3",
    );
    store.close();
    const reopened = ObjectStore.open({ path });
    assert.equal(reopened.resourceVersion, 3);
    assert.equal(reopened.get(key("a"))?.object["v"], 2);
    assert.equal(reopened.commit("DELETED", key("b"), object("b")).resourceVersion, 4);
    assert.equal(reopened.get(key("b")), undefined);
    reopened.close();
  });

  it("keeps its file readable by the owner only (it holds Secrets)", () => {
    const path = join(dir, "mode.db");
    ObjectStore.open({ path }).close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it("refuses a second process on the same file", () => {
    const path = join(dir, "locked.db");
    const first = ObjectStore.open({ path });
    first.commit("ADDED", key("x"), object("x"));
    assert.throws(() => ObjectStore.open({ path }), DatabaseLockedError);
    first.close();
  });

  it("lists in key order, scoped, paged after a cursor", () => {
    const store = ObjectStore.open({ path: ":memory:" });
    for (const [ns, name, project] of [
      ["b", "2", "p"],
      ["a", "9", "p"],
      ["a", "1", "p"],
      ["a", "5", "q"],
    ] as const) {
      store.commit("ADDED", key(name, ns, project), object(name));
    }
    const names = (items: { key: { namespace: string; name: string } }[]) =>
      items.map((i) => `${i.key.namespace}/${i.key.name}`);
    assert.deepEqual(names(store.list({ resource: "things", project: "p" })), ["a/1", "a/9", "b/2"]);
    assert.deepEqual(names(store.list({ resource: "things", project: "p", namespace: "a" })), ["a/1", "a/9"]);
    assert.deepEqual(names(store.list({ resource: "things" })), ["a/1", "a/9", "b/2", "a/5"]);
    assert.deepEqual(
      names(
        store.list(
          { resource: "things", project: "p" },
          { after: { project: "p", namespace: "a", name: "1" }, limit: 1 },
        ),
      ),
      ["a/9"],
    );
    assert.deepEqual(names(store.list({ resource: "things", project: "p", namespace: "a", name: "9" })), [
      "a/9",
    ]);
    store.close();
  });

  it("tells subscribers after commit and replays the log from a version", () => {
    const store = ObjectStore.open({ path: ":memory:" });
    const heard: StoreEvent[] = [];
    const unsubscribe = store.subscribe((event) => heard.push(event));
    store.commit("ADDED", key("a"), object("a"));
    store.commit("ADDED", key("b", "default", "other"), object("b"));
    store.commit("MODIFIED", key("a"), object("a", { v: 2 }));
    unsubscribe();
    store.commit("DELETED", key("a"), object("a"));
    assert.deepEqual(
      heard.map((e) => `${e.type}@${e.resourceVersion}`),
      ["ADDED@1", "ADDED@2", "MODIFIED@3"],
    );
    const replay = store.eventsSince(1, { resource: "things", project: "p" });
    assert.deepEqual(
      replay.map((e) => `${e.type}@${e.resourceVersion}`),
      ["MODIFIED@3", "DELETED@4"],
    );
    store.close();
  });

  it("trims the log to its window; older versions are expired", () => {
    const store = ObjectStore.open({ path: ":memory:", eventWindow: 10 });
    for (let i = 0; i < 40; i++) store.commit("MODIFIED", key("a"), object("a", { i }));
    assert.ok(store.oldestResumableVersion >= 20, `trimmed through ${store.oldestResumableVersion}`);
    assert.throws(() => store.eventsSince(5, { resource: "things" }), ResourceExpiredError);
    const recent = store.eventsSince(35, { resource: "things" });
    assert.deepEqual(
      recent.map((e) => e.resourceVersion),
      [36, 37, 38, 39, 40],
    );
    store.close();
  });

  it("acknowledges a write and tells watchers only once the WAL is synced, off the event loop; later writes share the next sync", async () => {
    const path = join(dir, "sync.db");
    const store = ObjectStore.open({ path });
    // Holds each fdatasync of the store until the test lets it finish.
    const original = fs.fdatasync;
    const held: { fd: number; done: (error: NodeJS.ErrnoException | null) => void }[] = [];
    fs.fdatasync = ((fd: number, done: (error: NodeJS.ErrnoException | null) => void) => {
      held.push({ fd, done });
    }) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    try {
      const heard: number[] = [];
      store.subscribeDurable((event) => heard.push(event.resourceVersion));
      let acknowledged = 0;
      store.commit("ADDED", key("a"), object("a"));
      store.commit("ADDED", key("b"), object("b"));
      const first = store.settled().then(() => (acknowledged = 2));
      await new Promise((resolve) => setImmediate(resolve));
      // Committed, syncing: neither the writer nor a watcher has heard of it.
      assert.equal(held.length, 1);
      assert.equal(
        fstatSync(held[0]?.fd ?? -1).ino,
        statSync(`${path}-wal`).ino,
        "the WAL is what is synced",
      );
      store.commit("ADDED", key("c"), object("c"));
      const second = store.settled().then(() => (acknowledged = 3));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual([acknowledged, heard, held.length], [0, [], 1], "one sync at a time");
      held.shift()?.done(null);
      await first;
      assert.deepEqual([acknowledged, heard], [2, [1, 2]]);
      assert.equal(held.length, 1, "the write made during the first sync gets the next one");
      held.shift()?.done(null);
      await second;
      assert.deepEqual([acknowledged, heard], [3, [1, 2, 3]]);
      // A read commits and syncs at once, on the loop: what it returns is durable, and watchers heard it first.
      store.commit("MODIFIED", key("a"), object("a", { v: 2 }));
      store.flush();
      assert.deepEqual(heard, [1, 2, 3, 4]);
      // A failed sync fails the store: the writer hears it, and nothing more is written.
      store.commit("ADDED", key("d"), object("d"));
      const failed = store.settled();
      await new Promise((resolve) => setImmediate(resolve));
      held.shift()?.done(Object.assign(new Error("EIO: i/o error"), { code: "EIO" }));
      await assert.rejects(failed, /sync of the store's write-ahead log failed: EIO/);
      assert.match(store.check() ?? "", /EIO/);
      assert.throws(() => store.commit("ADDED", key("e"), object("e")), /EIO/);
      assert.deepEqual(heard, [1, 2, 3, 4]);
    } finally {
      fs.fdatasync = original;
      syncBuiltinESMExports();
      store.close();
    }
    const reopened = ObjectStore.open({ path });
    assert.deepEqual(
      reopened.list({ resource: "things" }).map((o) => o.key.name),
      ["a", "b", "c", "d"],
      "what was committed before the failed sync is in the file (the writer of d was told it failed)",
    );
    reopened.close();
  });

  it("closes while a sync is running, and keeps what it committed", async () => {
    const path = join(dir, "close.db");
    const store = ObjectStore.open({ path });
    store.commit("ADDED", key("a"), object("a"));
    await new Promise((resolve) => setImmediate(resolve));
    store.commit("ADDED", key("b"), object("b"));
    store.close();
    const reopened = ObjectStore.open({ path });
    assert.equal(reopened.list({ resource: "things" }).length, 2);
    reopened.close();
  });
});
