import assert from "node:assert/strict";
import { describe, it } from "node:test";

describe("telex/metricsql package export", () => {
  it("resolves by package name and works on its own", async () => {
    const metricsql = await import("telex/metricsql");
    const selector = metricsql.scope(metricsql.parse('{resource_kind="Gateway"}'), {
      tenantLabel: "tenant",
      project: "p1",
    });
    assert.equal(metricsql.print(selector), '{resource_kind="Gateway", tenant="p1"}');
    const matcher = metricsql.compileSelector(selector);
    assert.equal(
      matcher.matches([
        { name: "resource_kind", value: "Gateway" },
        { name: "tenant", value: "p1" },
      ]),
      true,
    );
  });
});
