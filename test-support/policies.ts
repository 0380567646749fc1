// ExportPolicy objects and their exporter plans, for tests and benchmarks.
import { validateExportPolicy, type ExportPolicy, type Secret } from "../src/api/index.js";
import { compilePolicy } from "../src/controller/compile.js";
import type { PolicyPlan } from "../src/exporter/plan.js";
import { TENANT_LABEL } from "./platform-series.js";

export interface TestSink {
  readonly name: string;
  readonly endpoint: string;
  readonly sources: readonly string[];
  readonly batch?: { maxSize?: number; timeout?: string };
  readonly retry?: { maxAttempts?: number; backoffDuration?: string };
  readonly secret?: string;
}

export interface TestPolicy {
  readonly name: string;
  readonly sources: Readonly<Record<string, string>>;
  readonly sinks: readonly TestSink[];
}

/** The ExportPolicy manifest a user would write (no defaults added): a POST or apply body. */
export function policyManifest(spec: TestPolicy): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: spec.name },
    spec: {
      sources: Object.entries(spec.sources).map(([name, metricsql]) => ({ name, metrics: { metricsql } })),
      sinks: spec.sinks.map((sink) => ({
        name: sink.name,
        sources: sink.sources,
        target: {
          prometheusRemoteWrite: {
            endpoint: sink.endpoint,
            ...(sink.batch ? { batch: sink.batch } : {}),
            ...(sink.retry ? { retry: sink.retry } : {}),
            ...(sink.secret ? { authentication: { basicAuth: { secretRef: { name: sink.secret } } } } : {}),
          },
        },
      })),
    },
  };
}

/** A validated, defaulted ExportPolicy; throws with every error if invalid. */
export function exportPolicy(spec: TestPolicy, uid = `uid-${spec.name}`): ExportPolicy {
  const manifest = policyManifest(spec);
  const result = validateExportPolicy({
    ...manifest,
    metadata: { name: spec.name, namespace: "default", uid, generation: 1 },
  });
  if (!result.valid) throw new Error(`invalid test policy: ${JSON.stringify(result.errors)}`);
  return result.object;
}

/** The plan the controller would apply for this policy in this project. */
export function policyPlan(
  project: string,
  spec: TestPolicy,
  secrets: Readonly<Record<string, Secret>> = {},
): PolicyPlan {
  const compiled = compilePolicy(exportPolicy(spec, `uid-${project}-${spec.name}`), {
    project,
    tenantLabel: TENANT_LABEL,
    secret: (name) => secrets[name],
  });
  if (compiled.problems.length > 0) throw new Error(`unresolved sinks: ${JSON.stringify(compiled.problems)}`);
  return compiled.plan;
}
