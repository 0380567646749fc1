// The ExportPolicy resource's names, apart from its schema: the CLI's read
// verbs need them and must not load the schema library (src/cli/main.ts).
export const GROUP = "telemetry.miloapis.com";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "ExportPolicy";
export const PLURAL = "exportpolicies";
export const SINGULAR = "exportpolicy";
/** `kubectl get ep`. */
export const SHORT_NAMES: readonly string[] = ["ep"];
/**
 * `kubectl get telex` (and the older `telemetry`). Not `all`: a policy is
 * configuration, like a ConfigMap, and `kubectl delete all --all` is a
 * common way to clear a namespace's workloads that must not drop exports.
 */
export const CATEGORIES: readonly string[] = ["telex", "telemetry"];

/** The core Secret a sink's basic auth comes from. */
export const SECRET_API_VERSION = "v1";
export const SECRET_KIND = "Secret";
