import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExportPolicySchema, schemaNode } from "../api/index.js";
import { ApplyConflictError, serverSideApply } from "./apply.js";
import { describePath, fromFieldsV1, joinPath, leafMap, toFieldsV1 } from "./field-paths.js";
import { recordUpdate, type Ownership } from "./managed-fields.js";

const schema = schemaNode(ExportPolicySchema);
const writer = (manager: string) => ({
  manager,
  apiVersion: "telemetry.miloapis.com/v1alpha1",
  time: "2026-01-01T00:00:00Z",
});

function policy(sinks: { name: string; endpoint: string }[], labels?: Record<string, string>) {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: "p", ...(labels === undefined ? {} : { labels }) },
    spec: {
      sources: [{ name: "s", metrics: { metricsql: "{}" } }],
      sinks: sinks.map((s) => ({
        name: s.name,
        sources: ["s"],
        target: { prometheusRemoteWrite: { endpoint: s.endpoint } },
      })),
    },
  };
}

describe("field paths", () => {
  it("keyed lists are addressed by key, sets by value, and round-trip through FieldsV1", () => {
    const leaves = leafMap(policy([{ name: "a", endpoint: "https://x" }], { team: "edge" }), schema, "main");
    const sink = 'k:{"name":"a"}';
    assert.ok(leaves.has(joinPath(["f:spec", "f:sinks", sink])));
    assert.ok(leaves.has(joinPath(["f:spec", "f:sinks", sink, "f:sources", 'v:"s"'])));
    assert.ok(leaves.has(joinPath(["f:metadata", "f:labels", "f:team"])));
    assert.ok(!leaves.has(joinPath(["f:metadata", "f:name"])), "identity is not owned");
    const tree = toFieldsV1(leaves.keys());
    assert.deepEqual(
      (tree["f:spec"] as Record<string, Record<string, Record<string, unknown>>>)["f:sinks"]?.[sink]?.["."],
      {},
    );
    assert.deepEqual(fromFieldsV1(tree), new Set(leaves.keys()));
    assert.equal(describePath(joinPath(["f:spec", "f:sinks", sink, "f:name"])), '.spec.sinks[name="a"].name');
  });
});

describe("server-side apply", () => {
  it("merges keyed lists, and drops what the manager stops applying", () => {
    const first = serverSideApply({
      live: undefined,
      applied: policy(
        [
          { name: "a", endpoint: "https://a" },
          { name: "b", endpoint: "https://b" },
        ],
        { x: "1" },
      ),
      owners: [],
      schema,
      scope: "main",
      writer: writer("m"),
      force: false,
    });
    const second = serverSideApply({
      live: first.object,
      applied: policy([{ name: "b", endpoint: "https://b2" }]),
      owners: first.owners,
      schema,
      scope: "main",
      writer: writer("m"),
      force: false,
    });
    const spec = second.object["spec"] as {
      sinks: { name: string; target: { prometheusRemoteWrite: { endpoint: string } } }[];
    };
    assert.deepEqual(
      spec.sinks.map((s) => `${s.name}=${s.target.prometheusRemoteWrite.endpoint}`),
      ["b=https://b2"],
    );
    assert.equal(
      (second.object["metadata"] as { labels?: unknown }).labels,
      undefined,
      "an emptied map goes away",
    );
  });

  it("conflicts with another manager's differing value; same values are shared; force takes over", () => {
    const base = serverSideApply({
      live: undefined,
      applied: policy([{ name: "a", endpoint: "https://a" }]),
      owners: [],
      schema,
      scope: "main",
      writer: writer("one"),
      force: false,
    });
    const shared = serverSideApply({
      live: base.object,
      applied: policy([{ name: "a", endpoint: "https://a" }]),
      owners: base.owners,
      schema,
      scope: "main",
      writer: writer("two"),
      force: false,
    });
    assert.equal(shared.owners.length, 2);
    const attempt = () =>
      serverSideApply({
        live: shared.object,
        applied: policy([{ name: "a", endpoint: "https://z" }]),
        owners: shared.owners,
        schema,
        scope: "main",
        writer: writer("two"),
        force: false,
      });
    assert.throws(attempt, (error: unknown) => {
      assert.ok(error instanceof ApplyConflictError);
      assert.deepEqual(
        error.conflicts.map((c) => `${c.manager} ${describePath(c.path)}`),
        ['one .spec.sinks[name="a"].target.prometheusRemoteWrite.endpoint'],
      );
      return true;
    });
    const forced = serverSideApply({
      live: shared.object,
      applied: policy([{ name: "a", endpoint: "https://z" }]),
      owners: shared.owners,
      schema,
      scope: "main",
      writer: writer("two"),
      force: true,
    });
    const one = forced.owners.find((o) => o.manager === "one");
    assert.ok(one !== undefined && ![...one.fields].some((p) => p.endsWith("f:endpoint")));
  });
});

describe("update ownership", () => {
  it("moves changed fields to the writer and forgets removed ones", () => {
    const before = leafMap(policy([{ name: "a", endpoint: "https://a" }], { x: "1" }), schema, "main");
    const after = leafMap(policy([{ name: "a", endpoint: "https://b" }]), schema, "main");
    const owners: Ownership[] = [
      { manager: "creator", operation: "Update", apiVersion: "v", time: "t", fields: new Set(before.keys()) },
    ];
    const next = recordUpdate(owners, before, after, writer("editor"));
    const editor = next.find((o) => o.manager === "editor");
    const creator = next.find((o) => o.manager === "creator");
    assert.deepEqual([...(editor?.fields ?? [])].map(describePath), [
      '.spec.sinks[name="a"].target.prometheusRemoteWrite.endpoint',
    ]);
    assert.ok(creator !== undefined && ![...creator.fields].some((p) => p.includes("f:labels")));
  });
});
