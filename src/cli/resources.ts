// The resources client commands know: their API paths and how kubectl names them in output.
import { GROUP, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from "../api/resource-names.js";
import { UsageError } from "./io.js";

export interface CliResource {
  readonly kind: "ExportPolicy" | "Secret";
  /** As kubectl prints `TYPE/NAME`: `exportpolicy.telemetry.miloapis.com`, `secret`. */
  readonly display: string;
  collection(namespace: string): string;
  object(namespace: string, name: string): string;
}

export const EXPORT_POLICIES: CliResource = {
  kind: "ExportPolicy",
  display: `${SINGULAR}.${GROUP}`,
  collection: (ns) => `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(ns)}/${PLURAL}`,
  object: (ns, name) =>
    `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(ns)}/${PLURAL}/${encodeURIComponent(name)}`,
};

export const SECRETS: CliResource = {
  kind: "Secret",
  display: "secret",
  collection: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets`,
  object: (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`,
};

const NAMES: Readonly<Record<string, CliResource>> = {
  [PLURAL]: EXPORT_POLICIES,
  [SINGULAR]: EXPORT_POLICIES,
  [`${PLURAL}.${GROUP}`]: EXPORT_POLICIES,
  ...Object.fromEntries(SHORT_NAMES.map((short) => [short, EXPORT_POLICIES])),
  secrets: SECRETS,
  secret: SECRETS,
};

export function resourceNamed(name: string | undefined): CliResource {
  const resource = name === undefined ? undefined : NAMES[name.toLowerCase()];
  if (resource === undefined) {
    throw new UsageError(
      `unknown resource ${JSON.stringify(name ?? "")}: use exportpolicies (ep) or secrets`,
    );
  }
  return resource;
}

export function resourceOfKind(kind: string): CliResource | undefined {
  return kind === "ExportPolicy" ? EXPORT_POLICIES : kind === "Secret" ? SECRETS : undefined;
}
