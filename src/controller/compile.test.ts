// What compilePolicy says about a sink it cannot run: the message a person
// reads in the sink's Ready condition.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExportPolicy } from "../api/index.js";
import { exportPolicy } from "../../test-support/policies.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { compilePolicy } from "./compile.js";

function withSecret(namespace: string): ExportPolicy {
  const policy = exportPolicy({
    name: "p",
    sources: { s: '{resource_kind="Gateway"}' },
    sinks: [
      { name: "remote", sources: ["s"], endpoint: "https://m.example.com/api/v1/write", secret: "creds" },
    ],
  });
  return { ...policy, metadata: { ...policy.metadata, namespace } };
}

describe("compilePolicy's sink problems", () => {
  it("a missing Secret: SecretNotFound, with the telex command that creates it", () => {
    const compile = (namespace: string) =>
      compilePolicy(withSecret(namespace), {
        project: "p1",
        tenantLabel: TENANT_LABEL,
        secret: () => undefined,
      }).problems;
    assert.deepEqual(compile("default"), [
      {
        sink: "remote",
        reason: "SecretNotFound",
        message:
          'Secret "creds" not found: create it with telex create secret basic-auth creds --username USER --password PASSWORD',
      },
    ]);
    assert.match(
      compile("team")[0]?.message ?? "",
      /: create it with telex create secret basic-auth creds --username USER --password PASSWORD -n team$/,
    );
  });
});
