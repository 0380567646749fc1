import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PatchError } from "./errors.js";
import { applyJsonPatch } from "./json-patch.js";
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
