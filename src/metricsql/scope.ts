// Tenant scoping: every filter group gets `tenantLabel="project"`, so each
// alternative of an `or` is confined to the project. Users may not filter on
// the tenant label themselves; the platform alone sets it.

import type { LabelFilter, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";

export interface ScopeOptions {
  /** The label that carries the project, e.g. `resourcemanager_datumapis_com_project_name`. */
  readonly tenantLabel: string;
  readonly project: string;
}

/**
 * Throws MetricsqlError "TenantLabelFilter" if any filter names the tenant
 * label. Names are compared decoded, so every spelling the parser accepts
 * (bare, quoted, escaped) is caught.
 */
export function assertNoTenantFilter(selector: Selector, tenantLabel: string): void {
  for (const group of selector.groups) {
    for (const filter of group) {
      if (filter.label === tenantLabel) {
        throw new MetricsqlError(
          "TenantLabelFilter",
          `found a filter on label ${JSON.stringify(tenantLabel)}: the platform sets it to the policy's project, so selectors must not filter on it`,
        );
      }
    }
  }
}

/** Returns the selector with `tenantLabel="project"` added to every group; `{}` becomes just that filter. */
export function scope(selector: Selector, options: ScopeOptions): Selector {
  const { tenantLabel, project } = options;
  if (tenantLabel === "") throw new MetricsqlError("TenantLabelFilter", "the tenant label name is empty");
  // `label=""` also matches series without the label, so an empty project would escape the scope.
  if (project === "") throw new MetricsqlError("TenantLabelFilter", "the project to scope to is empty");
  assertNoTenantFilter(selector, tenantLabel);
  const tenantFilter: LabelFilter = { label: tenantLabel, op: "=", value: project };
  return { groups: selector.groups.map((group) => [...group, tenantFilter]) };
}
