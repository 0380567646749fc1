// `telex serve` flags for the quotas of the embedded API (per project, and
// the platform plane's Leases and ConfigMaps): one flag per quota, named and defaulted in
// src/apiserver/quota.ts.
import { DEFAULT_PROJECT_QUOTAS, QUOTA_FLAGS, type ProjectQuotas } from "../apiserver/index.js";
import { UsageError } from "./io.js";

export const QUOTA_FLAG_OPTIONS = {
  "max-policies-per-project": { type: "string" },
  "max-sinks-per-project": { type: "string" },
  "max-sources-per-project": { type: "string" },
  "max-secrets-per-project": { type: "string" },
  "max-secret-bytes-per-project": { type: "string" },
  "max-namespaces-per-project": { type: "string" },
  "max-events-per-project": { type: "string" },
  "max-watches-per-project": { type: "string" },
  "max-leases": { type: "string" },
  "max-config-maps": { type: "string" },
} as const;

const QUOTA_HELP_TEXT: Readonly<Record<keyof ProjectQuotas, string>> = {
  maxPoliciesPerProject: "ExportPolicies in one project",
  maxSinksPerProject: "sinks over all of a project's ExportPolicies",
  maxSourcesPerProject: "sources over all of a project's ExportPolicies",
  maxSecretsPerProject: "Secrets in one project",
  maxSecretBytesPerProject: "bytes of all Secrets of one project, as stored",
  maxNamespacesPerProject: "namespaces in one project, `default` among them",
  maxEventsPerProject: "Events in one project (they expire after an hour)",
  maxWatchesPerProject: "watches open at once in one project (429 past it)",
  maxLeases: "Leases in the platform plane (one per replica of a fleet)",
  maxConfigMaps: "ConfigMaps in the platform plane (8 per replica: pull positions)",
};

/** Help lines for the quota flags, with their defaults. */
export function quotaFlagsHelp(): string {
  return (Object.keys(QUOTA_FLAGS) as (keyof ProjectQuotas)[])
    .map((quota) => {
      const flag = `${QUOTA_FLAGS[quota]} N`.padEnd(33);
      return `  ${flag} ${QUOTA_HELP_TEXT[quota]} (default ${DEFAULT_PROJECT_QUOTAS[quota]})\n`;
    })
    .join("");
}

/** The quotas given on the command line; the API server defaults the rest. */
export function quotaOptions(values: Readonly<Record<string, unknown>>): Partial<ProjectQuotas> {
  const quotas: Partial<Record<keyof ProjectQuotas, number>> = {};
  for (const quota of Object.keys(QUOTA_FLAGS) as (keyof ProjectQuotas)[]) {
    const flag = QUOTA_FLAGS[quota];
    const text = values[flag.slice(2)];
    if (text === undefined) continue;
    if (typeof text !== "string" || !/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a whole number`);
    }
    quotas[quota] = Number(text);
  }
  return quotas;
}
