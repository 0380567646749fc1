import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StringInterner } from "./intern.js";

const policy = (index: number) =>
  JSON.parse(
    JSON.stringify({
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      kind: "ExportPolicy",
      metadata: {
        name: `policy-${index}`,
        namespace: "default",
        uid: `uid-${index}`,
        resourceVersion: String(100 + index),
        finalizers: ["exportpolicy.telemetry.miloapis.com/controller"],
      },
      spec: { sources: [{ name: "gw", metrics: { metricsql: '{service_name="gateway"}' } }] },
      status: { conditions: [{ type: "Ready", status: "Unknown", reason: "AwaitingData" }] },
    }),
  ) as Record<string, unknown>;

describe("StringInterner", () => {
  it("holds each shared string once and leaves the objects' values as they were", () => {
    const strings = new StringInterner();
    const first = policy(1);
    assert.deepEqual(strings.internObject(first), policy(1));
    const held = strings.size;
    // apiVersion, kind, namespace, finalizer, source name, selector, condition type, status, reason.
    assert.equal(held, 9, "names, uids and resourceVersions are unique to an object: not held");
    for (let i = 2; i < 100; i++) assert.deepEqual(strings.internObject(policy(i)), policy(i));
    assert.equal(strings.size, held, "every other policy shares what the first brought");
  });

  it("holds at most its limit, and no long strings", () => {
    const strings = new StringInterner(3);
    for (let i = 0; i < 10; i++) strings.intern(`value-${i}`);
    assert.equal(strings.size, 3);
    assert.equal(strings.intern("value-7"), "value-7", "past the limit a string is kept as it came");
    const unbounded = new StringInterner();
    unbounded.intern("x".repeat(257));
    assert.equal(unbounded.size, 0);
  });
});
