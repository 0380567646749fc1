// Compiles a validated ExportPolicy into the exporter's plan: defaults are
// already applied by validation; here selectors are scoped to the project,
// durations become milliseconds and Secret references become credentials.
// Pure: the caller fetches Secrets; what cannot be resolved is reported per
// sink so the other sinks still run.
import {
  basicAuthCredentials,
  createBasicAuthSecretCommand,
  durationMs,
  type BasicAuthCredentials,
  type ExportPolicy,
  type Secret,
} from "../api/index.js";
import type { PolicyPlan, SinkPlan, SourcePlan } from "../exporter/plan.js";
import { parse, scope } from "../metricsql/index.js";

export interface CompileContext {
  readonly project: string;
  readonly tenantLabel: string;
  /** Looks a Secret up by name in the policy's namespace. */
  readonly secret: (name: string) => Secret | undefined;
}

/** Why a sink cannot run; reasons are condition reasons. */
export interface SinkProblem {
  readonly sink: string;
  readonly reason: "SecretNotFound" | "SecretInvalid";
  readonly message: string;
}

export interface CompiledPolicy {
  readonly plan: PolicyPlan;
  /** Sinks left out of the plan, and why. */
  readonly problems: readonly SinkProblem[];
}

/**
 * The policy's sources with their selectors scoped to the project: what the
 * router matches and the pull jobs ask for, and what `telex preview` shows.
 */
export function scopedSources(
  policy: ExportPolicy,
  context: Pick<CompileContext, "project" | "tenantLabel">,
): SourcePlan[] {
  return policy.spec.sources.map((source) => ({
    name: source.name,
    selector: scope(parse(source.metrics.metricsql), {
      tenantLabel: context.tenantLabel,
      project: context.project,
    }),
  }));
}

export function compilePolicy(policy: ExportPolicy, context: CompileContext): CompiledPolicy {
  const sources = scopedSources(policy, context);
  const sinks: SinkPlan[] = [];
  const problems: SinkProblem[] = [];
  for (const sink of policy.spec.sinks) {
    const target = sink.target.prometheusRemoteWrite;
    if (target === undefined) continue;
    let credentials: BasicAuthCredentials | undefined;
    const secretName = target.authentication?.basicAuth?.secretRef.name;
    if (secretName !== undefined) {
      const secret = context.secret(secretName);
      if (secret === undefined) {
        problems.push({
          sink: sink.name,
          reason: "SecretNotFound",
          message: `Secret ${JSON.stringify(secretName)} not found: create it with ${createBasicAuthSecretCommand(secretName, policy.metadata.namespace ?? "default")}`,
        });
        continue;
      }
      const resolved = basicAuthCredentials(secret);
      if ("reason" in resolved) {
        problems.push({
          sink: sink.name,
          reason: resolved.reason,
          message: `Secret ${JSON.stringify(secretName)}: ${resolved.message}`,
        });
        continue;
      }
      credentials = resolved;
    }
    sinks.push({
      name: sink.name,
      sources: sink.sources,
      remoteWrite: {
        endpoint: target.endpoint,
        batchMaxSize: target.batch.maxSize,
        batchTimeoutMs: durationMs(target.batch.timeout),
        maxAttempts: target.retry.maxAttempts,
        backoffMs: durationMs(target.retry.backoffDuration),
        ...(credentials === undefined ? {} : { credentials }),
      },
    });
  }
  const { metadata } = policy;
  return {
    plan: {
      uid: metadata.uid ?? `${context.project}/${metadata.namespace ?? "default"}/${metadata.name ?? ""}`,
      project: context.project,
      namespace: metadata.namespace ?? "default",
      name: metadata.name ?? "",
      generation: metadata.generation ?? 0,
      sources,
      sinks,
    },
    problems,
  };
}
