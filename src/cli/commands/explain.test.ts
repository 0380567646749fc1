import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "../../../test-support/cli.js";

describe("telex explain", () => {
  it("prints the recursive field tree", async () => {
    const result = await runCli(["explain", "exportpolicies", "--recursive"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /KIND: {7}ExportPolicy/);
    assert.match(result.stdout, /\n {14}secretRef\t<Object> -required-\n {16}name\t<string> -required-/);
  });

  it("explains a field path", async () => {
    const result = await runCli(["explain", "exportpolicies.spec.sources.metrics.metricsql"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /FIELD: metricsql <string> -required-/);
    assert.match(result.stdout, /series selector/);
  });

  it("exits 1 with a message for an unknown field, 2 without a resource", async () => {
    const unknown = await runCli(["explain", "exportpolicies.spec.nope"]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'error: field "nope" does not exist\n');
    const missing = await runCli(["explain"]);
    assert.equal(missing.code, 2);
  });
});
