import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EXPLAIN_SCHEMAS_PATH, explainSchemasSource } from "../../scripts/explain-schemas.js";
import { ExplainError, explain } from "./index.js";

/** Every field of the published ExportPolicy API reference, as a path. */
const SEED_FIELDS = [
  "apiVersion",
  "kind",
  "metadata",
  "spec",
  "spec.sinks",
  "spec.sinks.name",
  "spec.sinks.sources",
  "spec.sinks.target",
  "spec.sinks.target.prometheusRemoteWrite",
  "spec.sinks.target.prometheusRemoteWrite.batch",
  "spec.sinks.target.prometheusRemoteWrite.batch.maxSize",
  "spec.sinks.target.prometheusRemoteWrite.batch.timeout",
  "spec.sinks.target.prometheusRemoteWrite.endpoint",
  "spec.sinks.target.prometheusRemoteWrite.retry",
  "spec.sinks.target.prometheusRemoteWrite.retry.backoffDuration",
  "spec.sinks.target.prometheusRemoteWrite.retry.maxAttempts",
  "spec.sinks.target.prometheusRemoteWrite.authentication",
  "spec.sinks.target.prometheusRemoteWrite.authentication.basicAuth",
  "spec.sinks.target.prometheusRemoteWrite.authentication.basicAuth.secretRef",
  "spec.sinks.target.prometheusRemoteWrite.authentication.basicAuth.secretRef.name",
  "spec.sources",
  "spec.sources.name",
  "spec.sources.metrics",
  "spec.sources.metrics.metricsql",
  "status",
  "status.conditions",
  "status.conditions.lastTransitionTime",
  "status.conditions.message",
  "status.conditions.reason",
  "status.conditions.status",
  "status.conditions.type",
  "status.conditions.observedGeneration",
  "status.sinks",
  "status.sinks.name",
  "status.sinks.conditions",
  "status.sinks.conditions.lastTransitionTime",
  "status.sinks.conditions.message",
  "status.sinks.conditions.reason",
  "status.sinks.conditions.status",
  "status.sinks.conditions.type",
  "status.sinks.conditions.observedGeneration",
];

/** Reads the recursive tree back into dotted paths using its indentation. */
function treePaths(text: string): string[] {
  const lines = text
    .slice(text.indexOf("FIELDS:\n") + "FIELDS:\n".length)
    .split("\n")
    .filter((l) => l.trim() !== "");
  const stack: string[] = [];
  const paths: string[] = [];
  for (const line of lines) {
    const depth = (line.length - line.trimStart().length) / 2 - 1;
    const name = line.trim().split("\t")[0] ?? "";
    stack.length = depth;
    stack.push(name);
    paths.push(stack.join("."));
  }
  return paths;
}

describe("explain", () => {
  it("--recursive lists every field of the API reference", () => {
    const paths = new Set(treePaths(explain("exportpolicies", { recursive: true })));
    for (const field of SEED_FIELDS) assert.ok(paths.has(field), `missing ${field}`);
  });

  it("shows group, kind, version and the top-level fields with descriptions", () => {
    const text = explain("exportpolicies");
    assert.match(text, /^GROUP: {6}telemetry\.miloapis\.com\nKIND: {7}ExportPolicy\nVERSION: {4}v1alpha1\n/);
    assert.match(text, /\n {2}spec\t<Object> -required-\n {4}Describes the expected state/);
    assert.match(text, /\n {2}metadata\t<ObjectMeta> -required-\n/);
    assert.match(text, /\n {2}status\t<Object>\n/);
  });

  it("explains a nested field with type, required mark, default and bounds", () => {
    const text = explain("exportpolicies.spec.sinks.target.prometheusRemoteWrite.batch");
    assert.match(text, /FIELD: batch <Object> -required-/);
    assert.match(text, /default: \{maxSize: 500, timeout: 5s\}/);
    assert.match(
      text,
      /\n {2}maxSize\t<integer> -required-\n {4}Maximum number of telemetry entries per batch\.\n {4}default: 500; 1 to 5000\n/,
    );
    assert.match(text, /\n {2}timeout\t<string> -required-\n/);
  });

  it("says what retry does when an endpoint stays down", () => {
    const flat = (text: string): string => text.replace(/\s+/g, " ");
    const attempts = flat(explain("exportpolicy.spec.sinks.target.prometheusRemoteWrite.retry.maxAttempts"));
    assert.match(attempts, /bounds how long one request is retried before the sink declares itself down/);
    assert.match(
      attempts,
      /keeps buffering its samples \(bounded by the server's --max-backlog-age and its buffer size/,
    );
    const backoff = flat(
      explain("exportpolicy.spec.sinks.target.prometheusRemoteWrite.retry.backoffDuration"),
    );
    assert.match(backoff, /the wait before the first retry, doubling/);
    assert.match(
      backoff,
      /probes its endpoint: the doubling continues past the last attempt, capped at 5 minutes/,
    );
  });

  it("recursive lines carry defaults and bounds", () => {
    const text = explain("exportpolicy", { recursive: true });
    assert.match(text, /maxAttempts\t<integer> -required- {2}\(default: 3; 1 to 10\)/);
    assert.match(text, /sources\t<\[\]Object> -required- {2}\(1 to 20 items\)/);
    assert.match(text, /status\t<string> -required- {2}\(one of: True, False, Unknown\)/);
  });

  it("accepts the resource's other names and explains Secrets", () => {
    assert.equal(explain("ExportPolicy"), explain("exportpolicies"));
    assert.equal(explain("exportpolicies.telemetry.miloapis.com"), explain("exportpolicies"));
    assert.match(explain("secrets"), /KIND: {7}Secret\nVERSION: {4}v1\n/);
  });

  it("wraps descriptions at 80 columns", () => {
    for (const line of explain("exportpolicies.spec").split("\n")) assert.ok(line.length <= 80, line);
  });

  it("fails clearly for unknown resources and fields", () => {
    assert.throws(
      () => explain("pods"),
      (e: unknown) => e instanceof ExplainError && /doesn't have a resource type "pods"/.test(e.message),
    );
    assert.throws(() => explain("exportpolicies.spec.sinkz"), /field "sinkz" does not exist/);
  });
});

describe("explain's generated schemas", () => {
  it("are what the schema generates (run `npm run gen` after changing src/api)", () => {
    assert.equal(readFileSync(EXPLAIN_SCHEMAS_PATH, "utf8"), explainSchemasSource());
  });
});
