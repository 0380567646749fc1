import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PatchError, PatchTooLargeError } from "./errors.js";
import { JSON_PATCH_LIMITS, applyJsonPatch } from "./json-patch.js";
import { applyMergePatch } from "./merge-patch.js";
import { applyStrategicMergePatch } from "./strategic-merge-patch.js";

describe("JSON merge patch (RFC 7386)", () => {
  it("merges objects, deletes with null, replaces lists", () => {
    assert.deepEqual(applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] }), {
      a: { c: 2, d: 3 },
      l: [3],
    });
  });
});

describe("JSON patch (RFC 6902)", () => {
  const doc = { a: { b: [1, 2] }, "x/y": 1 };
  it("applies add, remove, replace, move, copy and test", () => {
    const patched = applyJsonPatch(doc, [
      { op: "add", path: "/a/b/-", value: 3 },
      { op: "remove", path: "/a/b/0" },
      { op: "replace", path: "/x~1y", value: 2 },
      { op: "copy", from: "/a/b", path: "/c" },
      { op: "move", from: "/c", path: "/d" },
      { op: "test", path: "/d/1", value: 3 },
    ]);
    assert.deepEqual(patched, { a: { b: [2, 3] }, "x/y": 2, d: [2, 3] });
    assert.deepEqual(doc, { a: { b: [1, 2] }, "x/y": 1 }, "the input is untouched");
  });
  it("fails on a missing path, a bad index or a failed test", () => {
    assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "/nope" }]), PatchError);
    assert.throws(() => applyJsonPatch(doc, [{ op: "add", path: "/a/b/9", value: 1 }]), PatchError);
    assert.throws(() => applyJsonPatch(doc, [{ op: "test", path: "/x~1y", value: 2 }]), PatchError);
  });
});

describe("JSON patch limits", () => {
  const limits = { ...JSON_PATCH_LIMITS, maxBytes: 1000, maxCopyBytes: 500, maxShiftedElements: 100 };
  const big = "x".repeat(400);

  it("tracks the size as operations run: removed and replaced bytes are given back", () => {
    const churn = Array.from({ length: 20 }, () => [
      { op: "add", path: "/a", value: big },
      { op: "replace", path: "/a", value: big },
      { op: "remove", path: "/a" },
    ]).flat();
    assert.deepEqual(applyJsonPatch({}, churn, limits), {});
    assert.throws(
      () =>
        applyJsonPatch(
          {},
          [
            { op: "add", path: "/a", value: big },
            { op: "add", path: "/b", value: big },
            { op: "add", path: "/c", value: big },
          ],
          limits,
        ),
      PatchTooLargeError,
    );
  });

  it("bounds what copies clone in total, and moves keep the size", () => {
    const doc = { a: "y".repeat(300) };
    assert.throws(
      () =>
        applyJsonPatch(
          doc,
          [
            { op: "copy", from: "/a", path: "/b" },
            { op: "remove", path: "/b" },
            { op: "copy", from: "/a", path: "/b" },
          ],
          limits,
        ),
      /clone more than the limit of 500 bytes/,
    );
    const moves = Array.from({ length: 50 }, (_, i) => ({
      op: "move",
      from: i % 2 ? "/b" : "/a",
      path: i % 2 ? "/a" : "/b",
    }));
    assert.deepEqual(applyJsonPatch(doc, moves, limits), doc);
  });

  it("bounds elements shifted in arrays, operations and depth", () => {
    const list = { l: Array.from({ length: 60 }, (_, i) => i) };
    const inserts = [0, 1].map(() => ({ op: "add", path: "/l/0", value: 0 }));
    assert.throws(() => applyJsonPatch(list, inserts, limits), /more than the limit of 100 array elements/);
    assert.throws(
      () =>
        applyJsonPatch(
          {},
          [
            { op: "test", path: "", value: {} },
            { op: "test", path: "", value: {} },
          ],
          { ...limits, maxOperations: 1 },
        ),
      /2 operations, more than the limit of 1/,
    );
    assert.throws(
      () =>
        applyJsonPatch({ a: {} }, [{ op: "add", path: "/a/b", value: [[[1]]] }], { ...limits, maxDepth: 4 }),
      /deeper than the limit of 4 levels/,
    );
  });
});

describe("strategic merge patch", () => {
  it("merges finalizers as a set and ownerReferences by uid; other lists are replaced", () => {
    const target = { metadata: { finalizers: ["a"], ownerReferences: [{ uid: "1", name: "x" }] }, list: [1] };
    const patch = {
      metadata: {
        finalizers: ["b"],
        ownerReferences: [
          { uid: "1", name: "y" },
          { uid: "2", name: "z" },
        ],
      },
      list: [2],
    };
    assert.deepEqual(applyStrategicMergePatch(target, patch), {
      metadata: {
        finalizers: ["a", "b"],
        ownerReferences: [
          { uid: "1", name: "y" },
          { uid: "2", name: "z" },
        ],
      },
      list: [2],
    });
  });
  it("honours $patch, $retainKeys, $deleteFromPrimitiveList and $setElementOrder", () => {
    const target = {
      data: { a: "1", b: "2" },
      metadata: { finalizers: ["x", "y", "z"], ownerReferences: [{ uid: "1" }, { uid: "2" }] },
    };
    const patched = applyStrategicMergePatch(target, {
      data: { $patch: "replace", c: "3" },
      metadata: {
        "$deleteFromPrimitiveList/finalizers": ["y"],
        "$setElementOrder/finalizers": ["z", "x"],
        ownerReferences: [{ uid: "1", $patch: "delete" }],
      },
    });
    assert.deepEqual(patched, {
      data: { c: "3" },
      metadata: { finalizers: ["z", "x"], ownerReferences: [{ uid: "2" }] },
    });
    assert.deepEqual(
      applyStrategicMergePatch({ spec: { a: 1, b: 2 } }, { spec: { $retainKeys: ["a"], a: 5 } }),
      { spec: { a: 5 } },
    );
    assert.deepEqual(applyStrategicMergePatch({ spec: { a: 1 }, k: 1 }, { spec: { $patch: "delete" } }), {
      k: 1,
    });
  });
});
