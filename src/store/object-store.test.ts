import assert from "node:assert/strict";
import { statSync } from "node:fs";
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
});
