import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../test-support/eventually.js";
import { startTestApiWithClient, type TestApiWithClient } from "../../test-support/telex-api.js";
import { silentLogger, systemClock } from "../util/index.js";
import type { ConfigMap } from "./configmap.js";
import { Informer, LAST_APPLIED_ANNOTATION, stripManagedFields } from "./informer.js";

describe("stripManagedFields", () => {
  it("drops managedFields and kubectl's last-applied annotation, and keeps everything else", () => {
    const object = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "a",
        resourceVersion: "7",
        annotations: { [LAST_APPLIED_ANNOTATION]: '{"big":"manifest"}', "example.com/keep": "yes" },
        managedFields: [{ manager: "kubectl", operation: "Update", fieldsV1: { "f:data": {} } }],
      },
      data: { k: "v" },
    };
    assert.deepEqual(stripManagedFields(object), {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", resourceVersion: "7", annotations: { "example.com/keep": "yes" } },
      data: { k: "v" },
    });
    assert.ok(Object.hasOwn(object.metadata, "managedFields"), "the object given is not changed");
  });

  it("returns an object with nothing to strip as it is", () => {
    const object = { metadata: { name: "a", annotations: { "example.com/keep": "yes" } } };
    assert.equal(stripManagedFields(object), object);
  });
});

describe("Informer with a transform", () => {
  let api: TestApiWithClient;
  before(async () => {
    api = await startTestApiWithClient();
  });
  after(() => api.close());

  it("caches and hands out transformed objects, from the list and from the watch", async () => {
    // The embedded API serves ConfigMaps at its root, for the platform plane.
    const collection = "/api/v1/namespaces/telex-system/configmaps";
    const create = (name: string) =>
      api.client.request("POST", collection, {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name, annotations: { [LAST_APPLIED_ANNOTATION]: "{}", "example.com/keep": name } },
          data: { k: name },
        },
      });
    await create("listed");
    const raw = await api.client.request<ConfigMap>("GET", `${collection}/listed`);
    assert.ok(Object.hasOwn(raw.metadata, "managedFields"), "the API records managedFields");
    assert.ok(Object.hasOwn(raw.metadata.annotations ?? {}, LAST_APPLIED_ANNOTATION));
    const seen: ConfigMap[] = [];
    const informer = new Informer<ConfigMap>({
      client: api.client,
      path: collection,
      keyOf: (object) => object.metadata.name,
      handlers: {
        onUpsert: (_key, object) => {
          seen.push(object);
        },
        onDelete: () => undefined,
      },
      clock: systemClock,
      logger: silentLogger,
      transform: stripManagedFields,
    });
    informer.start();
    try {
      await informer.waitForSync();
      await create("watched");
      await eventually(() => informer.get("watched") !== undefined, "the watched ConfigMap cached");
      for (const name of ["listed", "watched"]) {
        const cached = informer.get(name);
        assert.ok(cached !== undefined, name);
        assert.equal(cached.data?.["k"], name);
        assert.equal(Object.hasOwn(cached.metadata, "managedFields"), false, `${name}: no managedFields`);
        assert.deepEqual(cached.metadata.annotations, { "example.com/keep": name });
      }
      assert.ok(seen.length >= 2 && seen.every((object) => !Object.hasOwn(object.metadata, "managedFields")));
    } finally {
      await informer.stop();
    }
  });
});
