// Which policy updates wake the controller: the watch delivers every write,
// including the controller's own status writes, which must not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExportPolicy } from "../api/index.js";
import { needsReconcile } from "./controller.js";
import type { KubeObject } from "../kube/index.js";

type Policy = ExportPolicy & KubeObject;

const base: Policy = {
  apiVersion: "telemetry.miloapis.com/v1alpha1",
  kind: "ExportPolicy",
  metadata: { name: "p", namespace: "default", uid: "u1", generation: 1, resourceVersion: "10" },
  spec: { sources: [], sinks: [] },
};
const edit = (metadata: Partial<Policy["metadata"]>, extra: Partial<Policy> = {}): Policy => ({
  ...base,
  ...extra,
  metadata: { ...base.metadata, resourceVersion: "11", ...metadata },
});

describe("needsReconcile", () => {
  it("wakes on a new object, a spec change, deletion, finalizers and a new uid", () => {
    const ours = "exportpolicy.telemetry.miloapis.com/controller";
    const finalized = edit({ finalizers: [ours] });
    assert.equal(needsReconcile(base, undefined), true);
    assert.equal(needsReconcile(edit({ generation: 2 }), base), true);
    assert.equal(needsReconcile(edit({ deletionTimestamp: "2026-11-22T06:00:00Z" }), base), true);
    assert.equal(needsReconcile(edit({ finalizers: [ours, "other/x"] }), finalized), true);
    assert.equal(needsReconcile(edit({ finalizers: [] }), finalized), true, "ours removed by someone");
    assert.equal(needsReconcile(edit({ finalizers: ["other/x"] }), base), true);
    assert.equal(needsReconcile(edit({ uid: "u2" }), base), true);
  });

  it("sleeps through the controller adding its own finalizer (that reconcile goes on with the answer)", () => {
    const ours = "exportpolicy.telemetry.miloapis.com/controller";
    assert.equal(needsReconcile(edit({ finalizers: [ours] }), base), false);
  });

  it("sleeps through status-only and metadata-only writes", () => {
    const status = {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "AllSinksReady",
          message: "1/1",
          lastTransitionTime: "2026-11-22T06:00:00Z",
        },
      ],
    };
    assert.equal(needsReconcile(edit({}, { status } as Partial<Policy>), base), false);
    assert.equal(needsReconcile(edit({ labels: { team: "a" } }), base), false);
  });
});
