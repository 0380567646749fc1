import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { exportPolicies } from "../apiserver/resources.js";
import { CRD_PATH, exportPolicyCrd, exportPolicyCrdYaml } from "./index.js";

const committed = readFileSync(new URL(`../../../${CRD_PATH}`, import.meta.url), "utf8");

type Node = Record<string, unknown>;
const child = (node: unknown, ...path: string[]): Node => {
  let current = node;
  for (const key of path) current = (current as Node)[key];
  return current as Node;
};

describe("CRD", () => {
  it("committed manifest equals what the schema generates (run `npm run gen` after changing src/api)", () => {
    assert.equal(committed, exportPolicyCrdYaml());
  });

  const crd = parse(committed) as Node;
  const version = (child(crd, "spec", "versions") as unknown as Node[])[0] as Node;
  const root = child(version, "schema", "openAPIV3Schema");
  const props = (node: Node) => child(node, "properties");
  const spec = child(props(root), "spec");
  const sink = child(props(spec), "sinks", "items");
  const rw = child(props(child(props(sink), "target")), "prometheusRemoteWrite");

  it("is a namespaced v1 CRD with the status subresource", () => {
    assert.equal(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert.equal(child(crd, "metadata")["name"], "exportpolicies.telemetry.miloapis.com");
    assert.equal(child(crd, "spec")["scope"], "Namespaced");
    assert.equal(version["name"], "v1alpha1");
    assert.deepEqual(version["subresources"], { status: {} });
  });

  it("names the short name and categories kubectl resolves, the same as the Telex API's discovery", () => {
    assert.deepEqual(child(crd, "spec", "names"), {
      kind: "ExportPolicy",
      listKind: "ExportPolicyList",
      plural: "exportpolicies",
      singular: "exportpolicy",
      shortNames: ["ep"],
      categories: ["telex", "telemetry"],
    });
    assert.deepEqual(exportPolicies.shortNames, ["ep"]);
    assert.deepEqual(exportPolicies.categories, ["telex", "telemetry"]);
  });

  it("carries the seed's descriptions, bounds, defaults and required fields", () => {
    assert.equal(root["description"], "ExportPolicy is the Schema for the export policy API.");
    assert.deepEqual(spec["required"], ["sources", "sinks"]);
    const batch = child(props(rw), "batch");
    assert.deepEqual(batch["default"], { maxSize: 500, timeout: "5s" });
    assert.deepEqual(child(props(batch), "maxSize"), {
      type: "integer",
      description: "Maximum number of telemetry entries per batch.",
      minimum: 1,
      maximum: 5000,
      default: 500,
    });
    const retry = child(props(rw), "retry");
    assert.deepEqual(retry["default"], { maxAttempts: 3, backoffDuration: "5s" });
    assert.equal(child(props(retry), "maxAttempts")["maximum"], 10);
    assert.deepEqual(rw["required"], ["endpoint", "batch", "retry"]);
    const sourceName = child(props(child(props(spec), "sources", "items")), "name");
    assert.equal(sourceName["maxLength"], 63);
    assert.equal(sourceName["pattern"], "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  });

  it("keeps metadata opaque and private keys out", () => {
    assert.deepEqual(child(props(root), "metadata"), { type: "object" });
    assert.doesNotMatch(committed, /x-telex-/);
  });

  it("declares list semantics so server-side apply merges by name", () => {
    const sources = child(props(spec), "sources");
    assert.equal(sources["x-kubernetes-list-type"], "map");
    assert.deepEqual(sources["x-kubernetes-list-map-keys"], ["name"]);
    assert.equal(child(props(sink), "sources")["x-kubernetes-list-type"], "set");
  });

  it("carries the cross-field rules as CEL for API servers without Telex's validation", () => {
    const rules = spec["x-kubernetes-validations"] as { rule: string }[];
    assert.match(rules[0]?.rule ?? "", /self\.sources\.exists\(source, source\.name == name\)/);
    const target = child(props(sink), "target");
    assert.deepEqual(target["x-kubernetes-validations"], [
      {
        rule: "has(self.prometheusRemoteWrite)",
        message: "exactly one of prometheusRemoteWrite must be set",
      },
    ]);
  });

  it("is what exportPolicyCrd() returns", () => {
    assert.deepEqual(parse(committed), exportPolicyCrd());
  });
});
