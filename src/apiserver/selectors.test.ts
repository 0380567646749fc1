import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { ApiError } from "./status.js";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front", "example.com/team": "edge" };
  const cases: [string, boolean][] = [
    ["app=web", true],
    ["app==web,tier!=back", true],
    ["app in (api, web)", true],
    ["tier notin (front)", false],
    ["example.com/team", true],
    ["!app", false],
    ["!missing,app", true],
    ["", true],
  ];
  for (const [selector, expected] of cases) {
    it(`${JSON.stringify(selector)} → ${expected}`, () => {
      assert.equal(matchesLabels(parseLabelSelector(selector), labels), expected);
    });
  }
  it("rejects malformed requirements with 400", () => {
    assert.throws(
      () => parseLabelSelector("a b c"),
      (e: unknown) => e instanceof ApiError && e.code === 400,
    );
  });
});

describe("field selectors", () => {
  it("supports = == != on the resource's labels, with escapes", () => {
    const selector = parseFieldSelector(
      "metadata.name=a\\,b,type!=Opaque",
      new Set(["metadata.name", "type"]),
    );
    const fields: Record<string, string> = { "metadata.name": "a,b", type: "kubernetes.io/basic-auth" };
    assert.equal(
      matchesFields(selector, (f) => fields[f] ?? ""),
      true,
    );
    assert.throws(
      () => parseFieldSelector("spec.x=1", new Set(["metadata.name"])),
      /field label not supported/,
    );
  });
});
