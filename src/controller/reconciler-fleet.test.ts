// A fleet replica's reconciler when a policy moves to another replica: in
// push mode its running sinks turn into draining ones (Exporter.forwardTo);
// in pull mode, which has no backlog to drain, the policy is first stopped
// as a handover (its pull positions kept for the new owner), then forwarded,
// so that its selecting sources still get the delivery metrics generated here.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExportPolicy } from "../api/index.js";
import type { KubeClient } from "../kube/index.js";
import type { PolicyPlan } from "../exporter/plan.js";
import { silentLogger } from "../util/index.js";
import { exportPolicy } from "../../test-support/policies.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { embeddedLayout } from "./layout.js";
import { FINALIZER, Reconciler, type ExporterControl } from "./reconciler.js";

const KEY = "p1/default/health";

function run(pulls: boolean) {
  const calls: string[] = [];
  let owned = true;
  const policy: ExportPolicy = exportPolicy({
    name: "health",
    sources: { s: '{__name__=~"telex_export_.*"}' },
    sinks: [{ name: "k", endpoint: "http://127.0.0.1:9/api/v1/write", sources: ["s"] }],
  });
  policy.metadata.finalizers = [FINALIZER];
  const exporter: ExporterControl = {
    forwards: true,
    pulls,
    apply: (plan: PolicyPlan) => {
      calls.push(`apply ${plan.name}`);
    },
    remove: (uid: string, options?: { readonly handover?: boolean }) => {
      calls.push(`remove ${uid} handover=${String(options?.handover === true)}`);
      return Promise.resolve();
    },
    health: () => undefined,
    forwardTo: (plan: PolicyPlan) => {
      calls.push(`forwardTo ${plan.name}`);
    },
  };
  // Status and Event writes of the owned reconcile: answered, not looked at.
  const client = { request: () => Promise.resolve(policy) } as unknown as KubeClient;
  const reconciler = new Reconciler({
    client,
    layout: embeddedLayout(),
    exporter,
    tenantLabel: TENANT_LABEL,
    policy: () => policy,
    secret: () => undefined,
    now: () => new Date(),
    logger: silentLogger,
    owns: () => owned,
  });
  return {
    calls,
    reconcile: async (owns: boolean) => {
      owned = owns;
      await reconciler.reconcile(KEY);
    },
  };
}

describe("a policy moving to another replica of the fleet", () => {
  it("pull mode: stopped as a handover, then forwarded (its delivery metrics go there)", async () => {
    const replica = run(true);
    await replica.reconcile(true);
    await replica.reconcile(false);
    assert.deepEqual(replica.calls, ["apply health", "remove uid-health handover=true", "forwardTo health"]);
    // Unchanged and still elsewhere: nothing more.
    await replica.reconcile(false);
    assert.equal(replica.calls.length, 3);
  });

  it("push mode: forwarded at once (the exporter turns its sinks into draining ones)", async () => {
    const replica = run(false);
    await replica.reconcile(true);
    await replica.reconcile(false);
    assert.deepEqual(replica.calls, ["apply health", "forwardTo health"]);
  });
});
