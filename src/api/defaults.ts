// Every default of the ExportPolicy API, in one place, each with its reason.
// The schema reads these values; nothing else should hard-code them.
export const DEFAULTS = {
  batch: {
    // 500 samples fit well below every hosted receiver's request limit
    // (Grafana Cloud and Mimir accept several MB) while amortising request cost.
    maxSize: 500,
    // Five seconds bounds the delay a quiet source adds before data is visible
    // at the customer's end, matching common scrape intervals.
    timeout: "5s",
  },
  retry: {
    // Three attempts ride out a brief receiver restart without holding a
    // failing sink's queue for long.
    maxAttempts: 3,
    // Five seconds gives a restarting receiver time to come back.
    backoffDuration: "5s",
  },
  // The namespace every project has; objects without one land here.
  namespace: "default",
  // The platform's tenant label: every series carries the owning project's id in it.
  tenantLabel: "resourcemanager_datumapis_com_project_name",
} as const;
