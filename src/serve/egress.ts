// The egress policy every replica's sinks connect through (src/exporter/egress),
// from the command's flags and whether strangers share the service.
import { EgressPolicy, addressesOf } from "../exporter/egress/index.js";
import type { ExporterRunOptions } from "./options.js";

/** sharedTenancy: strangers' policies run here, so loopback and private ranges are denied by default. */
export function egressPolicy(
  options: Pick<ExporterRunOptions, "endpointAllow" | "endpointDeny">,
  sharedTenancy: boolean,
): EgressPolicy {
  return new EgressPolicy({
    sharedTenancy,
    ...(options.endpointAllow === undefined ? {} : { allow: options.endpointAllow }),
    ...(options.endpointDeny === undefined ? {} : { deny: options.endpointDeny }),
  });
}

export function portOf(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** A service Telex itself talks to (an API, a metrics store): never a sink's endpoint. */
export async function denyPeer(egress: EgressPolicy, url: string, what: string): Promise<void> {
  const parsed = new URL(url);
  egress.denyPeer(await addressesOf(parsed.hostname), portOf(parsed), what);
}

/** One of Telex's own listeners (a wildcard host covers every local address): never a sink's endpoint. */
export async function denyListener(
  egress: EgressPolicy,
  host: string,
  port: number,
  what: string,
): Promise<void> {
  egress.denyListener(await addressesOf(host), port, what);
}
