import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { parse } from "./parser.js";
import { print } from "./printer.js";
import { assertNoTenantFilter, scope } from "./scope.js";

// The platform's value; the functions under test take it as a parameter.
const TENANT = "resourcemanager_datumapis_com_project_name";
const options = { tenantLabel: TENANT, project: "p1" };

function isTenantError(error: unknown): boolean {
  assert.ok(error instanceof MetricsqlError, `expected MetricsqlError, got ${String(error)}`);
  assert.equal(error.code, "TenantLabelFilter");
  return true;
}

describe("scope: adds the tenant filter to every group", () => {
  const cases: [input: string, scoped: string][] = [
    ["up", `up{${TENANT}="p1"}`],
    ["{}", `{${TENANT}="p1"}`],
    ['up{job="api"}', `up{job="api", ${TENANT}="p1"}`],
    ['{job=~"a.*"}', `{job=~"a.*", ${TENANT}="p1"}`],
    ['{a="1" or b!="2"}', `{a="1", ${TENANT}="p1" or b!="2", ${TENANT}="p1"}`],
    ['up{a="1" or b="2"}', `up{a="1", ${TENANT}="p1" or b="2", ${TENANT}="p1"}`],
    ['{"my.metric"}', `{__name__="my.metric", ${TENANT}="p1"}`],
    ['{"m" or a="1"}', `{__name__="m", ${TENANT}="p1" or a="1", ${TENANT}="p1"}`],
    ['{__name__=~".+"}', `{__name__=~".+", ${TENANT}="p1"}`],
  ];
  for (const [input, scoped] of cases) {
    it(`${input} → ${scoped}`, () => {
      const result = scope(parse(input), options);
      assert.equal(print(result), scoped);
      for (const group of result.groups) {
        assert.deepEqual(group.at(-1), { label: TENANT, op: "=", value: "p1" });
      }
    });
  }

  it("uses whatever tenant label it is given", () => {
    assert.equal(
      print(scope(parse('up{a="1"}'), { tenantLabel: "tenant", project: "x" })),
      'up{a="1", tenant="x"}',
    );
  });

  it("escapes a hostile project so it stays one value", () => {
    const project = '"} or {a="1';
    const printed = print(scope(parse('{b="2"}'), { tenantLabel: TENANT, project }));
    for (const group of parse(printed).groups) {
      assert.deepEqual(
        group.filter((f) => f.label === TENANT),
        [{ label: TENANT, op: "=", value: project }],
      );
    }
  });

  it("does not modify its input", () => {
    const selector = parse('up{a="1" or b="2"}');
    const before = structuredClone(selector);
    scope(selector, options);
    assert.deepEqual(selector, before);
  });

  it('rejects an empty project, since tenant="" also matches series without the label', () => {
    assert.throws(() => scope(parse("up"), { tenantLabel: TENANT, project: "" }), isTenantError);
  });

  it("rejects an empty tenant label name", () => {
    assert.throws(() => scope(parse("up"), { tenantLabel: "", project: "p1" }), isTenantError);
  });
});

describe("scope: filters on the tenant label are rejected however spelled", () => {
  const spellings: [title: string, text: string][] = [
    ["bare", `{${TENANT}="p2"}`],
    ["after a metric name", `up{job="a", ${TENANT}="p2"}`],
    ["not equal", `{${TENANT}!="p1"}`],
    ["regex", `{${TENANT}=~".*"}`],
    ["negative regex", `{${TENANT}!~"p1"}`],
    ["empty value", `{${TENANT}=""}`],
    ["in the second or group", `{a="1" or ${TENANT}="p2"}`],
    ["double-quoted", `{"${TENANT}"="p2"}`],
    ["single-quoted", `{'${TENANT}'="p2"}`],
    ["backtick-quoted", `{\`${TENANT}\`="p2"}`],
    ["unicode escape in a quoted name", `{"resourcemanager\\u005fdatumapis_com_project_name"="p2"}`],
    ["long unicode escape", `{"\\U00000072esourcemanager_datumapis_com_project_name"="p2"}`],
    ["hex escape in a quoted name", `{"\\x72esourcemanager_datumapis_com_project_name"="p2"}`],
    ["octal escape in a quoted name", `{"resourcemanager\\137datumapis_com_project_name"="p2"}`],
    ["escaped character in a bare name", `{resourcemanager\\_datumapis_com_project_name="p2"}`],
    ["hex escape in a bare name", `{\\x72esourcemanager_datumapis_com_project_name="p2"}`],
    ["unicode escape in a bare name", `{resourcemanager\\u005Fdatumapis_com_project_name="p2"}`],
    ["with comments and line breaks", `{\n  # sneaky\n  ${TENANT}\n  =\n  "p2"\n}`],
  ];
  for (const [title, text] of spellings) {
    it(title, () => {
      const selector = parse(text);
      assert.throws(() => scope(selector, options), isTenantError);
      assert.throws(() => {
        assertNoTenantFilter(selector, TENANT);
      }, isTenantError);
    });
  }

  it("names the label in a one-line reason", () => {
    try {
      assertNoTenantFilter(parse(`{${TENANT}="p2"}`), TENANT);
      assert.fail("expected a rejection");
    } catch (error) {
      assert.ok(error instanceof MetricsqlError);
      assert.match(error.reason, new RegExp(`found a filter on label "${TENANT}"`));
      assert.ok(!error.reason.includes("\n"));
    }
  });

  const otherLabels = [
    `${TENANT}_x`,
    `x_${TENANT}`,
    TENANT.toUpperCase(),
    "resourcemanager.datumapis.com/project-name",
    "project",
  ];
  for (const label of otherLabels) {
    it(`accepts the different label ${JSON.stringify(label)}`, () => {
      const selector: Selector = { groups: [[{ label, op: "=", value: "p2" }]] };
      assert.doesNotThrow(() => {
        assertNoTenantFilter(selector, TENANT);
      });
      assert.equal(scope(selector, options).groups[0]?.length, 2);
    });
  }

  it("checks the label it is given, not a built-in one", () => {
    const selector = parse('{tenant="x"}');
    assert.throws(() => {
      assertNoTenantFilter(selector, "tenant");
    }, isTenantError);
    assert.doesNotThrow(() => {
      assertNoTenantFilter(parse(`{${TENANT}="x"}`), "tenant");
    });
  });
});
